# tfsweep's entry points. `make run` and `make test` set up whatever is missing first, so a fresh machine
# needs nothing else (Go, a C compiler and Python 3 with pip must be there). Big downloads (libtensorflow,
# the Python venv, the Go module cache) live in the cache below, outside the clone.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

TFSWEEP_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/tfsweep
LIBTENSORFLOW_DIR ?= $(TFSWEEP_CACHE)/libtensorflow-2.18.0
TFSWEEP_VENV ?= $(TFSWEEP_CACHE)/venv
DATA_DIR ?= data/mnist
LOGDIR ?= runs
# Extra flags for `make run`, e.g. make run RUN_FLAGS="--epochs 1 --limit 5000".
RUN_FLAGS ?=
# Extra flags for `make bench-convnet`, e.g. BENCH_CONVNET_FLAGS="--limit 20000 --systems tfsweep,keras,keras-spe".
BENCH_CONVNET_FLAGS ?=
# Extra flags for `make bench-search`, e.g. BENCH_SEARCH_FLAGS="--seeds 1 2 3 --budget 90".
BENCH_SEARCH_FLAGS ?=

export TFSWEEP_CACHE LIBTENSORFLOW_DIR TFSWEEP_VENV
# graft has no #cgo CFLAGS and links -ltensorflow: point cgo at the installed library, with an rpath so
# bin/tfsweep runs without LD_LIBRARY_PATH.
export CGO_ENABLED := 1
export CGO_CFLAGS := -I$(LIBTENSORFLOW_DIR)/include
export CGO_LDFLAGS := -L$(LIBTENSORFLOW_DIR)/lib -Wl,-rpath,$(LIBTENSORFLOW_DIR)/lib
export LD_LIBRARY_PATH := $(LIBTENSORFLOW_DIR)/lib$(if $(LD_LIBRARY_PATH),:$(LD_LIBRARY_PATH))
# What the tests read: the real MNIST files and the venv whose TensorBoard judges our logs.
export TFSWEEP_DATA_DIR := $(abspath $(DATA_DIR))
export TFSWEEP_PYTHON := $(TFSWEEP_VENV)/bin/python
# The formats' own writers (numpy, PIL, TensorFlow) that make dataset's test files.
export TFSWEEP_DATA_PYTHON := $(TFSWEEP_VENV)-data/bin/python
# TensorFlow's C++ INFO lines (oneDNN, CPU features) drown the output; warnings and errors still show.
export TF_CPP_MIN_LOG_LEVEL ?= 1
# Per-session intra-op pools, as the front gives its workers (model's thread-count test needs it).
export TF_OVERRIDE_GLOBAL_THREADPOOL := 1

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
GO_LDFLAGS := -X main.version=$(VERSION)

.PHONY: setup libtensorflow data tcmalloc strace venv build run test test-go lint bench bench-data bench-writers compare-keras compare-keras-convnet bench-convnet bench-preset bench-peers bench-sweep bench-fused-worker bench-fuse-sweep bench-search check-peers keras-models check-tensorboard-newest test-image go-vet test-go-race test-go-plain test-go-deploy test-go-pagetest slurm slurm-down clean

setup: libtensorflow data venv tcmalloc strace ## install libtensorflow, MNIST, the Python venv, tcmalloc and strace (each only if missing)

libtensorflow:
	scripts/install-libtensorflow.sh >/dev/null

data:
	scripts/setup-data.sh $(DATA_DIR) >/dev/null

tcmalloc: ## optional: without it (not root, no apt-get) the workers use glibc's malloc
	scripts/setup-tcmalloc.sh

strace: ## for the test that traces a run's fsyncs and renames
	scripts/setup-strace.sh >/dev/null

venv:
	scripts/setup-python.sh tensorboard >/dev/null
	scripts/setup-python.sh lint >/dev/null
	scripts/setup-python.sh data >/dev/null

