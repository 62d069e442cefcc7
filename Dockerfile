# agent-slo exporter image: `agent-slo serve` on a slim Python base, as an unprivileged user.
#
#   docker build -t agent-slo:0.1.0 .
#   docker run -p 9464:9464 -v agent-slo-state:/var/lib/agent-slo \
#     -v "$PWD/tokens:/etc/agent-slo/secrets/tokens:ro" agent-slo:0.1.0
#
# It listens on all interfaces, so its default command requires a tokens file (lines
# `TOKEN [WORKFLOW ...]`) at /etc/agent-slo/secrets/tokens: without it, it exits with a usage
# error. To run without write tokens, say so: `... agent-slo:0.1.0 serve --specs
# /etc/agent-slo/specs --state /var/lib/agent-slo/state.db --host 0.0.0.0 --listen-wide
# --insecure-open-writes`.
#
# The specs baked in are slo-specs/; mount your own over /etc/agent-slo/specs. The same
# image runs the other commands: `docker run --rm agent-slo:0.1.0 validate /etc/agent-slo/specs`.
#
# The base image is pinned by digest: python:3.11-slim (Python 3.11.15, Debian trixie),
# the multi-platform index as docker-library/repo-info records it. To move it, take the
# new digest from `docker buildx imagetools inspect python:3.11-slim`.
ARG PYTHON_IMAGE=python:3.11-slim@sha256:90744cff8f32887f075c47d747a173ff333e9e98801667af93c357fa9f5e28ff

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY agent_slo ./agent_slo
COPY decisions ./decisions
COPY rulegen ./rulegen
COPY exporter ./exporter
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 agent-slo \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/agent-slo agent-slo \
    && mkdir -p /var/lib/agent-slo /etc/agent-slo/secrets \
    && chown agent-slo:agent-slo /var/lib/agent-slo
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY slo-specs /etc/agent-slo/specs
USER 10001:10001
VOLUME /var/lib/agent-slo
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=3s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9464/readyz', timeout=2)"
ENTRYPOINT ["agent-slo"]
CMD ["serve", "--specs", "/etc/agent-slo/specs", "--state", "/var/lib/agent-slo/state.db", \
     "--host", "0.0.0.0", "--listen-wide", "--tokens-file", "/etc/agent-slo/secrets/tokens"]
