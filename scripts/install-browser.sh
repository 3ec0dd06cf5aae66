#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests when it is missing and we are allowed to.
# Never downloads a browser build of its own (`playwright install` is not used).
set -u
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests…"
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -qq && apt-get install -y -qq chromium >/dev/null; then
    exit 0
  fi
fi
echo "WARNING: chromium is not installed and could not be installed; browser tests will be SKIPPED." >&2
exit 0
