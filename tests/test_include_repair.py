"""Issue 14, item 3: a driver's own headers are found where its Makefile would have pointed the compiler.

Driver trees are written in each test and parsed for real with libclang (the built-in kernel model
for speed, the system headers for userland, Debian's kernel headers for the end-to-end runs on real
out-of-tree drivers extracted under /tmp/corp; those skip when absent).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
from pathlib import Path

import pytest
from test_cli import gupcheck

from gupcheck.frontend.buildconfig import BuildConfig, FileConfig
from gupcheck.frontend.includes import Budgets, IncludeRepairer
from gupcheck.frontend.parse import extract_facts
from gupcheck.model.facts import Side

HEADERS = sorted(p for p in glob.glob("/usr/src/linux-headers-*-amd64") if os.path.isfile(p + "/Makefile"))
CORPUS = Path("/tmp/corp")

UAPI_HEADER = """\
#ifndef DRV_UAPI_H
#define DRV_UAPI_H
#include <linux/types.h>
#include <linux/ioctl.h>
struct drv_range { __u64 addr; __u32 len; __u32 flags; };
#define DRV_IOC_MAP _IOW('d', 1, struct drv_range)
#endif
"""

KERNEL_FILE = """\
#include <linux/module.h>
#include <linux/fs.h>
#include <linux/uaccess.h>
#include "drv_uapi.h"

static long drv_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
	struct drv_range r;

	if (cmd != DRV_IOC_MAP)
		return -EINVAL;
	if (copy_from_user(&r, (void __user *)arg, sizeof(r)))
		return -EFAULT;
	return r.len ? 0 : -EINVAL;
}

MODULE_LICENSE("GPL");
"""

USER_FILE = """\
#include <errno.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <drv_uapi.h>

