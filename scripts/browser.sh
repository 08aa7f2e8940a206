#!/usr/bin/env bash
# Install the browser the UI tests drive (Debian's chromium and chromium-driver) if it is missing.
# Nothing is downloaded outside the distribution's packages: Selenium uses /usr/bin/chromedriver.
set -euo pipefail

if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
  exit 0
fi
echo "installing chromium and chromium-driver"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null
