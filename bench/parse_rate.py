#!/usr/bin/env python3
"""How much of real driver code parses without errors with nothing but `--kernel-dir` (run by hand).

    .venv/bin/python bench/parse_rate.py [--set out-of-tree|in-tree] [--out-of-tree REPO[:SUB] ...]
                                         [--in-tree FOLDER ...] [--linux-source DIR] [--kernel-dir DIR]
                                         [--revision REV] [-j N] [--keep DIR]

Issue 14's measure: `gupcheck --format json --kernel-dir TREE FOLDER`, no compile database, once per
folder, on two sets:

* out-of-tree: the module (and userland) folders of the development corpus
  (`/work/shared/corpus/README.md`), extracted under /tmp/corp/<owner+name> and /tmp/xil.
  `--out-of-tree REPO[:SUB]` (repeatable) replaces the list: REPO is the repository's folder (where a
  missing header is looked for, to say why it is missing), SUB the folder inside it to analyse.
* in-tree: 30 driver folders of Debian's linux-source-6.1 with pin, uaccess or mmap code, relative to
  `--linux-source` (default .cache/linux-source-6.1-drivers); `--in-tree FOLDER` (repeatable) replaces
  them.

For each set it prints the files, the share that parse without errors, the share among the files whose
headers exist in the repository, and the headers still missing grouped by cause: generated (a
`config.h`, `version.h`, `*_autogen.h`, a name whose `.in` template the repository has), other
architecture (an `asm/`/`mach/` header only another architecture's `arch/` has), not in the repository
(another vendor's library, a header the repository does not ship), in the repository (gupcheck did
not find a header that is there), and files whose first error is not a missing header. clang stops at
the first missing header of a file, so a file counts once, by that header.

`--revision REV` measures a commit instead of the working tree: it is exported (`git archive`) and
installed with `pip install --no-deps --target` into a scratch folder, and run from there. A folder
that does not exist is an error (exit 2) before anything runs. The targets of issue 14 (out-of-tree
>= 70 % of files and >= 95 % of those whose headers exist in the repository; in-tree >= 95 %, other
architectures aside) are printed beside the figures; nothing fails when one is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path("/tmp/corp")
XILINX = Path("/tmp/xil")
LINUX_SOURCE = ROOT / ".cache" / "linux-source-6.1-drivers"
TARBALL = Path("/usr/src/linux-source-6.1.tar.xz")

# (repository folder, folder analysed inside it): the module folders of the development corpus and
# the userland folders that call them.
OUT_OF_TREE: tuple[tuple[Path, str], ...] = (
    (CORPUS / "hpc+xpmem", "kernel"),
    (CORPUS / "hpc+xpmem", "lib"),
    (CORPUS / "hpc+xpmem", "test"),
    (CORPUS / "KastnerRG+riffa", "driver/linux"),
    (CORPUS / "zrlio+softiwarp", "kernel"),
    (CORPUS / "zrlio+softiwarp", "userlib/src"),
    (CORPUS / "enfiskutensykkel+ssd-gpu-dma", "module"),
    (CORPUS / "enfiskutensykkel+ssd-gpu-dma", "src"),
    (CORPUS / "aws-neuron+aws-neuron-driver", "."),
    (CORPUS / "intel+linux-sgx-driver", "."),
    (CORPUS / "bperez77+xilinx_axidma", "driver"),
    (CORPUS / "bperez77+xilinx_axidma", "library"),
    (CORPUS / "bperez77+xilinx_axidma", "examples"),
    (CORPUS / "ikwzm+udmabuf", "."),
    (XILINX, "XDMA/linux-kernel/xdma"),
    (XILINX, "QDMA/linux-kernel/driver"),
    (XILINX, "QDMA/linux-kernel/apps"),
)

# Driver folders of linux-source-6.1 that pin user pages, copy from user space or map memory to it.
IN_TREE: tuple[str, ...] = (
    "drivers/gpu/drm/i915/gem",
    "drivers/staging/media/atomisp",
    "drivers/vfio",
    "drivers/misc/genwqe",
    "drivers/misc/habanalabs/common",
    "drivers/misc/sgi-gru",
    "drivers/misc/vmw_vmci",
    "drivers/misc/mei",
    "drivers/misc/ocxl",
    "drivers/misc/cxl",
    "drivers/misc/bcm-vk",
    "drivers/infiniband/core",
    "drivers/infiniband/sw/rxe",
    "drivers/infiniband/sw/siw",
    "drivers/infiniband/hw/mlx5",
    "drivers/vhost",
    "drivers/tee",
    "drivers/media/v4l2-core",
    "drivers/media/common/videobuf2",
    "drivers/fpga",
    "drivers/rapidio",
    "drivers/xen",
    "drivers/virt/acrn",
    "drivers/virt/nitro_enclaves",
    "drivers/platform/goldfish",
    "drivers/dma-buf",
    "drivers/gpu/drm/amd/amdkfd",
    "drivers/android",
    "drivers/char/xillybus",
    "drivers/gpu/drm/etnaviv",
)

MISSING = re.compile(r"'([^']+)' file not found")
GENERATED_NAME = re.compile(
    r"(^|/)(config|config-host|version|autoconf|compile|build_info|buildinfo)\.h$|(_autogen|_generated|-generated)\.h$"
)
OTHER_ARCH_PREFIX = ("mach/", "plat/", "mach-", "arch/")
CAUSES = (
    ("generated", "generated"),
    ("other-arch", "other architecture"),
    ("absent", "other vendor or not in the repository"),
    ("present", "in the repository, not found"),
    ("other", "first error is not a missing header"),
)
SKIPPED_DIRS = frozenset({".git", ".svn", ".hg", "node_modules", "__pycache__"})


@dataclass
class Folder:
    name: str  # as printed
    path: Path  # analysed
    repository: Path  # where missing headers are looked for
    files: int = 0
    clean: int = 0
    status: int = 0
    seconds: float = 0.0
    errors: dict[str, str] = field(default_factory=dict)  # file -> first error message
    fatal: list[str] = field(default_factory=list)


# --- the repository's files ------------------------------------------------------------------------


class Repository:
    """The files of each repository by name (one bounded walk each), for naming a missing header's
    cause; `extra` are paths known from elsewhere (the kernel source's tar listing)."""

    LIMIT = 400_000

    def __init__(self) -> None:
        self._by_name: dict[Path, dict[str, list[str]]] = {}
        self.extra: dict[str, list[str]] = {}

    def by_name(self, root: Path) -> dict[str, list[str]]:
        if root not in self._by_name:
            index: dict[str, list[str]] = defaultdict(list)
            count = 0
            for folder, dirs, files in os.walk(root):
                dirs[:] = [name for name in dirs if name not in SKIPPED_DIRS]
                relative = os.path.relpath(folder, root)
                for name in files:
                    index[name].append(name if relative == "." else f"{relative}/{name}")
                count += len(files)
                if count > self.LIMIT:
                    break
            self._by_name[root] = index
        return self._by_name[root]

    def holds(self, root: Path, header: str) -> bool:
        name = os.path.basename(header)
        tail = "/" + os.path.normpath(header).lstrip("./")
        candidates = [*self.by_name(root).get(name, ()), *self.extra.get(name, ())]
        return any(("/" + path).endswith(tail) for path in candidates)

    def has_template(self, root: Path, header: str) -> bool:
        base = os.path.basename(header)
        stem = base[:-2] if base.endswith(".h") else base
        index = self.by_name(root)
        return any(
            name in index for name in (f"{base}.in", f"{base}.cmake", f"{stem}.h.in", f"{base}.template")
        )


def other_arch(header: str, kernel_source: list[str]) -> bool:
    """An arch header (asm/, mach/, plat/) that x86 does not have and another architecture does."""
    if header.startswith(OTHER_ARCH_PREFIX):
        return True
    if not header.startswith("asm/"):
        return False
    tail = "/include/" + header
    x86 = [path for path in kernel_source if path.endswith(tail) and "arch/x86/" in path]
    return not x86 and any(path.endswith(tail) and "/arch/" in "/" + path for path in kernel_source)


def cause(header: str, repository: Path, repo: Repository, kernel_source: list[str]) -> str:
    """Why `header` is missing: another architecture's, in the repository (not found by gupcheck),
    generated (by its name or a template the repository holds), or absent."""
    if other_arch(header, kernel_source):
        return "other-arch"
    if repo.holds(repository, header):
        return "present"
    if (
        GENERATED_NAME.search(header)
        or header.startswith("generated/")
        or repo.has_template(repository, header)
    ):
        return "generated"
    return "absent"


def kernel_source_paths(kernel_dir: str, work: Path) -> list[str]:
    """Paths of the kernel sources: the kernel tree's own files (its -common half too) and, when the
    linux-source tarball is installed, its listing (kept in the work folder)."""
    paths: list[str] = []
    for tree in {os.path.realpath(kernel_dir), *_common_halves(kernel_dir)}:
        for folder, dirs, files in os.walk(tree):
            dirs[:] = [name for name in dirs if name not in ("scripts", "tools", "Documentation")]
            relative = os.path.relpath(folder, tree)
            paths += [f"{relative}/{name}" for name in files]
    if TARBALL.is_file():
        listing = work / "linux-source.list"
        if not listing.is_file():
            print(f"parse_rate: listing {TARBALL} (once)", file=sys.stderr)
            done = subprocess.run(["tar", "-tJf", str(TARBALL)], capture_output=True, text=True, check=False)
            listing.write_text(done.stdout)
        paths += [line.split("/", 1)[-1] for line in listing.read_text().splitlines() if line.endswith(".h")]
    return paths


def _common_halves(kernel_dir: str) -> list[str]:
    build = os.path.realpath(kernel_dir)
    common = re.sub(r"-[^-]+$", "-common", build)
    return [common] if common != build and os.path.isdir(common) else []


# --- running gupcheck ------------------------------------------------------------------------------


def install_revision(revision: str, work: Path) -> Path:
    """`revision` exported and installed (no dependencies) into a scratch folder: its PYTHONPATH."""
    source, target = work / f"src-{revision}", work / f"site-{revision}"
    if not target.is_dir():
        source.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", revision], capture_output=True, check=False
        )
        if archive.returncode != 0:
            sys.exit(
                f"parse_rate: error: cannot export revision {revision}: {archive.stderr.decode().strip()}"
            )
        subprocess.run(["tar", "-x", "-C", str(source)], input=archive.stdout, check=True)
        pip = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--target",
                str(target),
                str(source),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if pip.returncode != 0:
            sys.exit(f"parse_rate: error: cannot install revision {revision}: {pip.stderr.strip()[-300:]}")
    return target


