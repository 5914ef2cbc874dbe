package sweep

import (
	"strings"
	"testing"
)

// The budget is what the kernel says it can give (MemAvailable), not the machine's total.
func TestMemAvailable(t *testing.T) {
	const meminfo = "MemTotal:       16303452 kB\nMemFree:          512000 kB\nMemAvailable:    4096000 kB\nBuffers:          102400 kB\n"
	for _, tc := range []struct {
		name, text string
		want       float64
		wantErr    string
	}{
		{"available, not total or free", meminfo, 4096000 * 1024, ""},
		{"kernel without the line", "MemTotal:       16303452 kB\nMemFree:          512000 kB\n", 0, "no MemAvailable"},
		{"unreadable number", "MemAvailable:    lots kB\n", 0, "invalid syntax"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := memAvailable(strings.NewReader(tc.text))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("memAvailable = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
