package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/tfsweep/tfsweep/service"
	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/sweep"
)

const serveUsage = `usage: tfsweep serve [flags]

Runs the training service: a persistent queue of sweeps (SQLite in LOGDIR), trained one at a time
with --slots workers, each sweep into LOGDIR/<id> for TensorBoard, and an HTTP API under /api/v1
(described at /api/v1/openapi.yaml), /healthz and /metrics. Killing the server loses no accepted
sweep: the next server on LOGDIR trains the queued ones and resumes the interrupted one from its
checkpoints. A second server on the same LOGDIR refuses to start.

It listens on loopback by default. Another address needs a token (--token-file, or TFSWEEP_TOKEN),
and with a token every request needs "Authorization: Bearer <token>".

Exit status: 0 stopped by SIGINT/SIGTERM, 1 a run-time failure, 2 bad flags, a logdir in use or a
non-loopback address without a token.
`

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCLI("serve", serveUsage)
	fs := c.fs
	var (
		cfg                             service.Config
		addr, tokenFile, tensorBoardURL string
	)
	fs.StringVar(&addr, "addr", "127.0.0.1:8080", "`host:port` to listen on (loopback unless a token is set)")
	fs.StringVar(&cfg.LogDir, "logdir", "./runs", "`dir`ectory of the queue and of the sweep directories")
	fs.StringVar(&cfg.DataDir, "data-dir", "data/mnist", "`dir`ectory with the MNIST IDX files")
	fs.StringVar(&cfg.Device, "device", "auto", "where to train: auto, cpu or gpu (a `device`)")
	fs.IntVar(&cfg.Slots, "slots", 0, "runs of a sweep trained at once, one worker each (`N`; default one per GPU, 1 on CPU)")
	fs.StringVar(&tokenFile, "token-file", "", "`file` holding the bearer token every request must carry (else $TFSWEEP_TOKEN)")
	fs.StringVar(&tensorBoardURL, "tensorboard-url", "", "`URL` of a TensorBoard reading LOGDIR, linked from the API")
	if _, code, ok := c.parse(args, stdout, stderr); !ok {
		return code
	}
	log := zerolog.New(stderr).With().Timestamp().Logger()
	fail := func(err error) int {
		fmt.Fprintf(stderr, "tfsweep serve: %v\n", err)
		return spec.ExitBadInput
	}
	token, err := readToken(tokenFile)
	if err != nil {
		return fail(err)
	}
	if err := checkListen(addr, token); err != nil {
		return fail(err)
	}
	opts := sweep.Options{Device: cfg.Device}
	if err := setUpWorkers(ctx, &opts); err != nil {
		return fail(err)
	}
	cfg.Worker, cfg.WorkerEnv, cfg.GPUs, cfg.Charts = opts.Worker, opts.WorkerEnv, opts.GPUs, opts.Charts
	if cfg.Slots == 0 {
		cfg.Slots = max(1, len(cfg.GPUs))
	}
	cfg.Logf = func(format string, args ...any) { log.Info().Msg(fmt.Sprintf(format, args...)) }
	svc, err := service.New(ctx, cfg)
	if err != nil {
		return fail(err)
	}
	defer svc.Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fail(fmt.Errorf("--addr: %w", err))
	}
	// Requests' contexts end with the server's, so that event streams end on SIGTERM.
	srv := &http.Server{Handler: svc.Handler(token, tensorBoardURL), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	log.Info().Str("addr", ln.Addr().String()).Str("logdir", cfg.LogDir).Int("slots", cfg.Slots).Bool("token", token != "").Msg("serving")
	return serve(ctx, svc, srv, ln, log)
}

// serve runs the queue's trainer and the HTTP server until a signal, or until either fails, and
// stops them together.
func serve(ctx context.Context, svc *service.Service, srv *http.Server, ln net.Listener, log zerolog.Logger) int {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	code := spec.ExitOK
	wg.Go(func() {
		if err := svc.Run(ctx); err != nil {
			log.Error().Err(err).Msg("the queue stopped")
			code = spec.ExitRunFailed
		}
		stop()
	})
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		log.Error().Err(err).Msg("the HTTP server stopped")
		stop()
		wg.Wait()
		return spec.ExitRunFailed
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	srv.Shutdown(shutdown)
	wg.Wait()
	log.Info().Msg("stopped")
	return code
}

// readToken reads the token from file, else from TFSWEEP_TOKEN ("" for none).
func readToken(file string) (string, error) {
	if file == "" {
		return strings.TrimSpace(os.Getenv("TFSWEEP_TOKEN")), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", fmt.Errorf("--token-file %s: the file is empty", file)
	}
	return token, nil
}

// checkListen refuses an address other than loopback without a token.
func checkListen(addr, token string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	if token != "" || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("--addr %s is not a loopback address: set a token with --token-file or TFSWEEP_TOKEN, so that only its holders can use the server", addr)
}

var errNoServer = errors.New("not a server URL")
