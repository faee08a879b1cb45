#!/usr/bin/env bash
# Installs the pinned OpenTofu, hashicorp/aws provider, Lambda Runtime Interface
# Emulator and actionlint into a cache outside the repo, once per pinned version.
# Re-running is cheap: everything already installed is skipped.
#
# Two routes (one log line says which was taken, and why):
#   official  OpenTofu from its release archive, verified against the release's
#             SHA256SUMS; `tofu init` then installs the provider from the registry.
#   source    everything built from its Go module (machines that reach only the
#             Go module proxy). OpenTofu and the provider are built for what
#             infrastructure/ uses (profile "slim", the default: OpenTofu with only
#             the state backends the stacks name, the provider with only their
#             services) or whole (profile "full").
#
# Settings (environment):
#   SMARTSTACK_CACHE                  cache directory (default ~/.cache/smartstack)
#   SMARTSTACK_OPENTOFU_RELEASE_URL   base URL of the OpenTofu release downloads
#                                     (<base>/v<ver>/tofu_<ver>_linux_amd64.zip);
#                                     unset: no official route
#   SMARTSTACK_TOOLCHAIN_ROUTE        auto (default: official, else source), official
#                                     (no fallback), source (never probe)
#   SMARTSTACK_RELEASE_TIMEOUT        seconds to reach the release site (default 3)
#   SMARTSTACK_PROVIDER_PROFILE       slim (default) or full
#   SMARTSTACK_OPENTOFU_PROFILE       slim (default: the state backends infrastructure/ names,
#                                     plus OpenTofu's own local, remote and cloud) or full;
#                                     source route only (the official binary is always full)
#   SMARTSTACK_BUILD_MIN_FREE_MB      overrides the free-space floor checked before a build
#   SMARTSTACK_INFRASTRUCTURE         the OpenTofu code the slim profiles serve (default infrastructure/)
#   SMARTSTACK_BUILD_SEQUENTIAL=1     build OpenTofu, then the provider (default: side by side
#                                     when the memory allows)
#
# Parts: tofu, provider, rie, actionlint, all (the default), provider-services and
# tofu-backends (print the slim profiles' service packages or state backends, building
# nothing).
#
# Layout under the cache:
#   bin/tofu-<ver>                      OpenTofu: the official binary, or on the source
#                                       route a link to the active build, one of
#   bin/tofu-<ver>-<key>                  one build per profile and backend set: key "full",
#                                         or slim-<remote-state backends>-<hash of its init.go>
#   bin/opentofu-slim-<hash>            derives the slim OpenTofu's backends, writes its init.go
#   bin/aws-lambda-rie-<modver>         Lambda RIE
#   bin/actionlint-<ver>                actionlint (lints .github/workflows)
#   bin/provider-slim-<hash>            derives the slim provider's service set
#   providers/aws-<ver>-<key>/          one provider build per profile and service set:
#     linux_amd64/terraform-provider-aws_v<ver>_x5, services.txt, the generated files
#   plugins/registry.opentofu.org/hashicorp/aws/<ver>/linux_amd64
#                                       the filesystem mirror: a link to the active build
#   toolchain.env                       ROUTE=official|source, PROVIDERS=registry|mirror
#   tofu.rc                             CLI config: the mirror (+ the registry on the official route)
# in_background gives its subshell a cleanup list of its own, on purpose:
# shellcheck disable=SC2030,SC2031
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=versions.env
source "$here/versions.env"

cache=${SMARTSTACK_CACHE:-$HOME/.cache/smartstack}
bin=$cache/bin
mirror=$cache/plugins
work=$cache/src
builds=$cache/providers
state=$cache/toolchain.env
release_url=${SMARTSTACK_OPENTOFU_RELEASE_URL:-}
route_pref=${SMARTSTACK_TOOLCHAIN_ROUTE:-auto}
timeout=${SMARTSTACK_RELEASE_TIMEOUT:-3}
profile=${SMARTSTACK_PROVIDER_PROFILE:-slim}
tofu_profile=${SMARTSTACK_OPENTOFU_PROFILE:-slim}
infra=${SMARTSTACK_INFRASTRUCTURE:-$repo/infrastructure}
mkdir -p "$bin" "$mirror" "$work" "$builds"
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false

log() { printf '[toolchain] %s\n' "$*" >&2; }

