# syntax=docker/dockerfile:1
# scim-gateway: a multi-stage build. The builder compiles the release
# binary (librdkafka and OpenSSL from source: a C compiler, make and perl,
# all in the rust image); the runtime is Debian slim with the binary, CA
# certificates and curl (for the health check), run as a non-root user.
#
#   docker build --build-arg SCIM_GATEWAY_COMMIT=$(git rev-parse --short=12 HEAD) -t scim-gateway .
#   docker run -p 8443:8443 -p 9464:9464 -v scimgw-state:/var/lib/scim-gateway scim-gateway
#
# The config is /etc/scim-gateway/gateway.toml (config/docker/gateway.toml,
# a demo): mount your own over it. See docs/deployment.md.

ARG RUST_VERSION=1.91
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder
# `.git` is not sent to the builder (.dockerignore): name the commit for
# `--version` here, or it reads "unknown".
ARG SCIM_GATEWAY_COMMIT=unknown
ENV SCIM_GATEWAY_COMMIT=${SCIM_GATEWAY_COMMIT}
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin scim-gateway \
    && install -m 0755 target/release/scim-gateway /usr/local/bin/scim-gateway

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
# A fixed uid/gid (10001) so volumes and Kubernetes' runAsUser/fsGroup match.
RUN groupadd --system --gid 10001 scim-gateway \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/scim-gateway \
       --shell /usr/sbin/nologin scim-gateway \
    && install -d -o 10001 -g 10001 -m 0700 /var/lib/scim-gateway \
    && install -d -m 0755 /etc/scim-gateway
COPY --from=builder /usr/local/bin/scim-gateway /usr/local/bin/scim-gateway
COPY config/docker/gateway.toml /etc/scim-gateway/gateway.toml
COPY config/mappings /etc/scim-gateway/mappings
COPY config/schemas /etc/scim-gateway/schemas
ENV SCIM_GATEWAY_CONFIG=/etc/scim-gateway/gateway.toml
USER 10001:10001
WORKDIR /var/lib/scim-gateway
VOLUME ["/var/lib/scim-gateway"]
# 8443: the SCIM listener (TLS); 9464: the admin listener.
EXPOSE 8443 9464
# SIGTERM drains: /readyz fails for drain_delay, then the listener closes
# and requests in flight finish (give `docker stop -t 30` or more).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:9464/readyz"]
ENTRYPOINT ["/usr/local/bin/scim-gateway"]
CMD ["run"]
