package main

import (
	"os"
	"strings"
)

// tcmallocLibraries are where distributions put gperftools' tcmalloc: Debian's libtcmalloc-minimal4
// and Ubuntu's libtcmalloc-minimal4t64 (scripts/setup-tcmalloc.sh installs one), on x86-64 and
// arm64, and Fedora's gperftools-libs.
var tcmallocLibraries = []string{
	"/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
	"/usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4",
	"/usr/lib64/libtcmalloc_minimal.so.4",
}

// workerEnvironment is the environment the workers start from: environ, with the first of
// libraries that exists preloaded (LD_PRELOAD) unless environ sets LD_PRELOAD itself, even to
// nothing. TensorFlow's kernels allocate every op's outputs anew at each step, and tcmalloc's
// per-thread caches serve those small, short-lived buffers faster than glibc's malloc, with the
// same results (docs/benchmarks.md, "Memory allocator"). `LD_PRELOAD= tfsweep ...` keeps glibc's.
func workerEnvironment(environ, libraries []string) []string {
	for _, kv := range environ {
		if strings.HasPrefix(kv, "LD_PRELOAD=") {
			return environ
		}
	}
	for _, lib := range libraries {
		if st, err := os.Stat(lib); err == nil && st.Mode().IsRegular() {
			return append(environ[:len(environ):len(environ)], "LD_PRELOAD="+lib)
		}
	}
	return environ
}
