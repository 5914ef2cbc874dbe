# TensorBoard pinned to the version the tests judge tfsweep's logs with, reading /runs.
# The base is a build argument: scripts/docker-bases.sh makes a local one where no registry can be reached.
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}
COPY scripts/requirements-tensorboard.txt /tmp/requirements.txt
# A venv: Debian's own Python (the local base) refuses pip installs into the system (PEP 668).
RUN python3 -m venv /opt/tensorboard \
 && /opt/tensorboard/bin/pip install --no-cache-dir -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt
USER 65534:65534
EXPOSE 6006
ENTRYPOINT ["/opt/tensorboard/bin/tensorboard", "--logdir", "/runs", "--bind_all", "--port", "6006"]
