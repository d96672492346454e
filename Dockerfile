# syntax=docker/dockerfile:1
# Build: a static binary, no cgo.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/server ./cmd/server && mkdir -p /out/data

# Run: distroless static, non-root, nothing but the binary and CA certificates.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/server /server
# /data belongs to nonroot (65532), so a named volume mounted there starts out writable (Docker
# copies the directory's owner into an empty volume): docker-compose.yml keeps the sandbox's
# state in one.
COPY --from=build --chown=65532:65532 /out/data /data
USER nonroot:nonroot
EXPOSE 8080
# The binary probes its own /healthz (on PNONBOARD_ADDR, loopback): the image has no curl.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 CMD ["/server", "health"]
ENTRYPOINT ["/server"]
CMD ["serve"]
