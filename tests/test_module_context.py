"""Issue 14, items 4 and 6: a file given alone is analysed with the rest of its module, and code the
build compiles out is named with the switch that turns it on.

Real parses throughout: the built-in kernel model, Debian's kernel headers where a test is about them,
and Kbuild itself (`make C=1 CHECK="gupcheck kbuild"`) for the checker mode.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_cli import gupcheck

from gupcheck.model.facts import HeaderMode, Side, TranslationUnitFacts
from gupcheck.pipeline.compiledout import compiled_out_notes
from gupcheck.pipeline.modulecontext import module_context

GUPCHECK = Path(sys.executable).parent / "gupcheck"

# A two-file module: the ioctl entry in pindev_main.c, the helper that keeps FOLL_GET references past
# the syscall in pindev_pages.c. GUP001 is reported at the helper's pin, and only exists when both
# files are analysed together.
PINDEV_H = """\
#ifndef PINDEV_H
#define PINDEV_H
#include <linux/types.h>
#include <linux/ioctl.h>

struct pindev_range {
	__u64 addr;
	__u32 nr_pages;
	__u32 pad;
};

#define PINDEV_IOC_REGISTER _IOW('P', 1, struct pindev_range)

int pindev_register(unsigned long addr, int nr_pages);
#endif
"""

PINDEV_MAIN = """\
#include <linux/module.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/uaccess.h>
#include "pindev.h"

static long pindev_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct pindev_range range;

	switch (cmd) {
	case PINDEV_IOC_REGISTER:
		if (copy_from_user(&range, (void __user *)arg, sizeof(range)))
			return -EFAULT;
		return pindev_register(range.addr, range.nr_pages);
	}
	return -ENOTTY;
}

static const struct file_operations pindev_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = pindev_ioctl,
};

static struct miscdevice pindev_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "pindev",
	.fops = &pindev_fops,
};
module_misc_device(pindev_misc);
MODULE_LICENSE("GPL");
"""

PINDEV_PAGES = """\
#include <linux/mm.h>
#include <linux/slab.h>
#include "pindev.h"

static struct page **pindev_pages;
static int pindev_nr;

