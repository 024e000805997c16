"""The fact cache and the worker processes: warm runs parse nothing, bad entries are never trusted,
a crashed or hung parser costs only its file, and the output does not depend on -j."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gupcheck.pipeline import workers
from gupcheck.pipeline.engine import analyse
from gupcheck.rules import ALL_RULES

REPO = Path(__file__).resolve().parent.parent
TESTDATA = REPO / "testdata"
GUP002 = TESTDATA / "gup002"
# the sources gupcheck analyses there (the repros are not analysed)
GUP002_FILES = len(list(GUP002.rglob("*.c"))) - len(list(GUP002.glob("*/repro/*.c")))


def keys(analysis) -> list[tuple]:
    return [
        (f.location.path, f.location.line, f.location.column, f.rule_id, f.level, f.message)
        for f in analysis.findings
    ]


def origins(analysis) -> dict[str, str]:
    return {Path(entry.path).name: entry.origin for entry in analysis.stats.files}


def test_warm_run_parses_nothing_and_gives_the_same_findings(tmp_path: Path, monkeypatch) -> None:
    cache = str(tmp_path / "cache")
    cold = analyse([str(GUP002)], ALL_RULES, use_model=True, cache_dir=cache)
    assert set(origins(cold).values()) == {"parsed"} and len(cold.units) == GUP002_FILES

    def no_parsing(job):
        raise AssertionError(f"{job.path} was parsed on a warm run")

    monkeypatch.setattr(workers, "compute_facts", no_parsing)
    warm = analyse([str(GUP002)], ALL_RULES, use_model=True, cache_dir=cache)
    assert set(origins(warm).values()) == {"cache"}
    assert keys(warm) == keys(cold) and keys(cold)
    assert warm.stats.cache_hits == GUP002_FILES and warm.stats.cache_misses == 0


def test_flags_and_content_are_part_of_the_key(tmp_path: Path) -> None:
    cache = str(tmp_path / "cache")
    source = tmp_path / "drv"
    source.mkdir()
    (source / "demo_dev.c").write_bytes((TESTDATA / "example" / "demo_dev.c").read_bytes())
    analyse([str(source)], ALL_RULES, use_model=True, cache_dir=cache)
    same = analyse([str(source)], ALL_RULES, use_model=True, cache_dir=cache)
    assert origins(same) == {"demo_dev.c": "cache"}
    with open(source / "demo_dev.c", "a") as handle:
        handle.write("/* edited */\n")
    edited = analyse([str(source)], ALL_RULES, use_model=True, cache_dir=cache)
    assert origins(edited) == {"demo_dev.c": "parsed"}


def test_a_changed_header_makes_the_entry_stale(tmp_path: Path) -> None:
    cache = str(tmp_path / "cache")
    project = tmp_path / "app"
    project.mkdir()
    (project / "limits.h").write_text("#define BUF_WORDS 4\n")
    (project / "main.c").write_text(
        '#include <stdio.h>\n#include "limits.h"\n'
        "int main(void) { int words[BUF_WORDS]; words[0] = 1; "
        "return words[0]; }\n"
    )
    first = analyse([str(project)], ALL_RULES, cache_dir=cache)
    assert origins(first) == {"main.c": "parsed"}
    assert str(project / "limits.h") in first.units[0].headers
    assert origins(analyse([str(project)], ALL_RULES, cache_dir=cache)) == {"main.c": "cache"}
    (project / "limits.h").write_text("#define BUF_WORDS 16  /* grown */\n")
    assert origins(analyse([str(project)], ALL_RULES, cache_dir=cache)) == {"main.c": "parsed"}


@pytest.mark.parametrize("damage", ["truncate", "flip-a-byte", "garbage"])
def test_a_corrupt_entry_is_ignored_and_rebuilt(tmp_path: Path, damage: str) -> None:
    cache = tmp_path / "cache"
    cold = analyse([str(GUP002)], ALL_RULES, use_model=True, cache_dir=str(cache))
    entries = sorted(cache.rglob("*.facts"))
    assert len(entries) == GUP002_FILES
    for entry in entries:
        data = entry.read_bytes()
        if damage == "truncate":
            entry.write_bytes(data[: len(data) // 2])
        elif damage == "flip-a-byte":
            entry.write_bytes(data[:-10] + bytes([data[-10] ^ 0x40]) + data[-9:])
        else:
            entry.write_bytes(b"not a cache entry at all")
    rebuilt = analyse([str(GUP002)], ALL_RULES, use_model=True, cache_dir=str(cache))
    assert set(origins(rebuilt).values()) == {"parsed"}
    assert keys(rebuilt) == keys(cold)
    assert set(origins(analyse([str(GUP002)], ALL_RULES, use_model=True, cache_dir=str(cache))).values()) == {
        "cache"
    }


def test_two_runs_sharing_a_cache_at_once_agree(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    command = [sys.executable, "-m", "gupcheck", "--kernel-model", "--format", "json", "-j2", str(TESTDATA)]
    runs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=600) for run in runs]
    assert [run.returncode for run in runs] == [1, 1], [err.decode()[-2000:] for _, err in outputs]
    assert outputs[0][0] == outputs[1][0]
    warm = subprocess.run(command, capture_output=True, env=env, cwd=REPO, timeout=600)
    assert warm.stdout == outputs[0][0]
    assert not list((tmp_path / "xdg").rglob(".tmp-*"))  # no half-written entries left behind


def test_sarif_is_byte_identical_with_one_and_two_workers(tmp_path: Path) -> None:
    reports = []
    for jobs in ("1", "2", "2"):
        out = tmp_path / f"j{jobs}-{len(reports)}.sarif"
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "gupcheck",
                "--kernel-model",
                "--no-cache",
                "-j",
                jobs,
                "--format",
                "sarif",
                "-o",
                str(out),
                str(TESTDATA),
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=600,
        )
        assert run.returncode == 1, run.stderr
        reports.append(out.read_bytes())
    assert reports[0] == reports[1] == reports[2]


def _sabotage(monkeypatch, victim: str, action) -> None:
    """Make the forked workers misbehave on one file (they inherit the patched module)."""
    real = workers.compute_facts

    def compute(job):
        if Path(job.path).name == victim:
            action()
        return real(job)

    monkeypatch.setattr(workers, "compute_facts", compute)


@pytest.mark.parametrize("sent", [signal.SIGSEGV, signal.SIGKILL], ids=["segfault", "sigkill"])
def test_a_crashing_worker_costs_only_its_file(monkeypatch, sent: signal.Signals) -> None:
    _sabotage(monkeypatch, "ringreg.c", lambda: os.kill(os.getpid(), sent))
    analysis = analyse([str(GUP002)], ALL_RULES, use_model=True, jobs=2)
    problems = [(Path(p.path).name, p.message) for p in analysis.problems]
    assert len(problems) == 1
    assert problems[0][0] == "ringreg.c" and "crashed" in problems[0][1] and sent.name in problems[0][1]
    assert sorted(Path(u.path).name for u in analysis.units) == sorted(
        p.name for p in GUP002.rglob("*.c") if p.name != "ringreg.c" and p.parent.name != "repro"
    )
    assert any(Path(f.location.path).name == "pagepoke_app.c" for f in analysis.findings)


def test_a_hung_worker_times_out_and_the_run_goes_on(monkeypatch) -> None:
    _sabotage(monkeypatch, "pagepoke.c", lambda: time.sleep(600))
    started = time.monotonic()
    analysis = analyse([str(GUP002)], ALL_RULES, use_model=True, jobs=2, timeout=3)
    assert time.monotonic() - started < 120
    problems = [(Path(p.path).name, p.message) for p in analysis.problems]
    assert problems == [("pagepoke.c", "parsing took longer than 3 s; file skipped")]
    assert len(analysis.units) == GUP002_FILES - 1


def test_an_analyser_bug_in_a_worker_is_reported_for_that_file(monkeypatch) -> None:
    def broken():
        raise ValueError("walker met a cursor it did not expect")

    _sabotage(monkeypatch, "xdev_keep.c", broken)
    analysis = analyse([str(GUP002)], ALL_RULES, use_model=True, jobs=2)
    assert [(Path(p.path).name, p.message) for p in analysis.problems] == [
        (
            "xdev_keep.c",
            "internal error while extracting facts: ValueError: walker met a cursor it did not expect",
        )
    ]
    assert len(analysis.units) == GUP002_FILES - 1


def test_no_worker_process_outlives_the_run(monkeypatch) -> None:
    import multiprocessing

    analyse([str(GUP002)], ALL_RULES, use_model=True, jobs=2)
    assert multiprocessing.active_children() == []


def test_cached_findings_are_only_reused_for_the_same_rules_and_options(tmp_path: Path) -> None:
    cache = str(tmp_path / "cache")
    case = str(TESTDATA / "gup003" / "foll-pin-is-fork-safe")
    current = analyse([case], ALL_RULES, use_model=True, cache_dir=cache)
    old_kernel = analyse([case], ALL_RULES, use_model=True, cache_dir=cache, target_kernel="5.4")
    assert set(origins(old_kernel).values()) == {"cache"}  # the facts are shared ...
    assert keys(old_kernel) != keys(current)  # ... the findings are not: FOLL_PIN forks unsafely before 5.9
    assert "findings (cached)" not in old_kernel.stats.stages
    only_gup001 = analyse([case], ALL_RULES[:1], use_model=True, cache_dir=cache)
    assert {f.rule_id for f in only_gup001.findings} <= {"GUP001"}
    again = analyse([case], ALL_RULES, use_model=True, cache_dir=cache, target_kernel="5.4")
    assert "findings (cached)" in again.stats.stages and keys(again) == keys(old_kernel)


def test_another_libclang_changes_every_fact_key(monkeypatch) -> None:
    from gupcheck.pipeline import cache

    assert cache.module_identity("clang") is not None  # the installed bindings, found without importing them
    monkeypatch.setattr(cache, "_IDENTITY", {})
    before = cache.analyser_identity(), cache.analyser_identity(whole=True)
    monkeypatch.setattr(cache, "_IDENTITY", {})
    monkeypatch.setattr(cache, "module_identity", lambda name: ("/elsewhere/clang/__init__.py", (1, 2)))
    after = cache.analyser_identity(), cache.analyser_identity(whole=True)
    assert before[0] != after[0] and before[1] != after[1]


def test_a_header_shared_by_several_files_is_checked_once_a_run(tmp_path: Path, monkeypatch) -> None:
    from gupcheck.pipeline import cache

    store = str(tmp_path / "cache")
    analyse([str(GUP002)], ALL_RULES, use_model=True, cache_dir=store)
    checked: list[str] = []
    real = cache.file_identity
    monkeypatch.setattr(cache, "file_identity", lambda path: checked.append(path) or real(path))
    warm = analyse([str(GUP002)], ALL_RULES, use_model=True, cache_dir=store)
    assert set(origins(warm).values()) == {"cache"}
    assert checked and len(checked) == len(set(checked))


def test_facts_are_built_with_the_cycle_collector_paused_and_it_runs_again_after(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import gc

    import gupcheck.frontend.parse
    from gupcheck.frontend.buildconfig import BuildConfig

    seen: list[bool] = []
    real = gupcheck.frontend.parse.extract_facts

    def spying(*args, **kwargs):
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(gupcheck.frontend.parse, "extract_facts", spying)
    source = tmp_path / "tool.c"
    source.write_text("int main(void) { return 0; }\n")
    config = BuildConfig().config_for(str(source))
    assert gc.isenabled()
    result = workers.compute_facts(workers.FactJob(config, source.read_bytes()))
    assert result.unit is not None and seen == [False]
    assert gc.isenabled()
    gc.disable()
    try:  # a caller that had paused it keeps it paused
        workers.compute_facts(workers.FactJob(config, source.read_bytes()))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_rules_run_with_the_facts_out_of_the_collectors_sight_and_get_them_back_after(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import gc
    import shutil

    from gupcheck.pipeline import engine

    frozen_during_rules: list[int] = []
    real = engine._run_rules

    def spying(result, *args, **kwargs):
        frozen_during_rules.append(gc.get_freeze_count())
        return real(result, *args, **kwargs)

    monkeypatch.setattr(engine, "_run_rules", spying)
    example = Path(__file__).resolve().parent.parent / "testdata" / "example"
    cache = tmp_path / "cache"
    for _ in ("facts parsed", "facts decoded from the cache"):
        shutil.rmtree(cache / "runs", ignore_errors=True)  # so that the rules run again
        analysis = analyse([str(example)], ALL_RULES, use_model=True, jobs=2, cache_dir=str(cache))
        assert analysis.findings
        assert gc.get_freeze_count() == 0
    assert len(frozen_during_rules) == 2 and all(count > 0 for count in frozen_during_rules)
