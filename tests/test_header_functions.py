"""Functions defined in the analysed code's own headers (a driver's `static inline` accessors in its
`foo.h`) are walked with the files that include them and are part of the program once; functions of
the kernel's headers are not. Real libclang parses of small driver trees written here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gupcheck.frontend import pch
from gupcheck.frontend import unit as unit_module
from gupcheck.frontend.buildconfig import BuildConfig, FileConfig, model_args, model_include_dir
from gupcheck.frontend.ownfiles import OwnFiles
from gupcheck.frontend.parse import extract_facts
from gupcheck.model.facts import HeaderMode, NodeKind, Side
from gupcheck.model.program import Program
from gupcheck.pipeline.engine import analyse
from gupcheck.rules import ALL_RULES

HEADER = """\
#ifndef RINGDRV_H
#define RINGDRV_H
#include <linux/types.h>
#include <linux/uaccess.h>

struct ring_req {
	__u32 len;
	__u64 data;
};

static inline int ring_req_len(struct ring_req __user *ureq, __u32 *len)
{
	return get_user(*len, &ureq->len);  /* fetch */
}

static inline void ring_fill(void *dst, const void __user *src, unsigned long n)
{
	copy_from_user(dst, src, n);  /* ignored */
}
#endif
"""

SOURCE = """\
#include <linux/module.h>
#include <linux/fs.h>
#include "ringdrv.h"

static long NAME_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct ring_req __user *ureq = (void __user *)arg;
	char buf[16];
	__u32 len;

	if (ring_req_len(ureq, &len))
		return -EFAULT;
	ring_fill(buf, ureq, sizeof(buf));
	return len;
}

static const struct file_operations NAME_fops = {
	.unlocked_ioctl = NAME_ioctl,
};
MODULE_LICENSE("GPL");
"""


def driver(folder: Path, header: str = HEADER, names: tuple[str, ...] = ("ringa", "ringb")) -> Path:
    """A driver folder: `ringdrv.h` and one .c a name, each including it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ringdrv.h").write_text(header)
    for name in names:
        (folder / f"{name}.c").write_text(SOURCE.replace("NAME", name))
    (folder / "Kbuild").write_text("".join(f"obj-m += {name}.o\n" for name in names))
    return folder


def line_of(text: str, marker: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), 1) if marker in line)


def model_config(path: Path) -> FileConfig:
    return FileConfig(
        str(path), tuple(model_args(str(path))), HeaderMode.KERNEL_MODEL, Side.KERNEL, str(path.parent)
    )


def debian_headers() -> str:
    tree = "/lib/modules/6.1.0-57-amd64/build"
    if not os.path.isdir(tree):
        pytest.skip("Debian's 6.1.0-57-amd64 headers are not installed")
    return tree


def test_a_header_function_is_walked_with_its_file_and_located_in_the_header(tmp_path: Path) -> None:
    folder = driver(tmp_path / "drv")
    header = str(folder / "ringdrv.h")
    facts = extract_facts(model_config(folder / "ringa.c"))
    by_name = {fn.name: fn for fn in facts.functions}
    assert set(by_name) == {"ringa_ioctl", "ring_req_len", "ring_fill"}
    fetch = by_name["ring_req_len"]
    assert fetch.file == header and fetch.key == f"{header}:ring_req_len" and fetch.is_static
    assert fetch.location.path == header and fetch.location.line == line_of(HEADER, "ring_req_len(")
    # the macro use inside the header function is recognised as in the main file, located in the header
    (call,) = [call for node in fetch.nodes for call in node.calls]
    assert call.callee == "get_user"
    assert call.location.path == header and call.location.line == line_of(HEADER, "/* fetch */")
    # the header's text is read: the return statement's text is the header's
    (ret,) = [node for node in fetch.nodes if node.kind == NodeKind.RETURN]
    assert ret.text == "return get_user(*len, &ureq->len)"
    assert by_name["ringa_ioctl"].file == str(folder / "ringa.c")


