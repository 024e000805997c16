"""Build configuration: every mode parsed for real with libclang, against Debian's kernel headers.

Tests that need the kernel headers skip only when no /usr/src/linux-headers-*-amd64 exists (the
Makefile's setup step, scripts/setup-kernel.sh, installs them); the real-driver tests also need the
drivers that script extracts into .cache/linux-source-6.1.
"""

from __future__ import annotations

import glob
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from clang import cindex

from gupcheck.frontend import buildconfig
from gupcheck.frontend.buildconfig import (
    BuildConfig,
    CompilationDatabase,
    ConfigError,
    FileConfig,
    KernelTree,
    builtin_include_dir,
    clang_args_from_command,
    classify_side,
    configure,
    is_gcc_only_flag,
    load_compile_commands,
    model_args,
    model_include_dir,
    resolve_kernel_dir,
    userland_args,
)
from gupcheck.model.facts import HeaderMode, Side

REPO = Path(__file__).resolve().parent.parent
CACHE_SRC = REPO / ".cache" / "linux-source-6.1"
HEADERS = sorted(p for p in glob.glob("/usr/src/linux-headers-*-amd64") if os.path.isfile(p + "/Makefile"))
HEADERS_DIR = HEADERS[-1] if HEADERS else None

needs_headers = pytest.mark.skipif(
    HEADERS_DIR is None, reason="no /usr/src/linux-headers-*-amd64 (run scripts/setup-kernel.sh)"
)

TINY_DRIVER = r"""
#include <linux/module.h>
#include <linux/fs.h>
#include <linux/uaccess.h>
#include <linux/mm.h>
#include <linux/miscdevice.h>

struct tiny_req { __u64 addr; __u32 len; };

static long tiny_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
	struct tiny_req req;
	struct page *pages[4];
	int n;

	if (copy_from_user(&req, (void __user *)arg, sizeof(req)))
		return -EFAULT;
	n = pin_user_pages_fast(req.addr, 4, FOLL_WRITE | FOLL_LONGTERM, pages);
	if (n > 0)
		unpin_user_pages(pages, n);
	return n < 0 ? n : 0;
}

static const struct file_operations tiny_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = tiny_ioctl,
};

static struct miscdevice tiny_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "tiny",
	.fops = &tiny_fops,
};

static int __init tiny_init(void) { return misc_register(&tiny_dev); }
static void __exit tiny_exit(void) { misc_deregister(&tiny_dev); }
module_init(tiny_init);
module_exit(tiny_exit);
MODULE_LICENSE("GPL");
"""

USER_PROGRAM = r"""
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <fcntl.h>
#include <linux/types.h>
#include <linux/ioctl.h>

struct tiny_req { __u64 addr; __u32 len; };
#define TINY_PIN _IOW('t', 1, struct tiny_req)

int main(void)
{
	char buf[4096];
	struct tiny_req req = { (uintptr_t)buf, sizeof(buf) };
	int fd = open("/dev/tiny", O_RDWR);
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	size_t off = offsetof(struct tiny_req, len);

	madvise(p, 4096, MADV_DONTFORK);
	ioctl(fd, TINY_PIN, &req);
	if (fork() == 0)
		_exit(0);
	printf("%zu\n", off);
	return 0;
}
"""

REAL_DRIVERS = [
    "drivers/xen/privcmd.c",
    "drivers/misc/genwqe/card_utils.c",
    "drivers/virt/acrn/mm.c",
    "drivers/fpga/dfl-afu-dma-region.c",
]


def parse(path: str, args) -> cindex.TranslationUnit:
    return cindex.Index.create().parse(path, args=list(args))


def errors_of(tu: cindex.TranslationUnit) -> list[str]:
    return [f"{d.location}: {d.spelling}" for d in tu.diagnostics if d.severity >= cindex.Diagnostic.Error]


def flag_diagnostics(tu: cindex.TranslationUnit) -> list[str]:
    """Diagnostics about the command line itself (they have no file location)."""
    return [d.spelling for d in tu.diagnostics if d.location.file is None]


def calls_in(tu: cindex.TranslationUnit) -> set[str]:
    return {c.spelling for c in tu.cursor.walk_preorder() if c.kind == cindex.CursorKind.CALL_EXPR}


