#!/usr/bin/env bash
# Installs everything SmartStack needs on a fresh Debian machine, idempotently:
# PostgreSQL from Debian's packages, the Python virtual environment, and the
# pinned Go-built toolchain (OpenTofu, the AWS provider, the Lambda RIE, actionlint).
# Safe to run again: each step is skipped when already done.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
log() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# One setup at a time per cache: two would install into the same checkov environment and
# build into the same temporary directories. The lock is on the cache directory itself (no
# lock file) and lasts until setup ends; scripts/build-toolchain.sh, run alone, takes its own.
cache=${SMARTSTACK_CACHE:-$HOME/.cache/smartstack}
mkdir -p "$cache"
if command -v flock >/dev/null; then
    exec 9<"$cache"
    if ! flock -n 9; then
        log "another setup is running; waiting for it to end"
        flock 9
    fi
fi

apt_updated=""
apt_install() {
    if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# PostgreSQL server binaries (the tool runs its own server in its own data directory).
if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    log "installing PostgreSQL from Debian's packages"
    apt_install postgresql
fi

# The private network (the VPC namespace the database and the VPC's functions run in):
# iproute2's `ip`, util-linux's `nsenter` and `setpriv`.  Only root makes namespaces.
if [ "$(id -u)" -eq 0 ] && ! command -v ip >/dev/null; then
    log "installing iproute2 from Debian's packages"
    apt_install iproute2
fi

# The S3 Control client of the AWS provider prefixes the endpoint host with the
# account id; <account>.localhost must reach the local AWS on loopback.
account_host=123456789012.localhost
if ! getent hosts "$account_host" >/dev/null; then
    log "mapping $account_host to 127.0.0.1 in /etc/hosts"
    echo "127.0.0.1 $account_host" | as_root tee -a /etc/hosts >/dev/null
fi

# Python environment, reinstalled only when pyproject.toml or the lock changes. Every
# package comes from requirements.lock, pinned with its hashes (pip refuses other bytes);
# the package itself is then installed without touching the index.
python=${PYTHON:-python3}
command -v "$python" >/dev/null || die "Python 3.11+ is required; install python3."
venv=$repo/.venv
stamp=$venv/.pyproject.sha256
want=$(cat "$repo/pyproject.toml" "$repo/requirements.lock" | sha256sum | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing the Python environment in .venv (requirements.lock, hashes required)"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install -q --require-hashes --no-deps -r "$repo/requirements.lock"
    "$venv/bin/pip" install -q --no-deps --no-build-isolation -e "$repo"
    echo "$want" > "$stamp"
fi

# The IAM policy evaluator used by the isolation tests (a Node library).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    log "installing Node.js from Debian's packages"
    apt_install nodejs npm
fi
iam_tool=$repo/tools/iam-simulate
if [ ! -d "$iam_tool/node_modules/@cloud-copilot/iam-simulate" ]; then
    log "installing the IAM evaluator in tools/iam-simulate"
    (cd "$iam_tool" && npm ci --silent --no-audit --no-fund)
fi

# checkov, in a virtual environment of its own, from scripts/checkov.lock (pinned with
# its hashes, like requirements.lock), keyed by version and the lock's digest (the same
# path as smartstack.infra.toolchain).
source "$repo/scripts/versions.env"
checkov_lock=$(sha256sum "$repo/scripts/checkov.lock" | cut -c1-12)
checkov_venv=${SMARTSTACK_CACHE:-$HOME/.cache/smartstack}/checkov-$CHECKOV_VERSION-$checkov_lock
if [ ! -f "$checkov_venv/.complete" ]; then
    log "installing checkov $CHECKOV_VERSION in its own virtual environment (scripts/checkov.lock, hashes required)"
    rm -rf "$checkov_venv"  # virtual environments cannot be moved, so no build-then-rename
    "$python" -m venv "$checkov_venv"
    "$checkov_venv/bin/pip" install -q --require-hashes --no-deps -r "$repo/scripts/checkov.lock"
    touch "$checkov_venv/.complete"
fi

# OpenTofu, the AWS provider, the Lambda RIE and actionlint, cached outside the repo
# (official release archive when reachable, else built: see scripts/build-toolchain.sh).
bash "$repo/scripts/build-toolchain.sh" all

# The functions' runtime for the local RIE (RUNTIME in smartstack.core.services): an
# interpreter of its Python and awslambdaric + boto3 installed for it in the cache, once
# per runtime and versions (smartstack.local.lambda_runner.runtime_dir; a second run only
# finds it). A missing interpreter is installed from the distribution when it packages one.
lambda_runtime() {
    "$venv/bin/python" -c '
import sys
from smartstack.core.errors import SmartStackError
from smartstack.local.lambda_runner import runtime_dir
try:
    runtime_dir()
except SmartStackError as exc:
    print(f"[setup] {exc.message}", file=sys.stderr)
    sys.exit(int(exc.exit_code))
'
}
status=0
lambda_runtime || status=$?
if [ "$status" -eq 5 ] && command -v apt-get >/dev/null; then  # 5: tool missing
    lambda_python=python$("$venv/bin/python" -c 'from smartstack.core.services import PYTHON_VERSION as v; print(v)')
    log "installing $lambda_python from the distribution's packages (the functions' runtime)"
    apt_install "$lambda_python" || die "no $lambda_python package here; install it (e.g. pyenv install ${lambda_python#python}), then run scripts/setup.sh again"
    status=0
    lambda_runtime || status=$?
fi
[ "$status" -eq 0 ] || die "the functions' runtime for the local RIE is not ready (see above)"
