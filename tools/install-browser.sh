#!/bin/sh
# Installs Debian's Chromium for the extension test (tests/clients/test_extension.py), which
# drives /usr/bin/chromium with Playwright. Does nothing when it is already there.
# Usage (CI): tools/install-browser.sh   (as root, or with sudo available)
set -eu

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    echo "install-browser: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM") is already installed"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser: no apt-get here; install Chromium and set TALLY_CHROMIUM to its path" >&2
    exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
    SUDO=
elif command -v sudo >/dev/null 2>&1; then
    SUDO=sudo
else
    echo "install-browser: apt-get needs root; run as root or install sudo" >&2
    exit 1
fi

$SUDO apt-get update -qq
# With its recommended packages: the fonts make the test's screenshots legible.
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
"$CHROMIUM" --version