@pytest.fixture
def no_running_kernel_tree(monkeypatch, tmp_path):
    """No GUPCHECK_KERNEL_DIR, a running kernel without /lib/modules/<release>/build, and no kernel tree
    installed (the search looks under an empty folder)."""

    class FakeUname:
        release = "0.0.0-gupcheck-test-no-such-kernel"

    monkeypatch.delenv("GUPCHECK_KERNEL_DIR", raising=False)
    monkeypatch.setenv("GUPCHECK_KERNEL_SEARCH_ROOT", str(tmp_path / "no-trees-installed"))
    monkeypatch.setattr(buildconfig.os, "uname", lambda: FakeUname())


@pytest.fixture
def tiny_driver(tmp_path) -> Path:
    d = tmp_path / "tiny"
    d.mkdir()
    (d / "tiny.c").write_text(TINY_DRIVER)
    return d / "tiny.c"


# --- builtin headers, model, userland --------------------------------------------------------------


def test_builtin_include_dir_has_stddef():
    inc = builtin_include_dir()
    assert inc is not None, "no clang or gcc found; the libclang wheel has no builtin headers"
    assert os.path.isfile(os.path.join(inc, "stddef.h"))
    assert builtin_include_dir() is inc  # cached


def _fake_clang(bin_dir: Path, resource_dir: Path, log: Path) -> None:
    """A `clang` on PATH that names `resource_dir` and logs each time it is asked."""
    script = bin_dir / "clang"
    script.write_text(f"#!/bin/sh\necho asked >> {log}\necho {resource_dir}\n")
    script.chmod(0o755)


def test_builtin_include_dir_is_remembered_until_the_compiler_changes(tmp_path, monkeypatch):
    bin_dir, cache, log = tmp_path / "bin", tmp_path / "cache", tmp_path / "asked.log"
    bin_dir.mkdir()
    old, new = tmp_path / "clang-old", tmp_path / "clang-newer"
    for resource in (old, new):
        (resource / "include").mkdir(parents=True)
        (resource / "include" / "stddef.h").write_text("/* stddef */\n")
    _fake_clang(bin_dir, old, log)
    monkeypatch.setenv("PATH", str(bin_dir))

    def fresh_process_answer() -> str | None:
        monkeypatch.setattr(buildconfig, "_builtin_answer", [])  # as in a new run
        return builtin_include_dir(cache)

    def times_asked() -> int:
        return len(log.read_text().splitlines()) if log.exists() else 0

    assert fresh_process_answer() == str(old / "include") and times_asked() == 1
    assert fresh_process_answer() == str(old / "include") and times_asked() == 1  # remembered
    assert builtin_include_dir() == str(old / "include") and times_asked() == 1  # and kept in the process
    _fake_clang(bin_dir, new, log)  # the compiler is upgraded: another file
    assert fresh_process_answer() == str(new / "include") and times_asked() == 2
    assert fresh_process_answer() == str(new / "include") and times_asked() == 2
    (new / "include" / "stddef.h").unlink()  # its headers are removed: the answer is no longer trusted
    assert fresh_process_answer() is None and times_asked() == 3


def test_build_config_remembers_the_builtin_include_dir_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(buildconfig, "_builtin_answer", [])
    BuildConfig(use_model=True, cache_dir=str(tmp_path))
    assert (tmp_path / "builtin-include").is_file()
    monkeypatch.setattr(buildconfig, "_builtin_answer", [])
    monkeypatch.setattr(buildconfig, "_ask_compilers", lambda compilers: pytest.fail("a compiler was asked"))
    cfg = BuildConfig(use_model=True, cache_dir=str(tmp_path)).config_for(str(tmp_path / "drv.c"), "")
    assert cfg.args == tuple(model_args(str(tmp_path / "drv.c")))
    assert builtin_include_dir() in cfg.args


def test_model_include_dir_is_package_data():
    d = Path(model_include_dir())
    assert d == Path(buildconfig.__file__).resolve().parent.parent / "kernel_model" / "include"
    assert d.is_dir()


