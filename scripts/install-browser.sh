#!/usr/bin/env bash
# Headless Chromium for the tests that open maldoc's HTML pages (report, API docs) in a real browser.
# Best effort: without it those tests skip with the reason.
set -u
if command -v chromium >/dev/null 2>&1; then exit 0; fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q -o DPkg::Lock::Timeout=600 chromium >/dev/null 2>&1 \
  || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -q -o DPkg::Lock::Timeout=600 chromium >/dev/null 2>&1; } \
  || echo "install-browser: chromium not installed; browser tests will skip"
exit 0
