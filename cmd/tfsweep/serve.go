package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
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
checkpoints. A second server on the same LOGDIR refuses to start. It offers the data of its --data
sources (else --data-dir's IDX files), read once at start: a sweep trains on the first unless its
data: names another of them; any other data: is refused unopened.

It listens on loopback by default. Another address needs a token of at least 16 bytes (--token-file,
or TFSWEEP_TOKEN), and with a token every request needs "Authorization: Bearer <token>". It answers
only requests whose Host is its own (--allow-host adds names), and refuses state-changing requests
from other sites' pages and with a form's content type.

Exit status: 0 stopped by SIGINT/SIGTERM, 1 a run-time failure, 2 bad flags, a logdir in use or a
non-loopback address without a token.
`

// serveFlags are tfsweep serve's settings.
type serveFlags struct {
	addr, logDir, dataDir, device string
	sources                       sourceList // --data, in the order given
	dataCache                     string
	slots, maxConns               int
	fuse                          string
	fuseGroup                     int
	tokenFile, tensorBoardURL     string
	allowHosts                    string
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCLI("serve", serveUsage)
	fs := c.fs
	var f serveFlags
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "`host:port` to listen on (loopback unless a token is set)")
	fs.StringVar(&f.logDir, "logdir", "./runs", "`dir`ectory of the queue and of the sweep directories")
	fs.StringVar(&f.dataDir, "data-dir", "data/mnist", "`dir`ectory with the MNIST IDX files (the shorthand of --data idx:DIR; without --data)")
	fs.Var(&f.sources, "data", "a data `source` KIND:PATH[:key=value…] the server offers, as tfsweep run --data takes it; repeat it for several: a submitted sweep trains on the first unless its data: names another")
	fs.StringVar(&f.dataCache, "data-cache", defaultDataCache(), "`dir`ectory where decoded image folders, IDX, CSV and TFRecord splits are kept")
	fs.StringVar(&f.device, "device", "auto", "where to train: auto, cpu or gpu (a `device`)")
	fs.Var(parallelFlag{&f.slots}, "slots", "runs of a sweep trained at once, one worker each (`N`, or auto: chosen for each sweep as tfsweep run --parallel auto chooses)")
	fs.StringVar(&f.fuse, "fuse", sweep.FuseAuto, "train a sweep's runs that share a shape fused, as tfsweep run --fuse: auto (on GPUs only), on or off")
	fs.IntVar(&f.fuseGroup, "fuse-group", 0, "at most `N` runs in a fused group, as tfsweep run --fuse-group (0 = auto)")
	fs.StringVar(&f.tokenFile, "token-file", "", "`file` holding the bearer token every request must carry (else $"+sweep.TokenEnv+")")
	fs.StringVar(&f.tensorBoardURL, "tensorboard-url", "", "`URL` of a TensorBoard reading LOGDIR, linked from the API")
	fs.StringVar(&f.allowHosts, "allow-host", "", "more Host header `names` the server answers, comma-separated (e.g. the name of a proxy in front of it)")
	fs.IntVar(&f.maxConns, "max-conns", 4096, "open connections at most (`N`): at the cap a new one closes the longest idle one")
	if _, code, ok := c.parse(args, stdout, stderr); !ok {
		return code
	}
	log := zerolog.New(stderr).With().Timestamp().Logger()
	fail := func(err error) int {
		fmt.Fprintf(stderr, "tfsweep serve: %v\n", err)
		return spec.ExitBadInput
	}
	httpCfg, trainer, err := f.setUp(ctx, log)
	if err != nil {
		return fail(err)
	}
	svc, err := service.New(ctx, service.Config{LogDir: f.logDir, Trainer: trainer, Log: log})
	if err != nil {
		return fail(err)
	}
	defer svc.Close()
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fail(fmt.Errorf("--addr: %w", err))
	}
	files := raiseOpenFiles()
	maxConns := min(f.maxConns, max(16, files-256)) // what the workers, the queue and the logs need stays free
	srv := &http.Server{Handler: svc.Handler(httpCfg), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		IdleTimeout: time.Minute, MaxHeaderBytes: 64 << 10, ConnState: service.NewConnLimit(maxConns).Track,
		ErrorLog: stdlog.New(log, "", 0),
		// Requests' contexts end with the server's, so that event streams end on SIGTERM.
		BaseContext: func(net.Listener) context.Context { return ctx }}
	log.Info().Str("addr", ln.Addr().String()).Str("logdir", f.logDir).Stringer("slots", parallelFlag{&trainer.Slots}).Bool("token", httpCfg.Token != "").
		Int("max_conns", maxConns).Int("open_files", files).Msg("serving")
	return serve(ctx, srv, ln, svc, log)
}

// setUp checks the flags and reads what the server needs once: the token, the data sets' shapes and
// the workers.
func (f serveFlags) setUp(ctx context.Context, log zerolog.Logger) (service.HTTPConfig, *service.SweepTrainer, error) {
	token, err := readToken(f.tokenFile)
	if err != nil {
		return service.HTTPConfig{}, nil, err
	}
	if err := checkListen(f.addr, token); err != nil {
		return service.HTTPConfig{}, nil, err
	}
	var extra []string
	for h := range strings.SplitSeq(f.allowHosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			extra = append(extra, h)
		}
	}
	hosts, err := service.NewHosts(f.addr, extra)
	if err != nil {
		return service.HTTPConfig{}, nil, err
	}
	if f.maxConns < 1 {
		return service.HTTPConfig{}, nil, fmt.Errorf("--max-conns: %d must be positive", f.maxConns)
	}
	opts := sweep.Options{Device: f.device, Fuse: f.fuse, FuseGroup: f.fuseGroup}
	if err := opts.CheckFuse(); err != nil {
		return service.HTTPConfig{}, nil, err
	}
	data, err := f.readData()
	if err != nil {
		return service.HTTPConfig{}, nil, err
	}
	if err := setUpWorkers(ctx, &opts); err != nil {
		return service.HTTPConfig{}, nil, err
	}
	t := &service.SweepTrainer{LogDir: f.logDir, Data: data, DataCache: f.dataCache, Device: f.device, Slots: f.slots,
		Fuse: f.fuse, FuseGroup: f.fuseGroup, Worker: opts.Worker, WorkerEnv: opts.WorkerEnv, GPUs: opts.GPUs, Charts: opts.Charts}
	return service.HTTPConfig{Token: token, TensorBoardURL: f.tensorBoardURL, Hosts: hosts, Log: log}, t, nil
}

// readData reads the shape of every source the server offers: --data's, else the IDX files of
// --data-dir.
func (f serveFlags) readData() ([]sweep.DataShape, error) {
	if len(f.sources) == 0 {
		d, err := sweep.ReadDataShape(f.dataDir)
		return []sweep.DataShape{d}, err
	}
	var shapes []sweep.DataShape
	for _, source := range f.sources {
		d, err := sweep.ReadSourceShape(source, f.dataCache)
		if err != nil {
			return nil, err
		}
		shapes = append(shapes, d)
	}
	return shapes, nil
}

// sourceList is a repeatable flag's values.
type sourceList []string

func (l *sourceList) String() string { return strings.Join(*l, " ") }
func (l *sourceList) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// serve runs the trainer and the HTTP server until ctx ends or either fails.
func serve(ctx context.Context, srv *http.Server, ln net.Listener, svc *service.Service, log zerolog.Logger) int {
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

// raiseOpenFiles raises the soft open-files limit to the hard one (each connection holds a file)
// and returns the limit in force.
func raiseOpenFiles() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 1024
	}
	if lim.Cur < lim.Max {
		raised := lim
		raised.Cur = raised.Max
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised) == nil {
			lim = raised
		}
	}
	return int(min(lim.Cur, 1<<30))
}

// readToken reads the token from file, else from TFSWEEP_TOKEN ("" for none).
func readToken(file string) (string, error) {
	if file == "" {
		return strings.TrimSpace(os.Getenv(sweep.TokenEnv)), nil
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

// minTokenBytes is the shortest token a server reachable from other machines takes.
const minTokenBytes = 16

// checkListen refuses an address other than loopback without a token of at least minTokenBytes.
func checkListen(addr, token string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	if service.IsLoopback(host) {
		return nil
	}
	if token == "" {
		return fmt.Errorf("--addr %s is not a loopback address: set a token with --token-file or %s, so that only its holders can use the server", addr, sweep.TokenEnv)
	}
	if len(token) < minTokenBytes {
		return fmt.Errorf("--addr %s is not a loopback address: its token must be at least %d bytes, not %d (e.g. openssl rand -hex 32)", addr, minTokenBytes, len(token))
	}
	return nil
}

var errNoServer = errors.New("not a server URL")
