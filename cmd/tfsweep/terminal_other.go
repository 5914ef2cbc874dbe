//go:build !unix

package main

import "os"

// terminalWidth cannot tell the width here: lines are not cut.
func terminalWidth(*os.File) func() int { return func() int { return 0 } }
