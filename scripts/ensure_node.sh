#!/usr/bin/env bash
# Node.js for the BI snapshot's Node client test (tests/bi_clients/, the client Evidence uses):
# Debian's package, installed once, like scripts/ensure_chromium.sh. npm then installs the client
# from the npm registry.
set -euo pipefail
if command -v node >/dev/null && command -v npm >/dev/null; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "node is missing: run 'sudo apt-get install -y nodejs npm' once" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
node --version
