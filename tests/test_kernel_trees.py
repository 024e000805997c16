"""Finding installed kernel trees, the user's own flags, and `--show-config`.

The search-order tests build their own /lib/modules and /usr/src layouts in a temporary folder from
Debian's real linux-headers (a folder per version whose Makefile, include/ and arch/ are the real
tree's), so what this machine has installed never decides whether they pass.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
from test_cli import gupcheck

from gupcheck.frontend import buildconfig, kerneltrees
from gupcheck.frontend.buildconfig import BuildConfig, ConfigError, KernelTree, load_compile_commands
from gupcheck.frontend.kerneltrees import SearchRoots, find_kernel_tree, version_key
from gupcheck.frontend.parse import extract_facts
from gupcheck.frontend.userflags import FlagSet, Override, UserFlags
from gupcheck.model.facts import HeaderMode, Side
from gupcheck.pipeline.engine import analyse
from gupcheck.rules import ALL_RULES

HEADERS = sorted(p for p in glob.glob("/usr/src/linux-headers-*-amd64") if os.path.isfile(p + "/Makefile"))
needs_headers = pytest.mark.skipif(not HEADERS, reason="Debian's linux-headers-amd64 is not installed")
RUNNING = "0.0.0-gupcheck-test-running"  # a running kernel release no layout has, unless a test adds it


def real_tree() -> KernelTree:
    return KernelTree.detect(HEADERS[-1])


def install_tree(usr_src: Path, version: str) -> Path:
    """/usr/src/linux-headers-<version>: a build tree of its own (its own folder, so a distinct tree)
    whose Makefile includes the real -common tree's and whose include/ and arch/ are the real ones."""
    real = real_tree()
    tree = usr_src / f"linux-headers-{version}"
    tree.mkdir(parents=True)
    (tree / "Makefile").write_text(f"include {real.source_dir}/Makefile\n")
    for part in ("include", "arch", "scripts"):
        (tree / part).symlink_to(os.path.join(real.build_dir, part))
    return tree


def link_modules(lib_modules: Path, release: str, target: Path) -> Path:
    """/lib/modules/<release>/build -> target, as the kernel packages install it."""
    (lib_modules / release).mkdir(parents=True, exist_ok=True)
    (lib_modules / release / "build").symlink_to(target)
    return lib_modules / release / "build"


def roots(base: Path, release: str = RUNNING, machine: str = "x86_64") -> SearchRoots:
    return SearchRoots(str(base / "lib" / "modules"), str(base / "usr" / "src"), release, machine)


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv("GUPCHECK_KERNEL_DIR", raising=False)
    monkeypatch.delenv("GUPCHECK_KERNEL_SEARCH_ROOT", raising=False)


# --- the search order ------------------------------------------------------------------------------


def test_version_key_sorts_like_sort_v() -> None:
    versions = ["6.1.0-9-amd64", "6.1.0-57-amd64", "6.10.0-1-amd64", "6.1.0-10-amd64", "5.10.0-30-amd64"]
    sort_v = subprocess.run(["sort", "-V"], input="\n".join(versions) + "\n", capture_output=True, text=True)
    assert sort_v.returncode == 0
    assert sorted(versions, key=version_key) == sort_v.stdout.split()
    assert sorted(versions, key=version_key)[-1] == "6.10.0-1-amd64"  # not "6.1.0-9": numbers, not text


@needs_headers
def test_the_only_installed_tree_is_used_with_a_note_naming_it(tmp_path: Path, no_env) -> None:
    tree = install_tree(tmp_path / "usr" / "src", "6.1.0-57-amd64")
    found = find_kernel_tree(None, roots=roots(tmp_path))
    assert found.tree is not None and found.tree.build_dir == str(tree)
    assert found.origin == "installed"
    assert found.notes == [
        f"kernel code is parsed with {tree}, the only kernel tree installed; the running kernel {RUNNING} "
        "has none; --kernel-dir chooses another"
    ]