# One build at a time: two would build into the same temporary directories, and the one
# that ends first would delete what the other is still writing (scripts/setup.sh, which
# runs this, takes its own lock too).
# (The lock is on the providers' directory: no lock file is left behind, and it is not
# the cache directory scripts/setup.sh locks while it runs this.)
if command -v flock >/dev/null; then
    exec 8<"$builds"
    if ! flock -n 8; then
        log "another toolchain build is running; waiting for it to end"
        flock 8
    fi
fi

# Free space a build needs, in MB: about twice what the Go build cache, the source copy
# and the binary grew by in a cold build here (tofu 1.6 GB, slim provider 1.8 GB, full
# provider about 8 GB; docs/local-platform.md), for the modules and a margin.
NEED_MB_TOFU=3000
NEED_MB_PROVIDER_SLIM=3000
NEED_MB_PROVIDER_FULL=12000
NEED_MB_SMALL=1000
NEED_MB_MEMORY_SIDE_BY_SIDE=6000

die() { printf '[toolchain] error: %s\n' "$*" >&2; exit 1; }

# Temporary paths removed on any exit, so a failure leaves nothing half-installed.
cleanup=()
trap 'if [ ${#cleanup[@]} -gt 0 ]; then rm -rf "${cleanup[@]}"; fi' EXIT

case "$route_pref" in auto | official | source) ;;
    *) die "SMARTSTACK_TOOLCHAIN_ROUTE=$route_pref is not a route; use auto, official or source." ;;
esac
case "$profile" in slim | full) ;;
    *) die "SMARTSTACK_PROVIDER_PROFILE=$profile is not a profile; use slim or full." ;;
esac
case "$tofu_profile" in slim | full) ;;
    *) die "SMARTSTACK_OPENTOFU_PROFILE=$tofu_profile is not a profile; use slim or full." ;;
esac

require_go() {
    command -v go >/dev/null || die "Go is not installed; install Go 1.26+ (it builds OpenTofu and the AWS provider)."
}

# Refuses a build when the disk holding the Go build cache or the toolchain cache
# has less than $2 MB free: a full disk fails the build late, leaving partial files.
check_space() {
    local label=$1 need=${SMARTSTACK_BUILD_MIN_FREE_MB:-$2} gocache path free
    gocache=$(go env GOCACHE)
    mkdir -p "$gocache"
    for path in "$gocache" "$cache"; do
        free=$(df -Pm "$path" | awk 'NR == 2 { print $4 }')
        if [ "$free" -lt "$need" ]; then
            die "only $free MB free on the disk of $path; building $label needs about $need MB (Go build cache, modules, binary): free space there or point GOCACHE / SMARTSTACK_CACHE at a larger disk."
        fi
    done
}

# The route recorded for this cache: official once OpenTofu came from its release archive.
recorded_route() { local r; r=$(sed -n 's/^ROUTE=//p' "$state" 2>/dev/null || true); echo "${r:-source}"; }
recorded_providers() { sed -n 's/^PROVIDERS=//p' "$state" 2>/dev/null || true; }
# toolchain.env: ROUTE (how OpenTofu came) and PROVIDERS (mirror or registry, what
# tofu.rc allows); smartstack.infra.toolchain reads PROVIDERS.
record_state() {
    printf 'ROUTE=%s\nPROVIDERS=%s\n' "$1" "$2" > "$state.tmp"
    mv "$state.tmp" "$state"
}
record_route() { record_state "$1" "$(recorded_providers)"; }

# Copies a module out of the read-only module cache so it can be built in place.
fetch_module() {
    local module=$1 version=$2 dest=$3 dir
    if [ -d "$dest" ]; then return 0; fi
    log "downloading $module@$version"
    dir=$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') \
        || die "the Go module proxy did not serve $module@$version; check GOPROXY and the network."
    [ -n "$dir" ] || die "the Go module proxy did not serve $module@$version."
    rm -rf "$dest.tmp"
    cleanup+=("$dest.tmp")
    cp -r "$dir" "$dest.tmp"
    chmod -R u+w "$dest.tmp"
    mv "$dest.tmp" "$dest"
}

