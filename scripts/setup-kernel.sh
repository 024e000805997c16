#!/bin/sh
# Install the Debian kernel headers and source used by the tests, and extract a fixed set of
# real 6.1 drivers into $(repo)/.cache/linux-source-6.1/. Idempotent: does nothing that is already done.
#
#   scripts/setup-kernel.sh          (run as root, or with the packages already installed)
#
# Prints the kernel headers directory it found on its last line ("kernel headers: DIR").
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
cache="$repo/.cache"
dest="$cache/linux-source-6.1"
tarball=/usr/src/linux-source-6.1.tar.xz

# Member names inside the tarball (its top directory is linux-source-6.1/).
members="
drivers/xen/privcmd.c
drivers/xen/privcmd*.h
drivers/misc/genwqe/*.c
drivers/misc/genwqe/*.h
drivers/virt/acrn/mm.c
drivers/virt/acrn/*.h
drivers/fpga/dfl-afu-dma-region.c
drivers/fpga/dfl-afu.h
drivers/fpga/dfl.h
drivers/infiniband/core/umem.c
drivers/infiniband/core/*.h
drivers/vfio/vfio_iommu_type1.c
drivers/vfio/*.h
drivers/media/common/videobuf2/frame_vector.c
drivers/misc/habanalabs/common/memory.c
drivers/misc/habanalabs/common/*.h
drivers/misc/habanalabs/include/*
drivers/platform/goldfish/goldfish_pipe.c
drivers/platform/goldfish/*.h
drivers/tee/tee_shm.c
drivers/tee/*.h
drivers/vhost/vhost.c
drivers/vhost/vhost.h
drivers/gpu/drm/i915/gem/i915_gem_userptr.c
drivers/gpu/drm/i915/*.h
scripts/clang-tools/gen_compile_commands.py
"

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

if ! installed linux-headers-amd64 || ! installed linux-source-6.1; then
    if [ "$(id -u)" != 0 ]; then
        echo "setup-kernel: linux-headers-amd64 and linux-source-6.1 are needed; run as root to install them" >&2
        exit 1
    fi
    echo "setup-kernel: installing linux-headers-amd64 linux-source-6.1"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y -o DPkg::Lock::Timeout=600 \
        linux-headers-amd64 linux-source-6.1
fi

stamp="$dest/.extracted"
want=$(printf '%s' "$members" | tr '\n' ' ')
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "setup-kernel: drivers already extracted in $dest"
else
    if [ ! -f "$tarball" ]; then
        echo "setup-kernel: $tarball is missing (package linux-source-6.1)" >&2
        exit 1
    fi
    mkdir -p "$cache"
    tmp=$(mktemp -d "$cache/extract.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    names=""
    for m in $members; do
        names="$names linux-source-6.1/$m"
    done
    echo "setup-kernel: extracting drivers from $tarball"
    # shellcheck disable=SC2086  # word splitting of the member list is intended
    tar -xJf "$tarball" -C "$tmp" --wildcards $names
    rm -rf "$dest"
    mv "$tmp/linux-source-6.1" "$dest"
    printf '%s' "$want" > "$stamp"
    echo "setup-kernel: extracted into $dest"
fi

# Whole in-tree driver folders with their makefiles, for the Kbuild reader's end-to-end tests
# (tests/test_kbuild.py: i915's subdir-ccflags-y, atomisp's hundred -I), into
# .cache/linux-source-6.1-drivers/ (bench/parse_rate.py reads more of drivers/ from there: extract
# it by hand, `tar -xJf /usr/src/linux-source-6.1.tar.xz --strip-components=1 -C DIR
# linux-source-6.1/drivers`).
drivers_dest="$cache/linux-source-6.1-drivers"
drivers_members="drivers/Kconfig drivers/Makefile drivers/gpu/Makefile drivers/gpu/drm/Makefile drivers/gpu/drm/i915
drivers/staging/Makefile drivers/staging/media/Makefile drivers/staging/media/atomisp"
drivers_want=$(printf '%s' "$drivers_members" | tr '\n' ' ')
if [ -f "$drivers_dest/.extracted" ] && [ "$(cat "$drivers_dest/.extracted")" = "$drivers_want" ]; then
    echo "setup-kernel: driver folders already extracted in $drivers_dest"
elif [ -d "$drivers_dest/drivers/gpu/drm/i915" ] && [ ! -f "$drivers_dest/.extracted" ]; then
    echo "setup-kernel: $drivers_dest holds drivers extracted by hand; left as it is"
else
    mkdir -p "$drivers_dest"
    echo "setup-kernel: extracting i915 and atomisp from $tarball"
    # shellcheck disable=SC2086  # word splitting of the member list is intended
    tar -xJf "$tarball" -C "$drivers_dest" --strip-components=1 \
        $(for m in $drivers_members; do printf 'linux-source-6.1/%s ' "$m"; done)
    printf '%s' "$drivers_want" > "$drivers_dest/.extracted"
    echo "setup-kernel: extracted into $drivers_dest"
fi

# Trees of another architecture (arm64) and version for tests/test_tree_arch.py, unpacked into
# .cache/kernels/ (never installed); without a network those tests skip.
sh "$repo/scripts/setup-kernel-trees.sh" ||
    echo "setup-kernel: no arm64 or other-version kernel trees (tests/test_tree_arch.py skips them)" >&2

headers=""
for d in /usr/src/linux-headers-*-amd64; do
    [ -f "$d/Makefile" ] && headers="$d"
done
if [ -z "$headers" ]; then
    echo "setup-kernel: no /usr/src/linux-headers-*-amd64 directory found" >&2
    exit 1
fi
echo "kernel headers: $headers"