/* Keeps the pages until the module goes: FOLL_GET references past the ioctl. */
int pindev_register(unsigned long addr, int nr_pages)
{
	struct page **pages;
	int got;

	if (pindev_pages || nr_pages <= 0 || nr_pages > 64)
		return -EINVAL;
	pages = kcalloc(nr_pages, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	got = get_user_pages_fast(addr, nr_pages, FOLL_WRITE, pages);
	if (got <= 0) {
		kfree(pages);
		return got ? got : -EFAULT;
	}
	pindev_pages = pages;
	pindev_nr = got;
	return 0;
}
"""
PIN_LINE = 19  # of get_user_pages_fast in pindev_pages.c

# A third object of the module that does not parse: a header nobody has.
PINDEV_BROKEN = """\
#include <linux/module.h>
#include "pindev_generated_config.h"

int pindev_broken_helper(void)
{
	return PINDEV_GENERATED_VALUE;
}
"""


def _pindev(folder: Path, broken: bool = False) -> Path:
    folder.mkdir(parents=True)
    (folder / "pindev.h").write_text(PINDEV_H)
    (folder / "pindev_main.c").write_text(PINDEV_MAIN)
    (folder / "pindev_pages.c").write_text(PINDEV_PAGES)
    objects = "pindev_main.o pindev_pages.o"
    if broken:
        (folder / "pindev_broken.c").write_text(PINDEV_BROKEN)
        objects += " pindev_broken.o"
    (folder / "Kbuild").write_text(f"obj-m += pindev.o\npindev-y := {objects}\n")
    return folder


def _finding_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if ": error:" in line or ": warning:" in line]


def _headers_tree() -> str:
    trees = sorted(glob.glob("/usr/src/linux-headers-*-amd64"))
    if not trees:
        pytest.skip("Debian's linux-headers-amd64 is not installed (make test installs it)")
    return trees[-1]


def test_the_pin_helper_alone_keeps_the_finding_its_sibling_entry_makes(tmp_path: Path) -> None:
    driver = _pindev(tmp_path / "pindev")
    (driver / "pindev_old.c").write_text(PINDEV_BROKEN)  # in the folder, but no object of the module
    run = gupcheck("--kernel-model", "pindev_pages.c", cwd=driver)
    assert run.returncode == 1, run.stdout + run.stderr
    assert _finding_lines(run.stdout) == [
        line for line in _finding_lines(run.stdout) if line.startswith(f"pindev_pages.c:{PIN_LINE}:")
    ]
    assert len(_finding_lines(run.stdout)) == 1 and "[GUP001]" in run.stdout
    assert "analysed with 1 other file of its module (from its Kbuild makefile)" in run.stderr
    assert "pindev_old" not in run.stdout + run.stderr
    assert "1 kernel file parsed with the built-in kernel API model" in run.stderr  # the given one

    # without its module the helper is never called from a syscall: the finding needs the context
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(driver / "pindev_pages.c", alone)
    shutil.copy(driver / "pindev.h", alone)
    lonely = gupcheck("--kernel-model", "pindev_pages.c", cwd=alone)
    assert lonely.returncode == 0 and "[GUP001]" not in lonely.stdout, lonely.stdout + lonely.stderr

    # the siblings' facts are cached like the file's own: a re-run parses nothing
    again = gupcheck("--kernel-model", "--stats", "pindev_pages.c", cwd=driver)
    assert again.returncode == 1
    assert "2 files: 0 parsed" in again.stderr and "2 from the cache" in again.stderr


def test_the_finding_is_reported_only_in_the_files_given(tmp_path: Path) -> None:
    driver = _pindev(tmp_path / "pindev")
    entry_only = gupcheck("--kernel-model", "pindev_main.c", cwd=driver)
    assert entry_only.returncode == 0, entry_only.stdout + entry_only.stderr
    assert "[GUP001]" not in entry_only.stdout and "pindev_pages.c" not in entry_only.stdout
    both = gupcheck("--kernel-model", "--format", "json", "pindev_main.c", "pindev_pages.c", cwd=driver)
    assert both.returncode == 1
    findings = json.loads(both.stdout)["findings"]
    assert [(f["ruleId"], f["path"], f["line"]) for f in findings] == [("GUP001", "pindev_pages.c", PIN_LINE)]
    assert "other file" not in both.stderr  # the whole module was given: no context to add


def test_a_sibling_that_does_not_parse_is_neither_reported_nor_counted(tmp_path: Path) -> None:
    driver = _pindev(tmp_path / "pindev", broken=True)
    whole = gupcheck("--kernel-model", ".", cwd=driver)  # given as a folder, the broken file is named
    assert "pindev_broken.c" in whole.stderr and "pindev_generated_config.h" in whole.stderr

    run = gupcheck("--kernel-model", "pindev_pages.c", cwd=driver)
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"pindev_pages.c:{PIN_LINE}:" in run.stdout
    assert "pindev_broken" not in run.stdout + run.stderr
    assert "error" not in run.stderr and "warning" not in run.stderr
    assert "analysed with 2 other files of its module" in run.stderr

    clean = gupcheck("--kernel-model", "--strict", "pindev_main.c", cwd=driver)
    assert clean.returncode == 0, clean.stdout + clean.stderr  # neither 2 (--strict) nor 3 (incomplete)


def test_the_hook_analyses_a_committed_file_with_its_module(tmp_path: Path) -> None:
    """The project's `paths` do not name the driver: its committed file still has its module."""
    project = tmp_path / "project"
    _pindev(project / "driver", broken=True)
    (project / "tools").mkdir()
    (project / "tools" / "hello.c").write_text(
        '#include <stdio.h>\nint main(void) { puts("hi"); return 0; }\n'
    )
    (project / ".gupcheck.toml").write_text('paths = ["tools"]\nkernel-model = true\n')
    run = subprocess.run(
        [str(GUPCHECK), "hook", "driver/pindev_pages.c"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert [line.split(":")[:2] for line in _finding_lines(run.stdout)] == [
        ["driver/pindev_pages.c", str(PIN_LINE)]
    ]
    assert "pindev_broken" not in run.stdout + run.stderr and "warning" not in run.stderr
    entry = subprocess.run(
        [str(GUPCHECK), "hook", "driver/pindev_main.c"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert entry.returncode == 0 and _finding_lines(entry.stdout) == [], entry.stdout + entry.stderr


@pytest.mark.skipif(shutil.which("make") is None, reason="make is needed for Kbuild")
def test_kbuild_checks_each_object_with_the_others_of_its_module(tmp_path: Path) -> None:
    """Kbuild runs the checker on one object at a time, with its flags: the finding the entry in one
    object makes with the helper in the other is reported once, when the helper's object is checked."""
    tree = _headers_tree()
    driver = _pindev(tmp_path / "pindev")
    every = _make(tree, driver)  # a first build: every object is compiled, so checked
    assert every.returncode == 0, every.stdout[-3000:]
    lines = every.stdout.splitlines()
    checks = [index for index, line in enumerate(lines) if line.strip().startswith("CHECK ")]
    assert [lines[index].split()[-1] for index in checks] == [
        f"{driver}/pindev_main.c",
        f"{driver}/pindev_pages.c",
    ]
    flagged = [index for index, line in enumerate(lines) if ": error:" in line or ": warning:" in line]
    assert len(flagged) == 1, every.stdout
    assert (
        lines[flagged[0]].startswith(f"{driver}/pindev_pages.c:{PIN_LINE}:")
        and "[GUP001]" in lines[flagged[0]]
    )
    assert flagged[0] > checks[1]  # printed by the helper's check, not the entry's
    assert "built-in kernel API model" not in every.stdout  # Kbuild's own flags and headers

    # C=1 checks only what is rebuilt: the entry's object alone has nothing to report ...
    os.utime(driver / "pindev_main.c")
    entry = _make(tree, driver, werror=True)
    assert entry.returncode == 0, entry.stdout[-3000:]
    assert f"CHECK   {driver}/pindev_main.c" in entry.stdout and "pindev_pages.c" not in entry.stdout
    # ... and the helper's alone still has its finding, which --werror makes fail the build
    os.utime(driver / "pindev_pages.c")
    helper = _make(tree, driver, werror=True)
    assert helper.returncode != 0
    assert f"pindev_pages.c:{PIN_LINE}:" in helper.stdout and "[GUP001]" in helper.stdout


def _make(tree: str, driver: Path, werror: bool = False) -> subprocess.CompletedProcess:
    """`make C=1 CHECK="gupcheck kbuild"` for the module, standard error merged into standard output
    in order. (--werror by the environment: a changed CHECK command would rebuild every object.)"""
    return subprocess.run(
        ["make", "-C", tree, f"M={driver}", "C=1", f"CHECK={GUPCHECK} kbuild"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
        env={**os.environ, "GUPCHECK_KBUILD_WERROR": "1" if werror else ""},
    )


# -- code compiled out ---------------------------------------------------------------------------------

SWITCHED = """\
#include <linux/module.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/slab.h>

static struct page **sw_kept;

static long sw_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct page **pages = kcalloc(4, sizeof(*pages), GFP_KERNEL);
	int got = 0;

	if (!pages)
		return -ENOMEM;
#ifdef CONFIG_FOO
	got = pin_user_pages_fast(arg, 4, FOLL_WRITE, pages);
#endif
	if (got <= 0) {
		kfree(pages);
		return -EFAULT;
	}
	sw_kept = pages;
	return 0;
}

static const struct file_operations sw_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = sw_ioctl,
};

static struct miscdevice sw_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "switched",
	.fops = &sw_fops,
};
module_misc_device(sw_misc);
MODULE_LICENSE("GPL");
"""
SWITCHED_PIN_LINE = 17


@pytest.mark.parametrize("headers", ["model", "debian"])
def test_a_pin_call_compiled_out_is_named_with_its_switch(tmp_path: Path, headers: str) -> None:
    mode = ["--kernel-model"] if headers == "model" else ["--kernel-dir", _headers_tree()]
    where = "in the built-in kernel model" if headers == "model" else "in this kernel tree"
    (tmp_path / "switched.c").write_text(SWITCHED)
    run = gupcheck(*mode, "switched.c", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr  # a note changes no exit status
    notes = [line for line in run.stderr.splitlines() if "CONFIG_FOO" in line]
    assert notes == [
        f"gupcheck: note: {tmp_path}/switched.c: `CONFIG_FOO` is not set {where}: 1 pin call not analysed "
        f"(line {SWITCHED_PIN_LINE}; turn it on with -D CONFIG_FOO)"
    ]
    quiet = gupcheck(*mode, "-q", "switched.c", cwd=tmp_path)
    assert "CONFIG_FOO" not in quiet.stderr

    switched_on = gupcheck(*mode, "-D", "CONFIG_FOO", "switched.c", cwd=tmp_path)
    assert switched_on.returncode == 1, switched_on.stdout + switched_on.stderr
    assert f"switched.c:{SWITCHED_PIN_LINE}:" in switched_on.stdout and "[GUP001]" in switched_on.stdout
    assert "CONFIG_FOO" not in switched_on.stderr


def test_sarif_lists_the_compiled_out_call_as_a_note(tmp_path: Path) -> None:
    (tmp_path / "switched.c").write_text(SWITCHED)
    run = gupcheck("--kernel-model", "--format", "sarif", "switched.c", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    notifications = json.loads(run.stdout)["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    noted = [n for n in notifications if "CONFIG_FOO" in n["message"]["text"]]
    assert len(noted) == 1 and noted[0]["level"] == "note"


BRANCHES = """\
#include <linux/mm.h>
#include <linux/uaccess.h>
#define LINUX_VERSION_CODE 0x060100
#define CONFIG_PRESENT 1
#define DRIVER_DEBUG 1
/* get_user_pages_fast( in a comment is no call */
static const char *text = "copy_to_user(";

int branches(unsigned long addr, struct page **pages, void __user *u, int *v)
{
	int ret = 0;
#ifdef CONFIG_ABSENT
	ret += get_user_pages_fast(addr, 1, 0, pages);
	ret += pin_user_pages(addr, 1, 0, pages, NULL);
#endif
#ifndef DRIVER_DEBUG
	ret += copy_from_user(v, u, 4);
#endif
#ifdef CONFIG_PRESENT
	ret += get_user(*v, (int __user *)u);
#else
	ret += remap_pfn_range(NULL, 0, 0, 0, PAGE_SHARED);
#endif
#if defined(CONFIG_A) && \\
    defined(CONFIG_B)
	ret += put_user(1, (int __user *)u);
#elif defined(CONFIG_PRESENT)
	ret += 1;
#else
	ret += clear_user(u, 4);
#endif
#if LINUX_VERSION_CODE < 0x050600
	ret += get_user_pages_fast(addr, 1, 0, pages);
#endif
#if 0
	ret += get_user_pages_fast(addr, 1, 0, pages);
#endif
#ifdef CONFIG_NO_CALLS
	ret += 2;
#endif
	return ret;
}
"""


def test_each_skipped_branch_names_the_directive_that_decided_it(kernel_facts) -> None:
    unit = kernel_facts(BRANCHES)
    found = {
        (branch.line, branch.macro, branch.is_set, branch.taken): [
            (c.family, c.name, c.line) for c in branch.calls
        ]
        for branch in unit.compiled_out
    }
    assert found == {
        (12, "CONFIG_ABSENT", False, False): [
            ("pin", "get_user_pages_fast", 13),
            ("pin", "pin_user_pages", 14),
        ],
        (16, "DRIVER_DEBUG", True, False): [("uaccess", "copy_from_user", 17)],
        (21, "CONFIG_PRESENT", True, True): [("mmap", "remap_pfn_range", 22)],  # the #else of a taken #ifdef
        (24, "CONFIG_A", None, False): [("uaccess", "put_user", 26)],  # a longer test, named whole
        (29, "CONFIG_PRESENT", True, True): [("uaccess", "clear_user", 30)],  # the #elif before it was taken
        (32, "LINUX_VERSION_CODE", None, False): [("pin", "get_user_pages_fast", 33)],
    }  # `#if 0` and a branch without such calls are not recorded
    notes = sorted(problem.message for problem in compiled_out_notes(unit))
    assert all(
        problem.note and not problem.fatal and problem.path == unit.path
        for problem in compiled_out_notes(unit)
    )
    model = "in the built-in kernel model"
    assert notes == sorted(
        [
            f"`CONFIG_ABSENT` is not set {model}: 2 pin calls not analysed (lines 13, 14; "
            "turn it on with -D CONFIG_ABSENT)",
            f"`DRIVER_DEBUG` is set {model}: 1 uaccess call not analysed "
            "(line 17; turn it off with -U DRIVER_DEBUG)",
            f"`CONFIG_PRESENT` is set {model}: 1 mmap-export call and 1 uaccess call not analysed "
            "(lines 22, 30)",
            f"`#if defined(CONFIG_A) && defined(CONFIG_B)` is false {model}: 1 uaccess call "
            "in it not analysed (line 26; its macros, such as CONFIG_A, can be set with -D or unset with -U)",
        ]
    )  # a version test has its twin in the branch taken: no note


def test_the_module_context_is_bounded_with_a_note(tmp_path: Path) -> None:
    for index in range(8):
        (tmp_path / f"part{index}.c").write_text(f"int part{index};\n")
    given = str(tmp_path / "part0.c")
    asked: list[str] = []
    context = module_context([given], [given], lambda path: asked.append(path) or True, budget=3)
    assert context.files == [str(tmp_path / f"part{index}.c") for index in (1, 2, 3)]
    assert asked == context.files  # nothing past the budget is even configured
    assert [(note.path, note.message) for note in context.notes] == [
        (
            given,
            "analysed with 3 other files of its module (from its folder) as context; findings are reported "
            "only in the files given (the context was cut at 3 files: 4 more not analysed)",
        )
    ]
    unit = TranslationUnitFacts(given, Side.KERNEL, HeaderMode.KERNEL_MODEL)
    assert compiled_out_notes(unit) == []


def test_a_userland_file_given_alone_gets_no_module_context(tmp_path: Path) -> None:
    (tmp_path / "app.c").write_text('#include <stdio.h>\nint main(void) { puts("hi"); return 0; }\n')
    (tmp_path / "other.c").write_text(textwrap.dedent(PINDEV_PAGES.replace('#include "pindev.h"\n', "")))
    run = gupcheck("--kernel-model", "--stats", "app.c", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "other.c" not in run.stderr and "no findings in 1 file analysed" in run.stdout