def test_a_header_function_included_by_two_files_is_one_function_both_calls_reach(tmp_path: Path) -> None:
    folder = driver(tmp_path / "drv")
    header = str(folder / "ringdrv.h")
    analysis = analyse([str(folder)], ALL_RULES, use_model=True)
    assert len(analysis.units) == 2
    assert all(any(fn.name == "ring_fill" for fn in unit.functions) for unit in analysis.units)
    program = Program(analysis.units)
    fills = [fn for fn in program.functions.values() if fn.name == "ring_fill"]
    assert [fn.key for fn in fills] == [f"{header}:ring_fill"]
    for name in ("ringa", "ringb"):
        caller = program.functions[f"{folder / name}.c:{name}_ioctl"]
        calls = [call for node in caller.nodes for call in node.calls if call.callee == "ring_fill"]
        (call,) = calls
        assert program.callee(caller, call) is fills[0]  # the one function, not a copy
    assert [ref.caller.name for ref in program.callers(fills[0])] == ["ringa_ioctl", "ringb_ioctl"]


def test_a_static_header_function_is_not_reached_from_a_file_that_does_not_include_it(tmp_path: Path) -> None:
    folder = driver(tmp_path / "drv", names=("ringa",))
    (folder / "plain.c").write_text(
        "#include <linux/module.h>\nvoid ring_fill(void *dst, const void *src, unsigned long n);\n"
        "void plain_use(void *d) { ring_fill(d, 0, 1); }\n"
    )
    program = Program(analyse([str(folder)], ALL_RULES, use_model=True).units)
    caller = program.functions["plain_use"]
    (call,) = [call for node in caller.nodes for call in node.calls if call.callee == "ring_fill"]
    assert program.callee(caller, call) is None


def test_a_finding_in_a_header_function_points_at_the_header_once(tmp_path: Path) -> None:
    folder = driver(tmp_path / "drv")
    analysis = analyse([str(folder)], ALL_RULES, use_model=True)
    ignored = [f for f in analysis.findings if f.rule_id == "GUP005" and "ignored" in f.message]
    assert [(f.location.path, f.location.line) for f in ignored] == [
        (str(folder / "ringdrv.h"), line_of(HEADER, "/* ignored */"))
    ]


def test_the_kernels_own_inline_functions_are_not_walked(tmp_path: Path, monkeypatch) -> None:
    tree = debian_headers()
    folder = driver(tmp_path / "drv", names=("ringa",))
    config = BuildConfig(kernel_dir=tree).config_for(str(folder / "ringa.c"))
    assert config.mode is HeaderMode.KERNEL_TREE
    stood_in = pch.outcomes["stood in"]
    with_pch = extract_facts(config, cache_dir=str(tmp_path / "cache"))
    assert pch.outcomes["stood in"] == stood_in + 1  # the driver's header is not in the PCH: it is walked
    monkeypatch.setenv("GUPCHECK_NO_PCH", "1")
    without_pch = extract_facts(config)
    for facts in (with_pch, without_pch):
        assert not facts.errors, [d.message for d in facts.errors]
        assert sorted(fn.name for fn in facts.functions) == ["ring_fill", "ring_req_len", "ringa_ioctl"]
        assert {fn.file for fn in facts.functions} == {str(folder / "ringa.c"), str(folder / "ringdrv.h")}
        # the kernel's static inlines the file reaches (copy_from_user in linux/uaccess.h) stay out
        assert any(header.endswith("/linux/uaccess.h") for header in facts.headers)
    assert [(fn.key, fn.location, len(fn.nodes)) for fn in with_pch.functions] == [
        (fn.key, fn.location, len(fn.nodes)) for fn in without_pch.functions
    ]