build: libtensorflow ## build bin/tfsweep (pure Go, no cgo) and bin/tfsweep-worker (links libtensorflow)
	CGO_ENABLED=0 go build -ldflags '$(GO_LDFLAGS)' -o bin/tfsweep ./cmd/tfsweep
	go build -o bin/tfsweep-worker ./cmd/tfsweep-worker

run: setup build ## run the lab-report sweep and tell how to open TensorBoard
	bin/tfsweep run --data-dir $(DATA_DIR) --logdir $(LOGDIR) $(RUN_FLAGS)
	@echo
	@echo "View the runs: $(TFSWEEP_VENV)/bin/tensorboard --logdir $(LOGDIR)   (then open http://localhost:6006)"

# The phases run side by side: no one of them keeps 2 cores busy all the time (the command tests wait on
# their workers and TensorBoard, the image test on Docker), together they do. Each phase's output is
# printed whole when it ends (--output-sync); a failure in any fails the whole.
test: setup ## everything CI runs
	$(MAKE) --no-print-directory -j --output-sync=target lint test-go test-image

# The main module's packages and the modules of their own: deploy/ (the Kubernetes and Katib types its
# tests decode the recipes into) and service/pagetest (the web page's browser tests, chromedp), so that their
# dependencies stay out of the program's go.mod. Under `make -j` (as `make test` runs it) all run side by side,
# `go vet` too.
# The race detector runs on the main module's packages whose own code or tests use goroutines, channels,
# sync or atomics (scripts/race-packages.sh picks them); it cannot look into TensorFlow's C and slows Go
# several times, so the others run without it. `go test` skips its own vet pass: `go vet` ran every analyzer.
# The binaries the command tests run are built without the race detector.
test-go: go-vet test-go-race test-go-plain test-go-deploy test-go-pagetest

go-vet:
	go vet ./...

test-go-race:
	packages=$$(scripts/race-packages.sh race) && go test -count=1 -vet=off -race -timeout 30m $$packages

test-go-plain:
	packages=$$(scripts/race-packages.sh plain) && go test -count=1 -vet=off -timeout 30m $$packages

test-go-deploy:
	cd deploy && go vet ./... && go test -count=1 -vet=off -race -timeout 30m ./...

test-go-pagetest:
	cd service/pagetest && go vet ./... && go test -count=1 -vet=off -timeout 20m ./...

# The image in both flavours on a real Docker engine (installed and started if none runs, stopped after).
test-image: venv build ## build the image and check docker run, serve, compose and the GPU flavour's failure
	scripts/test-image.sh

