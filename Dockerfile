# agent-slo exporter image: `agent-slo serve` on a slim Python base, as an unprivileged user.
#
#   docker build -t agent-slo .
#   docker run -p 9464:9464 -v agent-slo-state:/var/lib/agent-slo \
#     -e AGENT_SLO_TOKENS='<token> [WORKFLOW ...]' agent-slo
#
# It listens on all interfaces, so it refuses to start without a write token (AGENT_SLO_TOKENS,
# or --tokens-file with a mounted file); --insecure-open-writes opens writes to anyone.
#
# The specs baked in are slo-specs/; mount your own over /etc/agent-slo/specs. The same
# image runs the other commands: `docker run --rm agent-slo validate /etc/agent-slo/specs`.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY agent_slo ./agent_slo
COPY decisions ./decisions
COPY rulegen ./rulegen
COPY exporter ./exporter
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/agent-slo agent-slo \
    && mkdir -p /var/lib/agent-slo /etc/agent-slo \
    && chown agent-slo /var/lib/agent-slo
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY slo-specs /etc/agent-slo/specs
USER 10001
VOLUME /var/lib/agent-slo
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=3s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9464/readyz', timeout=2)"
ENTRYPOINT ["agent-slo"]
CMD ["serve", "--specs", "/etc/agent-slo/specs", "--state", "/var/lib/agent-slo/state.db", \
     "--host", "0.0.0.0", "--listen-wide"]