def test_model_args_exact():
    model = model_include_dir()
    assert model_args("/src/drv/my-drv.c") == [
        "-x", "c", "-std=gnu11", "--target=x86_64-linux-gnu", "-nostdinc",
        "-isystem", builtin_include_dir(),
        "-I", model, "-include", f"{model}/linux/compiler_types.h",
        "-D__KERNEL__", "-DMODULE", '-DKBUILD_MODNAME="my-drv"', '-DKBUILD_BASENAME="my-drv"',
    ]  # fmt: skip


def test_userland_args_exact():
    assert userland_args() == ["-x", "c", "-std=gnu11", "-isystem", builtin_include_dir()]


def test_userland_program_parses_without_errors(tmp_path):
    src = tmp_path / "user.c"
    src.write_text(USER_PROGRAM)
    cfg = BuildConfig().config_for(str(src))
    assert cfg.mode is HeaderMode.SYSTEM and cfg.side is Side.USERLAND
    tu = parse(cfg.path, cfg.args)
    assert errors_of(tu) == []
    assert {"open", "mmap", "madvise", "ioctl", "fork", "printf"} <= calls_in(tu)


def test_userland_without_builtin_headers_loses_stddef(tmp_path):
    """Why builtin_include_dir exists: without it the libclang wheel cannot find <stddef.h>."""
    src = tmp_path / "user.c"
    src.write_text(USER_PROGRAM)
    tu = parse(str(src), ["-x", "c", "-std=gnu11"])
    assert any("stddef.h" in e for e in errors_of(tu))


# --- kernel build trees ----------------------------------------------------------------------------


@needs_headers
def test_detect_debian_split_tree():
    tree = KernelTree.detect(HEADERS_DIR)
    assert tree.build_dir == os.path.realpath(HEADERS_DIR)
    assert tree.source_dir.endswith("-common")
    assert os.path.isfile(os.path.join(tree.source_dir, "include", "linux", "kconfig.h"))
    assert tree.split
    assert tree.release  # from include/generated/utsrelease.h


@needs_headers
def test_kernel_tree_args_follow_kbuild(tiny_driver):
    tree = KernelTree.detect(HEADERS_DIR)
    args = tree.args(str(tiny_driver))
    src, obj = tree.source_dir, tree.build_dir
    includes = [args[i + 1] for i, a in enumerate(args) if a == "-I"]
    assert includes == [
        f"{src}/arch/x86/include",
        f"{obj}/arch/x86/include/generated",
        f"{src}/include",
        f"{obj}/include",
        f"{src}/arch/x86/include/uapi",
        f"{obj}/arch/x86/include/generated/uapi",
        f"{src}/include/uapi",
        f"{obj}/include/generated/uapi",
    ]
    forced = [os.path.basename(args[i + 1]) for i, a in enumerate(args) if a == "-include"]
    assert forced == ["compiler-version.h", "kconfig.h", "compiler_types.h"]
    for flag in ("-nostdinc", "-D__KERNEL__", "-DMODULE", "--target=x86_64-linux-gnu", "-std=gnu11",
                 '-DKBUILD_MODNAME="tiny"', '-DKBUILD_BASENAME="tiny"'):  # fmt: skip
        assert flag in args
    assert args[args.index("-nostdinc") + 1 : args.index("-nostdinc") + 3] == [
        "-isystem",
        builtin_include_dir(),
    ]


@needs_headers
def test_tiny_driver_kernel_tree_zero_errors(tiny_driver):
    cfg = BuildConfig(kernel_dir=HEADERS_DIR).config_for(str(tiny_driver))
    assert cfg.mode is HeaderMode.KERNEL_TREE and cfg.side is Side.KERNEL
    tu = parse(cfg.path, cfg.args)
    assert errors_of(tu) == []
    assert flag_diagnostics(tu) == []
    assert {"copy_from_user", "pin_user_pages_fast", "unpin_user_pages", "misc_register"} <= calls_in(tu)


@needs_headers
def test_kernel_tree_without_flags_fails(tiny_driver):
    """The test above can fail: without Kbuild's forced includes the same file has errors."""
    tree = KernelTree.detect(HEADERS_DIR)
    args = tree.args(str(tiny_driver))
    stripped = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a == "-include":
            skip = True
            continue
        stripped.append(a)
    assert errors_of(parse(str(tiny_driver), stripped))


