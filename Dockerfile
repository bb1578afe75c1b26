# syntax=docker/dockerfile:1
# Multi-stage build of static paycode binaries (the server and the operator
# CLI paycodectl) on a distroless, non-root base. .ci/run builds the same
# binaries with the same command (no Docker engine there).

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/paycode ./cmd/paycodectl

# distroless/static: CA certificates and /etc/passwd with "nonroot" (65532), no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/paycode /paycode
COPY --from=build /out/paycodectl /paycodectl
USER 65532:65532
# The admin listener (probes /healthz and /readyz, /metrics, operator calls
# under /v1 behind PAYCODE_ADMIN_TOKEN) binds all interfaces in a container
# so that Prometheus, Kubernetes probes and paycodectl can reach it. It is
# INTERNAL ONLY: never publish port 9090 to the internet or put it behind
# the public load balancer; restrict it with a network policy (the Helm
# chart's admin Service is ClusterIP; compose does not publish it).
ENV PAYCODE_ENV=production \
    PAYCODE_ADDR=:8080 \
    PAYCODE_ADMIN_ADDR=0.0.0.0:9090 \
    PAYCODE_ADMIN_URL=http://127.0.0.1:9090
# 8080: public API and PWA. 9090: admin listener, internal only (above).
EXPOSE 8080 9090
# The binary checks its own admin listener: the image has no curl or shell.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 CMD ["/paycode", "healthcheck"]
ENTRYPOINT ["/paycode"]
CMD ["serve"]
