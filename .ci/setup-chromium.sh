#!/usr/bin/env bash
# Debian's Chromium for the viewer's browser tests (test/cli/view-browser.test.ts), and promtool
# for the metrics test. Exits non-zero when Chromium cannot be installed: .ci/run then leaves
# CHAINETTE_BROWSER unset and the browser tests skip instead of failing.
set -uo pipefail
if [ ! -x /usr/bin/chromium ] || ! command -v promtool >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo -n"; fi
  $sudo_cmd apt-get update -qq >&2 || true
  $sudo_cmd apt-get install -y -qq --no-install-recommends chromium >&2 || exit 1
  # promtool is optional: the metrics test also checks the format with its own reader.
  $sudo_cmd apt-get install -y -qq --no-install-recommends prometheus >&2 || echo "prometheus (promtool) not installed: the metrics test uses its own reader only" >&2
fi
/usr/bin/chromium --version >&2
