#!/usr/bin/env bash
# The test command, for a developer or a fresh CI machine: as root, install the Debian packages
# the end-to-end tests need (a local registry, skopeo, a static busybox for fixtures, the setuid
# ID-mapping helpers, rootless podman with runc as an outer engine for cove), then run every
# test against the release binary.
# As non-root nothing is installed, and the tests that need root fail saying so.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(docker-registry skopeo busybox-static uidmap libseccomp-dev fuse-overlayfs podman runc openssl apache2-utils)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ "$(id -u)" -eq 0 ]; then
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "installing: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    # Rootless networking (pasta, slirp4netns) opens the TUN device as the test user, and
    # fuse-overlayfs (keep-id's id-shifted root) /dev/fuse: udev makes both 0666 on a normal
    # Debian host, a container's /dev may not have.
    for dev in /dev/net/tun /dev/fuse; do
        if [ -e "$dev" ]; then
            chmod 666 "$dev"
        fi
    done
else
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "warning: missing packages (run as root to install them): ${missing[*]}" >&2
    fi
    echo "warning: not root: end-to-end tests that run cove as root or as test users will fail" >&2
fi

if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then
    PATH="$HOME/.cargo/bin:$PATH"
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --release --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# One summary over all test binaries (cargo prints one `test result:` line per binary).
awk '/^test result:/ {
        for (i = 1; i <= NF; i++) {
            if ($(i) ~ /^passed/) p += $(i - 1)
            if ($(i) ~ /^failed/) f += $(i - 1)
            if ($(i) ~ /^ignored/) s += $(i - 1)
        }
        n++
     }
     END {
        print ""
        printf "%d test binaries\n", n
        printf "summary: %d passed, %d failed, %d skipped\n", p, f, s
     }' "$log"
grep -E "^test .* FAILED$" "$log" || true
exit "$status"
