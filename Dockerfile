# syntax=docker/dockerfile:1
#
# okta-asset-connector: a small, non-root runtime image (docs/operations.md).
#
#   docker build -t okta-asset-connector .
#   docker run --rm -e OKTA_BASE_URL=https://acme.okta.com -e OKTA_API_TOKEN \
#     okta-asset-connector check
#
# Stage 1 builds the release binary with the official Rust image; stage 2 copies it into
# distroless/cc (glibc, libgcc, CA certificates, no shell, no package manager), running as the
# unprivileged uid 1000.
#
# Under the Sekoia.io connector runtime the entrypoint receives the connector file's
# docker_parameters (`run`) or `validate_module_configuration`, reads /symphony and keeps its
# state in /symphony_data (docs/deploy/sekoia-runtime.md). uid 1000 is the uid of the
# `sekoiaio-runtime` user the Sekoia SDK's and automation library's images create (`useradd`,
# the first user of a Debian image): whatever the runtime does to make /symphony_data writable
# for them, it does for this image too. /symphony_data exists in the image, owned by that user,
# so that a volume mounted there empty takes its owner and mode where the engine copies them
# (Docker named volumes).

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /src
# Cargo.toml declares the benches and the workspace member crates/okta-fake (the fake tenant the
# tests use, not linked into the binary): both must be present for the manifest to load.
COPY Cargo.toml Cargo.lock ./
COPY benches benches
COPY crates crates
COPY src src
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin okta-asset-connector \
 && install -D -m 0755 target/release/okta-asset-connector /out/okta-asset-connector \
 && strip /out/okta-asset-connector \
 && install -d -m 0700 /out/state /out/symphony_data

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /out/okta-asset-connector /usr/local/bin/okta-asset-connector
# The state directory (an SQLite database), owned by the runtime user. Mount a persistent
# volume here. STATE_DIRECTORY is the *fallback* of state_dir: STATE_DIR, --state-dir and the
# Sekoia runtime (/symphony_data/okta-asset-connector when /symphony exists) still take
# precedence.
COPY --from=builder --chown=1000:1000 /out/state /var/lib/okta-asset-connector
COPY --from=builder --chown=1000:1000 /out/symphony_data /symphony_data
ENV STATE_DIRECTORY=/var/lib/okta-asset-connector
VOLUME ["/var/lib/okta-asset-connector"]
USER 1000:1000
# /health (liveness_port) and /metrics (metrics_port) under the Sekoia runtime, as the SDK's
# defaults; outside it, wherever metrics_addr says.
EXPOSE 8000 8020
ENTRYPOINT ["/usr/local/bin/okta-asset-connector"]
CMD ["run"]
