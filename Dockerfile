# syntax=docker/dockerfile:1
# Multi-stage build of a static paycode binary on a distroless, non-root base.
# .ci/run builds the same binary with the same flags (no Docker engine there).

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/paycode ./cmd/paycode

# distroless/static: CA certificates and /etc/passwd with "nonroot" (65532), no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/paycode /paycode
USER 65532:65532
ENV PAYCODE_ENV=production \
    PAYCODE_ADDR=:8080 \
    PAYCODE_ADMIN_ADDR=127.0.0.1:9090
EXPOSE 8080
# The binary checks its own admin listener: the image has no curl or shell.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 CMD ["/paycode", "healthcheck"]
ENTRYPOINT ["/paycode"]
CMD ["serve"]
