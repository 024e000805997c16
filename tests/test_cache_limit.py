"""The cache stays small: after a run that wrote to it, the least recently used entries are removed
whole until it is under its limit (`--cache-max-size`, `cache-max-size`, default 512 MiB), safely while
other runs share it; `gupcheck cache info` and `gupcheck cache clean` show and empty it, touching
nothing else in the folder. Real runs of the command line on small testdata cases."""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from test_cli import gupcheck

from gupcheck.pipeline import cachedir

REPO = Path(__file__).resolve().parent.parent
GUP001 = REPO / "testdata" / "gup001"
CASE_A = GUP001 / "get-kept-in-private-data" / "framegrab.c"
CASE_B = GUP001 / "released-in-release" / "holdbuf.c"
CASE_C = GUP001 / "unreachable-helper" / "bootpin.c"
CASE_D = GUP001 / "chunked-partial-pin" / "pagehash.c"
HOUR = 3600


def files_in(folder: Path) -> dict[Path, int]:
    """Every file under `folder`, with its size."""
    return {path: path.stat().st_size for path in folder.rglob("*") if path.is_file()}


def size_of(files: set[Path]) -> int:
    return sum(path.stat().st_size for path in files)


def smallest(files: set[Path]) -> int:
    return min(path.stat().st_size for path in files)


def analyse(cache: Path, source: Path, *options: str, cwd: Path) -> set[Path]:
    """Run gupcheck on `source` with `cache`; the files the run added to it."""
    before = set(files_in(cache)) if cache.exists() else set()
    done = gupcheck("--kernel-model", "--cache-dir", str(cache), "-j1", *options, str(source), cwd=cwd)
    assert done.returncode in (0, 1), done.stderr
    assert "warning" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    return set(files_in(cache)) - before


def last_used(files: set[Path], seconds_ago: float) -> None:
    when = time.time() - seconds_ago
    for path in files:
        os.utime(path, (when, when))


def footprint(source: Path, scratch: Path) -> int:
    """What a first run on `source` adds to a cache, besides the compiler's answer (`builtin-include`):
    entries are a function of their inputs, so a run on another cache adds the same."""
    scratch.parent.mkdir(parents=True, exist_ok=True)
    added = analyse(scratch, source, cwd=scratch.parent)
    return size_of({path for path in added if path.name != "builtin-include"})


def mib(size: int) -> str:
    return f"{size / cachedir.MIB:.9f}"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def kernel_tree(root: Path) -> Path:
    """A kernel tree just big enough for a precompiled header of linux/module.h and linux/fs.h."""
    write(root / "Makefile", "# kernel\n")
    (root / "arch" / "x86" / "include" / "asm").mkdir(parents=True)
    write(root / "include" / "generated" / "autoconf.h", "#define CONFIG_X86_64 1\n#define CONFIG_MMU 1\n")
    write(root / "include" / "generated" / "utsrelease.h", '#define UTS_RELEASE "6.1.0-test"\n')
    write(root / "include" / "linux" / "kconfig.h", "#include <generated/autoconf.h>\n")
    write(root / "include" / "linux" / "compiler_types.h", "#define __user\n")
    write(
        root / "include" / "linux" / "module.h",
        "#ifndef M\n#define M\n#define THIS_MODULE ((void *)0)\n#endif\n",
    )
    write(
        root / "include" / "linux" / "fs.h",
        """\
        #ifndef F
        #define F
        struct file { void *private_data; };
        unsigned long copy_from_user(void *to, const void __user *from, unsigned long n);
        #endif
        """,
    )
    return root


def with_a_pch(cache: Path, tmp_path: Path) -> set[Path]:
    """Analyse a driver against a kernel tree, which builds a precompiled header in `cache`; the pch
    folder's files."""
    tree = kernel_tree(tmp_path / "linux")
    source = write(
        tmp_path / "drv" / "mydrv.c",
        """\
        #include <linux/module.h>
        #include <linux/fs.h>

        static long mydrv_read(struct file *file, void __user *arg)
        {
            char buf[16];
            return copy_from_user(buf, arg, sizeof(buf)) ? -14 : 0;
        }
        """,
    )
    done = gupcheck("--kernel-dir", str(tree), "--cache-dir", str(cache), "-j1", str(source), cwd=tmp_path)
    assert done.returncode in (0, 1), done.stderr
    pch_files = set((cache / "pch").iterdir())
    assert {path.suffix for path in pch_files} == {".pch", ".meta", ".h", ".lock"}, pch_files
    return pch_files


