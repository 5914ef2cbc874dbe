package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/sweep"
)

const statusUsage = `usage: tfsweep status DIR [--json]
       tfsweep status URL [ID] [--json] [--token-file F]

Shows the state of every run of the sweep directory DIR, from its recorded plan (sweep.yaml) and the
claims of the processes training it, however many machines share it: queued, running on host/pid,
interrupted (by a signal) or stale (its process on this host is gone): tfsweep run --resume takes
both over; succeeded or failed (--retry-failed trains it again); pruned or paused by the sweep's
--scheduler, with the epochs it trained and why.

With an http(s):// URL it asks a tfsweep serve instead: its sweeps, or with ID that sweep's runs and
their live progress.

Exit status: 0 every run succeeded, or the scheduler pruned or paused it (the URL form without ID: the
list was shown), 1 some run has not
(yet) or the server could not be reached, 2 DIR is not a sweep directory or ID is unknown.
`

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCLI("status", statusUsage)
	jsonOut := c.fs.Bool("json", false, "print the states as JSON")
	tokenFile := c.fs.String("token-file", "", "with a URL: `file` holding the server's bearer token (else $TFSWEEP_TOKEN)")
	pos, code, ok := c.parse(args, stdout, stderr)
	if !ok {
		return code
	}
	if len(pos) >= 1 && len(pos) <= 2 && isServerURL(pos[0]) {
		return runServerStatus(ctx, pos[0], pos[1:], *jsonOut, *tokenFile, stdout, stderr)
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "tfsweep status: want exactly one sweep directory (see tfsweep status -h)")
		return spec.ExitBadInput
	}
	states, err := sweep.Status(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "tfsweep status: %v\n", err)
		return spec.ExitBadInput
	}
	counts := map[spec.Status]int{}
	for _, s := range states {
		counts[s.State]++
	}
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"runs": states, "counts": counts}); err != nil {
			return spec.ExitRunFailed
		}
	} else {
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "RUN\tSTATE\tEPOCHS\tWHERE\tERROR OR REASON")
		for _, s := range states {
			where, epochs := "", ""
			if s.Host != "" {
				where = fmt.Sprintf("%s pid %d", s.Host, s.PID)
			}
			if s.Epochs > 0 {
				epochs = strconv.Itoa(s.Epochs)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Name, s.State, epochs, where, strings.TrimSpace(s.Error+" "+s.Reason))
		}
		tw.Flush()
		fmt.Fprintf(stdout, "%d runs: %d succeeded, %d failed, %d running, %d interrupted, %d stale, %d queued", len(states),
			counts[spec.StatusSucceeded], counts[spec.StatusFailed], counts[spec.StatusRunning], counts[spec.StatusInterrupted],
			counts[spec.StatusStale], counts[spec.StatusQueued])
		if counts[spec.StatusPruned]+counts[spec.StatusPaused] > 0 {
			fmt.Fprintf(stdout, ", %d pruned, %d paused", counts[spec.StatusPruned], counts[spec.StatusPaused])
		}
		fmt.Fprintln(stdout)
	}
	for _, s := range states {
		if !s.State.Done() {
			return spec.ExitRunFailed
		}
	}
	return spec.ExitOK
}
