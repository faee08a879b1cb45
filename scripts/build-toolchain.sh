#!/usr/bin/env bash
# Builds OpenTofu, the hashicorp/aws provider, the Lambda Runtime Interface
# Emulator and actionlint from their Go modules, once per pinned version, into a
# cache outside the repo. Re-running is cheap: every artifact already built is skipped.
#
# Layout under $SMARTSTACK_CACHE (default ~/.cache/smartstack):
#   bin/tofu-<ver>                      OpenTofu
#   bin/aws-lambda-rie-<modver>         Lambda RIE
#   bin/actionlint-<ver>                actionlint (lints .github/workflows)
#   plugins/registry.opentofu.org/hashicorp/aws/<ver>/linux_amd64/...  provider mirror
#   tofu.rc                             CLI config: filesystem mirror only
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"

cache=${SMARTSTACK_CACHE:-$HOME/.cache/smartstack}
bin=$cache/bin
mirror=$cache/plugins
work=$cache/src
mkdir -p "$bin" "$mirror" "$work"
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false

log() { printf '[toolchain] %s\n' "$*" >&2; }
die() { printf '[toolchain] error: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null || die "Go is not installed; install Go 1.26+ (it builds OpenTofu and the AWS provider)."

# Copies a module out of the read-only module cache so it can be built in place.
fetch_module() {
    local module=$1 version=$2 dest=$3 dir
    if [ -d "$dest" ]; then return 0; fi
    log "downloading $module@$version"
    dir=$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') \
        || die "the Go module proxy did not serve $module@$version; check GOPROXY and the network."
    [ -n "$dir" ] || die "the Go module proxy did not serve $module@$version."
    cp -r "$dir" "$dest.tmp"
    chmod -R u+w "$dest.tmp"
    mv "$dest.tmp" "$dest"
}

# go build with a package counter, so a long build shows it is moving.
build_with_progress() {
    local label=$1 out=$2 ldflags=$3 pkg=$4 total n=0
    total=$(go list -deps "$pkg" | wc -l)
    log "building $label ($total packages)"
    go build -v -trimpath -ldflags "$ldflags" -o "$out.tmp" "$pkg" 2>&1 | while read -r line; do
        n=$((n + 1))
        if [ $((n % 200)) -eq 0 ]; then log "$label: $n/$total packages compiled"; fi
        case "$line" in *.go:*) printf "%s\n" "$line" >&2 ;; esac
    done
    [ -f "$out.tmp" ] || die "building $label failed (see the lines above)."
    mv "$out.tmp" "$out"
    log "built $label -> $out"
}

build_tofu() {
    local out=$bin/tofu-$OPENTOFU_VERSION
    if [ -x "$out" ]; then log "OpenTofu $OPENTOFU_VERSION present"; return; fi
    local onpath
    onpath=$(command -v tofu || true)
    if [ -n "$onpath" ] && "$onpath" version 2>/dev/null | head -1 | grep -q "v$OPENTOFU_VERSION\$"; then
        log "using OpenTofu $OPENTOFU_VERSION from $onpath"
        ln -sf "$onpath" "$out"
        return
    fi
    local src=$work/opentofu-$OPENTOFU_VERSION
    fetch_module github.com/opentofu/opentofu "v$OPENTOFU_VERSION" "$src"
    (cd "$src" && go mod download && build_with_progress "OpenTofu $OPENTOFU_VERSION" "$out" \
        "-s -w -X github.com/opentofu/opentofu/version.dev=no" ./cmd/tofu)
}

build_provider() {
    local dir=$mirror/registry.opentofu.org/hashicorp/aws/$AWS_PROVIDER_VERSION/linux_amd64
    local out=$dir/terraform-provider-aws_v${AWS_PROVIDER_VERSION}_x5
    if [ -x "$out" ]; then log "AWS provider $AWS_PROVIDER_VERSION present"; return; fi
    mkdir -p "$dir"
    local src=$work/terraform-provider-aws-$AWS_PROVIDER_MODULE_VERSION
    fetch_module github.com/hashicorp/terraform-provider-aws "$AWS_PROVIDER_MODULE_VERSION" "$src"
    (cd "$src" && go mod download && build_with_progress "AWS provider $AWS_PROVIDER_VERSION" "$out" \
        "-s -w -X github.com/hashicorp/terraform-provider-aws/version.ProviderVersion=$AWS_PROVIDER_VERSION" .)
}

build_rie() {
    local out=$bin/aws-lambda-rie-$LAMBDA_RIE_MODULE_VERSION
    if [ -x "$out" ]; then log "Lambda RIE present"; return; fi
    local src=$work/aws-lambda-rie-$LAMBDA_RIE_MODULE_VERSION
    fetch_module github.com/aws/aws-lambda-runtime-interface-emulator "$LAMBDA_RIE_MODULE_VERSION" "$src"
    (cd "$src" && go mod download && build_with_progress "Lambda RIE" "$out" "-s -w" ./cmd/aws-lambda-rie)
}

build_actionlint() {
    local out=$bin/actionlint-$ACTIONLINT_VERSION
    if [ -x "$out" ]; then log "actionlint $ACTIONLINT_VERSION present"; return; fi
    local src=$work/actionlint-$ACTIONLINT_VERSION
    fetch_module github.com/rhysd/actionlint "v$ACTIONLINT_VERSION" "$src"
    (cd "$src" && go mod download && build_with_progress "actionlint $ACTIONLINT_VERSION" "$out" \
        "-s -w -X github.com/rhysd/actionlint.version=$ACTIONLINT_VERSION" ./cmd/actionlint)
}

write_cli_config() {
    cat > "$cache/tofu.rc.tmp" <<RC
# Written by scripts/build-toolchain.sh: providers come only from the local mirror.
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.opentofu.org/hashicorp/*"]
  }
}
RC
    mv "$cache/tofu.rc.tmp" "$cache/tofu.rc"
}

case "${1:-all}" in
    tofu) build_tofu ;;
    provider) build_provider ;;
    rie) build_rie ;;
    actionlint) build_actionlint ;;
    all) build_tofu; build_rie; build_actionlint; build_provider ;;
    *) die "unknown part '${1}'; use tofu, provider, rie, actionlint or all." ;;
esac
write_cli_config
log "toolchain ready in $cache"