def test_which_files_are_the_codes_own(tmp_path: Path) -> None:
    source = tmp_path / "linux"  # a kernel source tree with an in-tree driver
    for name in ("include/linux/kconfig.h", "include/linux/ring.h", "arch/x86/include/asm/ring.h"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text("\n")
    in_tree = source / "drivers" / "misc" / "ring"
    in_tree.mkdir(parents=True)
    (source / "drivers" / "misc" / "shared.h").write_text("\n")
    outside = tmp_path / "outoftree"
    (outside / "include").mkdir(parents=True)
    system = tmp_path / "builtin"
    own_in_tree = OwnFiles(
        FileConfig(
            str(in_tree / "ring.c"),
            ("-isystem", str(system)),
            HeaderMode.KERNEL_TREE,
            Side.KERNEL,
            str(in_tree),
        )
    )
    assert own_in_tree(str(in_tree / "ring.h"))
    assert own_in_tree(str(in_tree / ".." / "shared.h"))
    assert own_in_tree(str(in_tree / "ring_helpers.c"))  # a C file it #includes
    assert not own_in_tree(str(in_tree / "ring.c"))
    assert not own_in_tree(str(source / "include" / "linux" / "ring.h"))
    assert not own_in_tree(str(source / "arch" / "x86" / "include" / "asm" / "ring.h"))
    assert not own_in_tree(str(system / "stddef.h"))
    own_outside = OwnFiles(model_config(outside / "ring.c"))
    assert own_outside(str(outside / "include" / "ring.h"))
    assert not own_outside(str(source / "drivers" / "misc" / "shared.h"))  # another kernel tree's file
    assert not own_outside(os.path.join(model_include_dir(), "linux", "uaccess.h"))
    assert not own_outside("/usr/include/stdio.h")


def test_header_functions_beyond_the_budget_are_named_not_walked(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(unit_module, "MAX_OWN_FILE_FUNCTIONS", 1)
    folder = driver(tmp_path / "drv", names=("ringa",))
    facts = extract_facts(model_config(folder / "ringa.c"))
    assert sorted(fn.name for fn in facts.functions) == ["ring_req_len", "ringa_ioctl"]
    assert facts.skipped == [
        "1 functions of the code's own headers not analysed (at most 1 a translation unit)"
    ]


def test_editing_the_driver_header_makes_the_cached_facts_stale(tmp_path: Path) -> None:
    tree = debian_headers()
    cache = str(tmp_path / "cache")
    checked = HEADER.replace(
        "\tcopy_from_user(dst, src, n);  /* ignored */", "\tif (copy_from_user(dst, src, n))\n\t\treturn;"
    )
    folder = driver(tmp_path / "drv", header=checked, names=("ringa",))

    def run() -> tuple[str, list[tuple[str, int]]]:
        analysis = analyse([str(folder)], ALL_RULES, kernel_dir=tree, cache_dir=cache)
        (entry,) = analysis.stats.files
        found = [(f.location.path, f.location.line) for f in analysis.findings if f.rule_id == "GUP005"]
        return entry.origin, found

    assert run() == ("parsed", [])
    assert run() == ("cache", [])
    (folder / "ringdrv.h").write_text(HEADER)  # the accessor now ignores the copy's result
    header = str(folder / "ringdrv.h")
    assert run() == ("parsed", [(header, line_of(HEADER, "/* ignored */"))])
    assert run() == ("cache", [(header, line_of(HEADER, "/* ignored */"))])


def test_a_header_included_through_a_relative_path_is_one_file(tmp_path: Path) -> None:
    folder = tmp_path / "drv"
    (folder / "core").mkdir(parents=True)
    (folder / "include").mkdir()
    (folder / "include" / "ringdrv.h").write_text(HEADER)
    (folder / "core" / "ringa.c").write_text(
        SOURCE.replace("NAME", "ringa").replace('"ringdrv.h"', '"../include/ringdrv.h"')
    )
    (folder / "ringb.c").write_text(
        SOURCE.replace("NAME", "ringb").replace('"ringdrv.h"', '"include/ringdrv.h"')
    )
    program = Program(analyse([str(folder)], ALL_RULES, use_model=True).units)
    header = str(folder / "include" / "ringdrv.h")
    assert sorted(fn.key for fn in program.functions.values() if fn.file == header) == [
        f"{header}:ring_fill",
        f"{header}:ring_req_len",
    ]
    fill = program.functions[f"{header}:ring_fill"]
    assert sorted(ref.caller.name for ref in program.callers(fill)) == ["ringa_ioctl", "ringb_ioctl"]


def test_only_the_header_functions_a_file_can_reach_are_walked(tmp_path: Path) -> None:
    folder = tmp_path / "drv"
    folder.mkdir()
    (folder / "reach.h").write_text(
        "#include <linux/types.h>\n"
        "static inline u32 reach_low(u32 v) { return v & 0xff; }\n"  # reached from reach_mid only
        "static inline u32 reach_mid(u32 v) { return reach_low(v) + 1; }\n"  # reached through a macro
        "#define REACH(v) reach_mid(v)\n"
        "static inline u32 reach_cb(u32 v) { return v; }\n"  # named, not called: its address is taken
        "static inline u32 reach_dead(u32 v) { return v - 1; }\n"  # named by nothing here
    )
    (folder / "reach.c").write_text(
        '#include <linux/module.h>\n#include "reach.h"\n'
        "static u32 (*reach_hook)(u32) = reach_cb;\n"
        "u32 reach_use(u32 v) { return REACH(v) + reach_hook(v); }\n"
    )
    facts = extract_facts(model_config(folder / "reach.c"))
    assert sorted(fn.name for fn in facts.functions) == ["reach_cb", "reach_low", "reach_mid", "reach_use"]