def run_folder(folder: Folder, options: argparse.Namespace, work: Path, pythonpath: Path | None) -> None:
    report = work / (re.sub(r"[^\w.-]+", "_", folder.name) + ".json")
    argv = [sys.executable, "-m", "gupcheck", "--format", "json", "-o", str(report), "--kernel-dir",
            options.kernel_dir, "-j", str(options.jobs), "--cache-dir", str(work / "cache"),
            str(folder.path)]  # fmt: skip
    env = dict(os.environ)
    env.pop("GUPCHECK_KERNEL_DIR", None)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=work, check=False)
    folder.seconds = time.perf_counter() - started
    folder.status = done.returncode
    try:
        data = json.loads(report.read_text())
    except (OSError, ValueError):
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        folder.fatal.append(f"no report (exit {done.returncode}): " + (lines[-1] if lines else ""))
        return
    refused = set()
    for problem in data.get("problems", []):
        path, message = problem.get("path", ""), problem.get("message", "")
        if problem.get("fatal") and path:
            refused.add(path)
            folder.fatal.append(f"{path}: {message}")
        elif "parsed with" in message and path:
            folder.errors[path] = message
    analysed = int(data.get("filesAnalysed", 0))
    folder.files = analysed + len(refused)
    folder.clean = analysed - len(set(folder.errors) - refused)


