# tfsweep's image: `docker run --gpus all tfsweep` runs the lab-report sweep into /runs; `serve` is the service.
#
#   docker build -t tfsweep .                                   GPU flavour, on the CUDA 12 + cuDNN 9 runtime
#   docker build -t tfsweep:cpu --build-arg TF_FLAVOUR=cpu .    CPU flavour, on debian:bookworm-slim
#
# Needs BuildKit (the default since Docker 23; DOCKER_BUILDKIT=1 before): its cache mounts keep the Go build
# cache and the libtensorflow wheel between builds. The bases are build arguments; where no registry can be
# reached, scripts/docker-bases.sh makes local ones and prints the --build-arg lines that name them.
# The build runs the same scripts as `make build` on a developer machine.

ARG BUILD_IMAGE=golang:1.26-bookworm
ARG CUDA_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04
ARG CPU_IMAGE=debian:bookworm-slim
ARG TF_FLAVOUR=gpu

# --- build: libtensorflow and MNIST first, so that a change of the sources rebuilds only the binaries ---
FROM ${BUILD_IMAGE} AS build
ARG TF_FLAVOUR
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-pip ca-certificates make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
ENV TFSWEEP_CACHE=/cache LIBTENSORFLOW_DIR=/opt/libtensorflow GOPATH=/go
COPY scripts/install-libtensorflow.sh scripts/setup-data.sh scripts/
RUN --mount=type=cache,target=/cache/downloads \
    case "$TF_FLAVOUR" in \
      gpu) scripts/install-libtensorflow.sh --gpu ;; \
      cpu) scripts/install-libtensorflow.sh ;; \
      *) echo "TF_FLAVOUR must be gpu or cpu, not '$TF_FLAVOUR'" >&2; exit 2 ;; \
    esac
RUN --mount=type=cache,target=/go/pkg/mod scripts/setup-data.sh /opt/tfsweep/data/mnist
COPY . .
ARG VERSION=devel
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    make build VERSION="$VERSION" \
 && install -D bin/tfsweep /opt/tfsweep/bin/tfsweep \
 && install -D bin/tfsweep-worker /opt/tfsweep/bin/tfsweep-worker \
 && install -D docker/healthcheck.sh /opt/tfsweep/bin/tfsweep-healthcheck

# --- runtime: the flavour's base, tini as PID 1 (it forwards `docker stop`'s SIGTERM), tcmalloc ---
FROM ${CUDA_IMAGE} AS runtime-gpu
FROM ${CPU_IMAGE} AS runtime-cpu
# hadolint ignore=DL3006
FROM runtime-${TF_FLAVOUR}
ARG TF_FLAVOUR
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY scripts/setup-tcmalloc.sh /tmp/setup-tcmalloc.sh
# setup-tcmalloc.sh succeeds without tcmalloc (it is optional on a developer machine); the image wants it.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && /tmp/setup-tcmalloc.sh \
 && ls /usr/lib/*-linux-gnu/libtcmalloc_minimal.so.4 >/dev/null \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb /tmp/setup-tcmalloc.sh \
 && useradd --system --no-log-init --uid 10001 --user-group --create-home --home-dir /home/tfsweep tfsweep \
 && install -d -o tfsweep -g tfsweep /runs
COPY --from=build /opt/libtensorflow /opt/libtensorflow
COPY --from=build /opt/tfsweep/data /opt/tfsweep/data
COPY --from=build /opt/tfsweep/bin /opt/tfsweep/bin
# In WORKDIR the defaults of run and serve (--data-dir data/mnist, --logdir ./runs) are the image's MNIST and
# the /runs volume, so `docker run IMAGE run --epochs 1` needs no paths.
RUN ln -s /runs /opt/tfsweep/runs
ENV PATH=/opt/tfsweep/bin:$PATH \
    LD_LIBRARY_PATH=/opt/libtensorflow/lib \
    TF_CPP_MIN_LOG_LEVEL=1
USER 10001:10001
WORKDIR /opt/tfsweep
VOLUME ["/runs"]
EXPOSE 8080
# Healthy while `serve` answers on its --addr; any other command (a sweep) counts as healthy while it runs.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["tfsweep-healthcheck"]
ENTRYPOINT ["tini", "--", "tfsweep"]
CMD ["run"]
ARG VERSION=devel
ARG REVISION=unknown
LABEL org.opencontainers.image.title="tfsweep" \
      org.opencontainers.image.description="Trains neural-network variants with TensorFlow and writes TensorBoard logs" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/tfsweep/tfsweep" \
      io.github.tfsweep.tensorflow.version="2.18.0" \
      io.github.tfsweep.tensorflow.flavour="${TF_FLAVOUR}"