@needs_headers
def test_the_newest_installed_tree_wins_and_the_others_are_named(tmp_path: Path, no_env) -> None:
    usr_src, lib_modules = tmp_path / "usr" / "src", tmp_path / "lib" / "modules"
    old = install_tree(usr_src, "6.1.0-9-amd64")
    middle = install_tree(usr_src, "6.1.0-10-amd64")
    newest = install_tree(usr_src, "6.1.0-57-amd64")
    (usr_src / "linux-headers-6.1.0-57-common").symlink_to(real_tree().source_dir)  # a source half: no tree
    link_modules(lib_modules, "6.1.0-57-amd64", newest)  # the same tree twice: named once
    link_modules(lib_modules, "6.1.0-99-amd64", tmp_path / "removed")  # a dangling link: nothing
    found = find_kernel_tree(None, roots=roots(tmp_path))
    assert found.tree is not None and found.tree.build_dir == str(newest)
    assert found.where == str(lib_modules / "6.1.0-57-amd64" / "build")  # as first named
    (note,) = found.notes
    assert note.startswith(
        f"kernel code is parsed with {found.where}, the newest of 3 kernel trees installed"
    )
    assert f"(also: {middle}, {old})" in note
    assert "common" not in note and "6.1.0-99" not in note


@needs_headers
def test_the_running_kernels_tree_comes_before_newer_installed_ones(tmp_path: Path, no_env) -> None:
    usr_src, lib_modules = tmp_path / "usr" / "src", tmp_path / "lib" / "modules"
    running = link_modules(lib_modules, "6.1.0-9-amd64", install_tree(usr_src, "6.1.0-9-amd64"))
    install_tree(usr_src, "6.1.0-57-amd64")
    found = find_kernel_tree(None, roots=roots(tmp_path, release="6.1.0-9-amd64"))
    assert found.where == str(running) and found.origin == "running kernel"
    assert found.notes == [f"kernel code is parsed with {running}, the running kernel's tree"]


@needs_headers
def test_kernel_dir_and_the_environment_come_first(tmp_path: Path, monkeypatch, no_env) -> None:
    usr_src, lib_modules = tmp_path / "usr" / "src", tmp_path / "lib" / "modules"
    link_modules(lib_modules, RUNNING, install_tree(usr_src, "6.1.0-57-amd64"))
    from_env = install_tree(tmp_path / "env", "6.1.0-1-amd64")
    given = install_tree(tmp_path / "given", "6.1.0-2-amd64")
    monkeypatch.setenv("GUPCHECK_KERNEL_DIR", str(from_env))
    found = find_kernel_tree(None, roots=roots(tmp_path))
    assert (found.tree.build_dir, found.origin, found.notes) == (str(from_env), "$GUPCHECK_KERNEL_DIR", [])
    found = find_kernel_tree(str(given), roots=roots(tmp_path))
    assert (found.tree.build_dir, found.origin, found.notes) == (str(given), "--kernel-dir", [])
    monkeypatch.setenv("GUPCHECK_KERNEL_DIR", str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match="GUPCHECK_KERNEL_DIR"):
        find_kernel_tree(None, roots=roots(tmp_path))


def kernel_database(path: Path, directory: Path, flags: list[str], source: str = "mod.c") -> Path:
    path.write_text(
        json.dumps(
            [{"directory": str(directory), "file": source, "arguments": ["gcc", *flags, "-c", source]}]
        )
    )
    return path


@needs_headers
def test_the_tree_a_compile_database_names_comes_before_the_running_kernels(tmp_path: Path, no_env) -> None:
    usr_src, lib_modules = tmp_path / "usr" / "src", tmp_path / "lib" / "modules"
    link_modules(lib_modules, RUNNING, install_tree(usr_src, "6.1.0-57-amd64"))
    named = install_tree(tmp_path / "elsewhere", "6.1.0-3-amd64")
    common = real_tree().source_dir
    # `bear -- make -C KDIR M=$PWD modules`: the entries run in the tree, with its relative -I paths
    kbuild = kernel_database(
        tmp_path / "kbuild.json",
        named,
        ["-nostdinc", "-I./arch/x86/include", "-I./include", "-include", f"{common}/include/linux/kconfig.h"]
        + ["-D__KERNEL__", "-DMODULE"],
        source=str(tmp_path / "mod.c"),
    )
    found = find_kernel_tree(None, load_compile_commands(str(kbuild)), roots(tmp_path))
    assert found.where == str(named) and found.origin == "compile database"
    assert found.notes == [f"kernel code is parsed with {named}, the kernel tree the compile database names"]
    # entries that run in the module's folder: the tree is found through their -I .../include
    module = tmp_path / "module"
    module.mkdir()
    by_include = kernel_database(
        tmp_path / "by-include.json",
        module,
        ["-D__KERNEL__", f"-I{named}/arch/x86/include", f"-I{named}/include"],
    )
    assert find_kernel_tree(None, load_compile_commands(str(by_include)), roots(tmp_path)).where == str(named)
    # a userland database names no tree: the search goes on
    userland = kernel_database(tmp_path / "user.json", module, ["-I/usr/include"])
    found = find_kernel_tree(None, load_compile_commands(str(userland)), roots(tmp_path))
    assert found.origin == "running kernel"


