#!/usr/bin/env bash
# Compare gupcheck's SARIF output of two revisions on the same inputs, byte for byte.
#
#   scripts/compare-sarif.sh BASE_REV [NEW_REV]      (NEW_REV default: the working tree)
#
# Each revision is installed (pip, no dependencies) into its own scratch folder and run with
# --no-cache on:
#   testdata-model     every case folder of testdata/, with the built-in kernel API model
#   testdata-headers   the same with Debian's kernel headers (--kernel-dir)
#   bench              the 12 real 6.1 drivers of bench/bench.py, with their compile database
#   drivers-misc       all of drivers/misc/ of Debian's linux-source-6.1 (--kernel-dir)
# and, asked for by name (SETS=facts), the facts themselves (a digest of each file's facts) of the
# testdata (built-in model) and of the bench drivers and drivers/misc (headers, no PCH): for changes
# to the front end, whose facts may differ where findings do not.
# The inputs are the working tree's testdata and the extracted kernel sources, for both revisions.
# SETS="testdata-model bench" limits the sets; KEEP=DIR keeps the logs. Prints one line per set
# ("identical" or "DIFFERENT" with a diff summary) and exits 1 when any set differs.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
base_rev=${1:?usage: scripts/compare-sarif.sh BASE_REV [NEW_REV]}
new_rev=${2:-}
sets=${SETS:-testdata-model testdata-headers bench drivers-misc}
python=${PYTHON:-$repo/.venv/bin/python}
work=${KEEP:-$(mktemp -d "${TMPDIR:-/tmp}/gupcheck-compare.XXXXXX")}
mkdir -p "$work"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT

kernel_dir=${KERNEL_DIR:-$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1)}
source_tree="$repo/.cache/linux-source-6.1"
misc_tree="$repo/.cache/linux-source-6.1-misc"

install_revision() {  # install_revision REV|"" DEST
    local rev=$1 dest=$2 src="$2-src"
    rm -rf "$src" "$dest"
    mkdir -p "$src"
    if [ -n "$rev" ]; then
        git -C "$repo" archive "$rev" | tar -x -C "$src"
    else
        git -C "$repo" ls-files -co --exclude-standard -z \
            | (cd "$repo" && xargs -0 tar -c --ignore-failed-read 2>/dev/null) | tar -x -C "$src"
    fi
    "$python" -m pip install --quiet --no-deps --target "$dest" "$src" >"$dest.pip.log" 2>&1 \
        || { echo "compare-sarif: cannot install ${rev:-the working tree} (see $dest.pip.log)" >&2; exit 2; }
}

echo "compare-sarif: installing $base_rev and ${new_rev:-the working tree}" >&2
install_revision "$base_rev" "$work/base"
install_revision "$new_rev" "$work/new"

need_kernel() {
    [ -n "$kernel_dir" ] || { echo "compare-sarif: no /usr/src/linux-headers-*-amd64 (scripts/setup-kernel.sh)" >&2; exit 2; }
}

bench_database() {  # the compile database bench/bench.py writes, made with the base revision's flags
    need_kernel
    [ -d "$source_tree" ] || sh "$repo/scripts/setup-kernel.sh" >&2
    PYTHONPATH="$work/base" "$python" - "$kernel_dir" "$source_tree" "$work/compile_commands.json" <<'EOF'
import json, os, sys
kernel_dir, source, out = sys.argv[1:]
try:
    from gupcheck.frontend.buildconfig import BuildConfig
except ImportError:
    from gupcheck.frontend.buildconfig import BuildConfig
drivers = ["drivers/infiniband/core/umem.c", "drivers/vfio/vfio_iommu_type1.c",
           "drivers/media/common/videobuf2/frame_vector.c", "drivers/misc/genwqe/card_utils.c",
           "drivers/fpga/dfl-afu-dma-region.c", "drivers/misc/habanalabs/common/memory.c",
           "drivers/virt/acrn/mm.c", "drivers/platform/goldfish/goldfish_pipe.c", "drivers/xen/privcmd.c",
           "drivers/tee/tee_shm.c", "drivers/vhost/vhost.c", "drivers/gpu/drm/i915/gem/i915_gem_userptr.c"]
own = {"drivers/gpu/drm/i915/gem/i915_gem_userptr.c": ["-I", os.path.join(source, "drivers/gpu/drm/i915")]}
config = BuildConfig(kernel_dir=kernel_dir)
entries = []
for name in drivers:
    path = os.path.join(source, name)
    args = [*config.config_for(path).args, *own.get(name, [])]
    entries.append({"directory": os.path.dirname(path), "file": path,
                    "arguments": ["clang", *args, "-c", path, "-o", "/dev/null"]})
with open(out, "w") as handle:
    json.dump(entries, handle, indent=1)
print(" ".join(os.path.join(source, name) for name in drivers))
EOF
}