# --- report ----------------------------------------------------------------------------------------


def percent(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f} %" if whole else "n/a"


def summarise(
    title: str, folders: list[Folder], repo: Repository, kernel_source: list[str], in_tree: bool
) -> None:
    files = sum(folder.files for folder in folders)
    clean = sum(folder.clean for folder in folders)
    by_cause: dict[str, Counter[str]] = defaultdict(Counter)
    files_by_cause: Counter[str] = Counter()
    for folder in folders:
        for message in folder.errors.values():
            match = MISSING.search(message)
            if match is None:
                first = re.sub(r"^.*\(first: ", "", message).rstrip(")")
                first = re.sub(r"^(\S+:)?\d+:\d+: ", "", first)
                kind, name = "other", first[:80]
            else:
                name = match.group(1)
                kind = cause(name, folder.repository, repo, kernel_source)
            by_cause[kind][name] += 1
            files_by_cause[kind] += 1
    print(
        f"\n{title}: {len(folders)} folders, {files} files, {clean} parse without errors "
        f"({percent(clean, files)})"
    )
    if in_tree:
        own = files - files_by_cause["other-arch"]
        print(f"  other architectures aside: {clean}/{own} = {percent(clean, own)}   (target >= 95 %)")
    else:
        own = files - files_by_cause["generated"] - files_by_cause["other-arch"] - files_by_cause["absent"]
        print(f"  all files (target >= 70 %); files whose headers exist in the repository: {clean}/{own} = "
              f"{percent(clean, own)}   (target >= 95 %)")  # fmt: skip
    for kind, label in CAUSES:
        names = by_cause.get(kind)
        if not names:
            print(f"  {label}: none")
            continue
        listed = ", ".join(
            f"{name} ({count})" if count > 1 else name for name, count in names.most_common(12)
        )
        more = f", and {len(names) - 12} more" if len(names) > 12 else ""
        print(f"  {label} ({files_by_cause[kind]} files): {listed}{more}")
    for folder in folders:
        for line in folder.fatal[:3]:
            print(f"  {folder.name}: {line}")


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--set", choices=("out-of-tree", "in-tree"), action="append", help="only this set (repeatable)"
    )
    parser.add_argument(
        "--out-of-tree",
        action="append",
        metavar="REPO[:SUB]",
        help="a repository folder and the folder inside it to analyse (repeatable)",
    )
    parser.add_argument(
        "--in-tree", action="append", metavar="FOLDER", help="a folder of --linux-source (repeatable)"
    )
    parser.add_argument(
        "--linux-source",
        type=Path,
        default=LINUX_SOURCE,
        help="the extracted linux-source-6.1 (default .cache/linux-source-6.1-drivers)",
    )
    parser.add_argument(
        "--kernel-dir", help="kernel build tree (default the newest /usr/src/linux-headers-*-amd64)"
    )
    parser.add_argument("--revision", help="measure this commit instead of the working tree")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="gupcheck parser processes (default 2)")
    parser.add_argument("--keep", type=Path, help="keep the JSON reports, the cache and the install here")
    options = parser.parse_args()
    if options.kernel_dir is None:
        trees = sorted(Path("/usr/src").glob("linux-headers-*-amd64"))
        if not trees:
            sys.exit("parse_rate: error: no /usr/src/linux-headers-*-amd64 (give --kernel-dir)")
        options.kernel_dir = str(trees[-1])
    elif not os.path.isdir(options.kernel_dir):
        sys.exit(f"parse_rate: error: --kernel-dir {options.kernel_dir}: no such folder")
    return options