int main(void)
{
	struct drv_range r = { .addr = 0, .len = 4096 };

	if (ioctl(3, DRV_IOC_MAP, &r) < 0)
		return errno;
	printf("%u\\n", r.len);
	return 0;
}
"""


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def parse_errors(config: FileConfig) -> list[str]:
    return [diagnostic.message for diagnostic in extract_facts(config).errors]


def without(config: FileConfig, added: list[str]) -> FileConfig:
    """The same configuration without the repaired folders."""
    args = list(config.args)
    for folder in added:
        at = args.index(folder)
        del args[at - 1 : at + 1]
    return FileConfig(config.path, tuple(args), config.mode, config.side, config.directory)


@pytest.mark.parametrize(
    ("header_at", "side", "option"),
    [
        ("include/drv_uapi.h", Side.KERNEL, "-I"),  # the driver's ../include
        ("common/drv_uapi.h", Side.KERNEL, "-I"),  # a sibling folder
        ("include/drv_uapi.h", Side.USERLAND, "-idirafter"),  # its userland, by <name>
    ],
)
def test_a_header_in_include_or_a_sibling_folder_parses_after_repair(
    tmp_path: Path, header_at: str, side: Side, option: str
) -> None:
    project = tmp_path / "drv"
    source = "kernel/drv_main.c" if side is Side.KERNEL else "tools/drv_user.c"
    write(project, {"README": "", header_at: UAPI_HEADER})
    if side is Side.KERNEL:
        write(project, {source: KERNEL_FILE})
    else:  # the driver's own errno.h must not hide the C library's
        write(project, {source: USER_FILE, "include/errno.h": '#error "the driver errno.h was taken"\n'})
    config = BuildConfig(use_model=True)
    file_config = config.config_for(str(project / source))
    assert file_config.side is side

    repair = config.include_repair.repairs_for(str(project / source))
    assert repair is not None and repair.tree == str(project)
    folder = str((project / header_at).parent)
    assert [(added.folder, added.header) for added in repair.added] == [(folder, "drv_uapi.h")]
    assert [option, folder] == list(file_config.args[-2:])
    assert any(folder in line and "drv_uapi.h" in line for line in repair.describe())
    assert parse_errors(file_config) == []
    # the test can fail: without the repaired folder the header is missing
    assert "'drv_uapi.h' file not found" in parse_errors(without(file_config, [folder]))


def test_the_nearest_candidate_wins(tmp_path: Path) -> None:
    wrong = '#error "the farther copy was taken"\n'
    project = tmp_path / "proj"
    write(
        project,
        {
            "README": "",
            "drv/main.c": '#include "cfg.h"\n#include "shared.h"\nint value = CFG_VALUE + SHARED_VALUE;\n',
            # cfg.h: drv/include (1 step) beats proj/include (2) and proj/lib/x (3)
            "drv/include/cfg.h": "#define CFG_VALUE 1\n",
            "include/cfg.h": wrong,
            "lib/x/cfg.h": wrong,
            # shared.h: only found by the walk; proj/common (2 steps) beats proj/vendor/y/common (4)
            "common/shared.h": "#define SHARED_VALUE 2\n",
            "vendor/y/common/shared.h": wrong,
        },
    )
    config = BuildConfig(use_model=True)
    main = str(project / "drv" / "main.c")
    file_config = config.config_for(main)
    repair = config.include_repair.repairs_for(main)
    assert repair is not None
    assert [(added.header, added.folder, added.how) for added in repair.added] == [
        ("cfg.h", str(project / "drv" / "include"), "an include/ folder"),
        ("shared.h", str(project / "common"), "found in the tree"),
    ]
    assert parse_errors(file_config) == []


def test_a_header_nobody_has_is_named_once_per_tree(tmp_path: Path) -> None:
    project = tmp_path / "drv"
    write(
        project,
        {
            "configure.ac": "",
            "a.c": '#include "config.h"\n#include <linux/module.h>\nMODULE_LICENSE("GPL");\n',
            "b.c": '#include "config.h"\n#include "drv_autogen.h"\n#include <linux/module.h>\n',
            # ruled out by the command line: no note, no search
            "c.c": '#ifdef HAVE_CONFIG_H\n#include "version.h"\n#endif\n#include <linux/module.h>\n',
        },
    )
    other = tmp_path / "other"
    write(other, {"Makefile": "", "d.c": '#include "config.h"\n#include <linux/module.h>\n'})
    config = BuildConfig(use_model=True)
    for path in (project / "a.c", project / "b.c", project / "c.c", other / "d.c"):
        config.config_for(str(path))
    assert (
        config.notes.count(
            f"{project}: needs generated header config.h: run the driver's configure or give -p"
        )
        == 1
    )
    assert (
        f"{project}: needs generated header drv_autogen.h: run the driver's configure or give -p"
        in config.notes
    )
    assert f"{other}: needs generated header config.h: run the driver's configure or give -p" in config.notes
    assert not any("version.h" in note for note in config.notes)
    repair = config.include_repair.repairs_for(str(project / "b.c"))
    assert repair is not None and [(m.header, m.generated) for m in repair.missing] == [
        ("config.h", True),
        ("drv_autogen.h", True),
    ]

    # a run prints it once, as a note
    done = gupcheck("--kernel-model", str(project), cwd=tmp_path)
    notes = [line for line in done.stderr.splitlines() if "needs generated header config.h" in line]
    assert notes == [
        f"gupcheck: note: {project}: needs generated header config.h: run the driver's configure or give -p"
    ]


def test_a_symlink_loop_ends_and_the_header_is_still_found(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    write(
        project,
        {
            "Makefile": "",
            "drv/main.c": '#include "deep.h"\nint x = DEEP;\n',
            "lib/q/deep.h": "#define DEEP 3\n",
        },
    )
    (project / "lib" / "loop").symlink_to("..")  # lib/loop -> proj
    (project / "lib" / "q" / "back").symlink_to(project / "lib")
    (project / "outside").symlink_to("/")  # leaves the tree: not followed
    config = BuildConfig(use_model=True)
    file_config = config.config_for(str(project / "drv" / "main.c"))
    repair = config.include_repair.repairs_for(str(project / "drv" / "main.c"))
    assert repair is not None and [added.folder for added in repair.added] == [str(project / "lib" / "q")]
    assert repair.cut == ()
    assert parse_errors(file_config) == []


def test_deep_nesting_stops_the_walk_with_a_note(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    deep = project.joinpath(*[f"d{i}" for i in range(Budgets().walk_depth + 4)])
    write(project, {"Makefile": "", "main.c": '#include "buried.h"\n'})
    deep.mkdir(parents=True)
    (deep / "buried.h").write_text("#define BURIED 1\n")
    config = BuildConfig(use_model=True)
    config.config_for(str(project / "main.c"))
    repair = config.include_repair.repairs_for(str(project / "main.c"))
    assert repair is not None and repair.added == ()
    assert [m.header for m in repair.missing] == ["buried.h"]
    note = f"{project}: include search stopped {Budgets().walk_depth} folders deep"
    assert config.notes.count(note) == 1
    config.config_for(str(project / "main.c"))
    assert config.notes.count(note) == 1  # once per tree


def test_a_huge_tree_and_a_deep_header_chain_stop_at_their_budgets(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    files = {"Makefile": "", "main.c": '#include "h0.h"\n#include "far.h"\n'}
    files.update({f"bulk/f{i}.txt": "" for i in range(300)})
    files.update({f"h{i}.h": f'#include "h{i + 1}.h"\n' for i in range(12)})  # a chain 12 deep
    files["h12.h"] = '#include "h0.h"\n'  # and back: a loop
    files["zz/far.h"] = ""
    write(project, files)
    notes: list[str] = []
    repairer = IncludeRepairer(notes, Budgets(walk_entries=100, scan_depth=8))
    repair = repairer.repair(str(project / "main.c"), None, ["-nostdinc"])
    assert [m.header for m in repair.missing] == ["far.h"]
    assert f"{project}: include search stopped after 100 entries of the tree" in notes
    assert any(note.startswith(f"{project}: include scan stopped at 8 nested headers") for note in notes)
    # with the default budgets the same tree is searched whole, and the loop of headers ends
    whole = IncludeRepairer().repair(str(project / "main.c"), None, ["-nostdinc"])
    assert [added.folder for added in whole.added] == [str(project / "zz")] and whole.cut == ()


def test_kernel_headers_are_never_repaired_from_the_driver_tree(tmp_path: Path) -> None:
    project = tmp_path / "drv"
    write(
        project,
        {
            "Makefile": "",
            "include/linux/drv_private.h": "#define DRV_PRIVATE 1\n",
            "include/asm/drv_arch.h": "#define DRV_ARCH 1\n",
            "src/main.c": "#include <linux/module.h>\n#include <linux/drv_private.h>\n"
            '#include "asm/drv_arch.h"\n',
        },
    )
    config = BuildConfig(use_model=True)
    file_config = config.config_for(str(project / "src" / "main.c"))
    repair = config.include_repair.repairs_for(str(project / "src" / "main.c"))
    assert repair is not None and repair.added == () and repair.missing == ()
    assert not any(str(project) in arg for arg in file_config.args)
    assert "'linux/drv_private.h' file not found" in parse_errors(file_config)


@pytest.mark.skipif(not HEADERS, reason="no /usr/src/linux-headers-*-amd64 (run scripts/setup-kernel.sh)")
@pytest.mark.parametrize(
    ("repository", "module", "header", "folder"),
    [
        ("hpc+xpmem", "kernel", "xpmem_internal.h", "include"),
        ("zrlio+softiwarp", "kernel", "siw_user.h", "common"),
    ],
)
def test_real_out_of_tree_drivers_find_their_own_headers(
    tmp_path: Path, repository: str, module: str, header: str, folder: str
) -> None:
    """The driver's sources as they are, without the makefiles that name its include folder (so the
    repair, not the Kbuild reader, has to find it)."""
    if not (CORPUS / repository / module).is_dir():
        pytest.skip(f"{CORPUS / repository} not extracted (see /work/shared/corpus/README.md)")
    copy = tmp_path / repository
    shutil.copytree(CORPUS / repository, copy, ignore=shutil.ignore_patterns("Makefile*", "Kbuild*"))
    target = copy / module
    sources = sorted(glob.glob(f"{target}/*.c"))
    report = tmp_path / "report.json"
    done = gupcheck("--format", "json", "-o", str(report), "--kernel-dir", HEADERS[-1], "--cache-dir",
                    str(tmp_path / "cache"), "-j", "2", str(target), cwd=tmp_path)  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    data = json.loads(report.read_text())
    assert data["filesAnalysed"] == len(sources)
    messages = [problem["message"] for problem in data["problems"]]
    assert not any("file not found" in message for message in messages), messages

    shown = gupcheck("--show-config", "--kernel-dir", HEADERS[-1], str(target), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.count(f"  include repairs:\n    -I {copy / folder}  (repaired: ") == len(sources)

    config = BuildConfig(kernel_dir=HEADERS[-1])
    file_config = config.config_for(sources[0])
    repair = config.include_repair.repairs_for(sources[0])
    assert repair is not None and repair.tree == str(copy)
    assert [(added.folder, added.header) for added in repair.added] == [(str(copy / folder), header)]
    # without the repaired folder the driver's own header is missing (gupcheck before issue 14)
    assert any(header in message for message in parse_errors(without(file_config, [str(copy / folder)])))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_among_the_headers_does_not_block_the_run(tmp_path: Path) -> None:
    """The include scan runs in the main process, before any parser and its timeout: a FIFO named like
    a header (or a makefile) must not be opened for reading there, or the whole run waits forever."""
    os.mkfifo(tmp_path / "never.h")
    os.mkfifo(tmp_path / "Kbuild")
    (tmp_path / "waits.c").write_text(
        '#include <linux/module.h>\n#include "never.h"\n#include "missing.h"\nMODULE_LICENSE("GPL");\n'
    )
    run = gupcheck("--kernel-model", "--no-cache", "--timeout", "5", str(tmp_path))  # its own limit: 300 s
    assert run.returncode in (2, 3), run.stdout + run.stderr  # the parser gave up on the FIFO, nothing hung
    assert "waits.c" in run.stderr
