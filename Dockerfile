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
# image's unprivileged `nonroot` user (uid 65532).

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
 && install -d -m 0700 /out/state

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /out/okta-asset-connector /usr/local/bin/okta-asset-connector
# The state directory (an SQLite database), owned by the runtime user. Mount a persistent
# volume here. STATE_DIRECTORY is the *fallback* of state_dir: STATE_DIR, --state-dir and the
# Sekoia runtime (/symphony_data when /symphony exists) still take precedence.
COPY --from=builder --chown=65532:65532 /out/state /var/lib/okta-asset-connector
ENV STATE_DIRECTORY=/var/lib/okta-asset-connector
VOLUME ["/var/lib/okta-asset-connector"]
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/okta-asset-connector"]
CMD ["run"]
