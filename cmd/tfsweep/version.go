package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/tfsweep/tfsweep/model"
)

// version is set at build time by the Makefile (-ldflags "-X main.version=..."); a plain `go build`
// falls back to the module version recorded in the binary.
var version = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "(devel)"
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return exitBadInput
	}
	fmt.Fprintf(stdout, "tfsweep %s\n", buildVersion())
	fmt.Fprintf(stdout, "go %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(stdout, "tensorflow %s\n", model.TFVersion())
	return exitOK
}

func runDevices(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("devices", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return exitBadInput
	}
	devices, err := model.ListDevices()
	if err != nil {
		fmt.Fprintf(stderr, "tfsweep devices: %v\n", err)
		return exitRunFailed
	}
	fmt.Fprintf(stdout, "%-45s %-5s %s\n", "NAME", "TYPE", "MEMORY")
	for _, d := range devices {
		fmt.Fprintf(stdout, "%-45s %-5s %s\n", d.Name, d.Type, humanBytes(d.MemoryBytes))
	}
	return exitOK
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
