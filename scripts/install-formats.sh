#!/bin/sh
# Install the system libraries the archive and disk-image extractors need, and the tools their
# benchmark compares against: libarchive13 (read by libarchive-c: 7z, RAR, CAB, TAR, ISO, gz/xz/bz2),
# libarchive-tools (bsdtar) and p7zip-full (7z) for bench/bench_formats_containers.py. Idempotent.
# Where apt-get is unavailable (not Debian/Ubuntu, or not root) it says so and exits 0: the archive
# tests then skip with the reason (libarchive unavailable) and the benchmark leaves out the peers.
set -eu

need=""
for pkg in libarchive13 libarchive-tools p7zip-full; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need="$need $pkg"
done
if [ -z "$need" ]; then
    echo "install-formats: libarchive13, bsdtar and 7z already installed"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" -ne 0 ]; then
    echo "install-formats: cannot install$need (needs apt-get as root); archive tests will skip"
    exit 0
fi
# shellcheck disable=SC2086  # word splitting of the package list is intended
if ! apt-get install -y -o DPkg::Lock::Timeout=600 --no-install-recommends $need; then
    echo "install-formats: apt-get could not install$need; archive tests will skip"
fi
exit 0