@needs_headers
@pytest.mark.parametrize("rel", REAL_DRIVERS)
def test_real_driver_kernel_tree_zero_errors(rel):
    path = CACHE_SRC / rel
    if not path.is_file():
        pytest.skip(f"{path} missing: run scripts/setup-kernel.sh")
    cfg = BuildConfig(kernel_dir=HEADERS_DIR).config_for(str(path))
    assert cfg.mode is HeaderMode.KERNEL_TREE and cfg.side is Side.KERNEL
    tu = parse(cfg.path, cfg.args)
    assert errors_of(tu) == []
    assert flag_diagnostics(tu) == []


@needs_headers
def test_detect_tree_through_source_link(tmp_path, tiny_driver):
    """A full out-of-tree build directory: objtree with a 'source' link to the srctree."""
    debian = KernelTree.detect(HEADERS_DIR)
    build = tmp_path / "build"
    (build / "include").mkdir(parents=True)
    (build / "arch" / "x86" / "include").mkdir(parents=True)
    (build / "Makefile").write_text("# generated by a test: no include line\n")
    (build / "source").symlink_to(debian.source_dir)
    (build / "include" / "generated").symlink_to(os.path.join(debian.build_dir, "include", "generated"))
    (build / "include" / "config").symlink_to(os.path.join(debian.build_dir, "include", "config"))
    (build / "arch" / "x86" / "include" / "generated").symlink_to(
        os.path.join(debian.build_dir, "arch", "x86", "include", "generated")
    )
    tree = KernelTree.detect(str(build))
    assert tree.source_dir == debian.source_dir
    assert tree.build_dir == str(build)
    assert errors_of(parse(str(tiny_driver), tree.args(str(tiny_driver)))) == []


def _fake_in_tree(root: Path) -> Path:
    (root / "include" / "linux").mkdir(parents=True)
    (root / "include" / "generated").mkdir(parents=True)
    (root / "arch" / "x86" / "include" / "generated").mkdir(parents=True)
    (root / "Makefile").write_text("VERSION = 6\n")
    (root / "include" / "linux" / "kconfig.h").write_text("")
    (root / "include" / "linux" / "compiler_types.h").write_text("")
    (root / "include" / "generated" / "autoconf.h").write_text("")
    (root / "include" / "generated" / "utsrelease.h").write_text('#define UTS_RELEASE "6.1.0-test"\n')
    return root


def test_detect_in_tree_build(tmp_path):
    root = _fake_in_tree(tmp_path / "linux")
    tree = KernelTree.detect(str(root))
    assert tree.source_dir == tree.build_dir == str(root)
    assert not tree.split
    assert tree.release == "6.1.0-test"
    args = tree.args(str(root / "drivers" / "x.c"))
    includes = [args[i + 1] for i, a in enumerate(args) if a == "-I"]
    assert includes == [f"{root}/arch/x86/include", f"{root}/arch/x86/include/generated", f"{root}/include"]
    # compiler-version.h does not exist in this "version": it is not force-included
    assert [os.path.basename(args[i + 1]) for i, a in enumerate(args) if a == "-include"] == [
        "kconfig.h",
        "compiler_types.h",
    ]


def test_unconfigured_tree_is_an_error(tmp_path):
    root = _fake_in_tree(tmp_path / "linux")
    (root / "include" / "generated" / "autoconf.h").unlink()
    with pytest.raises(ConfigError, match=r"autoconf\.h"):
        KernelTree.detect(str(root))


@pytest.mark.parametrize("kind", ["missing", "file", "empty-dir", "no-sources"])
def test_bad_kernel_dir(tmp_path, kind):
    bad = tmp_path / "kdir"
    if kind == "file":
        bad.write_text("not a dir")
    elif kind == "empty-dir":
        bad.mkdir()
    elif kind == "no-sources":
        bad.mkdir()
        (bad / "Makefile").write_text("all:\n")
    with pytest.raises(ConfigError) as exc:
        resolve_kernel_dir(str(bad))
    msg = str(exc.value)
    assert str(bad) in msg and "\n" not in msg
    with pytest.raises(ConfigError):
        BuildConfig(kernel_dir=str(bad))


