#!/usr/bin/env bash
# Times a cold source-route toolchain install, part by part, without touching the
# shared caches: an empty Go build cache and an empty toolchain cache of its own (the
# Go module cache is shared, so module downloads are not in the figures), and a copy
# of infrastructure/ (so the checkout's lock files are left alone).
#
#   bash scripts/measure-toolchain.sh [part...]     default: tofu provider
#
# Environment as for build-toolchain.sh (e.g. SMARTSTACK_PROVIDER_PROFILE=full).
# Prints one line per part (wall time, CPU seconds, peak memory, packages, the Go
# build cache's size after it) with when each build inside it finished, then the binaries' sizes. Keeps nothing unless SMARTSTACK_MEASURE_KEEP=1.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
[ -x /usr/bin/time ] || { echo "[measure] error: /usr/bin/time is missing; install the 'time' package." >&2; exit 1; }
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(tofu provider)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/smartstack-measure.XXXXXX")
[ "${SMARTSTACK_MEASURE_KEEP:-}" = 1 ] || trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/gocache"
cp -r "$repo/infrastructure" "$tmp/infrastructure"
find "$tmp/infrastructure" \( -name .terraform -o -name .terraform.lock.hcl \) -prune -exec rm -rf {} +

export GOCACHE=$tmp/gocache SMARTSTACK_CACHE=$tmp/cache SMARTSTACK_INFRASTRUCTURE=$tmp/infrastructure
export SMARTSTACK_TOOLCHAIN_ROUTE=source
echo "[measure] $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), profile ${SMARTSTACK_PROVIDER_PROFILE:-slim}, in $tmp" >&2
for part in "${parts[@]}"; do
    log=$tmp/$part.log
    start=$(date +%s)
    # Each log line gets the seconds since the part started, to time the builds inside "all".
    if ! /usr/bin/time -v -o "$tmp/$part.time" bash "$here/build-toolchain.sh" "$part" \
        2> >(while IFS= read -r line; do printf '%4ds %s\n' $(($(date +%s) - start)) "$line"; done > "$log"); then
        sleep 1
        tail -5 "$log" >&2
        echo "[measure] error: $part failed (log above)." >&2
        exit 1
    fi
    wall=$(($(date +%s) - start))
    sleep 1  # let the log's last lines land
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$tmp/$part.time")
    cpu=$(awk -F': ' '/User time|System time/ { t += $2 } END { printf "%d", t }' "$tmp/$part.time")
    pkgs=$(sed -n 's/.*(\([0-9]*\) packages).*/\1/p' "$log" | paste -sd+ -)
    printf '[measure] %-10s %dm%02ds wall, %s CPU-s, %s MB peak, %s packages, GOCACHE %s\n' \
        "$part" $((wall / 60)) $((wall % 60)) "$cpu" $((rss / 1024)) "${pkgs:-?}" \
        "$(du -sh "$GOCACHE" | cut -f1)" >&2
    grep -E '\] built ' "$log" | sed 's/^/[measure]   /' >&2 || true
done
for built in "$SMARTSTACK_CACHE"/bin/tofu-* "$SMARTSTACK_CACHE"/plugins/registry.opentofu.org/hashicorp/aws/*/linux_amd64/*; do
    [ -e "$built" ] && echo "[measure] $(du -mL "$built" | cut -f1) MB $built" >&2
done