def test_the_cache_is_trimmed_to_its_limit_least_recently_used_first(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    pch_files = with_a_pch(cache, tmp_path)
    builtin = cache / "builtin-include"
    a = analyse(cache, CASE_A, cwd=tmp_path)
    b = analyse(cache, CASE_B, cwd=tmp_path)
    c = analyse(cache, CASE_C, cwd=tmp_path)
    assert a and b and c and builtin.is_file()
    last_used(set(files_in(cache)) - a - b - c, 4 * HOUR)  # the PCH run's entries: the oldest
    last_used(a, 3 * HOUR)
    last_used(b, 2 * HOUR)
    last_used(c, 1 * HOUR)
    d_size = footprint(CASE_D, tmp_path / "scratch" / "cache")
    # room for C, D and the compiler's answer (used at the start of D's run), not for any entry of B
    limit = size_of(c) + d_size + builtin.stat().st_size + smallest(b) // 2
    d = analyse(cache, CASE_D, "--cache-max-size", mib(limit), cwd=tmp_path)
    assert size_of(d) == d_size
    left = set(files_in(cache))
    assert c | d | {builtin} <= left
    assert not left & (a | b | pch_files)  # the PCH went whole, with its description, prefix and lock
    assert sum(files_in(cache).values()) <= limit
    # under the limit, nothing goes
    e = analyse(cache, CASE_A, "--cache-max-size", "512", cwd=tmp_path)
    assert set(files_in(cache)) == left | e


def test_a_cache_hit_refreshes_recency(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    builtin = cache / "builtin-include"
    a = analyse(cache, CASE_A, cwd=tmp_path) - {builtin}
    b = analyse(cache, CASE_B, cwd=tmp_path)
    last_used(a, 2 * HOUR)
    last_used(b, 1 * HOUR)  # B was used after A ...
    assert analyse(cache, CASE_A, cwd=tmp_path) == set()  # ... and now A again: a warm run, all hits
    assert all(path.stat().st_mtime > time.time() - 600 for path in a)
    d_size = footprint(CASE_D, tmp_path / "scratch" / "cache")
    limit = size_of(a) + d_size + builtin.stat().st_size + smallest(b) // 2
    d = analyse(cache, CASE_D, "--cache-max-size", mib(limit), cwd=tmp_path)
    left = set(files_in(cache))
    assert a | d <= left  # A, used more recently than B, is kept
    assert not left & b


def populate(cache: Path, tmp_path: Path) -> dict[str, set[Path]]:
    """A cache with an entry of every kind, temporary files and files that are not gupcheck's."""
    with_a_pch(cache, tmp_path)
    analyse(cache, CASE_A, "--format", "sarif", cwd=tmp_path)
    analyse(cache, CASE_B, cwd=tmp_path)
    shard = next((cache / "facts").iterdir())
    young = cache / "facts" / shard.name / ".tmp-abcd1234"
    young.write_bytes(b"x" * 100)  # being written by a run at work now
    old = cache / ".tmp-zz_99xyz"
    old.write_bytes(b"y" * 300)
    last_used({old}, 2 * HOUR)  # left behind by a run that was killed
    foreign = {
        cache / "notes.txt",
        cache / "facts" / "README",
        cache / "facts" / shard.name / "mine.facts",
        cache / "pch" / "mine.pch",
        cache / "pch" / "0123.meta",
        cache / "runs" / "zz" / f"{'a' * 64}.run",
        cache / "builtin-include.bak",
    }
    for path in foreign:
        write(path, "not gupcheck's\n")
    return {"young": {young}, "old": {old}, "foreign": foreign}


def on_disk(cache: Path, foreign: set[Path]) -> dict[str, int]:
    """The entries by kind, counted from the files themselves."""
    ours = set(files_in(cache)) - foreign
    return {
        "facts": sum(1 for path in ours if path.suffix == ".facts"),
        "runs": sum(1 for path in ours if path.suffix == ".run"),
        "reports": sum(1 for path in ours if path.suffix == ".report"),
        "pch": len(
            {path.stem for path in ours if path.parent.name == "pch" and not path.name.startswith(".")}
        ),
        "builtin-include": sum(1 for path in ours if path.name == "builtin-include"),
        "temporary files": sum(1 for path in ours if path.name.startswith(".tmp-")),
    }


def info(cache: Path, *options: str, cwd: Path) -> dict[str, str]:
    done = gupcheck("cache", "info", "--cache-dir", str(cache), *options, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return dict(line.split(": ", 1) for line in done.stdout.splitlines())


def test_cache_info_counts_what_is_on_disk(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    planted = populate(cache, tmp_path)
    expected = on_disk(cache, planted["foreign"])
    assert all(expected.values()), expected  # one of each kind at least
    assert expected["reports"] == 1 and expected["temporary files"] == 2
    shown = info(cache, cwd=tmp_path)
    assert shown["folder"] == str(cache)
    counts = {kind: int(re.match(r"\d+", text).group()) for kind, text in shown.items() if kind in expected}
    assert counts == expected
    total = sum(size for path, size in files_in(cache).items() if path not in planted["foreign"])
    assert re.fullmatch(rf".* \({total} bytes\), limit 512 MiB", shown["total"]), shown["total"]
    facts_size = sum(
        size
        for path, size in files_in(cache).items()
        if path.suffix == ".facts" and path not in planted["foreign"]
    )
    assert shown["facts"].endswith(cachedir.human(facts_size))
    # the limit from the configuration found from the current directory, or named
    (tmp_path / ".gupcheck.toml").write_text("cache-max-size = 64\n")
    assert info(cache, cwd=tmp_path)["total"].endswith("limit 64 MiB")
    other = write(tmp_path / "other.toml", "cache-max-size = 0.5\n")
    assert info(cache, "--config", str(other), cwd=tmp_path)["total"].endswith("limit 0.5 MiB")
    # a folder not made yet
    shown = info(tmp_path / "nothing-yet", cwd=tmp_path)
    assert shown["folder"].endswith("(not made yet)") and shown["total"].startswith("0 B (0 bytes)")


def test_cache_clean_removes_gupcheck_entries_and_leaves_other_files_alone(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    planted = populate(cache, tmp_path)
    entries = sum(
        count for kind, count in on_disk(cache, planted["foreign"]).items() if kind != "temporary files"
    )
    freed = sum(
        size for path, size in files_in(cache).items() if path not in planted["foreign"] | planted["young"]
    )
    foreign = {path: path.read_bytes() for path in planted["foreign"]}
    done = gupcheck("cache", "clean", "--cache-dir", str(cache), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"removed {entries} entries ({cachedir.human(freed)}) from {cache}",
        "left 1 in use by a gupcheck running now",
    ]
    assert set(files_in(cache)) == set(foreign) | planted["young"]
    assert {path: path.read_bytes() for path in foreign} == foreign
    assert not (cache / "reports").exists()  # the folders it made, once empty, go too
    assert (cache / "facts").is_dir() and (cache / "pch").is_dir()  # they hold files not ours
    # the cache is still usable, and a second clean has nothing left to remove
    analyse(cache, CASE_A, cwd=tmp_path)
    assert on_disk(cache, set(foreign))["facts"] == 1
    gupcheck("cache", "clean", "--cache-dir", str(cache), cwd=tmp_path)
    again = gupcheck("cache", "clean", "--cache-dir", str(cache), cwd=tmp_path)
    assert again.stdout.startswith(f"removed 0 entries (0 B) from {cache}")


def test_the_limit_is_read_from_the_configuration_and_the_command_line_wins(tmp_path: Path) -> None:
    a_size = footprint(CASE_A, tmp_path / "scratch" / "cache")
    project = tmp_path / "project"
    project.mkdir()
    (project / ".gupcheck.toml").write_text(f"cache-max-size = {a_size / 2 / cachedir.MIB!r}\n")
    cache = tmp_path / "cache"
    analyse(cache, CASE_A, cwd=project)
    kept = files_in(cache)
    assert 0 < sum(kept.values()) <= a_size / 2  # trimmed to the configuration's limit
    added = analyse(cache, CASE_A, "--cache-max-size", "512", cwd=project)  # parsed again: it went
    assert added and set(files_in(cache)) == set(kept) | added  # the command line's limit, not the file's
    assert sum(files_in(cache).values()) > a_size / 2


@pytest.mark.parametrize("value", ['"big"', "-1", "0", "true", "inf", "nan", "[512]"])
def test_a_bad_cache_max_size_in_the_configuration_is_one_line_and_exit_2(tmp_path: Path, value: str) -> None:
    (tmp_path / ".gupcheck.toml").write_text(f"cache-max-size = {value}\n")
    for command in (["--kernel-model", str(CASE_A)], ["cache", "info"]):
        done = gupcheck(*command, cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert done.stderr.splitlines() == [
            f"gupcheck: error: {tmp_path / '.gupcheck.toml'}: 'cache-max-size': "
            "expected MiB the cache may hold (a positive number)"
        ]


@pytest.mark.parametrize("value", ["abc", "0", "-5", "inf", "nan", "", "1e999"])
def test_a_bad_cache_max_size_option_is_one_line_and_exit_2(tmp_path: Path, value: str) -> None:
    done = gupcheck("--kernel-model", "--cache-max-size", value, str(CASE_A), cwd=tmp_path)
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith("gupcheck: error: --cache-max-size: ") and "size in MiB" in line
    assert done.stdout == ""


def test_trimming_leaves_what_another_run_is_using_or_writing(tmp_path: Path, monkeypatch) -> None:
    cache = tmp_path / "cache"
    planted = populate(cache, tmp_path)
    (pch_lock,) = (cache / "pch").glob("*.lock")
    pch_files = {path for path in (cache / "pch").iterdir() if path.stem == pch_lock.stem}
    facts = sorted(cache.glob("facts/*/*.facts"))
    facts = [path for path in facts if path not in planted["foreign"]]
    used_meanwhile, vanished = facts[0], facts[1]
    real_scan = cachedir.scan

    def scan_then_others_act(root):
        contents = real_scan(root)
        later = time.time() + 5
        os.utime(used_meanwhile, (later, later))  # another run reads it after the folder was read
        vanished.unlink()  # and another trims this one first
        return contents

    monkeypatch.setattr(cachedir, "scan", scan_then_others_act)
    with open(pch_lock, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process builds this PCH
        removal = cachedir.trim(cache, 0)
    assert removal.error is None and removal.left_in_use == 2
    left = set(files_in(cache))
    assert left == planted["foreign"] | planted["young"] | pch_files | {used_meanwhile}
    monkeypatch.setattr(cachedir, "scan", real_scan)
    removal = cachedir.trim(cache, 0)  # the build is over, the entry old enough to go
    assert removal.left_in_use == 0 and removal.entries == 2
    assert set(files_in(cache)) == planted["foreign"] | planted["young"]
    # a temporary file nobody wrote to for the last quarter of an hour is a dead run's
    (young,) = planted["young"]
    later = time.time_ns() + (cachedir.IN_FLIGHT_SECONDS + 1) * 1_000_000_000
    assert cachedir.trim(cache, 1 << 30, now_ns=later).bytes == 100
    assert set(files_in(cache)) == planted["foreign"]


def test_two_runs_trimming_a_shared_cache_at_once_agree_and_warn_of_nothing(tmp_path: Path) -> None:
    gup002 = REPO / "testdata" / "gup002"
    reference = gupcheck("--kernel-model", "--no-cache", "--format", "json", str(gup002), cwd=tmp_path)
    assert reference.returncode == 1
    command = [
        sys.executable,
        "-m",
        "gupcheck",
        "--kernel-model",
        "--format",
        "json",
        "-j2",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--cache-max-size",
        "0.05",
        str(gup002),
    ]
    for _ in range(2):  # cold, then with entries of the first round to evict
        runs = [
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
            for _ in range(2)
        ]
        outputs = [run.communicate(timeout=600) for run in runs]
        assert [run.returncode for run in runs] == [1, 1], [err[-2000:] for _, err in outputs]
        assert [out for out, _ in outputs] == [reference.stdout] * 2
        assert all("warning" not in err and "Traceback" not in err for _, err in outputs), outputs
    assert not list((tmp_path / "cache").rglob(".tmp-*"))
    assert sum(files_in(tmp_path / "cache").values()) <= 0.05 * cachedir.MIB
