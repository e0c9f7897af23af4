#!/usr/bin/env bash
# Installs speechbrain-mmspeech and what its recipes and tests need on a
# Debian machine: espeak-ng (synthetic Mandarin for mini-AISHELL) from apt,
# the package with its pinned torch/torchaudio pair from PyPI.
#
#   bash install.sh          # package + recipe extras
#   bash install.sh --test   # package + test extras (pytest, ruff)
set -euo pipefail
cd "$(dirname "$0")"

extra="recipes"
if [ "${1:-}" = "--test" ]; then
    extra="test"
fi

if ! command -v espeak-ng >/dev/null 2>&1; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        sudo="sudo"
    fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq espeak-ng >/dev/null
fi

python3 -m pip install --quiet --disable-pip-version-check -e ".[${extra}]"