def test_the_model_only_when_no_tree_exists_with_a_note_saying_where_it_looked(
    tmp_path: Path, no_env
) -> None:
    usr_src = tmp_path / "usr" / "src"
    (usr_src / "linux-headers-6.1.0-1-amd64").mkdir(parents=True)
    (usr_src / "linux-headers-6.1.0-1-amd64" / "Makefile").write_text("all:\n")  # a broken install
    found = find_kernel_tree(None, roots=roots(tmp_path))
    assert found.tree is None
    (note,) = found.notes
    assert note.startswith("no kernel build tree found (looked at $GUPCHECK_KERNEL_DIR (unset), ")
    for place in (
        f"{tmp_path}/lib/modules/{RUNNING}/build",
        f"{tmp_path}/lib/modules/*/build",
        f"{usr_src}/linux-headers-*",
    ):
        assert place in note
    assert f"not usable: {usr_src}/linux-headers-6.1.0-1-amd64: kernel sources not found" in note


@needs_headers
def test_a_tree_for_another_architecture_is_not_used(tmp_path: Path, no_env) -> None:
    tree = install_tree(tmp_path / "usr" / "src", "6.1.0-57-amd64")
    assert kerneltrees.tree_machine(KernelTree.detect(str(tree))) == "x86_64"
    found = find_kernel_tree(None, roots=roots(tmp_path, machine="aarch64"))
    assert found.tree is None
    assert f"{tree}: built for x86_64, not this machine's aarch64" in found.notes[0]


@needs_headers
def test_the_search_is_bounded_and_says_so(tmp_path: Path, monkeypatch, no_env) -> None:
    for version in ("6.1.0-1-amd64", "6.1.0-2-amd64", "6.1.0-3-amd64"):
        install_tree(tmp_path / "usr" / "src", version)
    monkeypatch.setattr(kerneltrees, "MAX_CANDIDATES", 2)
    found = find_kernel_tree(None, roots=roots(tmp_path))
    assert found.where.endswith("linux-headers-6.1.0-3-amd64")  # the newest are examined first
    assert "the newest of 2 kernel trees" in found.notes[0]
    assert found.notes[1] == (
        "kernel tree search cut short: 3 installed kernel trees: only the newest 2 were examined"
    )


@needs_headers
def test_build_config_searches_only_when_a_kernel_file_needs_a_tree(
    tmp_path: Path, monkeypatch, no_env
) -> None:
    install_tree(tmp_path / "usr" / "src", "6.1.0-57-amd64")
    monkeypatch.setenv("GUPCHECK_KERNEL_SEARCH_ROOT", str(tmp_path))
    app = tmp_path / "app.c"
    app.write_text("#include <stdio.h>\nint main(void) { return 0; }\n")
    driver = tmp_path / "drv.c"
    driver.write_text('#include <linux/module.h>\nMODULE_LICENSE("GPL");\n')
    config = BuildConfig()
    assert config.config_for(str(app)).mode is HeaderMode.SYSTEM
    assert config.notes == []  # userland alone: nothing searched, nothing to say
    assert config.config_for(str(driver)).mode is HeaderMode.KERNEL_TREE
    assert len(config.notes) == 1 and "the only kernel tree installed" in config.notes[0]
    assert BuildConfig(use_model=True).config_for(str(driver)).mode is HeaderMode.KERNEL_MODEL


# --- the notes and --show-config on the command line -------------------------------------------------

DRIVER = """\
#include <linux/module.h>
#include <linux/fs.h>
#include <linux/uaccess.h>
#include "mydrv_regs.h"

static long mydrv_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
	char buf[MYDRV_BUF];
#ifdef MYDRV_DEBUG_IOCTL
	copy_from_user(buf, (void __user *)arg, sizeof(buf));
#endif
	return buf[0];
}

static const struct file_operations mydrv_fops = { .unlocked_ioctl = mydrv_ioctl };
MODULE_LICENSE("GPL");
"""


SDK = "../sdk/include"  # the driver's header folder, from the project


