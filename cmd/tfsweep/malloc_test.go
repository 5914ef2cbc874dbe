package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestWorkerEnvironment(t *testing.T) {
	dir := t.TempDir()
	lib := filepath.Join(dir, "libtcmalloc_minimal.so.4")
	if err := os.WriteFile(lib, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.so")
	base := []string{"PATH=/usr/bin", "HOME=/root"}
	for _, tc := range []struct {
		name      string
		environ   []string
		libraries []string
		want      []string
	}{
		{"preloads the first library found", base, []string{missing, lib}, append(slices.Clone(base), "LD_PRELOAD="+lib)},
		{"none found", base, []string{missing}, base},
		{"a directory is not a library", base, []string{dir}, base},
		{"the user's LD_PRELOAD wins", append(slices.Clone(base), "LD_PRELOAD=/opt/other.so"), []string{lib}, append(slices.Clone(base), "LD_PRELOAD=/opt/other.so")},
		{"an empty LD_PRELOAD keeps glibc's malloc", append(slices.Clone(base), "LD_PRELOAD="), []string{lib}, append(slices.Clone(base), "LD_PRELOAD=")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			environ := slices.Clone(tc.environ)
			got := workerEnvironment(environ, tc.libraries)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if !slices.Equal(environ, tc.environ) {
				t.Errorf("the caller's environment changed: %q", environ)
			}
		})
	}
}