def chosen_folders(options: argparse.Namespace) -> tuple[list[Folder], list[Folder]]:
    """The folders of both sets; exits 2 with one line naming the first that does not exist."""
    sets = options.set or ["out-of-tree", "in-tree"]
    outside: list[Folder] = []
    inside: list[Folder] = []
    if "out-of-tree" in sets:
        given = [item.partition(":") for item in options.out_of_tree or ()]
        pairs = [(Path(repo), sub or ".") for repo, _, sub in given] if given else list(OUT_OF_TREE)
        for repository, sub in pairs:
            path = (repository / sub).resolve()
            name = f"{repository.name}/{sub}" if sub != "." else repository.name
            outside.append(Folder(name, path, repository.resolve()))
    if "in-tree" in sets:
        for sub in options.in_tree or IN_TREE:
            inside.append(Folder(sub, (options.linux_source / sub).resolve(), options.linux_source.resolve()))
    for folder in (*outside, *inside):
        if not folder.path.is_dir():
            print(f"parse_rate: error: {folder.path}: no such folder (extract the corpus, see "
                  "/work/shared/corpus/README.md, or choose folders with --out-of-tree/--in-tree)",
                  file=sys.stderr)  # fmt: skip
            sys.exit(2)
    return outside, inside


def main() -> None:
    options = parse_options()
    outside, inside = chosen_folders(options)
    work = options.keep or Path(tempfile.mkdtemp(prefix="gupcheck-parse-rate-"))
    work.mkdir(parents=True, exist_ok=True)
    pythonpath = install_revision(options.revision, work) if options.revision else None
    described = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                               capture_output=True, text=True, check=False).stdout.strip()  # fmt: skip
    which = options.revision or described or "working tree"
    if pythonpath is None and os.environ.get("PYTHONPATH"):
        which = f"from PYTHONPATH={os.environ['PYTHONPATH']}"
    print(f"parse_rate: gupcheck {which}, headers {options.kernel_dir}")
    kernel_source = kernel_source_paths(options.kernel_dir, work)
    repo = Repository()
    for title, folders, in_tree in (("out-of-tree", outside, False), ("in-tree", inside, True)):
        if not folders:
            continue
        print(f"\n{title}: {'folder':44} files clean  exit  wall s")
        for folder in folders:
            run_folder(folder, options, work, pythonpath)
            print(f"  {folder.name[:54]:54} {folder.files:5} {folder.clean:5} {folder.status:5} "
                  f"{folder.seconds:7.1f}", flush=True)  # fmt: skip
        if in_tree:
            for path in kernel_source:
                repo.extra.setdefault(os.path.basename(path), []).append(path)
        summarise(title, folders, repo, kernel_source, in_tree)


if __name__ == "__main__":
    main()
