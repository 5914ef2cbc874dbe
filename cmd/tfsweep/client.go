package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tfsweep/tfsweep/service"
	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/sweep"
)

const submitUsage = `usage: tfsweep submit FILE --server URL [--json] [--token-file F]

Submits the sweep file FILE (the schema of tfsweep run --config) to a tfsweep serve at URL, follows
its progress (one JSON object per event with --json) and exits with the sweep's own status, so that
a CI job needs only this command. The token is read from --token-file, else $TFSWEEP_TOKEN.

Exit status: 0 every run succeeded, 1 a run failed (or the server could not be reached), 2 bad
input (the server refused the file, naming the key and line), 130 the sweep was cancelled.
`

const cancelUsage = `usage: tfsweep cancel URL ID [--token-file F]

Cancels the sweep ID of the tfsweep serve at URL: a queued one does not start, a running one stops as
Ctrl-C stops tfsweep run.

Exit status: 0 cancelled, 1 it had already ended (or the server could not be reached), 2 no such sweep.
`

// client talks to a tfsweep serve.
type client struct {
	base  string // the server's URL, without a trailing slash
	token string
	http  *http.Client
}

func newClient(url, tokenFile string) (*client, error) {
	if !isServerURL(url) {
		return nil, fmt.Errorf("%q: %w (want http://host:port)", url, errNoServer)
	}
	token, err := readToken(tokenFile)
	if err != nil {
		return nil, err
	}
	return &client{base: strings.TrimRight(url, "/"), token: token, http: &http.Client{}}, nil
}

func isServerURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// httpError is a response other than the one wanted, with the server's message.
type httpError struct {
	Code int
	Msg  string
}

func (e *httpError) Error() string { return fmt.Sprintf("%s (HTTP %d)", e.Msg, e.Code) }

func (c *client) do(ctx context.Context, method, path string, body []byte, header map[string]string, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read the response: %w", method, path, err)
	}
	if resp.StatusCode != want {
		var e struct{ Error string }
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(data))
		}
		return &httpError{Code: resp.StatusCode, Msg: e.Error}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: the response: %w", method, path, err)
		}
	}
	return nil
}

