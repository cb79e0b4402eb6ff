# The self-hosted key server as a small container image.
#   docker build -t blindcast-keys .
#   docker run --rm -p 8080:8080 --env-file keys.env -v blindcast-data:/data blindcast-keys
# Configuration is the environment variables of `blindcast-keys serve` (README.md).

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p blindcast-keys --bin blindcast-keys

FROM debian:bookworm-slim
# ca-certificates: JWKS URLs and PostgreSQL TLS need the system roots.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin blindcast \
 && mkdir -p /data && chown blindcast: /data && chmod 0700 /data
COPY --from=build /src/target/release/blindcast-keys /usr/local/bin/blindcast-keys
USER 10001:10001
WORKDIR /data
# Inside a container the server must listen beyond loopback; the default lease store is a
# SQLite file on the /data volume.
ENV BIND=0.0.0.0:8080 \
    LEASE_STORE=sqlite:/data/leases.sqlite3 \
    LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["blindcast-keys"]
CMD ["serve"]
