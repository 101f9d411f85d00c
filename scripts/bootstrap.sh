# Sourced by ./maillab and ./run-tests: make sure .venv holds this checkout and its
# dependencies (Python 3.11+), reinstalling when pyproject.toml changes.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

say() { printf 'maillab setup: %s\n' "$*" >&2; }
die() { printf 'maillab setup: %s\n' "$*" >&2; exit 3; }

find_python() {
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
           "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return
        fi
    done
    die "Python 3.11 or newer is needed (Debian: apt-get install python3)"
}

make_venv() {
    local python="$1"
    if "$python" -m venv "$VENV" >/dev/null 2>&1; then
        return
    fi
    rm -rf "$VENV"
    # Debian ships venv's pip bootstrap separately.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing python3-venv with apt-get (needed for the virtual environment)"
        apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null || die "apt-get install python3-venv failed"
        "$python" -m venv "$VENV" || die "cannot create $VENV"
    else
        die "cannot create a virtual environment: install python3-venv (sudo apt-get install python3-venv)"
    fi
}

bootstrap_venv() {  # bootstrap_venv [EXTRA]: e.g. "test" installs .[test]
    local extra="${1:-}" spec="$ROOT" stamp
    [ -n "$extra" ] && spec="$ROOT[$extra]"
    local installed
    stamp="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)-${extra:-base}"
    installed="$(cat "$VENV/.maillab-stamp" 2>/dev/null || true)"
    # The test extra includes the base install: ./maillab after ./run-tests reinstalls nothing.
    if [ -x "$VENV/bin/python" ] && { [ "$installed" = "$stamp" ] ||
         { [ -z "$extra" ] && [ "${installed%-*}" = "${stamp%-*}" ]; }; }; then
        return
    fi
    [ -x "$VENV/bin/python" ] || { say "creating $VENV"; make_venv "$(find_python)"; }
    say "installing maillab and its dependencies into $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$spec" \
        || die "pip install failed (is PyPI reachable?)"
    echo "$stamp" > "$VENV/.maillab-stamp"
}
