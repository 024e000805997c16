"""Source discovery: directory expansion and the input problems a kernel developer can hit."""

from __future__ import annotations

import os
import signal
import stat
from pathlib import Path

import pytest

from gupcheck.frontend.discovery import discover_sources, read_source_text
from gupcheck.model.findings import InputProblem


def write(path: Path, text: str | bytes = "int x;\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def messages(problems: list[InputProblem]) -> dict[str, str]:
    return {p.path: p.message for p in problems}


@pytest.fixture
def alarm():
    """Fail instead of hanging forever (a FIFO opened for reading blocks)."""

    def on_alarm(signum, frame):
        raise TimeoutError("discover_sources blocked")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def test_directory_expanded_recursively_sorted(tmp_path):
    root = tmp_path / "drv"
    write(root / "b.c")
    write(root / "a.c")
    write(root / "sub" / "z.c")
    write(root / "sub" / "deeper" / "y.c")
    write(root / "a.h")  # headers are not translation units when a directory is searched
    write(root / "Makefile", "obj-m := a.o\n")
    write(root / "a.mod.c")  # Kbuild output
    write(root / ".a.o.cmd")
    write(root / ".hidden.c")
    write(root / ".git" / "objects" / "x.c")
    write(root / ".tmp_versions" / "t.c")
    sources, problems = discover_sources([str(root)])
    assert problems == []
    assert sources == [
        str(root / "a.c"),
        str(root / "b.c"),
        str(root / "sub" / "deeper" / "y.c"),
        str(root / "sub" / "z.c"),
    ]


def test_explicit_files_keep_order_and_are_absolute(tmp_path, monkeypatch):
    write(tmp_path / "z.c")
    write(tmp_path / "a.c")
    write(tmp_path / "drv.h")
    monkeypatch.chdir(tmp_path)
    sources, problems = discover_sources(["z.c", "./a.c", "drv.h"])
    assert problems == []
    assert sources == [str(tmp_path / "z.c"), str(tmp_path / "a.c"), str(tmp_path / "drv.h")]


def test_duplicates_analysed_once(tmp_path):
    a = write(tmp_path / "d" / "a.c")
    (tmp_path / "link.c").symlink_to(a)
    sources, problems = discover_sources([str(a), str(tmp_path / "d"), str(tmp_path / "link.c"), str(a)])
    assert sources == [str(a)] and problems == []


def test_missing_path(tmp_path):
    sources, problems = discover_sources([str(tmp_path / "nope.c"), str(tmp_path / "nodir")])
    assert sources == []
    assert messages(problems) == {
        str(tmp_path / "nope.c"): "no such file or directory",
        str(tmp_path / "nodir"): "no such file or directory",
    }
    assert all(p.fatal for p in problems)


def test_directory_without_c_files(tmp_path):
    write(tmp_path / "empty" / "README")
    write(tmp_path / "empty" / "a.h")
    sources, problems = discover_sources([str(tmp_path / "empty")])
    assert sources == []
    assert messages(problems) == {str(tmp_path / "empty"): "no C source files (*.c) in this directory"}


def test_good_and_bad_inputs_together(tmp_path):
    good = write(tmp_path / "good.c")
    sources, problems = discover_sources([str(tmp_path / "missing.c"), str(good)])
    assert sources == [str(good)]
    assert [p.path for p in problems] == [str(tmp_path / "missing.c")]


@pytest.mark.parametrize("name", ["notes.txt", "driver.o", "Makefile", "driver.cpp"])
def test_not_c_source(tmp_path, name):
    f = write(tmp_path / name)
    sources, problems = discover_sources([str(f)])
    assert sources == []
    assert messages(problems) == {str(f): "not a C source file (expected a .c or .h file)"}


def test_binary_file(tmp_path):
    f = write(tmp_path / "blob.c", b"\x7fELF\x02\x01\x01\x00\x00\x00" + b"\x00" * 64)
    sources, problems = discover_sources([str(f)])
    assert sources == []
    assert "binary file" in messages(problems)[str(f)]


def test_nul_after_8k_is_not_binary(tmp_path):
    f = write(tmp_path / "late.c", b"int x;\n" * 2000 + b"\x00")
    sources, problems = discover_sources([str(f)])
    assert sources == [str(f)] and problems == []


def test_latin1_file_still_analysed(tmp_path):
    f = write(tmp_path / "old.c", "/* Copyright J\xf6rg M\xfcller */\nint x;\n".encode("latin-1"))
    sources, problems = discover_sources([str(f)])
    assert sources == [str(f)]
    assert len(problems) == 1 and not problems[0].fatal
    assert problems[0].message == "not valid UTF-8; read as Latin-1"
    text = read_source_text(str(f))
    assert "J\u00f6rg M\u00fcller" in text and text.count("\n") == 2


def test_utf8_file_no_problem(tmp_path):
    f = write(tmp_path / "new.c", "/* Jörg Müller */\nint x;\n")
    assert discover_sources([str(f)]) == ([str(f)], [])


def test_fifo_is_not_read(tmp_path, alarm):
    """A FIFO named like a C file: opening it for reading would block forever."""
    fifo = tmp_path / "pipe.c"
    os.mkfifo(fifo)
    sources, problems = discover_sources([str(fifo)])
    assert sources == []
    assert messages(problems)[str(fifo)].startswith("not a regular file")
    # also inside a directory
    write(tmp_path / "real.c")
    sources, problems = discover_sources([str(tmp_path)])
    assert sources == [str(tmp_path / "real.c")]
    assert [p.path for p in problems] == [str(fifo)]


def test_dangling_symlink(tmp_path):
    link = tmp_path / "gone.c"
    link.symlink_to(tmp_path / "deleted.c")
    sources, problems = discover_sources([str(link)])
    assert sources == []
    assert messages(problems)[str(link)].startswith("broken symbolic link")


def test_unreadable_file(tmp_path):
    """A read that fails. Tests run as root, which ignores file permissions, so the root case uses a
    file whose read really fails for everyone: /proc/self/mem (reading offset 0 gives EIO)."""
    if os.geteuid() == 0:
        bad = tmp_path / "mem.c"
        bad.symlink_to("/proc/self/mem")
    else:
        bad = write(tmp_path / "secret.c")
        bad.chmod(0)
    sources, problems = discover_sources([str(bad)])
    assert sources == []
    msg = messages(problems)[str(bad)]
    assert msg.startswith("cannot read: ") and "\n" not in msg


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any directory")
def test_unreadable_directory(tmp_path):
    d = tmp_path / "locked"
    write(d / "a.c")
    d.chmod(0)
    try:
        sources, problems = discover_sources([str(d)])
    finally:
        d.chmod(stat.S_IRWXU)
    assert sources == []
    assert messages(problems)[str(d)].startswith("cannot read directory")


def test_directory_named_like_a_c_file(tmp_path):
    d = tmp_path / "weird.c"
    write(d / "inner.c")
    sources, problems = discover_sources([str(d)])
    assert sources == [str(d / "inner.c")] and problems == []


def test_empty_and_invalid_paths_do_not_raise(tmp_path):
    sources, problems = discover_sources(["", "bad\0name.c", str(tmp_path / ("x" * 5000 + ".c"))])
    assert sources == []
    assert len(problems) == 3
    assert all("\n" not in p.message for p in problems)


def test_nothing_modified(tmp_path):
    f = write(tmp_path / "a.c", "int x;\n")
    latin = write(tmp_path / "b.c", b"/* \xe9 */\n")
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in (f, latin)}
    listing = sorted(os.listdir(tmp_path))
    discover_sources([str(tmp_path), str(f)])
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in (f, latin)} == before
    assert sorted(os.listdir(tmp_path)) == listing


def test_a_c_file_another_source_includes_is_part_of_it_not_a_translation_unit(tmp_path: Path) -> None:
    """i915 builds its selftests by #including them into the file they test: parsed alone they only
    give errors. They are left out of a folder's sources (with a note), unless named."""
    (tmp_path / "selftests").mkdir()
    (tmp_path / "obj.c").write_text('int obj(void) { return 0; }\n#include "selftests/obj_test.c"\n')
    (tmp_path / "selftests" / "obj_test.c").write_text("int obj_test(void) { return obj(); }\n")
    (tmp_path / "other.c").write_text("int other(void) { return 1; }\n")
    sources, problems = discover_sources([str(tmp_path)])
    assert [Path(s).name for s in sources] == ["obj.c", "other.c"]
    assert [(Path(p.path).name, p.message, p.fatal, p.note) for p in problems] == [
        ("obj_test.c", "#included by obj.c: analysed as part of it, not on its own", False, True)
    ]
    named, problems = discover_sources([str(tmp_path), str(tmp_path / "selftests" / "obj_test.c")])
    assert [Path(s).name for s in named] == ["obj.c", "other.c", "obj_test.c"]
    assert problems == []