@needs_headers
def test_env_var_resolution(monkeypatch, no_running_kernel_tree, tmp_path):
    assert resolve_kernel_dir(None) is None
    monkeypatch.setenv("GUPCHECK_KERNEL_DIR", HEADERS_DIR)
    tree = resolve_kernel_dir(None)
    assert tree is not None and tree.build_dir == os.path.realpath(HEADERS_DIR)
    # an explicit --kernel-dir wins over the environment
    other = _fake_in_tree(tmp_path / "linux")
    assert resolve_kernel_dir(str(other)).build_dir == str(other)
    # a bad directory in the environment is an error that names the variable and the directory
    monkeypatch.setenv("GUPCHECK_KERNEL_DIR", str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match="GUPCHECK_KERNEL_DIR.*nope"):
        resolve_kernel_dir(None)


def test_running_kernel_tree_used_when_present(monkeypatch, tmp_path):
    monkeypatch.delenv("GUPCHECK_KERNEL_DIR", raising=False)
    tree_dir = _fake_in_tree(tmp_path / "linux")
    real_isdir = os.path.isdir

    class FakeUname:
        release = "9.9.9-fake"

    running = "/lib/modules/9.9.9-fake/build"
    monkeypatch.setattr(buildconfig.os, "uname", lambda: FakeUname())
    monkeypatch.setattr(buildconfig.os.path, "isdir", lambda p: p == running or real_isdir(p))
    monkeypatch.setattr(
        buildconfig.KernelTree, "detect", classmethod(lambda cls, d: cls(d, str(tree_dir), "9.9.9-fake"))
    )
    tree = resolve_kernel_dir(None)
    assert tree is not None and tree.build_dir == running


# --- compile_commands.json -------------------------------------------------------------------------


def _cmd_file_entries(build_dir: str, obj_dir: Path) -> list[dict]:
    """A small stand-in for the kernel's gen_compile_commands.py: read the .o.cmd files Kbuild wrote."""
    entries = []
    for cmd in sorted(obj_dir.glob(".*.o.cmd")):
        first = cmd.read_text().splitlines()[0]
        _, command = first.split(":=", 1)
        command = command.split(";", 1)[0].strip()
        src = shlex.split(command)[-1]
        entries.append({"directory": build_dir, "file": src, "command": command})
    return entries


