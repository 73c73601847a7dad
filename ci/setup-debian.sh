#!/usr/bin/env bash
# Prepare a Debian (12 "bookworm" or newer) machine to run bootmatrix:
#  - qemu-system-ppc 10.x (from bookworm-backports on Debian 12),
#  - the ppc64el foreign architecture, so that `apt-get download pkg:ppc64el`
#    can fetch Debian's POWER kernels and busybox for the guest images,
#  - a ppc64le cross toolchain, for the kernels the harness builds itself,
#  - Debian's Rust 1.85 with the ppc64el standard library, for the ppc64le
#    bootmatrix the harness builds to run inside its emulated POWER hosts.
# With --test-tools, also what the test suite's linters need: check-jsonschema
# (PyPI) for the CI templates, and shellcheck; xmllint (libxml2-utils) for the
# strict JUnit's schema check; and Debian's chromium, in which the real-boot
# tests render report.html headless.
# Idempotent: a second run only refreshes the package lists.
set -euo pipefail

test_tools=false
for arg in "$@"; do
    case "$arg" in
        --test-tools) test_tools=true ;;
        *) echo "usage: $0 [--test-tools]" >&2; exit 2 ;;
    esac
done

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
export DEBIAN_FRONTEND=noninteractive

. /etc/os-release
arch=$(dpkg --print-architecture)
qemu_target=()
if [ "${VERSION_CODENAME:-}" = bookworm ]; then
    # bookworm ships qemu 7.2; the harness is qualified against 10.x.
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        echo 'deb http://deb.debian.org/debian bookworm-backports main' |
            as_root tee /etc/apt/sources.list.d/bootmatrix-backports.list >/dev/null
    fi
    qemu_target=(-t bookworm-backports)
fi
if [ "$arch" != ppc64el ] && ! dpkg --print-foreign-architectures | grep -qx ppc64el; then
    as_root dpkg --add-architecture ppc64el
fi
# Some mirrors lack ppc64el lists for the security suite; main is enough.
as_root apt-get update -o APT::Sandbox::User=root || true
as_root apt-get install -y --no-install-recommends "${qemu_target[@]}" qemu-system-ppc
# The cross toolchain and patch(1) for the kernels the harness builds itself
# (the emulated hosts' kernels, images/kernel-host-*.toml).
as_root apt-get install -y --no-install-recommends gcc-powerpc64le-linux-gnu binutils-powerpc64le-linux-gnu \
    bc bison flex libssl-dev libelf-dev make xz-utils patch
# Debian's Rust and its ppc64el std plus the ppc64el C headers, for the
# bootmatrix the harness cross-builds for its emulated hosts (C dependencies
# need the headers). bookworm's plain rustc is 1.63: its 1.85 is `rustc-web`.
if [ "${VERSION_CODENAME:-}" = bookworm ]; then
    rust=(rustc-web cargo-web libstd-rust-web-dev:ppc64el)
else
    rust=(rustc cargo libstd-rust-dev:ppc64el)
fi
as_root apt-get install -y --no-install-recommends "${rust[@]}" libc6-dev-ppc64el-cross
qemu-system-ppc64 --version | head -n1
if $test_tools; then
    as_root apt-get install -y --no-install-recommends shellcheck || true
    # The xbps tests sign their test repository with openssl(1); the report
    # tests validate JUnit with xmllint and render report.html in Chromium.
    as_root apt-get install -y --no-install-recommends openssl libxml2-utils chromium
    python3 -m pip install --quiet check-jsonschema 2>/dev/null ||
        python3 -m pip install --quiet --break-system-packages check-jsonschema
    check-jsonschema --version
fi
