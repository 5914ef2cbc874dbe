package model

// graft's Session.Run passes no RunOptions and returns no RunMetadata, so what TensorFlow actually
// ran (the partition graphs after Grappler, each kernel's time) is out of its reach. runTraced calls
// TF_SessionRun itself on the C pointers graft's types start with (see canRewire and canRelease).

/*
#cgo LDFLAGS: -ltensorflow
#include <stdlib.h>
#include "tensorflow/c/c_api.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"reflect"
	"unsafe"

	tf "github.com/wamuir/graft/tensorflow"
	configpb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"
)

// errNoTrace is runTraced's error when graft's types are not laid out as this package expects.
var errNoTrace = errors.New("tracing needs graft's C pointers, and this graft version hides them")

// runTraced runs targets once with feeds, as Session.Run would, with a full trace and the partition
// graphs, and returns the run's metadata. Nothing is fetched.
func runTraced(sess *tf.Session, feeds map[tf.Output]*tf.Tensor, targets []*tf.Operation) (*configpb.RunMetadata, error) {
	if !canRewire() || !canRelease() || !startsWithC(reflect.TypeOf(tf.Session{}), "TF_Session") {
		return nil, errNoTrace
	}
	opts, err := proto.Marshal(&configpb.RunOptions{TraceLevel: configpb.RunOptions_FULL_TRACE, OutputPartitionGraphs: true})
	if err != nil {
		return nil, err
	}
	copts := C.CBytes(opts)
	defer C.free(copts)
	optBuf := C.TF_Buffer{data: copts, length: C.size_t(len(opts))}

	var inputs []C.TF_Output
	var values []*C.TF_Tensor
	for o, t := range feeds {
		inputs = append(inputs, C.TF_Output{oper: cOperation(o.Op), index: C.int(o.Index)})
		values = append(values, *cTensor(t))
	}
	ctargets := make([]*C.TF_Operation, len(targets))
	for i, t := range targets {
		ctargets[i] = cOperation(t)
	}
	var pInputs *C.TF_Output
	var pValues **C.TF_Tensor
	if len(inputs) > 0 {
		pInputs, pValues = &inputs[0], &values[0]
	}
	var pTargets **C.TF_Operation
	if len(ctargets) > 0 {
		pTargets = &ctargets[0]
	}

	meta := C.TF_NewBuffer()
	defer C.TF_DeleteBuffer(meta)
	status := C.TF_NewStatus()
	defer C.TF_DeleteStatus(status)
	csess := *(**C.TF_Session)(unsafe.Pointer(sess))
	C.TF_SessionRun(csess, &optBuf, pInputs, pValues, C.int(len(inputs)), nil, nil, 0,
		pTargets, C.int(len(ctargets)), meta, status)
	if C.TF_GetCode(status) != C.TF_OK {
		return nil, fmt.Errorf("traced run: %s", C.GoString(C.TF_Message(status)))
	}
	md := &configpb.RunMetadata{}
	if err := proto.Unmarshal(C.GoBytes(meta.data, C.int(meta.length)), md); err != nil {
		return nil, fmt.Errorf("traced run: metadata: %w", err)
	}
	return md, nil
}