# go build with a package counter, so a long build shows it is moving.
# Extra go flags (e.g. -overlay=FILE) come after the package.
build_with_progress() {
    local label=$1 out=$2 ldflags=$3 pkg=$4 total n=0
    shift 4
    total=$(go list "$@" -deps "$pkg" | wc -l) || die "go list $pkg failed for $label (see above)."
    log "building $label ($total packages)"
    cleanup+=("$out.tmp")
    { go build "$@" -v -trimpath -ldflags "$ldflags" -o "$out.tmp" "$pkg" 2>&1 || true; } | while read -r line; do
        n=$((n + 1))
        if [ $((n % 200)) -eq 0 ]; then log "$label: $n/$total packages compiled"; fi
        case "$line" in *.go:* | *": "* | go:*) printf "%s\n" "$line" >&2 ;; esac
    done
    [ -f "$out.tmp" ] || die "building $label failed (see the lines above)."
    mv "$out.tmp" "$out"
    log "built $label -> ${out/.tmp\//\/}"
}

# Fetches URL $1 into $2 within $3 seconds, giving up after the short connect timeout
# (or when the transfer stalls); on failure $reason says why.
fetch_release_file() {
    local url=$1 dest=$2 max=$3 err
    if ! err=$(curl -fsSL --connect-timeout "$timeout" --max-time "$max" \
        --speed-limit 10240 --speed-time 20 -o "$dest" "$url" 2>&1); then
        reason="release site not usable within ${timeout}s ($url: ${err##*curl: })"
        return 1
    fi
}

# The official route: the release archive, checked against the release's SHA256SUMS.
# Returns 1 (with $reason) when the site cannot be used; dies when what it serves is wrong.
tofu_from_release() {
    local out=$1 base=${release_url%/}/v$OPENTOFU_VERSION
    local zip=tofu_${OPENTOFU_VERSION}_linux_amd64.zip sums=tofu_${OPENTOFU_VERSION}_SHA256SUMS
    local tmp want got
    command -v curl >/dev/null || { reason="curl is not installed"; return 1; }
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/smartstack-tofu.XXXXXX")
    cleanup+=("$tmp")
    fetch_release_file "$base/$sums" "$tmp/SHA256SUMS" $((timeout * 2 + 5)) || return 1
    want=$(awk -v f="$zip" '$2 == f || $2 == "*" f { print $1 }' "$tmp/SHA256SUMS")
    [ -n "$want" ] || die "the release's $sums does not list $zip; refusing the archive (nothing installed). Check SMARTSTACK_OPENTOFU_RELEASE_URL, or build from source: SMARTSTACK_TOOLCHAIN_ROUTE=source."
    fetch_release_file "$base/$zip" "$tmp/$zip" 600 || return 1
    got=$(sha256sum "$tmp/$zip" | cut -d' ' -f1)
    [ "$got" = "$want" ] || die "checksum mismatch for $zip (SHA256SUMS: $want, downloaded: $got); refused, nothing installed. Retry, check SMARTSTACK_OPENTOFU_RELEASE_URL, or build from source: SMARTSTACK_TOOLCHAIN_ROUTE=source."
    mkdir "$tmp/x"
    if command -v unzip >/dev/null; then
        unzip -q "$tmp/$zip" tofu -d "$tmp/x" 2>/dev/null || true
    else
        python3 -m zipfile -e "$tmp/$zip" "$tmp/x" 2>/dev/null || true
    fi
    [ -f "$tmp/x/tofu" ] || die "$zip has no tofu binary; refused, nothing installed."
    chmod 0755 "$tmp/x/tofu"
    "$tmp/x/tofu" version 2>/dev/null | head -1 | grep -q "v$OPENTOFU_VERSION\$" \
        || die "the tofu in $zip does not report v$OPENTOFU_VERSION; refused, nothing installed."
    cleanup+=("$out.tmp")
    cp "$tmp/x/tofu" "$out.tmp"
    mv "$out.tmp" "$out"
}

# Runs tools/<name>/main.go, built against the source in $2 (once per version of the tool
# and of that source's go.sum), to write the slim profile's generated files into $3;
# $4 names the build in errors.
run_slim_tool() {
    local name=$1 src=$2 out=$3 label=$4 tool_src tool hash err
    tool_src=$repo/tools/$name/main.go
    hash=$(cat "$tool_src" "$src/go.sum" | sha256sum | cut -c1-12)
    tool=$bin/$name-$hash
    if [ ! -x "$tool" ]; then
        cleanup+=("$tool.tmp")
        (cd "$src" && go build -trimpath -o "$tool.tmp" "$tool_src") \
            || die "building tools/$name failed (see above)."
        rm -f "$bin/$name"-*[!p]  # earlier versions of the tool
        mv "$tool.tmp" "$tool"
    fi
    if ! err=$(cd "$src" && "$tool" -out "$out" "$infra" 2>&1 >/dev/null); then
        die "$label: ${err#"$name": }"
    fi
}

