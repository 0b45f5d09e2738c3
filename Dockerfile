# Multi-stage build: compile in the Rust image, run in a slim Debian with only the binary.
FROM rust:1.95-bookworm AS build
WORKDIR /src
# OpenSSL headers for the postgres-tls feature (TLS from tomoni to PostgreSQL).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
COPY Cargo.toml Cargo.lock build.rs ./
COPY .cargo ./.cargo
COPY src ./src
COPY web ./web
COPY migrations ./migrations
COPY config ./config
RUN cargo build --release --locked --features postgres-tls

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/tomoni --create-home tomoni
COPY --from=build /src/target/release/tomoni /usr/local/bin/tomoni
COPY config /etc/tomoni/config
USER tomoni
WORKDIR /var/lib/tomoni
ENV TOMONI_CONFIG_DIR=/etc/tomoni/config \
    TOMONI__SERVER__HOST=0.0.0.0 \
    TOMONI__SERVER__PORT=8080
EXPOSE 8080
VOLUME ["/var/lib/tomoni"]
ENTRYPOINT ["tomoni"]
CMD ["serve"]
