#!/bin/sh
# Kernel trees of another architecture and another version, for tests/test_tree_arch.py: Debian's
# arm64 headers of the same 6.1 ABI as the installed amd64 ones, and the amd64 and arm64 headers of
# the newest other kernel series apt offers (6.12 on bookworm, from bookworm-security).
#
#   scripts/setup-kernel-trees.sh      (setup-kernel.sh runs it; any user, network needed once)
#
# The packages are fetched with `apt-get download` and unpacked with `dpkg -x` into
# $(repo)/.cache/kernels/ (they are never installed). apt works on its own lists in .cache/apt/, made
# from this machine's sources with arm64 added: neither the system's apt lists nor dpkg's
# architectures are changed. Idempotent: does nothing when the same packages are already unpacked.
# Prints one line per tree ("kernel tree: DIR"); exits 1 with a reason when a download is impossible.
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
cache="$repo/.cache"
kroot="$cache/kernels"
aptdir="$cache/apt"
native=$(dpkg --print-architecture)

stamp="$kroot/.unpacked"

# Every unpacked tree still finds its sources: the -common folder its Makefile includes (Debian's
# /usr/src/linux-headers-V-common, installed with the amd64 headers) or its -common sibling here.
trees_ok() {
    found=0
    for d in "$kroot"/usr/src/linux-headers-*; do
        case "$d" in *-common) continue ;; esac
        [ -f "$d/Makefile" ] || continue
        found=1
        src=$(sed -n 's/^include \(.*\)\/Makefile$/\1/p' "$d/Makefile")
        [ -d "${src:-/nonexistent}" ] || [ -d "${d%-*}-common" ] || return 1
    done
    [ "$found" = 1 ]
}
list_trees() {
    for d in "$kroot"/usr/src/linux-headers-*; do
        case "$d" in *-common) continue ;; esac
        [ -f "$d/Makefile" ] && echo "kernel tree: $d"
    done
    return 0
}
if [ -f "$stamp" ] && trees_ok; then
    echo "setup-kernel-trees: already unpacked in $kroot"
    list_trees
    exit 0
fi

mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial"
set -- -o "Dir::State::Lists=$aptdir/lists" -o "Dir::Cache=$aptdir/cache" \
    -o "APT::Architectures::=$native" -o "APT::Architectures::=arm64" -q
if [ "$(id -u)" = 0 ]; then
    set -- "$@" -o "APT::Sandbox::User=root"  # the private folders are not _apt's
fi

# The 6.1 ABI of the installed amd64 headers (linux-headers-6.1.0-57-amd64 -> 6.1.0-57).
abi=""
for d in /usr/src/linux-headers-*-amd64; do
    [ -f "$d/Makefile" ] && abi=$(basename "$d" | sed -e 's/^linux-headers-//' -e 's/-amd64$//')
done

# Refresh apt's lists when they are missing or older than a day.
if [ -z "$(find "$aptdir/lists" -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -n 1)" ]; then
    echo "setup-kernel-trees: updating apt lists (with arm64) in $aptdir"
    if ! apt-get "$@" update >"$aptdir/update.log" 2>&1; then
        echo "setup-kernel-trees: apt-get update failed (see $aptdir/update.log)" >&2
        exit 1
    fi
fi

available() {  # apt offers the package $pkg (the arguments: apt's options)
    apt-cache "$@" show "$pkg" >/dev/null 2>&1
}

# The arm64 headers: the installed ABI, else the one the arm64 meta-package depends on.
packages=""
pkg="linux-headers-$abi-arm64:arm64"
if [ -z "$abi" ] || ! available "$@"; then
    arm=$(apt-cache "$@" depends linux-headers-arm64:arm64 2>/dev/null |
        sed -n 's/^ *Depends: linux-headers-\(.*\)-arm64:arm64$/\1/p' | head -n 1)
    [ -n "$arm" ] || { echo "setup-kernel-trees: apt offers no linux-headers-*-arm64" >&2; exit 1; }
    abi=$arm
fi
packages="linux-headers-$abi-arm64:arm64"
[ -d "/usr/src/linux-headers-$abi-common" ] || packages="$packages linux-headers-$abi-common"

# Another version: the newest linux-headers-<series>-amd64 meta-package of another series.
series=$(echo "$abi" | cut -d. -f1-2)
other=$(apt-cache "$@" search --names-only '^linux-headers-[0-9]+\.[0-9]+-amd64$' 2>/dev/null |
    sed -n 's/^linux-headers-\([0-9.]*\)-amd64 .*/\1/p' | grep -vx "$series" | sort -V | tail -n 1)
if [ -n "$other" ]; then
    flavour=$(apt-cache "$@" depends "linux-headers-$other-amd64" 2>/dev/null |
        sed -n 's/^ *Depends: linux-headers-\(.*\)-amd64$/\1/p' | head -n 1)
    if [ -n "$flavour" ]; then
        packages="$packages linux-headers-$flavour-amd64 linux-headers-$flavour-common linux-kbuild-$flavour"
        pkg="linux-headers-$flavour-arm64:arm64"
        if available "$@"; then
            packages="$packages $pkg"
        fi
    fi
else
    echo "setup-kernel-trees: apt offers no other kernel series than $series" >&2
fi

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$packages" ] && trees_ok; then
    echo "setup-kernel-trees: already unpacked in $kroot"
else
    debs=$(mktemp -d "$cache/debs.XXXXXX")
    tmp=$(mktemp -d "$cache/kernels.XXXXXX")
    trap 'rm -rf "$debs" "$tmp"' EXIT
    echo "setup-kernel-trees: downloading $packages"
    # shellcheck disable=SC2086  # word splitting of the package list is intended
    if ! (cd "$debs" && apt-get "$@" download $packages >"$debs/download.log" 2>&1); then
        cat "$debs/download.log" >&2
        echo "setup-kernel-trees: apt-get download failed" >&2
        exit 1
    fi
    for deb in "$debs"/*.deb; do
        dpkg -x "$deb" "$tmp"
    done
    # The arm64 6.1 tree's scripts link points at the (architecture-independent) kbuild tools of its
    # series, installed with the amd64 headers: link them in so Kbuild can run on the unpacked tree.
    kbuild="/usr/lib/linux-kbuild-$series"
    if [ -d "$kbuild" ] && [ ! -e "$tmp/usr/lib/linux-kbuild-$series" ]; then
        mkdir -p "$tmp/usr/lib"
        ln -s "$kbuild" "$tmp/usr/lib/linux-kbuild-$series"
    fi
    rm -rf "$kroot"
    mv "$tmp" "$kroot"
    printf '%s' "$packages" >"$stamp"
    echo "setup-kernel-trees: unpacked into $kroot"
fi
list_trees
