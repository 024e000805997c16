"""The Kbuild reader (frontend/kbuild.py): makefiles read without make, for real.

Unit tests write makefiles in a temporary folder and read them; one compares the reader with GNU make
itself on the same makefile. End-to-end tests read the real makefiles of Linux 6.1's i915 and atomisp
(the drivers extracted into .cache/linux-source-6.1-drivers) and of out-of-tree drivers (/tmp/xil,
/tmp/corp), and parse their files with libclang against Debian's kernel headers; they skip when those
are absent.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from gupcheck.frontend import kbuild
from gupcheck.frontend.buildconfig import BuildConfig, KernelTree, model_include_dir
from gupcheck.frontend.kbuild import KbuildReader, makefile_in, read_auto_conf
from gupcheck.model.facts import HeaderMode, Side
from gupcheck.pipeline.engine import analyse
from gupcheck.rules import ALL_RULES

ROOT = Path(__file__).resolve().parent.parent
LINUX = ROOT / ".cache" / "linux-source-6.1-drivers"
I915 = LINUX / "drivers" / "gpu" / "drm" / "i915"
ATOMISP = LINUX / "drivers" / "staging" / "media" / "atomisp"
XDMA = Path("/tmp/xil/XDMA/linux-kernel/xdma")
SOFTIWARP = Path("/tmp/corp/zrlio+softiwarp/kernel")
XPMEM = Path("/tmp/corp/hpc+xpmem/kernel")


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def read(folder: Path, text: str, tree: KernelTree | None = None) -> kbuild._Evaluated:
    """`text` as the Makefile of `folder`, read as Kbuild reads it."""
    write(folder, "Makefile", text)
    evaluated = KbuildReader(tree).evaluate(str(folder))
    assert evaluated is not None
    return evaluated


def debian_tree() -> KernelTree:
    trees = sorted(glob.glob("/usr/src/linux-headers-*-amd64"))
    if not trees:
        pytest.skip("Debian's linux-headers-amd64 is not installed (make test installs it)")
    return KernelTree.detect(trees[-1])


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not there (extracted sources)")
    return path


# ---------------------------------------------------------------------------------------------------
# The make subset


def test_assignment_flavours(tmp_path: Path) -> None:
    ev = read(
        tmp_path,
        """\
        A = $(B) late
        S := $(B) early
        B = bee
        A += more
        S += $(B)
        Q ?= first
        Q ?= second
        B := changed
        override O := over
        export E = exported
        N != pwd
        """,
    )
    assert ev.value("A") == "changed late more"  # recursive: expanded when used
    assert ev.value("S") == " early bee"  # simple: expanded when assigned, += expands at once
    assert ev.value("Q") == "first"
    assert ev.value("O") == "over"
    assert ev.value("E") == "exported"
    assert ev.value("N") == str(tmp_path)  # != runs the (understood) command; make's folder for M=
    assert not ev.make.unknown


def test_references_substitution_and_computed_names(tmp_path: Path) -> None:
    ev = read(
        tmp_path,
        """\
        SRCS := a.c b.c sub/c.c
        OBJS = $(SRCS:.c=.o)
        PCT = ${SRCS:%.c=%.s}
        WHICH = X
        X_y = chosen
        NESTED = $($(WHICH)_y)
        SINGLE = $Wdone
        W = w-
        """,
    )
    assert ev.value("OBJS") == "a.o b.o sub/c.o"
    assert ev.value("PCT") == "a.s b.s sub/c.s"
    assert ev.value("NESTED") == "chosen"
    assert ev.value("SINGLE") == "w-done"


def test_kbuild_variables_of_an_external_module(tmp_path: Path) -> None:
    ev = read(
        tmp_path / "drv",
        """\
        S := $(src)
        O := $(obj)
        MM := $(M) $(KBUILD_EXTMOD)
        P := $(PWD)
        R := $(KERNELRELEASE)
        """,
    )
    folder = str(tmp_path / "drv")
    assert ev.value("S") == folder and ev.value("O") == folder  # Kbuild 6.1: absolute for M=
    assert ev.value("MM") == f"{folder} {folder}"
    assert ev.value("P") == folder
    assert ev.value("R")  # KERNELRELEASE is set, as when Kbuild reads the Makefile


def test_kbuild_variables_with_a_kernel_tree() -> None:
    tree = debian_tree()
    reader = KbuildReader(tree)
    folder = ROOT / "testdata"
    ctx = reader.context(str(folder))
    assert (ctx.srctree, ctx.objtree, ctx.cwd) == (tree.source_dir, tree.build_dir, tree.build_dir)
    assert reader.base_variables()["KERNELRELEASE"].value == tree.release
    assert reader.base_variables()["CONFIG_X86_64"].value == "y"
    assert "CONFIG_X86_64" in read_auto_conf(tree.auto_conf)


def test_functions(tmp_path: Path) -> None:
    (tmp_path / "inc").mkdir()
    (tmp_path / "one.c").write_text("")
    (tmp_path / "two.c").write_text("")
    ev = read(
        tmp_path,
        """\
        D := $(dir src/a.c b.c)
        ND := $(notdir src/a.c b.c)
        ABS := $(abspath inc/../inc/x)
        REAL := $(realpath inc missing)
        WILD := $(wildcard *.c)
        PRE := $(addprefix -I,x y)
        SUF := $(addsuffix .o,x y)
        PAT := $(patsubst %.c,%.o,a.c b.h)
        SUB := $(subst a,A,banana)
        FIL := $(filter %.o,a.o b.c c.o)
        OUT := $(filter-out %.o,a.o b.c c.o)
        STR := $(strip   a   b  )
        SORT := $(sort c b a b)
        W := $(word 2,a b c) $(words a b c) $(firstword a b) $(lastword a b) $(wordlist 2,3,a b c d)
        BASE := $(basename a/b.c d.e.f) $(suffix a/b.c noext)
        FE := $(foreach d,x y,-I$(d))
        f = [$(1)|$(2)]
        CALL := $(call f,one,two)
        IF := $(if $(EMPTY),yes,no) $(if x,yes,no)
        OR := $(or ,,b) $(and a,b)
        FIND := $(findstring an,banana)
        CD := $(shell cd inc && pwd)
        CDMISSING := $(shell cd nowhere && pwd)
        ORIG := $(origin f) $(origin NOPE) $(flavor f) $(flavor CALL)
        VAL := $(value f)
        $(eval EVALED := from-eval)
        ML := $(lastword $(MAKEFILE_LIST))
        DN := $(shell dirname $(lastword $(MAKEFILE_LIST)))/..
        BN := $(shell basename inc/x.c .c)
        """,
    )
    inc = str(tmp_path / "inc")
    assert ev.value("D") == "src/ ./"
    assert ev.value("ND") == "a.c b.c"
    assert ev.value("ABS") == os.path.join(inc, "x")
    assert ev.value("REAL") == inc
    assert ev.value("WILD") == "one.c two.c"
    assert ev.value("PRE") == "-Ix -Iy"
    assert ev.value("SUF") == "x.o y.o"
    assert ev.value("PAT") == "a.o b.h"
    assert ev.value("SUB") == "bAnAnA"
    assert ev.value("FIL") == "a.o c.o"
    assert ev.value("OUT") == "b.c"
    assert ev.value("STR") == "a b"
    assert ev.value("SORT") == "a b c"
    assert ev.value("W") == "b 3 a b b c"
    assert ev.value("BASE") == "a/b d.e .c"
    assert ev.value("FE") == "-Ix -Iy"
    assert ev.value("CALL") == "[one|two]"
    assert ev.value("IF") == "no yes"
    assert ev.value("OR") == "b b"
    assert ev.value("FIND") == "an"
    assert ev.value("CD") == inc
    assert ev.value("CDMISSING") == ""
    assert ev.value("ORIG") == "file undefined recursive simple"
    assert ev.value("VAL") == "[$(1)|$(2)]"
    assert ev.value("EVALED") == "from-eval"
    assert ev.value("ML") == str(tmp_path / "Makefile")
    assert ev.value("DN") == f"{tmp_path}/.."
    assert ev.value("BN") == "x"
    assert not ev.make.unknown


def test_conditionals_as_kbuild_reads_a_module_makefile(tmp_path: Path) -> None:
    ev = read(
        tmp_path,
        """\
        ifneq ($(KERNELRELEASE),)
        \tobj-m := mod.o
        \tKB := yes
        else
        KDIR ?= /lib/modules/$(shell uname -r)/build
        all:
        \t$(MAKE) -C $(KDIR) M=$(PWD) modules
        endif
        ifeq "$(KB)" "yes"
          Q1 := quoted
        endif
        ifdef KB
          D1 := defined
        endif
        ifndef NOT_SET
          D2 := undefined
        endif
        EMPTY :=
        ifdef EMPTY
          D3 := wrong
        endif
        ifeq ($(KB),no)
          E := first
        else ifeq ($(KB),yes)
          E := second
          ifeq (a,b)
            E := nested-wrong
          else
            NESTED := nested-else
          endif
        else
          E := third
        endif
        """,
    )
    assert ev.words("obj-m") == ["mod.o"]  # tab-indented, but no rule before: not a recipe
    assert ev.value("KDIR") == ""  # the make-only branch is not read
    assert ev.value("Q1") == "quoted"
    assert (ev.value("D1"), ev.value("D2"), ev.value("D3")) == ("defined", "undefined", "")
    assert ev.value("E") == "second"
    assert ev.value("NESTED") == "nested-else"
    assert not ev.make.unknown  # $(shell uname -r) sat in the branch not taken


def test_continuations_comments_recipes_and_define(tmp_path: Path) -> None:
    ev = read(
        tmp_path,
        """\
        LIST := a \\
        \tb \\
           c   # a comment
        HASH := x\\#y
        KEEP := $(if x,#literal)
        all: foo
        \tRECIPE := not-a-variable
        \t@echo $(LIST)

        AFTER := after
        define MULTI
        line one
        ifeq (a,a)
        endef
        """,
    )
    assert ev.value("LIST").split() == ["a", "b", "c"]
    assert ev.value("HASH") == "x#y"
    assert ev.value("KEEP") == "#literal"  # inside a function call '#' is not a comment
    assert ev.value("RECIPE") == ""
    assert ev.value("AFTER") == "after"
    assert ev.value("MULTI") == "line one\nifeq (a,a)"  # a define body holds no directives


def test_includes_existing_optional_missing_and_cycles(tmp_path: Path) -> None:
    write(tmp_path, "common.mk", "FROM_COMMON := yes\ninclude $(src)/again.mk\n")
    write(tmp_path, "again.mk", "AGAIN := yes\ninclude $(src)/common.mk\n")  # a cycle
    ev = read(
        tmp_path,
        """\
        include $(src)/common.mk
        -include $(src)/optional.mk
        sinclude $(src)/optional.mk
        include $(src)/required.mk
        include rel.mk
        """,
    )
    write(tmp_path, "rel.mk", "")  # read after: a fresh reader finds it next to the Makefile
    assert (ev.value("FROM_COMMON"), ev.value("AGAIN")) == ("yes", "yes")
    notes = "\n".join(ev.make.notes)
    assert "include cycle" in notes
    assert "required.mk: no such file" in notes
    assert "optional.mk" not in notes
    assert [Path(p).name for p in ev.make.read] == ["Makefile", "common.mk", "again.mk"]
    again = KbuildReader().evaluate(str(tmp_path))
    assert again is not None and str(tmp_path / "rel.mk") in again.make.read


def test_include_depth_is_bounded(tmp_path: Path) -> None:
    for n in range(kbuild.MAX_INCLUDE_DEPTH + 3):
        write(tmp_path, f"l{n}.mk", f"DEPTH := {n}\ninclude $(src)/l{n + 1}.mk\n")
    ev = read(tmp_path, "include $(src)/l0.mk\n")
    assert ev.value("DEPTH") == str(kbuild.MAX_INCLUDE_DEPTH - 1)
    assert any("includes deep" in note for note in ev.make.notes)


def test_what_is_not_understood_is_counted_and_kbuild_helpers_are_not(tmp_path: Path) -> None:
    ev = read(
        tmp_path,
        """\
        A := $(shell uname -a)
        B := $(shell grep -c x /etc/hostname)
        C := $(file <list.txt)
        D := $(call not_defined,x)
        E := $(call cc-option,-DHAS_OPTION) $(call cc-disable-warning,foo)
        F := $(guile (+ 1 2))
        ifneq ($(shell grep -c genl_register_family /usr/include/net/genetlink.h),0)
          PROBED := yes
        else
          PROBED := no
        endif
        ABI := $(shell $(src)/scripts/abi-version.sh)
        ifneq ($(ABI),0)
          ccflags-y += -DABI_FROM_BRANCH=$(ABI)
        endif
        ccflags-y += -DABI=$(ABI) -DKEPT $(if $(ABI),-DFROM_IF)
        """,
    )
    assert ev.flag_words("ccflags-y") == ["-DKEPT"]  # what holds an unknown value is left out
    assert any("-DABI=?" in note for note in ev.notes)
    assert ev.value("PROBED") == ""  # a test that probes with a shell command takes neither branch
    assert any("neither branch read" in what for what in ev.make.unknown)
    unknown = set(ev.make.unknown)
    assert "$(shell uname -a)" in unknown
    assert "$(shell grep -c x /etc/hostname)" in unknown
    assert "$(file ...)" in unknown and "$(guile ...)" in unknown
    assert "$(call not_defined)" in unknown
    assert not any("cc-" in what for what in unknown)
    assert ev.value("E") == "-DHAS_OPTION "


def test_budgets_end_self_reference_and_blow_up(tmp_path: Path) -> None:
    ev = read(
        tmp_path,
        """\
        LOOP = $(LOOP) x
        USE := $(LOOP)
        L0 = ab
        L1 = $(L0)$(L0)$(L0)$(L0)
        L2 = $(L1)$(L1)$(L1)$(L1)
        L3 = $(L2)$(L2)$(L2)$(L2)
        L4 = $(L3)$(L3)$(L3)$(L3)
        L5 = $(L4)$(L4)$(L4)$(L4)
        L6 = $(L5)$(L5)$(L5)$(L5)
        L7 = $(L6)$(L6)$(L6)$(L6)
        L8 = $(L7)$(L7)$(L7)$(L7)
        L9 = $(L8)$(L8)$(L8)$(L8)
        BIG := $(L9)$(L9)$(L9)$(L9)
        AFTER := not reached
        """,
    )
    assert any("nested too deep" in what for what in ev.make.unknown)
    assert any("read up to there" in note for note in ev.notes)  # the 4^10 expansion was cut
    assert ev.value("AFTER") == ""


GNU_MAKE_CASES = {
    "functions": (
        """\
        TOP := $(shell cd $(src)/.. && pwd)
        NAME = drv
        $(NAME)-objs := main.o $(patsubst %.c,%.o,$(notdir $(wildcard $(src)/inc/*.c)))
        obj-m += $(NAME).o
        ccflags-y := -I$(src)/inc -DNAME=$(NAME) \\
            -I$(TOP)/include
        ifeq ($(filter %.o,$(obj-m)),drv.o)
          ccflags-y += -DONE_MODULE
        else
          ccflags-y += -DWRONG
        endif
        list = $(foreach w,$(1),<$(w)>)
        WRAPPED := $(call list,a b) $(words $(ccflags-y)) $(subst .o,.c,$($(NAME)-objs))
        EXTRA_CFLAGS += $(addprefix -D,X Y) ${CONFIG_UNSET} $(sort $(dir $(wildcard $(src)/inc/*)))
        """,
        ["TOP", "drv-objs", "obj-m", "ccflags-y", "WRAPPED", "EXTRA_CFLAGS"],
    ),
    "statements": (
        """\
        include $(src)/common.mk
        -include $(src)/absent.mk
        ifneq ($(KERNELRELEASE),)
        \tobj-m := mod.o
        else
        all:
        \t$(MAKE) -C /lib/modules/build M=$(PWD)
        endif
        build:
        \tRECIPE := not-read
        # a comment \\
          continued
        LATE = $(EARLY) late
        EARLY := early
        LIST := a \\
        \tb$(if x,#kept)  # comment
        ifdef EARLY
          ifeq ($(LATE),early late)
            NESTED := yes
          else ifeq (x,x)
            NESTED := wrong
          endif
        endif
        define TEMPLATE
        $(1)-y += $(1)_main.o
        endef
        $(eval $(call TEMPLATE,mod))
        Q ?= first
        Q ?= second
        mod-objs := $(mod-y:.o=.c)
        """,
        ["obj-m", "RECIPE", "LATE", "LIST", "NESTED", "mod-y", "Q", "mod-objs", "FROM_COMMON"],
    ),
}


@pytest.mark.parametrize("case", sorted(GNU_MAKE_CASES))
def test_reader_agrees_with_gnu_make(tmp_path: Path, case: str) -> None:
    """The same makefile read by GNU make (with the variables Kbuild would set) and by the reader."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("GNU make is not installed")
    text, names = GNU_MAKE_CASES[case]
    folder = tmp_path / "drv"
    (folder / "inc").mkdir(parents=True)
    (folder / "inc" / "helper.c").write_text("")
    write(folder, "common.mk", "FROM_COMMON := $(words $(MAKEFILE_LIST)) makefiles\n")
    write(folder, "Makefile", text)
    wrapper = tmp_path / "wrapper.mk"
    resets = "".join(f"{name} :=\n" for name in ("obj-m", "ccflags-y", "EXTRA_CFLAGS"))
    wrapper.write_text(
        f"src := {folder}\nobj := {folder}\nKERNELRELEASE := 6.1\n{resets}"
        f"include {folder}/Makefile\n"
        + "".join(f"$(info {name}=$({name}))\n" for name in names)
        + "gupcheck-print: ;\n"
    )
    run = subprocess.run(
        [make, "-s", "-f", str(wrapper), "gupcheck-print"], cwd=folder, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    by_make = dict(line.split("=", 1) for line in run.stdout.splitlines() if "=" in line)
    ev = KbuildReader().evaluate(str(folder))
    assert ev is not None
    for name in names:
        if name == "FROM_COMMON":  # make has read the wrapper too
            assert ev.value(name) == "2 makefiles" and by_make[name] == "3 makefiles"
            continue
        assert ev.value(name).split() == by_make[name].split(), name


# ---------------------------------------------------------------------------------------------------
# Flags and objects


def driver(tmp_path: Path) -> Path:
    """An external module: a top folder descending into sub/, a sibling common/ folder, includes."""
    top = tmp_path / "drv"
    for d in ("include", "sub/include", "common", "sub/priv"):
        (top / d).mkdir(parents=True, exist_ok=True)
    write(top, "include/forced.h", "#define FORCED 1\n")
    write(
        top,
        "Makefile",
        """\
        subdir-ccflags-y := -I$(src)/include -DFROM_TOP
        obj-m += sub/
        """,
    )
    write(
        top,
        "sub/Kbuild",
        """\
        obj-m += mydrv.o
        mydrv-objs := main.o ../common/shared.o
        mydrv-y += extra.o
        mydrv-$(CONFIG_NOT_A_REAL_OPTION_XYZ) += optional.o
        obj-m += single.o
        ccflags-y += -I$(src)/include -Wall -O2 -DWITH_VALUE=3 -U NDEBUG -include $(src)/../include/forced.h
        ccflags-y += -I$(src)/does-not-exist -iquote $(src)/priv -isystem $(src)/include
        EXTRA_CFLAGS += -DEXTRA
        CFLAGS_main.o := -DONLY_MAIN
        ccflags-remove-y += -DWITH_VALUE=3
        """,
    )
    write(top, "sub/Makefile", "ccflags-y := -DFROM_MAKEFILE_NOT_KBUILD\nobj-m := other.o\n")
    for name in ("sub/main.c", "sub/extra.c", "sub/optional.c", "sub/single.c", "common/shared.c"):
        write(top, name, "int x;\n")
    write(top, "sub/unlisted.c", "int y;\n")
    return top


def test_flags_of_a_listed_object_in_kbuilds_order(tmp_path: Path) -> None:
    top = driver(tmp_path)
    reader = KbuildReader()
    flags = reader.flags_for(str(top / "sub" / "main.c"))
    assert flags.makefile == str(top / "sub" / "Kbuild")  # Kbuild wins over Makefile
    assert flags.listed and flags.object == "main.o"
    sub = str(top / "sub")
    assert list(flags.args) == [
        "-I",
        str(top / "include"),  # subdir-ccflags-y of the parent Kbuild descends from
        "-DFROM_TOP",
        "-I",
        f"{sub}/include",
        "-UNDEBUG",
        "-include",
        str(top / "include" / "forced.h"),
        "-iquote",
        f"{sub}/priv",
        "-isystem",
        f"{sub}/include",
        "-DEXTRA",
        "-DONLY_MAIN",
    ]
    assert "-Wall" not in flags.args and "-DWITH_VALUE=3" not in flags.args  # removed by ccflags-remove-y
    assert any("does-not-exist" in note for note in flags.notes)  # left out, and said
    other = reader.flags_for(str(top / "sub" / "extra.c"))
    assert "-DONLY_MAIN" not in other.args and "-DEXTRA" in other.args  # CFLAGS_main.o is main.o's


def test_object_named_from_a_sibling_folder_and_unlisted_files(tmp_path: Path) -> None:
    top = driver(tmp_path)
    reader = KbuildReader()
    shared = reader.flags_for(str(top / "common" / "shared.c"))
    assert shared.makefile == str(top / "sub" / "Kbuild") and shared.object == "../common/shared.o"
    assert "-DEXTRA" in shared.args
    unlisted = reader.flags_for(str(top / "sub" / "unlisted.c"))
    assert not unlisted.listed and unlisted.makefile == str(top / "sub" / "Kbuild")
    assert "-DEXTRA" in unlisted.args
    nothing = reader.flags_for(str(tmp_path / "elsewhere" / "x.c"))
    assert nothing.args == () and nothing.makefile is None


def test_module_object_lists(tmp_path: Path) -> None:
    top = driver(tmp_path)
    reader = KbuildReader()
    module = reader.module_of(str(top / "common" / "shared.c"))
    assert module is not None and module.name == "mydrv"
    expected = [top / "sub" / "main.c", top / "common" / "shared.c", top / "sub" / "extra.c"]
    expected.append(top / "sub" / "optional.c")  # no configuration known: CONFIG parts count
    assert reader.module_sources(str(top / "sub" / "extra.c")) == [str(p) for p in expected]
    assert reader.module_sources(str(top / "sub" / "single.c")) == [str(top / "sub" / "single.c")]
    assert reader.module_sources(str(top / "sub" / "unlisted.c")) == []
    assert reader.builds(str(top / "sub" / "main.c")) and not reader.builds(str(top / "sub" / "unlisted.c"))


def test_config_options_come_from_the_trees_auto_conf(tmp_path: Path) -> None:
    tree = debian_tree()
    top = driver(tmp_path)
    write(
        top,
        "sub/Kbuild",
        """\
        obj-m += mydrv.o
        mydrv-y := main.o
        mydrv-$(CONFIG_X86_64) += extra.o
        mydrv-$(CONFIG_NOT_A_REAL_OPTION_XYZ) += optional.o
        ccflags-$(CONFIG_X86_64) += -DSIXTY_FOUR
        ccflags-$(CONFIG_NOT_A_REAL_OPTION_XYZ) += -DNEVER
        ifeq ($(CONFIG_X86_64),y)
        ccflags-y += -DCONFIGURED
        endif
        ccflags-y += -I$(srctree)/include/linux -Iinclude/generated
        """,
    )
    reader = KbuildReader(tree)
    flags = reader.flags_for(str(top / "sub" / "main.c"))
    assert "-DSIXTY_FOUR" in flags.args and "-DCONFIGURED" in flags.args and "-DNEVER" not in flags.args
    # $(srctree) is the kernel's source tree; a bare relative -I is taken from the object tree,
    # where Kbuild's compiler runs
    assert os.path.join(tree.source_dir, "include", "linux") in flags.args
    assert os.path.join(tree.build_dir, "include", "generated") in flags.args
    sources = reader.module_sources(str(top / "sub" / "main.c"))
    assert sources == [str(top / "sub" / "main.c"), str(top / "sub" / "extra.c")]  # optional.c is off
    off = reader.module_of(str(top / "sub" / "optional.c"))
    assert off is not None and off.name == "mydrv"  # configured out, still its module's


def test_in_tree_driver_paths_are_relative_to_its_source_tree(tmp_path: Path) -> None:
    linux = tmp_path / "linux"
    write(linux, "drivers/Kconfig", 'menu "Device Drivers"\n')
    write(linux, "drivers/Makefile", "obj-$(CONFIG_FOO) += foo/\n")
    write(
        linux,
        "drivers/foo/Makefile",
        """\
        subdir-ccflags-y += -I$(srctree)/$(src)
        obj-$(CONFIG_FOO) += foo.o
        foo-y := core.o hw/regs.o
        ccflags-y += -Idrivers/foo/hw -DSRC=$(src)
        """,
    )
    (linux / "drivers" / "foo" / "hw").mkdir()
    write(linux, "drivers/foo/core.c", "")
    write(linux, "drivers/foo/hw/regs.c", "")
    reader = KbuildReader()
    flags = reader.flags_for(str(linux / "drivers" / "foo" / "hw" / "regs.c"))
    foo = linux / "drivers" / "foo"
    assert list(flags.args) == ["-I", str(foo), "-I", str(foo / "hw"), "-DSRC=drivers/foo"]
    assert reader.module_sources(str(foo / "core.c")) == [str(foo / "core.c"), str(foo / "hw" / "regs.c")]
    # a parent may name a folder two levels down (obj-y += bar/baz/): its subdir-ccflags-y still apply
    write(linux, "drivers/Makefile", "subdir-ccflags-y += -DFROM_DRIVERS\nobj-y += bar/baz/\n")
    write(linux, "drivers/bar/baz/Makefile", "obj-y += baz.o\n")
    write(linux, "drivers/bar/baz/baz.c", "")
    baz = KbuildReader().flags_for(str(linux / "drivers" / "bar" / "baz" / "baz.c"))
    assert baz.args == ("-DFROM_DRIVERS",)


def test_a_backports_top_kbuild_and_its_include_shims(tmp_path: Path) -> None:
    top = tmp_path / "backport"
    for d in ("include/linux", "backport-include", "drivers/fpga"):
        (top / d).mkdir(parents=True)
    write(
        top,
        "Kbuild",
        """\
        LINUXINCLUDE := -I$(src)/include $(LINUXINCLUDE) -I$(src)/include/linux
        NOSTDINC_FLAGS += -I$(src)/backport-include
        KBUILD_CFLAGS += -DBACKPORT
        obj-m += afu.o
        afu-y := drivers/fpga/afu-main.o drivers/fpga/afu-dma.o
        """,
    )
    # an upstream copy Kbuild never reads: no makefile above descends into drivers/fpga
    write(top, "drivers/fpga/Makefile", "obj-$(CONFIG_AFU) += afu-dma.o\nccflags-y += -DUPSTREAM_COPY\n")
    write(top, "drivers/fpga/afu-main.c", "")
    write(top, "drivers/fpga/afu-dma.c", "")
    reader = KbuildReader()
    flags = reader.flags_for(str(top / "drivers" / "fpga" / "afu-dma.c"))
    assert flags.makefile == str(top / "Kbuild") and flags.object == "drivers/fpga/afu-dma.o"
    assert flags.first_args == ("-I", str(top / "backport-include"), "-I", str(top / "include"))
    assert flags.args == ("-I", str(top / "include" / "linux"), "-DBACKPORT")
    assert flags.around(["KERNEL"]) == [*flags.first_args, "KERNEL", *flags.args]
    module = reader.module_of(str(top / "drivers" / "fpga" / "afu-main.c"))
    assert module is not None and module.name == "afu" and len(module.sources) == 2
    write(top, "drivers/Makefile", "obj-y += fpga/\n")  # now Kbuild would descend into it
    assert KbuildReader().flags_for(str(top / "drivers" / "fpga" / "afu-dma.c")).args == ("-DUPSTREAM_COPY",)
    # in the model mode, the shims come before the model's own include folder
    write(top, "shim.c", '#include <linux/module.h>\nMODULE_LICENSE("GPL");\n')
    write(top, "Kbuild", "LINUXINCLUDE := -I$(src)/include $(LINUXINCLUDE)\nobj-m += shim.o\n")
    args = list(BuildConfig(use_model=True).config_for(str(top / "shim.c")).args)
    assert args.index(str(top / "include")) < args.index(model_include_dir())


def test_autoconf_kbuild_in(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    write(project, "configure.ac", "AC_INIT\n")
    write(project, "include/api.h", "")
    write(
        project,
        "kernel/Kbuild.in",
        "obj-m := m.o\nm-objs := a.o\nEXTRA_CFLAGS = -I$(obj)/@top_srcdir@/include @X@\n",
    )
    write(project, "kernel/a.c", "")
    flags = KbuildReader().flags_for(str(project / "kernel" / "a.c"))
    assert flags.args == ("-I", str(project / "include"))
    assert any("@X@" in what for what in flags.not_understood)


def test_makefile_search_is_bounded(tmp_path: Path) -> None:
    deep = tmp_path
    for n in range(kbuild.SEARCH_PARENTS + 2):
        deep = deep / f"d{n}"
    deep.mkdir(parents=True)
    (deep / "x.c").write_text("")
    rel = os.path.relpath(deep / "x.o", tmp_path)
    write(tmp_path, "Kbuild", f"obj-m := {rel}\n")  # too far up to be looked at
    assert KbuildReader().flags_for(str(deep / "x.c")).makefile is None
    for n in range(kbuild.MAX_CANDIDATES + 5):  # sibling folders of x.c's, each with a makefile
        write(deep.parent, f"s{n:03}/Makefile", "obj-m := y.o\n")
    notes = KbuildReader().flags_for(str(deep / "x.c")).notes
    assert any("stopped looking" in note for note in notes)


def test_buildconfig_adds_the_drivers_flags_and_kbuild_objects_are_kernel_code(tmp_path: Path) -> None:
    top = driver(tmp_path)
    # uapi-style includes only: the text alone would be classified as userland
    write(top, "sub/main.c", "#include <linux/types.h>\nint probe(void) { return FORCED; }\n")
    config = BuildConfig(use_model=True).config_for(str(top / "sub" / "main.c"))
    assert config.side is Side.KERNEL and config.mode is HeaderMode.KERNEL_MODEL
    args = list(config.args)
    assert args[args.index("-include", args.index("-DFROM_TOP")) + 1] == str(top / "include" / "forced.h")
    assert "-DONLY_MAIN" in args
    write(tmp_path, "app/tool.c", "#include <stdio.h>\nint main(void) { return 0; }\n")
    app = BuildConfig(use_model=True).config_for(str(tmp_path / "app" / "tool.c"))
    assert app.side is Side.USERLAND and "-DFROM_TOP" not in app.args


# ---------------------------------------------------------------------------------------------------
# Real trees


def missing_headers(paths: list[Path], tree: KernelTree) -> dict[str, list[str]]:
    analysis = analyse([str(p) for p in paths], ALL_RULES, kernel_dir=tree.build_dir)
    assert len(analysis.units) == len(paths), [str(p) for p in analysis.problems]
    for unit in analysis.units:
        assert unit.mode is HeaderMode.KERNEL_TREE
    return {Path(unit.path).name: unit.missing_headers for unit in analysis.units}


def test_i915_finds_its_headers_through_subdir_ccflags() -> None:
    tree = debian_tree()
    files = [need(I915 / "gt" / "intel_gt.c"), I915 / "display" / "intel_fb.c", I915 / "gem" / "i915_gemfs.c"]
    flags = KbuildReader(tree).flags_for(str(files[0]))
    assert flags.makefile == str(I915 / "Makefile") and flags.object == "gt/intel_gt.o"
    assert flags.args == ("-I", str(I915))  # subdir-ccflags-y += -I$(srctree)/$(src)
    assert missing_headers(files, tree) == {path.name: [] for path in files}


def test_i915_module_object_lists() -> None:
    tree = debian_tree()
    reader = KbuildReader(tree)
    sources = reader.module_sources(str(need(I915 / "i915_driver.c")))
    names = {os.path.relpath(p, I915) for p in sources}
    assert {"i915_driver.c", "gt/intel_gt.c", "display/intel_display.c", "gem/i915_gem_shmem.c"} <= names
    assert "i915_ioc32.c" in names  # i915-$(CONFIG_COMPAT), set in Debian's configuration
    assert not any(name.startswith("gvt/") for name in names)  # those are kvmgt's
    assert len(sources) > 200
    gvt = reader.module_of(str(I915 / "gvt" / "gtt.c"))
    assert gvt is not None and gvt.name == "kvmgt" and gvt.makefile == str(I915 / "Makefile")
    assert all(os.path.dirname(p) == str(I915 / "gvt") for p in gvt.sources)


def test_atomisp_finds_its_hundred_include_folders() -> None:
    tree = debian_tree()
    files = [
        need(ATOMISP / "pci" / "sh_css.c"),
        ATOMISP / "pci" / "isp" / "kernels" / "aa" / "aa_2" / "ia_css_aa2.host.c",  # 5 folders down
        ATOMISP / "pci" / "hmm" / "hmm.c",
    ]
    flags = KbuildReader(tree).flags_for(str(files[1]))
    assert flags.makefile == str(ATOMISP / "Makefile")
    assert flags.args.count("-I") > 100 and "-DHRT_HW" in flags.args
    assert missing_headers(files, tree) == {path.name: [] for path in files}
    module = KbuildReader(tree).module_of(str(files[0]))
    assert module is not None and module.name == "atomisp" and str(files[1]) in module.sources


@pytest.mark.parametrize(
    ("folder", "files", "module", "count"),
    [
        (XDMA, ["libxdma.c", "cdev_sgdma.c", "xdma_mod.c"], "xdma", 9),  # EXTRA_CFLAGS, $(shell cd .. && pwd)
        (SOFTIWARP, ["siw_cm.c", "siw_mem.c"], "siw", 11),  # EXTRA_CFLAGS += -I$(src)/../common
        (XPMEM, ["xpmem_get.c", "xpmem_main.c"], "xpmem", 7),  # Kbuild.in, -I$(obj)/@top_srcdir@/include
    ],
    ids=["xdma", "softiwarp", "xpmem"],
)
def test_out_of_tree_drivers_find_their_headers(
    folder: Path, files: list[str], module: str, count: int
) -> None:
    tree = debian_tree()
    paths = [need(folder) / name for name in files]
    assert makefile_in(str(folder)) is not None
    # without the reader these files lose their own headers ('libxdma_api.h', 'siw_user.h',
    # 'xpmem_internal.h' file not found): the flags must bring them back
    assert all(KbuildReader(tree).flags_for(str(p)).args for p in paths)
    assert missing_headers(paths, tree) == {p.name: [] for p in paths}
    found = KbuildReader(tree).module_of(str(paths[0]))
    assert found is not None and found.name == module and len(found.sources) == count
    assert set(found.sources) == {str(p) for p in folder.glob("*.c")}