# Writes the slim OpenTofu's init.go, overlay.json and backends.txt into $2
# (tools/opentofu-slim: the state backends infrastructure/ names, plus OpenTofu's own).
tofu_slim_generate() { run_slim_tool opentofu-slim "$1" "$2" "slim OpenTofu $OPENTOFU_VERSION"; }

# Sets tofu_src and tofu_key, which names the source build: "full", or "slim-" + the
# remote-state backends kept + a hash of the generated init.go; for slim also tofu_gen
# (the generated files) and tofu_backends. Once per run.
tofu_key="" tofu_src="" tofu_gen="" tofu_backends=""
tofu_selection() {
    [ -z "$tofu_key" ] || return 0
    require_go
    tofu_src=$work/opentofu-$OPENTOFU_VERSION
    fetch_module github.com/opentofu/opentofu "v$OPENTOFU_VERSION" "$tofu_src"
    if [ "$tofu_profile" = slim ]; then
        tofu_gen=$(mktemp -d "$work/.opentofu-slim.XXXXXX")
        cleanup+=("$tofu_gen")
        tofu_slim_generate "$tofu_src" "$tofu_gen"
        tofu_backends=$(paste -sd- "$tofu_gen/backends.txt")
        tofu_key=slim-${tofu_backends:-local}-$( (echo "$OPENTOFU_VERSION"; cat "$tofu_gen/init.go") | sha256sum | cut -c1-8)
    else
        tofu_key=full
    fi
}

tofu_label() {
    if [ "$tofu_profile" = slim ]; then
        echo "OpenTofu $OPENTOFU_VERSION (slim, backends: $(paste -sd' ' "$tofu_gen/registered.txt"))"
    else
        echo "OpenTofu $OPENTOFU_VERSION (full)"
    fi
}

# Whether bin/tofu-<ver> is a link to a build made here (the source route).
tofu_is_built_here() {
    local link=$bin/tofu-$OPENTOFU_VERSION
    [ -L "$link" ] && case "$(readlink "$link")" in "tofu-$OPENTOFU_VERSION-"*) ;; *) false ;; esac
}

# Points bin/tofu-<ver>, what smartstack.infra.toolchain runs, at the build with key $1 (atomically).
tofu_activate() {
    local link=$bin/tofu-$OPENTOFU_VERSION target=tofu-$OPENTOFU_VERSION-$1
    if [ "$(readlink "$link" 2>/dev/null)" != "$target" ]; then
        cleanup+=("$link.tmp")
        ln -sfn "$target" "$link.tmp"
        mv -Tf "$link.tmp" "$link"
    fi
}

