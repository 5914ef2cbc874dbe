# TensorBoard pinned to the version the tests judge tfsweep's logs with.
FROM python:3.11-slim
COPY scripts/requirements-tensorboard.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt
EXPOSE 6006
ENTRYPOINT ["tensorboard", "--logdir", "/runs", "--bind_all", "--port", "6006"]