misc_sources() {
    need_kernel
    if [ ! -d "$misc_tree/drivers/misc" ]; then
        echo "compare-sarif: extracting drivers/misc into $misc_tree" >&2
        mkdir -p "$misc_tree"
        tar -xJf /usr/src/linux-source-6.1.tar.xz -C "$misc_tree" --strip-components=1 \
            linux-source-6.1/drivers/misc
    fi
}

facts_digests() {  # facts_digests VERSION -> $work/facts.VERSION.sarif (one line a file)
    local version=$1
    need_kernel
    misc_sources
    (cd "$work" && GUPCHECK_NO_PCH=1 PYTHONPATH="$work/$version" "$python" - "$kernel_dir" "$repo" \
        "$source_tree" "$misc_tree" >"$work/facts.$version.sarif" 2>"$work/facts.$version.log") <<'PY'
import glob, hashlib, os, sys
kernel_dir, repo, source, misc = sys.argv[1:]
try:
    from gupcheck.frontend.buildconfig import BuildConfig
    from gupcheck.frontend.parse import extract_facts
except ImportError:
    from gupcheck.buildconfig import BuildConfig
    from gupcheck.parse import extract_facts
model = BuildConfig(use_model=True)
headers = BuildConfig(kernel_dir=kernel_dir)
testdata = sorted(p for p in glob.glob(f"{repo}/testdata/**/*.c", recursive=True) if "/repro/" not in p)
real = sorted(glob.glob(f"{source}/**/*.c", recursive=True) + glob.glob(f"{misc}/**/*.c", recursive=True))
for config, paths in ((model, testdata), (headers, real)):
    for path in paths:
        facts = extract_facts(config.config_for(path))
        facts.headers = []
        print(os.path.relpath(path, repo), hashlib.sha256(repr(facts).encode()).hexdigest())
PY
}

run_set() {  # run_set NAME VERSION -> $work/NAME.VERSION.sarif
    local name=$1 version=$2 out="$work/$1.$2.sarif" root args
    case $name in
        facts) facts_digests "$version"; return ;;
        testdata-model) root=$repo; args=(testdata --kernel-model) ;;
        testdata-headers) need_kernel; root=$repo; args=(testdata --kernel-dir "$kernel_dir") ;;
        bench) root=$source_tree; args=($bench_files -p "$work/compile_commands.json") ;;
        drivers-misc) root=$misc_tree; args=(drivers/misc --kernel-dir "$kernel_dir") ;;
        *) echo "compare-sarif: unknown set '$name'" >&2; exit 2 ;;
    esac
    local status=0
    (cd "$root" && PYTHONPATH="$work/$version" "$python" -m gupcheck check "${args[@]}" --no-cache -j2 \
        --format sarif -o "$out" --source-root "$root" 2>"$work/$name.$version.log") || status=$?
    if [ "$status" -gt 1 ]; then
        echo "compare-sarif: $name: gupcheck ($version) exited $status (see $work/$name.$version.log)" >&2
    fi
}

bench_files=""
differ=0
for name in $sets; do
    case $name in
        bench) bench_files=$(bench_database) ;;
        drivers-misc) misc_sources ;;
    esac
    started=$(date +%s)
    run_set "$name" base
    run_set "$name" new
    seconds=$(( $(date +%s) - started ))
    if [ "$name" = facts ]; then
        results="$(wc -l <"$work/facts.new.sarif") files,"
    else
        results=$("$python" -c 'import json,sys; print(sum(len(r["results"]) for r in json.load(open(sys.argv[1]))["runs"]), "results,")' \
            "$work/$name.new.sarif" 2>/dev/null || echo "?")
    fi
    if cmp -s "$work/$name.base.sarif" "$work/$name.new.sarif"; then
        echo "$name: identical ($results $(wc -c <"$work/$name.new.sarif") bytes, ${seconds} s)"
    else
        differ=1
        echo "$name: DIFFERENT"
        diff -u "$work/$name.base.sarif" "$work/$name.new.sarif" | head -n 40 || true
    fi
done
exit "$differ"