# Installs OpenTofu where that needs no compiling (present, built before for this
# profile, on PATH, the release archive); returns 1 when it has to be built from
# source (the route line says why).
install_tofu() {
    local out=$bin/tofu-$OPENTOFU_VERSION reason=""
    # A cache from before the profiles holds a source build as a plain file: keep it as "full".
    if [ -f "$out" ] && [ ! -L "$out" ] && [ "$(recorded_route)" = source ]; then
        [ -e "$out-full" ] || ln "$out" "$out-full"  # a second name, then the link replaces the first
        tofu_activate full
        log "kept the existing OpenTofu $OPENTOFU_VERSION build as the full profile"
    fi
    if tofu_is_built_here; then
        # Built here before: the profile (and for slim the backend set) picks the build.
        tofu_selection
        if [ -x "$out-$tofu_key" ]; then
            if [ "$(readlink "$out")" = "tofu-$OPENTOFU_VERSION-$tofu_key" ]; then
                log "$(tofu_label) present"
            else
                log "$(tofu_label) already built; switching to it"
                tofu_activate "$tofu_key"
            fi
            return
        fi
    elif [ -x "$out" ]; then
        log "OpenTofu $OPENTOFU_VERSION present"
        return
    fi
    local onpath
    onpath=$(command -v tofu || true)
    if [ -n "$onpath" ] && "$onpath" version 2>/dev/null | head -1 | grep -q "v$OPENTOFU_VERSION\$"; then
        log "using OpenTofu $OPENTOFU_VERSION from $onpath"
        ln -sf "$onpath" "$out"
        return
    fi
    if [ "$route_pref" = source ]; then
        reason="SMARTSTACK_TOOLCHAIN_ROUTE=source"
    elif [ -z "$release_url" ]; then
        [ "$route_pref" = official ] && die "SMARTSTACK_TOOLCHAIN_ROUTE=official needs SMARTSTACK_OPENTOFU_RELEASE_URL (the release downloads' base URL)."
        reason="no release site configured: SMARTSTACK_OPENTOFU_RELEASE_URL is unset"
    elif tofu_from_release "$out"; then
        record_route official
        log "route: official, OpenTofu $OPENTOFU_VERSION from its release archive (SHA256 verified); tofu init installs the AWS provider from the registry"
        return
    elif [ "$route_pref" = official ]; then
        die "the official route failed: $reason; make the release site reachable, or allow the fallback: SMARTSTACK_TOOLCHAIN_ROUTE=auto."
    fi
    log "route: source, building OpenTofu $OPENTOFU_VERSION and the AWS provider from their Go modules ($reason)"
    record_route source
    require_go
    check_space "OpenTofu" "$NEED_MB_TOFU"
    tofu_selection  # a backend OpenTofu does not have stops here, before anything is built
    return 1
}

# Builds bin/tofu-<ver>-<key> (slim: `go build -overlay` swaps in the generated init.go,
# the source copy stays as downloaded) and makes it the active build.
build_tofu_source() {
    tofu_selection
    local out=$bin/tofu-$OPENTOFU_VERSION-$tofu_key flags=()
    if [ ! -x "$out" ]; then
        if [ "$tofu_profile" = slim ]; then
            flags=("-overlay=$tofu_gen/overlay.json")
        fi
        cleanup+=("$out.tmp")
        (cd "$tofu_src" && go mod download && build_with_progress "$(tofu_label)" "$out" \
            "-s -w -X github.com/opentofu/opentofu/version.dev=no" ./cmd/tofu "${flags[@]}")
    fi
    tofu_activate "$tofu_key"
}

tofu_backends_part() {
    [ "$tofu_profile" = slim ] || die "tofu-backends lists the slim profile's state backends; SMARTSTACK_OPENTOFU_PROFILE is $tofu_profile."
    tofu_selection
    log "slim OpenTofu $tofu_key: registers $(paste -sd' ' "$tofu_gen/registered.txt")"
    cat "$tofu_gen/backends.txt"
}

build_tofu() { install_tofu || build_tofu_source; }

# Runs "$@" in the background with its own cleanup: a subshell does not inherit the EXIT trap.
in_background() {
    (
        cleanup=()
        trap 'if [ ${#cleanup[@]} -gt 0 ]; then rm -rf "${cleanup[@]}"; fi' EXIT
        "$@"
    ) &
}

# Everything. On the source route OpenTofu and the provider compile side by side when
# the memory allows (peaks of about 1.7 and 3.5 GB): each build leaves cores idle while
# it waits on its largest packages, so together they finish sooner than one after the other.
build_all() {
    if install_tofu; then
        build_provider
    else
        local avail tofu_pid provider_pid failed=0
        avail=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo 2>/dev/null || true)
        if [ "${SMARTSTACK_BUILD_SEQUENTIAL:-}" != 1 ] && [ "${avail:-0}" -ge "$NEED_MB_MEMORY_SIDE_BY_SIDE" ]; then
            log "building OpenTofu and the AWS provider side by side"
            in_background build_tofu_source
            tofu_pid=$!
            in_background build_provider
            provider_pid=$!
            wait "$tofu_pid" || failed=1
            wait "$provider_pid" || failed=1
            [ "$failed" = 0 ] || exit 1  # the failing build said why
        else
            log "building OpenTofu, then the AWS provider (SMARTSTACK_BUILD_SEQUENTIAL=${SMARTSTACK_BUILD_SEQUENTIAL:-}, ${avail:-?} MB of memory available; side by side needs $NEED_MB_MEMORY_SIDE_BY_SIDE)"
            build_tofu_source
            build_provider
        fi
    fi
    build_rie
    build_actionlint
}

