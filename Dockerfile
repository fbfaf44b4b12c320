# Lading's services in one image: `lading` (the CLI, and `lading up` with every service
# in one process) and one binary per service: `lading-api`, `lading-warehouse`,
# `lading-promoter`, `lading-verifier`. One image because the services share almost all
# of their code and dependencies: five images would hold five copies of the same
# libraries and take five builds. Each container runs one binary (docker-compose.yml,
# k8s/). It runs as the non-root user `lading` (uid 10001).
#
#   docker build -t lading:latest .
#
# `--target prebuilt` skips compiling: it takes the binaries already in
# target/docker-bin/ (scripts/docker-images puts them there).

# What every variant runs on.
FROM debian:bookworm-slim AS runtime
# libssl3: libgit2's HTTPS; ca-certificates: the roots for HTTPS remotes; git: the
# promoter's blobless clones (`git-clone`'s `blobless: true`), which fetch through it.
RUN (dpkg -s libssl3 ca-certificates git >/dev/null 2>&1 \
        || (apt-get update \
            && apt-get install -y --no-install-recommends libssl3 ca-certificates git \
            && rm -rf /var/lib/apt/lists/*)) \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/lading --create-home lading
COPY deploy/lading-probe /usr/local/bin/lading-probe
WORKDIR /var/lib/lading
# Mirrors and promotion workspaces live under the home directory; every service serves
# /healthz, /readyz and /metrics on 8081 (the api on its own port, 8080).
ENV LADING_CACHE_DIR=/var/lib/lading/cache \
    LADING_WORK_DIR=/var/lib/lading/work \
    LADING_HEALTH_ADDR=0.0.0.0:8081 \
    LADING_API_ADDR=0.0.0.0:8080 \
    LADING_LOG_FORMAT=json
EXPOSE 8080 8081
CMD ["lading", "--help"]

# The binaries built outside (the wildcard matches nothing when there are none).
FROM runtime AS prebuilt
COPY deploy/lading-probe target/docker-bin/lading* /usr/local/bin/
USER 10001:10001

# The binaries built from these sources.
FROM rust:1.95-slim-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends pkg-config libssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bins \
    && mkdir /out \
    && cp target/release/lading target/release/lading-api target/release/lading-warehouse \
          target/release/lading-promoter target/release/lading-verifier /out/

FROM runtime
COPY --from=build /out/ /usr/local/bin/
USER 10001:10001