@pytest.fixture
def driver_tree(tmp_path: Path) -> Path:
    """project/drivers/mydrv/mydrv.c whose header is outside the project, in sdk/include (../sdk/include
    from the project): reachable through -I alone, not by the include repair's search of the project."""
    project = tmp_path / "project"
    (project / "drivers" / "mydrv").mkdir(parents=True)
    (project / "drivers" / "mydrv" / "mydrv.c").write_text(DRIVER)
    (tmp_path / "sdk" / "include").mkdir(parents=True)
    (tmp_path / "sdk" / "include" / "mydrv_regs.h").write_text("#define MYDRV_BUF 64\n")
    return project


@needs_headers
def test_the_found_tree_is_named_by_default_and_not_with_q(tmp_path: Path, driver_tree: Path) -> None:
    layout = tmp_path / "root"
    newest = install_tree(layout / "usr" / "src", "6.1.0-57-amd64")
    install_tree(layout / "usr" / "src", "6.1.0-9-amd64")
    env = {"GUPCHECK_KERNEL_SEARCH_ROOT": str(layout)}
    run = gupcheck("-I", SDK, "--stats", "drivers/mydrv", cwd=driver_tree, env=env)
    assert run.returncode == 0, run.stderr
    assert f"gupcheck: note: kernel code is parsed with {newest}, the newest of 2 kernel trees installed" in (
        run.stderr
    )
    assert "kernel-tree" in run.stderr and "built-in kernel API model" not in run.stderr  # --stats: the mode
    quiet = gupcheck("-q", "-I", SDK, "drivers/mydrv", cwd=driver_tree, env=env)
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_the_model_note_says_where_gupcheck_looked(tmp_path: Path, driver_tree: Path) -> None:
    env = {"GUPCHECK_KERNEL_SEARCH_ROOT": str(tmp_path / "empty")}
    run = gupcheck("-I", SDK, "drivers/mydrv", cwd=driver_tree, env=env)
    assert run.returncode == 0, run.stderr
    lines = run.stderr.splitlines()
    (looked,) = [line for line in lines if "no kernel build tree found" in line]
    assert looked.startswith("gupcheck: note: no kernel build tree found (looked at $GUPCHECK_KERNEL_DIR")
    assert f"{tmp_path}/empty/usr/src/linux-headers-*" in looked
    model = "gupcheck: note: 1 kernel file parsed with the built-in kernel API model"
    assert lines[lines.index(looked) + 1].startswith(model)


def show(run: subprocess.CompletedProcess) -> dict[str, dict[str, object]]:
    """--show-config's blocks by file: {"kind": ..., "mode": ..., "tree": ..., "flags": [lines], ...}:
    a key with its value, or the indented lines below it when it has none ("KEY lines": those lines)."""
    blocks: dict[str, dict[str, object]] = {}
    current: dict[str, object] = {}
    section: list[str] = []
    for line in run.stdout.splitlines():
        if line and not line.startswith(" "):
            current = blocks[line] = {}
        elif line.startswith("    "):
            section.append(line.strip())
        elif line.strip():
            key, _, value = line.strip().partition(":")
            section = []
            current[key] = value.strip() or section
            current[f"{key} lines"] = section
    return blocks


