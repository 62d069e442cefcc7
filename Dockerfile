# agent-slo image: the `agent-slo` command on a slim Python base, run as an unprivileged user.
# Build: docker build -t agent-slo .
# Use:   docker run --rm -v "$PWD/slo-specs:/specs:ro" -v "$PWD/generated:/out" agent-slo \
#          generate /specs -o /out
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY rulegen ./rulegen
COPY exporter ./exporter
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --no-create-home agent-slo
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY slo-specs /specs
USER 10001
WORKDIR /home/agent-slo
ENTRYPOINT ["agent-slo"]
CMD ["validate", "/specs"]
