# syntax=docker/dockerfile:1
# feedsmith: multi-stage build. Stage 1 compiles (dependencies cached in their own layer),
# stage 2 is a slim Debian with CA certificates and the binary, running as a non-root user.

FROM rust:1-bookworm AS builder
WORKDIR /src
# Dependencies first: this layer is rebuilt only when Cargo.toml / Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches \
    && echo 'fn main() {}' > src/main.rs \
    && echo '' > src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src
# The real sources (migrations are embedded into the binary at compile time).
COPY src ./src
COPY migrations ./migrations
COPY config ./config
RUN touch src/main.rs src/lib.rs && cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/feedsmith --create-home feedsmith
COPY --from=builder /src/target/release/feedsmith /usr/local/bin/feedsmith
COPY config/feedsmith.toml /etc/feedsmith/feedsmith.toml
USER 10001:10001
WORKDIR /var/lib/feedsmith
# Configuration: mount a file over /etc/feedsmith/feedsmith.toml and/or set FEEDSMITH__SECTION__KEY
# variables (FEEDSMITH__DATABASE__URL=postgres://... for clusters). JSON logs for collectors.
# The container listens on all its interfaces: publish the port on 127.0.0.1 only, or require a
# token for /api/* and /feed.xml (docs/security.md):
#   -e FEEDSMITH__SERVER__TOKEN_ENV=FEEDSMITH_API_TOKEN -e FEEDSMITH_API_TOKEN=<long random>
# `run` warns at start when it listens beyond loopback without one.
ENV FEEDSMITH_CONFIG=/etc/feedsmith/feedsmith.toml \
    FEEDSMITH__SERVER__LISTEN=0.0.0.0:8080 \
    FEEDSMITH__DATABASE__URL=sqlite:///var/lib/feedsmith/feedsmith.db \
    RUST_LOG=info
EXPOSE 8080
VOLUME ["/var/lib/feedsmith"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["feedsmith", "healthcheck"]
ENTRYPOINT ["feedsmith"]
CMD ["--log-format", "json", "run"]
