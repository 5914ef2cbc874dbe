# tfsweep's GPU image: `docker run --gpus all tfsweep` runs the lab-report sweep into /runs.
# The build runs the same scripts as `make run` / `make test` on a developer machine.

# --- build: Go toolchain, libtensorflow (GPU build, from the pinned PyPI wheel), MNIST, bin/tfsweep ---
FROM golang:1.26-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-pip ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ENV TFSWEEP_CACHE=/cache LIBTENSORFLOW_DIR=/opt/libtensorflow
RUN scripts/install-libtensorflow.sh --gpu \
 && scripts/setup-data.sh /opt/tfsweep/data/mnist \
 && make build LIBTENSORFLOW_DIR=/opt/libtensorflow \
 && install -D bin/tfsweep /opt/tfsweep/bin/tfsweep \
 && install -D bin/tfsweep-worker /opt/tfsweep/bin/tfsweep-worker

# --- runtime: CUDA 12 + cuDNN 9 user-space libraries, which the GPU libtensorflow loads at start-up ---
FROM nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04
# tcmalloc, which tfsweep preloads into its workers (scripts/setup-tcmalloc.sh, as `make setup` runs it).
COPY scripts/setup-tcmalloc.sh /tmp/setup-tcmalloc.sh
RUN /tmp/setup-tcmalloc.sh && rm -rf /var/lib/apt/lists/* /tmp/setup-tcmalloc.sh
COPY --from=build /opt/libtensorflow /opt/libtensorflow
COPY --from=build /opt/tfsweep /opt/tfsweep
ENV PATH=/opt/tfsweep/bin:$PATH \
    LD_LIBRARY_PATH=/opt/libtensorflow/lib \
    TF_CPP_MIN_LOG_LEVEL=1
WORKDIR /work
VOLUME ["/runs"]
ENTRYPOINT ["tfsweep"]
CMD ["run", "--data-dir", "/opt/tfsweep/data/mnist", "--logdir", "/runs"]
