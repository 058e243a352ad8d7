#!/usr/bin/env bash
# Installs what `npm run lab` needs to run Keystone and nova-api on loopback (docs/development.md, the lab):
# the Python libraries and uwsgi from Debian, never the `keystone`, `nova-api` or `nova-common` packages
# (they bring service units, /etc files and dbconfig prompts). The one file needed from nova-common,
# api-paste.ini, is taken from its .deb without installing it (the .deb is cached in .lab/cache/).
# Run as root (or through sudo) from anywhere in the repository.
set -euo pipefail
cd "$(dirname "$0")/../.."

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends \
  python3-nova python3-keystone python3-openstackclient uwsgi-core uwsgi-plugin-python3

# api-paste.ini: `npm run lab -- up` extracts it (Debian ships it as /usr/share/nova-common/api-paste.ini)
# from nova-common's .deb, downloaded here into .lab/cache/ with the same version as python3-nova.
cache=.lab/cache
mkdir -p "$cache"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# apt-get download drops privileges to _apt; a world-writable scratch dir keeps it from warning.
chmod 0777 "$scratch"
(cd "$scratch" && apt-get download nova-common)
rm -f "$cache"/nova-common_*.deb
cp "$scratch"/nova-common_*.deb "$cache"/
echo "lab packages installed; nova-common .deb cached in $cache/ (not installed)"