lint: venv
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(TFSWEEP_VENV)/bin/hadolint Dockerfile docker/*.Dockerfile
	$(TFSWEEP_VENV)/bin/shellcheck scripts/*.sh docker/*.sh .ci/run deploy/slurm/*.sbatch
	go run $(STATICCHECK) ./...
	cd deploy && go run $(STATICCHECK) ./...

# BenchmarkSweep (its cells train up to 16 models each, minutes in all) runs in make bench-sweep only.
bench: setup ## Go micro-benchmarks (writer, batching, train step)
	go test -run '^$$' -bench . -skip '^BenchmarkSweep$$' -benchmem ./summary/... ./dataset/... ./model/... ./worker/...

bench-data: setup build ## read and prepare all of MNIST from IDX, npz, CSV, TFRecord and a PNG folder (first and cached read), against one epoch of the lab MLP
	scripts/bench_data --data-dir $(DATA_DIR)

bench-writers: setup ## tfsweep's event writer against tensorboardX and tf.summary
	scripts/bench_writers

compare-keras: setup build ## tfsweep against Keras: final losses and samples per second
	scripts/compare_keras --data-dir $(DATA_DIR)

compare-keras-convnet: setup ## a network in Keras' terms (MODEL=file; Keras' simple MNIST convnet by default) trained by tfsweep and by Keras model.fit, seeds 1-3: final losses, test accuracy, samples per second
	model=$(or $(MODEL),modelfile/testdata/keras/convnet.json); json=$$(mktemp --suffix .json); \
	go run ./scripts/compare_convnet --model $$model --keras-json $$json && \
	go run ./scripts/compare_convnet --model $$model --data-dir $(DATA_DIR) --seeds 1,2,3 && \
	$$(scripts/setup-python.sh peers | tail -1) scripts/compare_convnet_keras.py --model $$json --data-dir $(DATA_DIR) --seeds 1,2,3; \
	status=$$?; rm -f $$json; exit $$status

bench-convnet: setup build ## tfsweep against Keras (fit, steps_per_execution, XLA) and a jitted JAX step on Keras' simple MNIST convnet, batch 128 and 1024, alternating rounds: samples/s, ratios, load
	scripts/bench_convnet --data-dir $(DATA_DIR) $(BENCH_CONVNET_FLAGS)

bench-preset: setup build ## the lab-report preset with --parallel 1, the default (auto) and 2: wall and CPU time with ratios, time split, peak memory of all processes
	scripts/bench_preset --data-dir $(DATA_DIR)

bench-peers: setup build ## tfsweep's samples per second against Keras (fit, XLA, steps_per_execution) and JAX (jit, scan)
	scripts/bench_peers --data-dir $(DATA_DIR)

bench-sweep: setup ## T = 4, 8, 16 trials of the lab MLP (own and shared batches) trained fused (model.Fused), unfused, with --parallel 2's split and by JAX vmap (scan, and a step per batch): trials per second and per CPU-second; scripts/bench_sweep --network convnet and --batchnorm on add the convnet and batch norm
	scripts/bench_sweep --data-dir $(DATA_DIR)

bench-fused-worker: setup build ## a fused group of 8 jobs in one worker against the same 8 jobs one after another: trials per second and per CPU-second, ratios
	scripts/bench_fused_worker --data-dir $(DATA_DIR)

bench-fuse-sweep: setup build ## a sweep of 8 lab-MLP runs at batch 64, 128 and 1024 with --fuse on against --fuse off (what a CPU's default trains): whole commands, trials per second and per CPU-second, ratios
	scripts/bench_fuse_sweep --data-dir $(DATA_DIR)

bench-search: setup build ## search methods (random, median, ASHA, Hyperband, TPE) against Optuna's: best validation loss per epoch and second spent
	scripts/setup-python.sh search >/dev/null
	$(TFSWEEP_PYTHON) scripts/bench_search --data-dir $(DATA_DIR) $(BENCH_SEARCH_FLAGS)

check-peers: ## prove tb_check.py on logs written by tf.summary and tensorboardX (needs the peers venv)
	scripts/setup-python.sh peers >/dev/null
	$(TFSWEEP_PYTHON) scripts/tb_check_peers.py

keras-models: ## regenerate modelfile's Keras fixtures (modelfile/testdata/keras) with Keras itself (the peers venv)
	$$(scripts/setup-python.sh peers | tail -1) scripts/keras_models.py modelfile/testdata/keras

check-tensorboard-newest: ## summary's and the pictures callback's TensorBoard tests judged by the newest TensorBoard on PyPI too (its own venv)
	python=$$(scripts/setup-python.sh tensorboard-newest | tail -1); \
		TFSWEEP_PYTHON=$$python go test -count=1 -run 'TensorBoard' ./summary; \
		TFSWEEP_PYTHON=$$python go test -count=1 -run 'PicturesTensorBoard' ./trainer

# A one-node Slurm cluster on this machine (root; Debian's packages), as the deploy/ tests start it.
slurm: ## install and start the local Slurm cluster; then: eval "$$(scripts/setup-slurm.sh env)"
	scripts/setup-slurm.sh

slurm-down:
	scripts/slurm-down.sh

clean:
	rm -rf bin
