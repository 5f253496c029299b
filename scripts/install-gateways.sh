#!/bin/sh
# Install the gateway software the clamd, ICAP and Redis tests talk to, from the distribution:
#   redis-server  the shared verdict cache (tests start their own, on a loopback port)
#   clamdscan     ClamAV's client (`clamdscan --stream`) for the clamd listener
#   rspamd        rspamd and rspamc, whose antivirus module (type clamav) calls the clamd listener
#   c-icap        c-icap-client, for the ICAP listener
# Idempotent and best effort: where apt-get is unavailable, or we are neither root nor allowed
# passwordless sudo, or a package cannot be installed, it says so and exits 0; the tests needing
# that program then skip with the reason. No service is configured or started here (the tests
# run their own instances in temporary folders).
set -eu

need=""
for pkg in redis-server clamdscan rspamd c-icap; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need="$need $pkg"
done
if [ -z "$need" ]; then
    echo "install-gateways: redis-server, clamdscan, rspamd and c-icap already installed"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-gateways: apt-get not available; skipping (gateway tests will skip)"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
        echo "install-gateways: not root and no passwordless sudo; skipping (gateway tests will skip)"
        exit 0
    fi
fi

apt_install() {
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        -o DPkg::Lock::Timeout=600 "$@"
}

echo "install-gateways: installing$need"
if ! apt_install $need; then
    # One package the mirror lacks must not cost the others: retry them one by one.
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q -o DPkg::Lock::Timeout=600 || true
    for pkg in $need; do
        apt_install "$pkg" || echo "install-gateways: could not install $pkg; its tests will skip"
    done
fi
exit 0
