"""The built-in kernel API model (analyzer/kernel_model/include).

Checks, with libclang directly and the exact "model mode" flags:
- every kernel .c under testdata/ parses with zero error diagnostics;
- every model header parses on its own, has an include guard and says it is a model;
- the _IO* macros encode commands exactly as the asm-generic layout does;
- FOLL_* and other constants have their 6.1 values;
- the uaccess accessors the analyser recognises by macro name are macros, and the
  checked copies are functions marked __must_check.
"""

from __future__ import annotations

import re
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest
from clang import cindex

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "analyzer" / "kernel_model" / "include"
TESTDATA = REPO / "testdata"

# Headers that users' drivers commonly include; each must exist in the model.
REQUIRED_HEADERS = [
    "linux/module.h",
    "linux/kernel.h",
    "linux/init.h",
    "linux/fs.h",
    "linux/mm.h",
    "linux/mm_types.h",
    "linux/uaccess.h",
    "linux/slab.h",
    "linux/vmalloc.h",
    "linux/miscdevice.h",
    "linux/cdev.h",
    "linux/mutex.h",
    "linux/spinlock.h",
    "linux/rwsem.h",
    "linux/atomic.h",
    "linux/refcount.h",
    "linux/kref.h",
    "linux/list.h",
    "linux/types.h",
    "linux/compiler.h",
    "linux/compiler_types.h",
    "linux/errno.h",
    "linux/printk.h",
    "linux/string.h",
    "linux/minmax.h",
    "linux/ioctl.h",
    "uapi/asm-generic/ioctl.h",
    "asm/ioctl.h",
    "linux/highmem.h",
    "linux/pagemap.h",
    "linux/sched.h",
    "linux/device.h",
    "linux/workqueue.h",
    "linux/xarray.h",
    "linux/idr.h",
    "linux/dma-mapping.h",
    "linux/poll.h",
    "linux/wait.h",
    "linux/page-flags.h",
    "linux/gfp.h",
    "asm/page.h",
]

# Angle includes that only userland code uses (libc headers).
_USERLAND_INCLUDE = re.compile(r"^\s*#\s*include\s*<(?:[^/>]+|sys/[^>]+)>", re.M)
_LINUX_INCLUDE = re.compile(r"^\s*#\s*include\s*<linux/", re.M)


