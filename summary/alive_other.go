//go:build !unix

package summary

// processAlive cannot ask the system here, so it says alive: a stale
// temporary file left in place is harmless, a live writer's removed is a
// failed NewWriter.
func processAlive(pid int) bool { return true }