// events follows a sweep's event stream until it ends, calling f for each event.
func (c *client) events(ctx context.Context, id string, f func(service.Event)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/v1/sweeps/"+id+"/events", nil)
	if err != nil {
		return fmt.Errorf("events of %s: %w", id, err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("events of %s: %w", id, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &httpError{Code: resp.StatusCode, Msg: "events of " + id}
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var e service.Event
		if err := json.Unmarshal([]byte(data), &e); err != nil {
			return fmt.Errorf("events of %s: %w", id, err)
		}
		f(e)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("events of %s: %w", id, err)
	}
	return nil
}

func runSubmit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCLI("submit", submitUsage)
	server := c.fs.String("server", "", "`URL` of the tfsweep serve, e.g. http://127.0.0.1:8080")
	jsonOut := c.fs.Bool("json", false, "print every event, then the sweep, as JSON lines")
	tokenFile := c.fs.String("token-file", "", "`file` holding the server's bearer token (else $TFSWEEP_TOKEN)")
	pos, code, ok := c.parse(args, stdout, stderr)
	if !ok {
		return code
	}
	fail := func(code int, err error) int {
		fmt.Fprintf(stderr, "tfsweep submit: %v\n", err)
		return code
	}
	if len(pos) != 1 {
		return fail(spec.ExitBadInput, errors.New("want exactly one sweep file (see tfsweep submit -h)"))
	}
	cl, err := newClient(*server, *tokenFile)
	if err != nil {
		return fail(spec.ExitBadInput, fmt.Errorf("--server: %w", err))
	}
	sweepFile, err := os.ReadFile(pos[0])
	if err != nil {
		return fail(spec.ExitBadInput, err)
	}
	id, err := cl.submit(ctx, pos[0], sweepFile)
	var he *httpError
	if errors.As(err, &he) && he.Code == http.StatusBadRequest {
		return fail(spec.ExitBadInput, errors.New(he.Msg))
	}
	if err != nil {
		return fail(spec.ExitRunFailed, err)
	}
	enc := json.NewEncoder(stdout)
	if *jsonOut {
		enc.Encode(map[string]string{"type": "submitted", "id": id})
	} else {
		fmt.Fprintf(stderr, "submitted %s\n", id)
	}
	show := eventPrinter(id, *jsonOut, enc, stderr)
	view, err := cl.follow(ctx, id, show)
	if ctx.Err() != nil {
		return fail(spec.ExitInterrupted, fmt.Errorf("stopped following %s (it goes on; tfsweep cancel %s %s stops it)", id, cl.base, id))
	}
	if err != nil {
		return fail(spec.ExitRunFailed, err)
	}
	if *jsonOut {
		enc.Encode(map[string]any{"type": "sweep", "sweep": view})
	} else {
		var res sweep.Result
		if view.Result != nil && json.Unmarshal(view.Result, &res) == nil {
			printResult(stdout, &res, "")
		}
		if view.Error != "" {
			fmt.Fprintf(stderr, "%s: %s\n", id, view.Error)
		}
	}
	return *view.ExitCode
}

// submit queues the sweep file's spec and returns its id. The server's messages name the file as
// given, else by its base name, else "body".
func (c *client) submit(ctx context.Context, file string, spec []byte) (string, error) {
	header := map[string]string{"Content-Type": "application/yaml"}
	for _, name := range []string{file, filepath.Base(file)} {
		if service.IsSweepFileName(name) {
			header["X-Sweep-File"] = name
			break
		}
	}
	var created struct {
		ID string `json:"id"`
	}
	err := c.do(ctx, http.MethodPost, "/api/v1/sweeps", spec, header, http.StatusCreated, &created)
	return created.ID, err
}

// eventPrinter shows a sweep's events: as JSON lines, or a line per state, finished epoch and run end.
func eventPrinter(id string, jsonOut bool, enc *json.Encoder, stderr io.Writer) func(service.Event) {
	lastEpoch := map[string]int{}
	return func(e service.Event) {
		if jsonOut {
			enc.Encode(e)
			return
		}
		switch {
		case e.Type == "state":
			fmt.Fprintf(stderr, "%s: %s\n", id, e.State)
		case e.Type == "epoch" && e.Run != nil && e.Run.LastEpoch != nil:
			if lastEpoch[e.Run.Name] != e.Run.EpochsCompleted {
				lastEpoch[e.Run.Name] = e.Run.EpochsCompleted
				m := e.Run.LastEpoch
				fmt.Fprintf(stderr, "%s: epoch %d/%d loss %.4f val_loss %.4f %.0f samples/s\n", e.Run.Name, e.Run.EpochsCompleted, e.Run.Epochs, m.Loss, m.ValLoss, m.SamplesPerSecond)
			}
		case e.Type == "run_end" && e.Run != nil:
			fmt.Fprintf(stderr, "%s: %s %s\n", e.Run.Name, e.Run.State, strings.TrimSpace(e.Run.Error+" "+e.Run.Reason))
		}
	}
}

// follow streams the sweep's events to show until it ends and returns it; a stream cut (a
// restarting server) is reconnected, for up to a minute of failures in a row.
func (c *client) follow(ctx context.Context, id string, show func(service.Event)) (service.SweepView, error) {
	var view service.SweepView
	for failures := 0; ; {
		err := c.events(ctx, id, show)
		if ctx.Err() != nil {
			return view, ctx.Err()
		}
		if gerr := c.do(ctx, http.MethodGet, "/api/v1/sweeps/"+id, nil, nil, http.StatusOK, &view); gerr == nil {
			failures = 0
			if view.ExitCode != nil && view.Ended != nil {
				return view, nil
			}
		} else if err == nil {
			err = gerr
		}
		if err != nil {
			if failures++; failures > 60 {
				return view, err
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func runCancel(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCLI("cancel", cancelUsage)
	tokenFile := c.fs.String("token-file", "", "`file` holding the server's bearer token (else $TFSWEEP_TOKEN)")
	pos, code, ok := c.parse(args, stdout, stderr)
	if !ok {
		return code
	}
	if len(pos) != 2 {
		fmt.Fprintln(stderr, "tfsweep cancel: want URL and ID (see tfsweep cancel -h)")
		return spec.ExitBadInput
	}
	cl, err := newClient(pos[0], *tokenFile)
	if err != nil {
		fmt.Fprintf(stderr, "tfsweep cancel: %v\n", err)
		return spec.ExitBadInput
	}
	var rec service.Record
	err = cl.do(ctx, http.MethodPost, "/api/v1/sweeps/"+pos[1]+"/cancel", nil, nil, http.StatusOK, &rec)
	var he *httpError
	switch {
	case errors.As(err, &he) && he.Code == http.StatusNotFound:
		fmt.Fprintf(stderr, "tfsweep cancel: %s\n", he.Msg)
		return spec.ExitBadInput
	case err != nil:
		fmt.Fprintf(stderr, "tfsweep cancel: %v\n", err)
		return spec.ExitRunFailed
	}
	fmt.Fprintf(stdout, "%s: %s\n", rec.ID, rec.State)
	return spec.ExitOK
}

// runServerStatus is `tfsweep status URL [ID]`: the server's sweeps, or one sweep's runs.
func runServerStatus(ctx context.Context, url string, pos []string, jsonOut bool, tokenFile string, stdout, stderr io.Writer) int {
	cl, err := newClient(url, tokenFile)
	if err != nil {
		fmt.Fprintf(stderr, "tfsweep status: %v\n", err)
		return spec.ExitBadInput
	}
	var he *httpError
	if len(pos) == 0 {
		var list service.SweepList
		if err := cl.do(ctx, http.MethodGet, "/api/v1/sweeps?limit=1000", nil, nil, http.StatusOK, &list); err != nil {
			fmt.Fprintf(stderr, "tfsweep status: %v\n", err)
			return spec.ExitRunFailed
		}
		if jsonOut {
			return printJSON(stdout, stderr, list)
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATE\tCREATED\tERROR")
		for _, r := range list.Sweeps {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ID, r.State, r.Created.Format(time.RFC3339), r.Error)
		}
		tw.Flush()
		return spec.ExitOK
	}
	var view service.SweepView
	err = cl.do(ctx, http.MethodGet, "/api/v1/sweeps/"+pos[0], nil, nil, http.StatusOK, &view)
	switch {
	case errors.As(err, &he) && he.Code == http.StatusNotFound:
		fmt.Fprintf(stderr, "tfsweep status: %s\n", he.Msg)
		return spec.ExitBadInput
	case err != nil:
		fmt.Fprintf(stderr, "tfsweep status: %v\n", err)
		return spec.ExitRunFailed
	}
	if jsonOut {
		return printJSON(stdout, stderr, view)
	}
	fmt.Fprintf(stdout, "%s %s (%s)\n", view.ID, view.State, view.SweepDir)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTATE\tEPOCH\tSTEP\tLOSS\tSAMPLES/S\tERROR OR REASON")
	for _, r := range view.Runs {
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%d/%d\t%.4f\t%.0f\t%s\n", r.Name, r.State, r.EpochsCompleted, r.Epochs, r.StepInEpoch, r.StepsPerEpoch, r.Loss, r.SamplesPerSecond,
			strings.TrimSpace(r.Error+" "+r.Reason))
	}
	tw.Flush()
	if view.State != spec.StatusSucceeded {
		return spec.ExitRunFailed
	}
	return spec.ExitOK
}
