package model

// graft's Session.Run passes no RunOptions and returns no RunMetadata, so the graphs TensorFlow
// actually runs (after Grappler's rewriting) are out of its reach. partitionGraphs calls
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
	"math"
	"reflect"
	"unsafe"

	tf "github.com/wamuir/graft/tensorflow"
	graphpb "github.com/wamuir/graft/tensorflow/core/framework/graph_go_proto"
	configpb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"
)

// errNoPartitionGraphs is partitionGraphs' error when graft's types are not laid out as this
// package expects.
var errNoPartitionGraphs = errors.New("partition graphs need graft's C pointers, and this graft version hides them")

// partitionGraphs runs targets once with feeds, as Session.Run would, and returns the graphs
// TensorFlow ran, one per device. Nothing is fetched.
func partitionGraphs(sess *tf.Session, feeds map[tf.Output]*tf.Tensor, targets []*tf.Operation) ([]*graphpb.GraphDef, error) {
	if !canRewire() || !canRelease() || !startsWithC(reflect.TypeOf(tf.Session{}), "TF_Session") {
		return nil, errNoPartitionGraphs
	}
	opts, err := proto.Marshal(&configpb.RunOptions{OutputPartitionGraphs: true})
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
		return nil, fmt.Errorf("run: %s", C.GoString(C.TF_Message(status)))
	}
	if meta.length > math.MaxInt32 {
		return nil, fmt.Errorf("run metadata of %d bytes", meta.length)
	}
	md := &configpb.RunMetadata{}
	if err := proto.Unmarshal(C.GoBytes(meta.data, C.int(meta.length)), md); err != nil {
		return nil, fmt.Errorf("run metadata: %w", err)
	}
	return md.PartitionGraphs, nil
}
