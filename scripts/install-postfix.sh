#!/bin/sh
# Install what the milter and its end-to-end test need: Postfix, swaks and libmilter-dev from the
# distribution, then pymilter into the active Python environment. Idempotent. Where apt-get is
# unavailable (not Debian/Ubuntu, or not root) it says so and exits 0: the Postfix tests then
# skip with the reason. Postfix is preseeded to "No configuration": nothing is started and
# /etc/postfix/main.cf is not written; the tests run their own instance in a temporary folder.
# The Python environment: $PYTHON, else the active venv, else the repository's .venv, else python3.
set -eu

PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
    repo_venv="$(cd "$(dirname "$0")/.." && pwd)/.venv"
    if [ -n "${VIRTUAL_ENV:-}" ]; then PYTHON="$VIRTUAL_ENV/bin/python"
    elif [ -x "$repo_venv/bin/python" ]; then PYTHON="$repo_venv/bin/python"
    else PYTHON="$(command -v python3 || true)"; fi
fi

if [ -z "$PYTHON" ] || ! "$PYTHON" -c "" 2>/dev/null; then
    echo "install-postfix: no usable Python ('$PYTHON'); skipping (milter tests will skip)"
    exit 0
fi

need=""
for pkg in postfix swaks libmilter-dev; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need="$need $pkg"
done
# Building pymilter needs a C compiler and Python's headers (the distribution's python3-dev
# when the environment's Python is the system one).
command -v gcc >/dev/null 2>&1 || need="$need gcc libc6-dev"
if ! "$PYTHON" -c "import Milter" 2>/dev/null && ! "$PYTHON" -c \
    "import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h')))"
then
    need="$need python3-dev"
fi

if [ -n "$need" ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "install-postfix: apt-get not available; skipping (milter end-to-end tests will skip)"
        exit 0
    fi
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
            echo "install-postfix: not root and no passwordless sudo; skipping (milter end-to-end tests will skip)"
            exit 0
        fi
    fi
    echo "install-postfix: installing$need"
    echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
    if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q \
        || ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            $need; then
        echo "install-postfix: apt-get failed; skipping (milter end-to-end tests will skip)"
        exit 0
    fi
else
    echo "install-postfix: postfix, swaks, libmilter-dev and a compiler already installed"
fi

if "$PYTHON" -c "import Milter" 2>/dev/null; then
    echo "install-postfix: pymilter already installed in $PYTHON"
else
    # pymilter builds from source against libmilter; its headers need Python's too.
    "$PYTHON" -m pip install -q "pymilter>=1.0.5" || {
        echo "install-postfix: pip install pymilter failed; milter tests will skip"
        exit 0
    }
    echo "install-postfix: pymilter installed in $PYTHON"
fi