@lru_cache(maxsize=1)
def _gcc_include() -> str:
    out = subprocess.run(["gcc", "-print-file-name=include"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def model_flags() -> list[str]:
    """The exact flags gupcheck uses in model mode."""
    return [
        "-x",
        "c",
        "-std=gnu11",
        "--target=x86_64-linux-gnu",
        "-nostdinc",
        "-isystem",
        _gcc_include(),
        "-I",
        str(MODEL),
        "-include",
        str(MODEL / "linux" / "compiler_types.h"),
        "-D__KERNEL__",
        "-DMODULE",
        '-DKBUILD_MODNAME="x"',
        '-DKBUILD_BASENAME="x"',
    ]


def parse(path: Path | str, source: str | None = None, detailed: bool = False) -> cindex.TranslationUnit:
    options = cindex.TranslationUnit.PARSE_DETAILED_PROCESSING_RECORD if detailed else 0
    unsaved = [(str(path), source)] if source is not None else None
    return cindex.Index.create().parse(str(path), args=model_flags(), unsaved_files=unsaved, options=options)


def errors(tu: cindex.TranslationUnit) -> list[str]:
    return [
        f"{d.location.file}:{d.location.line}: {d.spelling}"
        for d in tu.diagnostics
        if d.severity >= cindex.Diagnostic.Error
    ]


def is_kernel_source(text: str) -> bool:
    return bool(_LINUX_INCLUDE.search(text)) and not _USERLAND_INCLUDE.search(text)


def kernel_testdata_files() -> list[Path]:
    return sorted(p for p in TESTDATA.rglob("*.c") if is_kernel_source(p.read_text(errors="replace")))


def model_headers() -> list[Path]:
    return sorted(MODEL.rglob("*.h"))


# ---------------------------------------------------------------------------------------------
# Testdata parses in model mode


def test_kernel_source_detection():
    assert is_kernel_source("#include <linux/module.h>\n#include <linux/fs.h>\n")
    assert not is_kernel_source("#include <stdio.h>\n#include <linux/ioctl.h>\n")
    assert not is_kernel_source("#include <sys/ioctl.h>\n#include <linux/types.h>\n")
    assert not is_kernel_source("#include <stdio.h>\n")


def test_there_is_kernel_testdata():
    assert kernel_testdata_files(), "no kernel driver sources found under testdata/"


@pytest.mark.parametrize("path", kernel_testdata_files(), ids=lambda p: str(p.relative_to(TESTDATA)))
def test_testdata_parses_in_model_mode(path: Path):
    tu = parse(path)
    assert errors(tu) == []


def test_parse_errors_are_reported(tmp_path: Path):
    """The check above can fail: an unknown kernel API is an error in model mode."""
    src = tmp_path / "bad.c"
    src.write_text("#include <linux/mm.h>\nint f(void) { return no_such_kernel_api(1); }\n")
    assert errors(parse(src))


# ---------------------------------------------------------------------------------------------
# The headers themselves


@pytest.mark.parametrize("rel", REQUIRED_HEADERS)
def test_required_header_exists(rel: str):
    assert (MODEL / rel).is_file(), rel


@pytest.mark.parametrize("header", model_headers(), ids=lambda p: str(p.relative_to(MODEL)))
def test_header_is_standalone_guarded_and_labelled(header: Path, tmp_path: Path):
    rel = header.relative_to(MODEL).as_posix()
    text = header.read_text()
    first = text.splitlines()[0]
    assert first.startswith("/*") and "gupcheck" in first and "model" in first, first
    guard = re.search(r"^#ifndef (\w+)\n#define \1\n", text, re.M)
    assert guard, f"{rel}: no include guard"
    assert text.rstrip().endswith("#endif"), rel
    # Standalone, and harmless when included twice.
    src = tmp_path / "one.c"
    src.write_text(f"#include <{rel}>\n#include <{rel}>\n")
    assert errors(parse(src)) == []


def test_all_headers_together(tmp_path: Path):
    includes = "".join(f"#include <{h.relative_to(MODEL).as_posix()}>\n" for h in model_headers())
    src = tmp_path / "all.c"
    src.write_text(includes + "int gc_unused_marker;\n")
    assert errors(parse(src)) == []


# ---------------------------------------------------------------------------------------------
# Constant values, checked by clang itself with _Static_assert


def _ioc(direction: int, typ: int, nr: int, size: int) -> int:
    """asm-generic layout: nr in bits 0-7, type 8-15, size 16-29, direction 30-31."""
    return (direction << 30) | (size << 16) | (typ << 8) | nr


_NONE, _WRITE, _READ = 0, 1, 2

IOCTL_CASES = {
    "_IO('T', 1)": _ioc(_NONE, ord("T"), 1, 0),
    "_IOR('T', 2, struct gc_pair)": _ioc(_READ, ord("T"), 2, 8),
    "_IOW('u', 0x10, __u64)": _ioc(_WRITE, ord("u"), 0x10, 8),
    "_IOWR('r', 255, struct gc_blob)": _ioc(_READ | _WRITE, ord("r"), 255, 100),
    "_IOW(0xAF, 3, int)": _ioc(_WRITE, 0xAF, 3, 4),
    "_IOR('M', 0, char[4096])": _ioc(_READ, ord("M"), 0, 4096),
}

CONSTANT_CASES = {
    # gup_flags, 6.1 values
    "FOLL_WRITE": 0x01,
    "FOLL_TOUCH": 0x02,
    "FOLL_GET": 0x04,
    "FOLL_DUMP": 0x08,
    "FOLL_FORCE": 0x10,
    "FOLL_NOWAIT": 0x20,
    "FOLL_NOFAULT": 0x80,
    "FOLL_HWPOISON": 0x100,
    "FOLL_MIGRATION": 0x400,
    "FOLL_TRIED": 0x800,
    "FOLL_REMOTE": 0x2000,
    "FOLL_ANON": 0x8000,
    "FOLL_LONGTERM": 0x10000,
    "FOLL_SPLIT_PMD": 0x20000,
    "FOLL_PIN": 0x40000,
    "FOLL_FAST_ONLY": 0x80000,
    # pages, gfp, vma flags, faults, errno
    "PAGE_SHIFT": 12,
    "PAGE_SIZE": 4096,
    "GFP_KERNEL": 0xCC0,
    "GFP_ATOMIC": 0xA20,
    "VM_SHARED": 0x8,
    "VM_IO": 0x4000,
    "VM_DONTCOPY": 0x20000,
    "VM_DONTEXPAND": 0x40000,
    "VM_PFNMAP": 0x400,
    "VM_DONTDUMP": 0x4000000,
    "VM_MIXEDMAP": 0x10000000,
    "VM_FAULT_SIGBUS": 0x2,
    "VM_FAULT_NOPAGE": 0x100,
    "VM_FAULT_LOCKED": 0x200,
    "EFAULT": 14,
    "EINVAL": 22,
    "ENOMEM": 12,
    "ENOTTY": 25,
    "EBUSY": 16,
    "EPERM": 1,
    "E2BIG": 7,
    "ENAMETOOLONG": 36,
    "EOPNOTSUPP": 95,
    "ERESTARTSYS": 512,
    "MISC_DYNAMIC_MINOR": 255,
}

_PRELUDE = """\
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/ioctl.h>
#include <linux/miscdevice.h>
#include <linux/errno.h>
struct gc_pair { __u32 a, b; };
struct gc_blob { char bytes[100]; };
"""


def _static_asserts(pairs: dict[str, int]) -> str:
    lines = [_PRELUDE]
    for i, (expr, value) in enumerate(pairs.items()):
        lines.append(f'_Static_assert((unsigned long long)({expr}) == {value:#x}ULL, "case {i}: {expr}");')
    return "\n".join(lines) + "\n"


def _failed_cases(tmp_path: Path, pairs: dict[str, int]) -> list[str]:
    src = tmp_path / "values.c"
    src.write_text(_static_asserts(pairs))
    return errors(parse(src))


def test_ioctl_encoding_matches_asm_generic(tmp_path: Path):
    assert _failed_cases(tmp_path, IOCTL_CASES) == []


def test_ioctl_decoding(tmp_path: Path):
    cmd = "_IOWR('r', 7, struct gc_blob)"
    checks = {
        f"_IOC_DIR({cmd})": _READ | _WRITE,
        f"_IOC_TYPE({cmd})": ord("r"),
        f"_IOC_NR({cmd})": 7,
        f"_IOC_SIZE({cmd})": 100,
        "_IOC_NRSHIFT": 0,
        "_IOC_TYPESHIFT": 8,
        "_IOC_SIZESHIFT": 16,
        "_IOC_DIRSHIFT": 30,
    }
    assert _failed_cases(tmp_path, checks) == []


def test_constants_have_61_values(tmp_path: Path):
    assert _failed_cases(tmp_path, CONSTANT_CASES) == []


def test_value_checks_can_fail(tmp_path: Path):
    wrong = {"FOLL_LONGTERM": 0x100, "_IO('T', 1)": _ioc(_WRITE, ord("T"), 1, 0)}
    assert len(_failed_cases(tmp_path, wrong)) == 2


def test_ioctl_values_known_from_the_kernel():
    """Sanity of the hand encoder itself against commands whose numbers are well known."""
    assert _ioc(_NONE, 0x54, 0x1B, 0) == 0x541B  # TIOCINQ-style _IO('T', 0x1B)
    assert _ioc(_READ, ord("V"), 0, 104) == 0x80685600  # VIDIOC_QUERYCAP, 104-byte struct
    assert _ioc(_READ | _WRITE, 0xAF, 0x71, 0) == 0xC000AF71


# ---------------------------------------------------------------------------------------------
# Macro-versus-function shape the analyser relies on


MUST_BE_MACROS = [
    "get_user",
    "put_user",
    "__get_user",
    "__put_user",
    "access_ok",
    "likely",
    "unlikely",
    "READ_ONCE",
    "WRITE_ONCE",
    "min",
    "max",
    "min_t",
    "max_t",
    "clamp",
    "container_of",
    "ARRAY_SIZE",
    "BUILD_BUG_ON",
    "WARN_ON",
    "BUG_ON",
    "array_index_nospec",
    "module_init",
    "module_exit",
    "MODULE_LICENSE",
    "THIS_MODULE",
    "current",
    "pr_info",
    "pr_err",
    "pr_warn",
    "pr_debug",
    "spin_lock_irqsave",
    "DEFINE_MUTEX",
    "DEFINE_SPINLOCK",
    "LIST_HEAD",
    "list_for_each_entry",
    "list_for_each_entry_safe",
    "INIT_WORK",
    "offset_in_page",
    "PAGE_SIZE",
    "PAGE_MASK",
    "GFP_KERNEL",
    "FOLL_LONGTERM",
    "FOLL_PIN",
    "FOLL_GET",
    "FOLL_WRITE",
    "FOLL_FORCE",
    "_IO",
    "_IOR",
    "_IOW",
    "_IOWR",
    "__user",
    "__must_check",
    "dma_mmap_coherent",
]

MUST_CHECK_FUNCTIONS = [
    "copy_from_user",
    "copy_to_user",
    "__copy_from_user",
    "__copy_to_user",
    "clear_user",
    "__clear_user",
    "strncpy_from_user",
]

FUNCTIONS = MUST_CHECK_FUNCTIONS + [
    "get_user_pages",
    "get_user_pages_fast",
    "get_user_pages_unlocked",
    "get_user_pages_remote",
    "get_user_pages_fast_only",
    "pin_user_pages",
    "pin_user_pages_fast",
    "pin_user_pages_unlocked",
    "pin_user_pages_remote",
    "pin_user_pages_fast_only",
    "unpin_user_page",
    "unpin_user_pages",
    "unpin_user_pages_dirty_lock",
    "unpin_user_page_range_dirty_lock",
    "put_page",
    "get_page",
    "release_pages",
    "set_page_dirty_lock",
    "page_address",
    "kmap",
    "kunmap",
    "kmap_local_page",
    "virt_to_page",
    "vmalloc_to_page",
    "remap_pfn_range",
    "vm_insert_page",
    "remap_vmalloc_range",
    "vmalloc_user",
    "kmalloc",
    "kzalloc",
    "kfree",
    "vfree",
    "mutex_lock",
    "mutex_unlock",
    "spin_lock",
    "spin_unlock",
    "spin_unlock_irqrestore",
    "mmap_read_lock",
    "mmap_read_unlock",
    "misc_register",
    "misc_deregister",
    "cdev_init",
    "cdev_add",
    "alloc_chrdev_region",
    "register_chrdev",
    "xa_store",
    "xa_load",
    "idr_alloc",
    "schedule_work",
    "kref_put",
    "refcount_dec_and_test",
    "atomic_dec_and_test",
    "memcpy",
]

_ALL_HEADERS = """\
#include <linux/module.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/highmem.h>
#include <linux/vmalloc.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/miscdevice.h>
#include <linux/cdev.h>
#include <linux/xarray.h>
#include <linux/idr.h>
#include <linux/workqueue.h>
#include <linux/kref.h>
#include <linux/nospec.h>
#include <linux/dma-mapping.h>
"""


@lru_cache(maxsize=1)
def _model_symbols() -> tuple[frozenset[str], dict[str, cindex.Cursor]]:
    tu = parse("symbols.c", _ALL_HEADERS, detailed=True)
    assert errors(tu) == []
    macros = frozenset(
        c.spelling for c in tu.cursor.get_children() if c.kind == cindex.CursorKind.MACRO_DEFINITION
    )
    functions = {c.spelling: c for c in tu.cursor.get_children() if c.kind == cindex.CursorKind.FUNCTION_DECL}
    return macros, functions


@pytest.mark.parametrize("name", MUST_BE_MACROS)
def test_is_a_macro(name: str):
    macros, functions = _model_symbols()
    assert name in macros
    assert name not in functions


@pytest.mark.parametrize("name", FUNCTIONS)
def test_is_a_function(name: str):
    _, functions = _model_symbols()
    assert name in functions


@pytest.mark.parametrize("name", MUST_CHECK_FUNCTIONS)
def test_uaccess_copies_are_must_check(name: str):
    _, functions = _model_symbols()
    fn = functions[name]
    attrs = [c.kind for c in fn.get_children()]
    assert cindex.CursorKind.WARN_UNUSED_RESULT_ATTR in attrs, attrs


SIGNATURES = {
    # 6.1 parameter lists (types as clang spells them)
    "get_user_pages": [
        "unsigned long",
        "unsigned long",
        "unsigned int",
        "struct page **",
        "struct vm_area_struct **",
    ],
    "pin_user_pages": [
        "unsigned long",
        "unsigned long",
        "unsigned int",
        "struct page **",
        "struct vm_area_struct **",
    ],
    "get_user_pages_fast": ["unsigned long", "int", "unsigned int", "struct page **"],
    "pin_user_pages_fast": ["unsigned long", "int", "unsigned int", "struct page **"],
    "get_user_pages_unlocked": ["unsigned long", "unsigned long", "struct page **", "unsigned int"],
    "get_user_pages_remote": [
        "struct mm_struct *",
        "unsigned long",
        "unsigned long",
        "unsigned int",
        "struct page **",
        "struct vm_area_struct **",
        "int *",
    ],
    "unpin_user_pages_dirty_lock": ["struct page **", "unsigned long", "bool"],
    "copy_from_user": ["void *", "const void *", "unsigned long"],
    "copy_to_user": ["void *", "const void *", "unsigned long"],
    "strncpy_from_user": ["char *", "const char *", "long"],
}


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_signatures(name: str):
    _, functions = _model_symbols()
    params = [a.type.spelling for a in functions[name].get_arguments()]
    assert params == SIGNATURES[name]


def test_get_user_yields_int_and_assigns(tmp_path: Path):
    src = tmp_path / "gu.c"
    src.write_text(
        "#include <linux/uaccess.h>\n"
        "int f(const unsigned int __user *p, unsigned int *out)\n"
        "{ int err = get_user(*out, p); int e2 = __put_user(*out, (unsigned int __user *)p);\n"
        '  _Static_assert(__builtin_types_compatible_p(__typeof__(get_user(*out, p)), int), "int");\n'
        "  return err | e2 | (access_ok(p, 4) ? 0 : -EFAULT); }\n"
    )
    assert errors(parse(src)) == []


def test_module_init_references_the_function(tmp_path: Path):
    src = tmp_path / "mod.c"
    src.write_text(
        "#include <linux/module.h>\n"
        "static int __init gc_start(void) { return 0; }\n"
        "static void __exit gc_stop(void) { }\n"
        'module_init(gc_start);\nmodule_exit(gc_stop);\nMODULE_LICENSE("GPL");\n'
    )
    tu = parse(src)
    assert errors(tu) == []
    refs = {c.spelling for c in tu.cursor.walk_preorder() if c.kind == cindex.CursorKind.DECL_REF_EXPR}
    assert {"gc_start", "gc_stop"} <= refs