# Whether the provider comes from the registry (official route) or from a build here.
provider_from_registry() {
    case "$route_pref" in
        source) return 1 ;;
        official) return 0 ;;
    esac
    [ "$(recorded_route)" = official ]
}

# Writes the slim profile's generated registries and services.txt into $2
# (tools/provider-slim: the service packages infrastructure/ uses, closed over imports).
slim_generate() { run_slim_tool provider-slim "$1" "$2" "slim AWS provider"; }

# h1: checksum OpenTofu records in lock files for an unpacked provider directory.
package_hash() {
    local hex bytes="" i
    hex=$(cd "$1" && sha256sum -- * | sha256sum | cut -d' ' -f1)
    for ((i = 0; i < ${#hex}; i += 2)); do bytes+="\\x${hex:i:2}"; done
    printf 'h1:%s\n' "$(printf '%b' "$bytes" | base64)"
}

# A lock file of ours that pins another build of this provider version would make
# `tofu init` refuse the new one; those files are machine-local (.gitignore), so drop them.
drop_stale_locks() {
    local pkg=$1 h1 lock
    h1=$(package_hash "$pkg")
    while IFS= read -r lock; do
        if grep -q '"registry.opentofu.org/hashicorp/aws"' "$lock" \
            && grep -Eq "version[[:space:]]*=[[:space:]]*\"$AWS_PROVIDER_VERSION\"" "$lock" \
            && ! grep -qF "\"$h1\"" "$lock"; then
            rm -f "$lock"
            log "removed $lock: it pinned another build of the AWS provider $AWS_PROVIDER_VERSION (tofu init writes a new one)"
        fi
    done < <(find "$infra" -name .terraform -prune -o -name .terraform.lock.hcl -print)
}

# Sets src, and for the slim profile gen (the generated files), services, count;
# key names the build: "full", or "slim-" + a hash of the generated registries.
slim_selection() {
    require_go
    src=$work/terraform-provider-aws-$AWS_PROVIDER_MODULE_VERSION
    fetch_module github.com/hashicorp/terraform-provider-aws "$AWS_PROVIDER_MODULE_VERSION" "$src"
    if [ "$profile" = slim ]; then
        gen=$(mktemp -d "$builds/.slim.XXXXXX")
        cleanup+=("$gen")
        slim_generate "$src" "$gen"
        services=$(cat "$gen/services.txt")
        count=$(wc -l <<< "$services")
        key=slim-$( (echo "$AWS_PROVIDER_MODULE_VERSION"; cat "$gen/service_packages_gen.go" "$gen/awsclient_gen.go") | sha256sum | cut -c1-12)
    else
        key=full
    fi
}

provider_services() {
    local src key gen="" services="" count
    [ "$profile" = slim ] || die "provider-services lists the slim profile's services; SMARTSTACK_PROVIDER_PROFILE is $profile."
    slim_selection
    log "slim profile $key: $count service packages"
    printf '%s\n' "$services"
}

build_provider() {
    local link=$mirror/registry.opentofu.org/hashicorp/aws/$AWS_PROVIDER_VERSION/linux_amd64
    local name=terraform-provider-aws_v${AWS_PROVIDER_VERSION}_x5
    if provider_from_registry; then
        log "AWS provider: tofu init installs it from the registry (official route)"
        return
    fi
    # A cache from before profiles holds a full build as a plain directory: keep it as "full".
    if [ -d "$link" ] && [ ! -L "$link" ]; then
        rm -f "$link/$name.tmp"
        if [ -x "$link/$name" ] && [ ! -d "$builds/aws-$AWS_PROVIDER_VERSION-full" ]; then
            mkdir -p "$builds/aws-$AWS_PROVIDER_VERSION-full"
            mv "$link" "$builds/aws-$AWS_PROVIDER_VERSION-full/linux_amd64"
            log "kept the existing AWS provider $AWS_PROVIDER_VERSION build as the full profile"
        else
            rm -rf "$link"
        fi
    fi
    local src key gen="" services="" count
    slim_selection
    local store=$builds/aws-$AWS_PROVIDER_VERSION-$key
    local label="AWS provider $AWS_PROVIDER_VERSION ($profile${count:+, $count services})"
    if [ -x "$store/linux_amd64/$name" ]; then
        if [ "$(readlink -f "$link")" = "$(readlink -f "$store/linux_amd64")" ]; then
            log "$label present"
            return
        fi
        log "$label already built; switching the mirror to it"
    else
        local tmp=$store.tmp need=$NEED_MB_PROVIDER_FULL
        [ "$profile" = slim ] && need=$NEED_MB_PROVIDER_SLIM
        check_space "the $label" "$need"
        rm -rf "$tmp"
        cleanup+=("$tmp")
        mkdir -p "$tmp/linux_amd64"
        local flags=()
        if [ "$profile" = slim ]; then
            cp "$gen"/*.go "$gen/services.txt" "$tmp/"
            sed "s|$gen/|$tmp/|g" "$gen/overlay.json" > "$tmp/overlay.json"
            flags=("-overlay=$tmp/overlay.json")
            log "slim profile: $(tr '\n' ' ' <<< "$services")"
        fi
        (cd "$src" && build_with_progress "$label" "$tmp/linux_amd64/$name" \
            "-s -w -X github.com/hashicorp/terraform-provider-aws/version.ProviderVersion=$AWS_PROVIDER_VERSION" \
            . "${flags[@]}")
        mv "$tmp" "$store"
    fi
    mkdir -p "$(dirname "$link")"
    cleanup+=("$link.tmp")
    ln -sfnr "$store/linux_amd64" "$link.tmp"
    mv -Tf "$link.tmp" "$link"
    drop_stale_locks "$store/linux_amd64"
}

build_rie() {
    local out=$bin/aws-lambda-rie-$LAMBDA_RIE_MODULE_VERSION
    if [ -x "$out" ]; then log "Lambda RIE present"; return; fi
    require_go
    check_space "the Lambda RIE" "$NEED_MB_SMALL"
    local src=$work/aws-lambda-rie-$LAMBDA_RIE_MODULE_VERSION
    fetch_module github.com/aws/aws-lambda-runtime-interface-emulator "$LAMBDA_RIE_MODULE_VERSION" "$src"
    cleanup+=("$out.tmp")
    (cd "$src" && go mod download && build_with_progress "Lambda RIE" "$out" "-s -w" ./cmd/aws-lambda-rie)
}

build_actionlint() {
    local out=$bin/actionlint-$ACTIONLINT_VERSION
    if [ -x "$out" ]; then log "actionlint $ACTIONLINT_VERSION present"; return; fi
    require_go
    check_space "actionlint" "$NEED_MB_SMALL"
    local src=$work/actionlint-$ACTIONLINT_VERSION
    fetch_module github.com/rhysd/actionlint "v$ACTIONLINT_VERSION" "$src"
    cleanup+=("$out.tmp")
    (cd "$src" && go mod download && build_with_progress "actionlint $ACTIONLINT_VERSION" "$out" \
        "-s -w -X github.com/rhysd/actionlint.version=$ACTIONLINT_VERSION" ./cmd/actionlint)
}

# Providers come from the local mirror; on the official route the registry is
# allowed too (tofu init picks the newest version versions.tf allows, and caches it).
write_cli_config() {
    {
        echo "# Written by scripts/build-toolchain.sh: providers from the local mirror$(provider_from_registry && echo ", then the registry")."
        echo "provider_installation {"
        echo "  filesystem_mirror {"
        echo "    path    = \"$mirror\""
        echo "    include = [\"registry.opentofu.org/hashicorp/*\"]"
        echo "  }"
        if provider_from_registry; then
            echo "  direct {}"
            echo "}"
            echo "plugin_cache_dir = \"$cache/plugin-cache\""
            mkdir -p "$cache/plugin-cache"
        else
            echo "}"
        fi
    } > "$cache/tofu.rc.tmp"
    mv "$cache/tofu.rc.tmp" "$cache/tofu.rc"
    record_state "$(recorded_route)" "$(provider_from_registry && echo registry || echo mirror)"
}

case "${1:-all}" in
    tofu) build_tofu ;;
    provider) build_provider ;;
    rie) build_rie ;;
    actionlint) build_actionlint ;;
    all) build_all ;;
    provider-services) provider_services; exit 0 ;;
    tofu-backends) tofu_backends_part; exit 0 ;;
    *) die "unknown part '${1}'; use tofu, provider, rie, actionlint, all, provider-services or tofu-backends." ;;
esac
write_cli_config
log "toolchain ready in $cache"
