#!/usr/bin/env bash
# Headless Chromium for the browser tests (dashboard pages, the on-site offer snippet): Debian's
# package, installed once. Playwright (a dev dependency) drives it with executable_path, so no
# browser build is downloaded from anywhere but the system's package registry.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "chromium is missing: run 'sudo apt-get install -y chromium fonts-noto-cjk' once" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# fonts-noto-cjk: Japanese text in pages and screenshots renders as glyphs, not boxes.
apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk >/dev/null
/usr/bin/chromium --version
