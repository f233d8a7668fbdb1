# The Outflow image: the outflow command without the embedded Temporal server
# (build tag noserver: workers, agents and the CLI against a Temporal
# cluster), statically linked (CGO_ENABLED=0), on a distroless base with CA
# certificates and time zones, running as an unprivileged user.
#
#   docker build -t outflow .
#   docker run --rm outflow --help
#
# cmd/outflow/image_test.go builds the binary with the flags of the build
# step below and checks it is static and links no Temporal server code.

FROM golang:1.26.8-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -tags noserver -ldflags="-s -w" -o /out/outflow ./cmd/outflow
# Mount points owned by the image's user (uid 1000, as in Temporal's images,
# so that one certificates volume is readable by both).
RUN mkdir -p /out/pki /out/project

FROM gcr.io/distroless/static-debian12
COPY --from=build /out/outflow /usr/local/bin/outflow
COPY --from=build --chown=1000:1000 /out/pki /pki
COPY --from=build --chown=1000:1000 /out/project /project
USER 1000:1000
WORKDIR /project
ENTRYPOINT ["/usr/local/bin/outflow"]
CMD ["worker"]