@needs_headers
def test_real_kbuild_compile_commands_zero_errors(tmp_path):
    if shutil.which("make") is None or shutil.which("gcc") is None and not glob.glob("/usr/bin/gcc-*"):
        pytest.skip("make/gcc not installed")
    mod = tmp_path / "mod"
    mod.mkdir()
    (mod / "tiny.c").write_text(TINY_DRIVER)
    (mod / "Makefile").write_text("obj-m := tiny.o\n")
    proc = subprocess.run(
        ["make", "-C", HEADERS_DIR, f"M={mod}", "tiny.o"], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (mod / ".tiny.o.cmd").is_file()
    gen = CACHE_SRC / "scripts" / "clang-tools" / "gen_compile_commands.py"
    out = mod / "compile_commands.json"
    if gen.is_file():
        # Debian's headers package lacks this script; scripts/setup-kernel.sh extracts it from the source.
        subprocess.run(
            [sys.executable, str(gen), "-d", HEADERS_DIR, "-o", str(out), str(mod)],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    else:
        out.write_text(json.dumps(_cmd_file_entries(HEADERS_DIR, mod)))
    raw = json.loads(out.read_text())
    assert len(raw) == 1 and "-mindirect-branch=thunk-extern" in raw[0]["command"]

    db = load_compile_commands(str(mod))  # a directory, as clang-tidy's -p
    entry = db.lookup(str(mod / "tiny.c"))
    assert entry is not None and entry.side is Side.KERNEL
    assert entry.directory == HEADERS_DIR
    args = entry.args
    dropped_flags = ["-c", "-o", "-mindirect-branch=thunk-extern", "-fconserve-stack", "-mrecord-mcount",
                     "-fno-allow-store-data-races", "-mpreferred-stack-boundary=3"]  # fmt: skip
    for dropped in [*dropped_flags, str(mod / "tiny.c")]:
        assert dropped not in args
    assert not any(a.startswith("-Wp,") for a in args)
    assert f"-I{HEADERS_DIR}/include" in args  # "-I./include" made absolute against the build dir
    assert list(args[args.index("-nostdinc") + 1 : args.index("-nostdinc") + 3]) == [
        "-isystem",
        builtin_include_dir(),
    ]
    assert '-DKBUILD_MODNAME="tiny"' in args

    cfg = BuildConfig(compile_commands=str(out)).config_for(str(mod / "tiny.c"))
    assert cfg.mode is HeaderMode.COMPILE_COMMANDS and cfg.side is Side.KERNEL
    tu = parse(cfg.path, cfg.args)
    assert errors_of(tu) == []
    assert flag_diagnostics(tu) == []
    assert "pin_user_pages_fast" in calls_in(tu)


def test_handwritten_database_relative_paths(tmp_path):
    proj = tmp_path / "proj"
    (proj / "src").mkdir(parents=True)
    (proj / "include").mkdir()
    (tmp_path / "common").mkdir()
    (proj / "include" / "a.h").write_text("int from_a(void);\n")
    (tmp_path / "common" / "b.h").write_text("int from_b(void);\n")
    (proj / "cfg.h").write_text("#define CFG_VALUE 42\n")
    (proj / "src" / "a.c").write_text(
        '#include "a.h"\n#include "b.h"\nint use(void) { return from_a() + from_b() + CFG_VALUE; }\n'
    )
    db_file = tmp_path / "compile_commands.json"
    db_file.write_text(
        json.dumps(
            [
                {
                    "directory": "proj",  # relative: taken against the database's own directory
                    "file": "src/a.c",
                    "command": "ccache cc -c -Iinclude -I ../common -include cfg.h "
                    "-MD -MF a.d -o a.o src/a.c",
                }
            ]
        )
    )
    db = load_compile_commands(str(db_file))
    assert isinstance(db, CompilationDatabase) and len(db) == 1
    entry = db.lookup(str(proj / "src" / "a.c"))
    assert entry is not None
    assert entry.directory == str(proj)
    assert entry.side is Side.USERLAND
    assert list(entry.args) == [
        "--target=x86_64-linux-gnu",
        f"-I{proj}/include",
        "-I", f"{tmp_path}/common",
        "-include", f"{proj}/cfg.h",
        "-isystem", buildconfig.builtin_include_dir(),  # a userland entry keeps the compiler's headers
        "-Wno-unknown-warning-option",
    ]  # fmt: skip
    cfg = BuildConfig(compile_commands=str(tmp_path)).config_for(str(proj / "src" / "a.c"))
    assert cfg.mode is HeaderMode.COMPILE_COMMANDS and cfg.directory == str(proj)
    tu = parse(cfg.path, cfg.args)
    assert errors_of(tu) == [] and flag_diagnostics(tu) == []
    assert {"from_a", "from_b"} <= calls_in(tu)


def test_arguments_form_and_shell_tail(tmp_path):
    entry_args = ["gcc", "-D__KERNEL__", "-Wp,-MMD,x.d", "-MT", "x.o", "-c", "x.c", "-o", "x.o"]
    db_file = tmp_path / "cc.json"
    db_file.write_text(
        json.dumps(
            [
                {"directory": str(tmp_path), "file": "x.c", "arguments": entry_args},
                {"directory": str(tmp_path), "file": "y.c", "command": "gcc -DY -c y.c; ./tools/objtool y.o"},
            ]
        )
    )
    db = load_compile_commands(str(db_file))
    x = db.lookup(str(tmp_path / "x.c"))
    y = db.lookup(str(tmp_path / "y.c"))
    assert x.side is Side.KERNEL and list(x.args) == [
        "--target=x86_64-linux-gnu",
        "-D__KERNEL__",
        "-Wno-unknown-warning-option",
    ]
    assert y.side is Side.USERLAND and list(y.args) == [
        "--target=x86_64-linux-gnu",
        "-DY",
        "-isystem",
        buildconfig.builtin_include_dir(),  # userland: the compiler's builtin headers
        "-Wno-unknown-warning-option",
    ]
    assert db.lookup(str(tmp_path / "z.c")) is None


# Flags from a real Kbuild 6.1 command line (gcc 12, x86_64) that libclang 18 rejects or warns about.
KBUILD_GCC_ONLY = [
    "-mpreferred-stack-boundary=3", "-mindirect-branch=thunk-extern", "-mindirect-branch-register",
    "-fno-allow-store-data-races", "-fconserve-stack", "-mrecord-mcount", "-falign-jumps=1",
    "-Wno-dangling-pointer", "-Wno-stringop-truncation", "-Wno-stringop-overflow", "-Wno-restrict",
    "-Wno-maybe-uninitialized", "-Wno-alloc-size-larger-than", "-Wimplicit-fallthrough=5",
    "-Werror=designated-init", "-Wno-packed-not-aligned", "-fmin-function-alignment=16",
    "-fno-var-tracking-assignments", "-fno-ipa-sra", "-fno-partial-inlining",
    "--param=allow-store-data-races=0", "-fplugin=./scripts/gcc-plugins/structleak_plugin.so",
    "-fsanitize=bounds-strict", "-Wno-enum-int-mismatch",
]  # fmt: skip
# Flags clang takes as they are.
KBUILD_KEPT = [
    "-fno-strict-aliasing", "-mno-sse", "-mcmodel=kernel", "-mharden-sls=all",
    "-mfunction-return=thunk-extern", "-mindirect-branch-cs-prefix", "-fcf-protection=none",
    "-ftrivial-auto-var-init=zero", "-Wno-format-truncation",
    "-Wno-format-overflow", "-Wimplicit-fallthrough", "-Werror=incompatible-pointer-types", "-pg", "-mfentry",
    "-falign-loops=1", "-mskip-rax-setup", "-fno-stack-clash-protection", "-Wframe-larger-than=2048",
]  # fmt: skip


def test_gcc_only_flags_filtered(tmp_path):
    for flag in KBUILD_GCC_ONLY:
        assert is_gcc_only_flag(flag), flag
    for flag in KBUILD_KEPT:
        assert not is_gcc_only_flag(flag), flag
    src = tmp_path / "t.c"
    src.write_text("int x;\n")
    # libclang really complains about each filtered flag ...
    for flag in KBUILD_GCC_ONLY:
        if flag.startswith("-fplugin"):
            continue  # clang would dlopen it: never hand it over
        assert flag_diagnostics(parse(str(src), ["--target=x86_64-linux-gnu", flag])), flag
    # ... and about none of what is left.
    argv = (
        ["gcc"] + KBUILD_GCC_ONLY + KBUILD_KEPT + ["-Wno-some-future-gcc-warning", "-c", "t.c", "-o", "t.o"]
    )
    args = clang_args_from_command(argv, "t.c", str(tmp_path))
    assert not set(args) & set(KBUILD_GCC_ONLY)
    assert set(KBUILD_KEPT) <= set(args)
    assert flag_diagnostics(parse(str(src), args)) == []


@pytest.mark.parametrize(
    "content, problem",
    [
        ("[{", "malformed"),
        ('{"file": "a.c"}', "JSON array"),
        ('[{"directory": "/x", "command": "cc a.c"}]', "'file'"),
        ('[{"file": "a.c", "command": "cc a.c"}]', "'directory'"),
        ('[{"directory": "/x", "file": "a.c"}]', "'arguments' or 'command'"),
        ('[{"directory": "/x", "file": "a.c", "arguments": "cc a.c"}]', "'arguments'"),
        ('[{"directory": "/x", "file": "a.c", "command": "cc \\"a.c"}]', "'command'"),
        ('["cc a.c"]', "entry 0"),
    ],
)
def test_malformed_database(tmp_path, content, problem):
    db_file = tmp_path / "compile_commands.json"
    db_file.write_text(content)
    with pytest.raises(ConfigError) as exc:
        load_compile_commands(str(db_file))
    msg = str(exc.value)
    assert str(db_file) in msg and problem in msg and "\n" not in msg


def test_missing_database(tmp_path):
    with pytest.raises(ConfigError, match="compile_commands.json"):
        load_compile_commands(str(tmp_path))
    with pytest.raises(ConfigError, match="nothere.json"):
        BuildConfig(compile_commands=str(tmp_path / "nothere.json"))


# --- kernel or userland ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, side",
    [
        (TINY_DRIVER, Side.KERNEL),
        (USER_PROGRAM, Side.USERLAND),
        ("#include <linux/slab.h>\nvoid *f(void) { return kmalloc(8, GFP_KERNEL); }\n", Side.KERNEL),
        ("#include <linux/kernel.h>\nint x;\n", Side.KERNEL),
        ("#include <asm/uaccess.h>\nint x;\n", Side.KERNEL),
        ("static int __init f(void) { return 0; }\n", Side.KERNEL),
        ('MODULE_LICENSE("GPL");\n', Side.KERNEL),
        # userland that includes uapi headers only
        ("#include <linux/types.h>\n#include <linux/ioctl.h>\n__u32 x;\n", Side.USERLAND),
        ("#include <linux/fs.h>\n#include <stdlib.h>\nint x;\n", Side.USERLAND),
        ("#include <sys/ioctl.h>\nint x;\n", Side.USERLAND),
        ("int\nmain(int argc, char **argv)\n{\n\treturn 0;\n}\n", Side.USERLAND),
        # markers in comments do not count
        (
            "/* MODULE_LICENSE is not here, nor #include <linux/module.h> */\nint main(void) { return 0; }\n",
            Side.USERLAND,
        ),  # fmt: skip
        ("// int main(void)\n#include <linux/mm.h>\n", Side.KERNEL),
        # no signal at all: gupcheck is a driver analyser
        ("int add(int a, int b) { return a + b; }\n", Side.KERNEL),
    ],
)
def test_classify_side(tmp_path, text, side):
    assert classify_side(str(tmp_path / "f.c"), text) is side


def test_classify_side_follows_local_headers(tmp_path):
    (tmp_path / "drv.h").write_text("#include <linux/module.h>\n")
    (tmp_path / "app.h").write_text("#include <stdio.h>\n")
    (tmp_path / "wrap.h").write_text('#include "drv.h"\n')
    assert classify_side(str(tmp_path / "a.c"), '#include "wrap.h"\nint x;\n') is Side.KERNEL
    assert (
        classify_side(str(tmp_path / "b.c"), '#include "app.h"\n#include <linux/types.h>\n') is Side.USERLAND
    )


def test_compile_commands_flags_decide_side(tmp_path):
    src = tmp_path / "u.c"
    src.write_text(USER_PROGRAM)  # userland by its text ...
    (tmp_path / "compile_commands.json").write_text(
        json.dumps(
            [{"directory": str(tmp_path), "file": "u.c", "arguments": ["cc", "-D__KERNEL__", "-c", "u.c"]}]
        )
    )
    cfg = BuildConfig(compile_commands=str(tmp_path)).config_for(str(src))
    assert cfg.side is Side.KERNEL  # ... kernel by its flags


# --- configure -------------------------------------------------------------------------------------


@needs_headers
def test_configure_picks_mode_per_file(tmp_path, tiny_driver, no_running_kernel_tree):
    user = tmp_path / "user.c"
    user.write_text(USER_PROGRAM)
    listed = tmp_path / "listed.c"
    listed.write_text(TINY_DRIVER)
    (tmp_path / "compile_commands.json").write_text(
        json.dumps(
            [{"directory": str(tmp_path), "file": "listed.c", "command": "cc -D__KERNEL__ -c listed.c"}]
        )
    )
    paths = [str(tiny_driver), str(user), str(listed)]

    cfgs = configure(paths, compile_commands=str(tmp_path), kernel_dir=HEADERS_DIR)
    assert all(isinstance(c, FileConfig) for c in cfgs)
    assert [(c.mode, c.side) for c in cfgs] == [
        (HeaderMode.KERNEL_TREE, Side.KERNEL),
        (HeaderMode.SYSTEM, Side.USERLAND),
        (HeaderMode.COMPILE_COMMANDS, Side.KERNEL),
    ]
    assert [c.path for c in cfgs] == paths

    cfgs = configure(paths, compile_commands=None, kernel_dir=None)
    assert [c.mode for c in cfgs] == [HeaderMode.KERNEL_MODEL, HeaderMode.SYSTEM, HeaderMode.KERNEL_MODEL]
    assert cfgs[0].args == tuple(model_args(str(tiny_driver)))
    assert cfgs[0].directory == str(tiny_driver.parent)