@needs_headers
def test_show_config_prints_kind_mode_tree_and_flags_and_does_not_analyse(
    tmp_path: Path, driver_tree: Path
) -> None:
    tree = real_tree()
    (driver_tree / "tools").mkdir()
    (driver_tree / "tools" / "app.c").write_text("#include <unistd.h>\nint main(void) { return 0; }\n")
    (driver_tree / "drivers" / "mydrv" / "Makefile").write_text(
        "obj-m += mydrv.o\nccflags-y += -DFROM_KBUILD\n"
    )
    run = gupcheck(
        "--show-config", "--kernel-dir", HEADERS[-1], "-I", SDK, "-DMYDRV_DEBUG_IOCTL",
        "drivers/mydrv/mydrv.c", "tools",
        cwd=driver_tree,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    blocks = show(run)
    assert list(blocks) == ["drivers/mydrv/mydrv.c", "tools/app.c"]
    kernel, userland = blocks["drivers/mydrv/mydrv.c"], blocks["tools/app.c"]
    assert (kernel["kind"], kernel["mode"]) == ("kernel", "kernel-tree (kernel build tree)")
    assert str(kernel["tree"]).startswith(f"{HEADERS[-1]} (--kernel-dir, sources {tree.source_dir}")
    assert f"-I {tree.source_dir}/include" in kernel["flags"]
    assert f"-include {tree.source_dir}/include/linux/kconfig.h" in kernel["flags"]
    # the user's flags come last
    assert kernel["flags"][-2:] == [f"-I {driver_tree.parent}/sdk/include", "-DMYDRV_DEBUG_IOCTL"]
    # where the flags beyond the tree's came from
    assert kernel["from your options and configuration"] == kernel["flags"][-2:]
    assert kernel["makefile"] == f"{driver_tree}/drivers/mydrv/Makefile (lists mydrv.o)"
    assert kernel["makefile lines"] == ["-DFROM_KBUILD"] and "-DFROM_KBUILD" in kernel["flags"]
    assert (userland["kind"], userland["mode"]) == ("userland", "system (system headers)")
    assert userland["flags"][:2] == ["-x c", "-std=gnu11"]
    assert userland["flags"][-2:] == [f"-I {driver_tree.parent}/sdk/include", "-DMYDRV_DEBUG_IOCTL"]
    # the command it prints parses the file as gupcheck would
    assert str(kernel["command"]).startswith(f"cd {driver_tree}/drivers/mydrv && clang -fsyntax-only -x c")
    assert "finding" not in run.stdout and "analysed" not in run.stdout  # nothing was analysed


def test_show_config_of_a_compile_database_entry(tmp_path: Path) -> None:
    (tmp_path / "app.c").write_text("#include <unistd.h>\nint main(void) { return 0; }\n")
    kernel_database(tmp_path / "compile_commands.json", tmp_path, ["-DAPP_VERSION=2", "-O2"], source="app.c")
    run = gupcheck("--show-config", "-p", str(tmp_path), "--extra-arg", "-Wno-unused", "app.c", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    (block,) = show(run).values()
    assert (block["kind"], block["mode"]) == ("userland", "compile-commands (compile database)")
    assert block["tree"] == f"the compile database {tmp_path}/compile_commands.json"
    builtin = buildconfig.builtin_include_dir()
    assert block["flags"] == [
        "--target=x86_64-linux-gnu", "-DAPP_VERSION=2", "-O2", f"-isystem {builtin}",
        "-Wno-unknown-warning-option", "-Wno-unused",
    ]  # fmt: skip
    assert block["from your options and configuration"] == ["-Wno-unused"]


def test_show_config_of_a_missing_file_is_one_error_line(tmp_path: Path) -> None:
    run = gupcheck("--show-config", "--kernel-model", "nope.c", cwd=tmp_path)
    assert run.returncode == 2
    assert run.stdout == ""
    assert len(run.stderr.splitlines()) == 1 and "nope.c" in run.stderr and "Traceback" not in run.stderr


# --- the user's flags change the parse ---------------------------------------------------------------


@needs_headers
def test_a_header_reachable_only_through_dash_i_parses_without_errors(driver_tree: Path) -> None:
    without = gupcheck("--kernel-dir", HEADERS[-1], "drivers/mydrv", cwd=driver_tree)
    assert "'mydrv_regs.h' file not found" in without.stderr
    run = gupcheck("--kernel-dir", HEADERS[-1], "-I", SDK, "drivers/mydrv", cwd=driver_tree)
    assert run.returncode == 0, run.stderr
    assert "error" not in run.stderr and run.stdout.strip().endswith("no findings in 1 file analysed")


@needs_headers
def test_dash_d_and_dash_u_switch_an_ifdef_and_the_finding_with_it(driver_tree: Path) -> None:
    base = ("--kernel-dir", HEADERS[-1], "-I", SDK)
    off = gupcheck(*base, "drivers/mydrv", cwd=driver_tree)
    assert off.returncode == 0 and "GUP005" not in off.stdout, off.stdout + off.stderr
    on = gupcheck(*base, "-D", "MYDRV_DEBUG_IOCTL", "drivers/mydrv", cwd=driver_tree)
    assert on.returncode == 1, on.stderr
    assert "drivers/mydrv/mydrv.c:10:2: warning: result of 'copy_from_user' is ignored" in on.stdout
    assert "[GUP005]" in on.stdout
    # the same through --extra-arg, and -U after it takes it back
    assert (
        gupcheck(*base, "--extra-arg=-DMYDRV_DEBUG_IOCTL", "drivers/mydrv", cwd=driver_tree).returncode == 1
    )
    undone = gupcheck(*base, "-DMYDRV_DEBUG_IOCTL", "-UMYDRV_DEBUG_IOCTL", "drivers/mydrv", cwd=driver_tree)
    assert undone.returncode == 0, undone.stdout


def test_include_reads_a_header_before_each_file(tmp_path: Path) -> None:
    (tmp_path / "compat.h").write_text("#define MYDRV_BUF 16\n")
    (tmp_path / "mydrv.c").write_text(DRIVER.replace('#include "mydrv_regs.h"\n', ""))
    without = gupcheck("--kernel-model", "mydrv.c", cwd=tmp_path)
    assert "MYDRV_BUF" in without.stderr  # undeclared identifier
    run = gupcheck("--kernel-model", "--include", "compat.h", "mydrv.c", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "error" not in run.stderr


@pytest.mark.parametrize(
    ("option", "problem"),
    [
        (["-I", "no-such-folder"], "-I no-such-folder: no such folder"),
        (["--include", "no-such.h"], "--include no-such.h: no such file"),
        (["-D", "1BAD"], "-D '1BAD' is not NAME or NAME=VALUE"),
        (["-U", "A=B"], "-U 'A=B' is not a macro name"),
    ],
)
def test_a_bad_flag_is_one_error_line_and_exit_2(tmp_path: Path, option: list[str], problem: str) -> None:
    (tmp_path / "x.c").write_text("int x;\n")
    run = gupcheck("--kernel-model", *option, "x.c", cwd=tmp_path)
    assert run.returncode == 2
    (line,) = run.stderr.splitlines()
    assert line.startswith(f"gupcheck: error: {problem}")


@needs_headers
def test_configuration_keys_and_overrides_apply_per_path(driver_tree: Path) -> None:
    shutil.copytree(driver_tree / "drivers" / "mydrv", driver_tree / "drivers" / "debug")
    (driver_tree / ".gupcheck.toml").write_text(
        textwrap.dedent(
            f"""\
            kernel-dir = "{HEADERS[-1]}"
            include-dirs = ["{SDK}"]
            defines = ["MYDRV_DEBUG_IOCTL"]

            [[overrides]]
            paths = ["drivers/mydrv"]
            undefines = ["MYDRV_DEBUG_IOCTL"]
            """
        )
    )
    run = gupcheck("drivers", cwd=driver_tree)
    assert run.returncode == 1, run.stderr
    flagged = {line.split(":")[0] for line in run.stdout.splitlines() if "[GUP005]" in line}
    assert flagged == {"drivers/debug/mydrv.c"}  # the override's -U after the file's -D: mydrv is clean
    assert "error(s)" not in run.stderr  # include-dirs: the header was found
    # the command line's -U wins over the configuration's -D
    assert gupcheck("-U", "MYDRV_DEBUG_IOCTL", "drivers", cwd=driver_tree).returncode == 0


@pytest.mark.parametrize(
    ("toml", "problem"),
    [
        ('defines = ["9x"]', "'defines': '9x' is not NAME or NAME=VALUE"),
        ('include-dirs = ["missing"]', "'include-dirs': missing: no such folder"),
        ('[[overrides]]\ndefines = ["X"]', "'overrides[0].paths': missing"),
        ('[[overrides]]\npaths = ["a"]\nkernel-dir = "x"', "'overrides[0].kernel-dir': unknown key"),
    ],
)
def test_bad_flag_keys_in_the_configuration_are_errors_naming_the_key(
    tmp_path: Path, toml: str, problem: str
) -> None:
    (tmp_path / ".gupcheck.toml").write_text(toml + "\n")
    (tmp_path / "x.c").write_text("int x;\n")
    run = gupcheck("--kernel-model", "x.c", cwd=tmp_path)
    assert run.returncode == 2
    (line,) = run.stderr.splitlines()
    assert line.startswith(f"gupcheck: error: {tmp_path}/.gupcheck.toml: {problem}")


def test_user_flags_order_the_command_line_strongest() -> None:
    flags = UserFlags(
        configured=FlagSet(include_dirs=("/conf",), defines=("A=1",)),
        overrides=(Override(("drivers/x",), "/src", FlagSet(defines=("A=2",), undefines=("B",))),),
        command_line=FlagSet(
            include_dirs=("/cli",), defines=("A=3",), includes=("/c.h",), extra_args=("-w",)
        ),
    )
    assert flags.args_for("/src/drivers/x/y.c") == [
        "-I", "/cli", "-I", "/conf", "-DA=1", "-DA=2", "-UB", "-DA=3", "-include", "/c.h", "-w",
    ]  # fmt: skip
    assert flags.args_for("/src/drivers/z.c") == ["-I", "/cli", "-I", "/conf", "-DA=1", "-DA=3"] + [
        "-include", "/c.h", "-w",
    ]  # fmt: skip
    assert not UserFlags() and BuildConfig(use_model=True, user_flags=UserFlags()).user_args("/x.c") == ()


# --- a userland entry of a compile database keeps the compiler's builtin headers ---------------------


def test_a_userland_compile_database_entry_parses_unistd_h(tmp_path: Path) -> None:
    (tmp_path / "app.c").write_text(
        textwrap.dedent(
            """\
            #include <stddef.h>
            #include <unistd.h>
            #include <sys/ioctl.h>
            int main(void) { size_t n = 4; char b[4]; return (int)read(0, b, n) + ioctl(0, 1, b); }
            """
        )
    )
    kernel_database(tmp_path / "compile_commands.json", tmp_path, ["-O2", "-Wall"], source="app.c")
    config = BuildConfig(compile_commands=str(tmp_path)).config_for(str(tmp_path / "app.c"))
    assert (config.mode, config.side) == (HeaderMode.COMPILE_COMMANDS, Side.USERLAND)
    facts = extract_facts(config)
    assert facts.errors == [], [d.message for d in facts.errors]
    calls = {call.callee for fn in facts.functions for _node, call in fn.call_sites()}
    assert {"read", "ioctl"} <= calls
    # without the builtin headers it is the bug the entry had: stddef.h not found through <unistd.h>
    builtin = buildconfig.builtin_include_dir()
    bare = list(config.args)
    del bare[bare.index(builtin) - 1 : bare.index(builtin) + 1]
    broken = extract_facts(
        buildconfig.FileConfig(config.path, tuple(bare), config.mode, config.side, config.directory)
    )
    assert any("stddef.h" in d.message for d in broken.errors)
    # and the whole run says nothing about parse errors
    analysis = analyse([str(tmp_path / "app.c")], ALL_RULES, compile_commands=str(tmp_path), jobs=0)
    assert analysis.units and not analysis.units[0].errors


# --- the README's compile-database recipe for an out-of-tree module -----------------------------------


@needs_headers
@pytest.mark.skipif(shutil.which("bear") is None, reason="bear is not installed (apt install bear)")
def test_the_readme_bear_recipe_gives_a_database_whose_tree_serves_the_other_files(tmp_path: Path) -> None:
    module = tmp_path / "mydrv"
    module.mkdir()
    example = Path(__file__).resolve().parent.parent / "testdata" / "example" / "demo_dev.c"
    shutil.copy(example, module / "demo_dev.c")
    (module / "Kbuild").write_text("obj-m := demo_dev.o\n")
    (module / "extra").mkdir()
    shutil.copy(example, module / "extra" / "other.c")  # not built: no entry in the database
    build = subprocess.run(
        ["bear", "--", "make", "-C", HEADERS[-1], f"M={module}", "modules"],
        cwd=module,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    env = {"GUPCHECK_KERNEL_SEARCH_ROOT": str(tmp_path / "no-trees")}  # only the database names a tree
    run = gupcheck("-p", "compile_commands.json", "--stats", ".", cwd=module, env=env)
    assert run.returncode == 1, run.stderr
    assert "error(s)" not in run.stderr  # no parse errors
    assert "demo_dev.c: compile-commands" in run.stderr and "extra/other.c: kernel-tree" in run.stderr
    assert (
        f"kernel code is parsed with {HEADERS[-1]}, the kernel tree the compile database names" in run.stderr
    )
    shown = show(gupcheck("--show-config", "-p", "compile_commands.json", ".", cwd=module, env=env))
    assert shown["demo_dev.c"]["mode"] == "compile-commands (compile database)"
    assert shown["extra/other.c"]["mode"] == "kernel-tree (kernel build tree)"
    assert str(shown["extra/other.c"]["tree"]).startswith(f"{HEADERS[-1]} (named by the compile database")
    flagged = {line.split(":")[0] for line in run.stdout.splitlines() if "[GUP005]" in line}
    assert flagged == {"demo_dev.c", "extra/other.c"}
