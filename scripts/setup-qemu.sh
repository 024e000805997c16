#!/bin/sh
# Install what `gupcheck validate` needs: a Debian kernel image with the build tree of the same
# version (linux-image-amd64 + linux-headers-<its version>), QEMU and a static busybox.
# Idempotent: installs only what is missing.
#
#   scripts/setup-qemu.sh            (run as root, or with the packages already installed)
#   scripts/setup-qemu.sh 6.12       (also the newest 6.12 kernel from bookworm-security)
#
# Prints each usable kernel on its last lines ("kernel: VERSION").
set -eu

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

apt_install() {
    if [ "$(id -u)" != 0 ]; then
        echo "setup-qemu: $* needed; run as root to install" >&2
        exit 1
    fi
    if [ -z "${updated:-}" ]; then
        apt-get update
        updated=1
    fi
    echo "setup-qemu: installing $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        -o DPkg::Lock::Timeout=600 "$@"
}

missing=""
for package in linux-image-amd64 qemu-system-x86 busybox-static gcc make libc6-dev; do
    installed "$package" || missing="$missing $package"
done
if [ -n "$missing" ]; then
    # shellcheck disable=SC2086  # one word per package
    apt_install $missing
fi

if [ "${1:-}" = 6.12 ] && ! ls /boot/vmlinuz-6.12.* >/dev/null 2>&1; then
    [ -n "${updated:-}" ] || { apt-get update; updated=1; }
    image=$(apt-cache search --names-only '^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' \
        | cut -d' ' -f1 | sort -V | tail -n 1)
    if [ -z "$image" ]; then
        echo "setup-qemu: no 6.12 kernel image in the package lists" >&2
        exit 1
    fi
    apt_install "$image"
fi

# Every kernel image needs the build tree of exactly its version to build modules for it.
for image in /boot/vmlinuz-*; do
    [ -f "$image" ] || continue
    version=${image#/boot/vmlinuz-}
    if [ ! -f "/lib/modules/$version/build/Makefile" ]; then
        apt_install "linux-headers-$version"
    fi
done

found=""
for image in /boot/vmlinuz-*; do
    [ -f "$image" ] || continue
    version=${image#/boot/vmlinuz-}
    if [ -f "/lib/modules/$version/build/Makefile" ]; then
        echo "kernel: $version"
        found=1
    fi
done
if [ -z "$found" ]; then
    echo "setup-qemu: no kernel image with a matching build tree (/boot/vmlinuz-V + /lib/modules/V/build)" >&2
    exit 1
fi
