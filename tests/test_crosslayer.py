"""The userland half of the cross-layer analysis on real libclang parses of small programs:
buffer origins, MADV_DONTFORK coverage, fork hazards, unresolved requests."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from gupcheck.analyses.crosslayer import buffer_origin, fork_hazard
from gupcheck.model.program import Program
from gupcheck.pipeline.engine import analyse

HEADERS = """
#define _GNU_SOURCE
#include <sched.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
struct reg { uint64_t addr; uint32_t len; };
"""


def program_of(tmp_path: Path, source: str, name: str = "app.c") -> Program:
    (tmp_path / name).write_text(HEADERS + textwrap.dedent(source))
    analysis = analyse([str(tmp_path / name)], ())
    assert not analysis.problems, [str(p) for p in analysis.problems]
    return Program(analysis.units)


def ioctl_args(program: Program, function: str):
    fn = next(f for f in program.functions.values() if f.name == function)
    return fn, [call.args[2] for _node, call in fn.call_sites() if call.callee == "ioctl"]


def test_buffer_origins_through_locals_out_params_and_helpers(tmp_path: Path) -> None:
    program = program_of(
        tmp_path,
        """
        static int submit(int fd, void *buf) { return ioctl(fd, 1, buf); }
        int main(void)
        {
            char frame[256];
            char *cursor = frame;
            void *aligned;
            char *heap = malloc(64);
            void *anon = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            void *dev = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 3, 0);

            if (posix_memalign(&aligned, 4096, 4096))
                return 1;
            madvise(aligned, 4096, MADV_DONTFORK);
            ioctl(3, 1, cursor);
            ioctl(3, 1, heap);
            ioctl(3, 1, anon);
            ioctl(3, 1, dev);
            ioctl(3, 1, aligned);
            return submit(3, frame);
        }
    """,
    )
    fn, args = ioctl_args(program, "main")
    origins = [buffer_origin(program, fn, arg, depth=0) for arg in args]
    assert [(o.kind, o.variable, o.dontfork) for o in origins] == [
        ("stack", "frame", False),
        ("heap", "heap", False),
        ("heap", "anon", False),
        ("device", "dev", False),
        ("heap", "aligned", True),
    ]
    helper, (param,) = ioctl_args(program, "submit")
    origin = buffer_origin(program, helper, param, depth=0)
    assert (origin.kind, origin.variable, origin.function.name) == ("stack", "frame", "main")


def test_fork_hazards_deep_in_helpers_but_not_spawns(tmp_path: Path) -> None:
    forking = program_of(
        tmp_path,
        """
        static void worker(void) { if (fork() == 0) _exit(0); }
        static void start(void) { worker(); }
        int main(void) { start(); return ioctl(3, 1, 0); }
    """,
        "forking.c",
    )
    hazard, library = fork_hazard(forking, next(f for f in forking.functions.values() if f.name == "main"))
    assert not library and hazard.call.callee == "fork" and hazard.function.name == "worker"

    spawning = program_of(
        tmp_path,
        """
        extern char **environ;
        static int clone_fn(void *arg) { return 0; }
        int main(void)
        {
            pid_t pid;
            static char stack[8192];
            char *argv[] = { "true", NULL };
            system("true");
            posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ);
            if (vfork() == 0)
                _exit(0);
            clone(clone_fn, stack + sizeof(stack), CLONE_VM | CLONE_VFORK, NULL);
            return ioctl(3, 1, 0);
        }
    """,
        "spawning.c",
    )
    main = next(f for f in spawning.functions.values() if f.name == "main")
    assert fork_hazard(spawning, main) == (None, False)

    library = program_of(
        tmp_path, "int lib_register(int fd, void *buf) { return ioctl(fd, 1, buf); }\n", "lib.c"
    )
    fn = next(iter(library.functions.values()))
    assert fork_hazard(library, fn) == (None, True)


def test_unresolved_request_is_a_verbose_note_and_a_sarif_notification(tmp_path: Path) -> None:
    (tmp_path / "lonely.c").write_text(
        HEADERS
        + textwrap.dedent("""
        #define LONELY_IOC_REG _IOW('L', 1, struct reg)
        int main(void) { struct reg r = { 0 }; return ioctl(3, LONELY_IOC_REG, &r); }
    """)
    )
    run = [sys.executable, "-m", "gupcheck", str(tmp_path / "lonely.c")]
    quiet = subprocess.run(run, capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 0 and "LONELY_IOC_REG" not in quiet.stderr
    verbose = subprocess.run([*run, "-v"], capture_output=True, text=True, timeout=120)
    assert "ioctl request LONELY_IOC_REG (0x40104c01) is not handled by any analysed driver" in verbose.stderr
    sarif = subprocess.run([*run, "--format", "sarif"], capture_output=True, text=True, timeout=120)
    notifications = json.loads(sarif.stdout)["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert any("LONELY_IOC_REG" in n["message"]["text"] for n in notifications)


TESTDATA = Path(__file__).resolve().parent.parent / "testdata"


def test_cross_layer_findings_show_both_sides() -> None:
    from gupcheck.rules import ALL_RULES

    folder = TESTDATA / "gup002" / "stack-array-via-field"
    analysis = analyse([str(folder)], ALL_RULES, use_model=True)
    findings = [f for f in analysis.findings if f.rule_id == "GUP002"]
    assert findings
    for finding in findings:
        assert finding.location.path.endswith("_app.c")
        related_files = {Path(r.location.path).name for r in finding.related}
        assert "ringreg.c" in related_files and "ringreg_app.c" in related_files
        steps = [(Path(step.location.path).name, step.message) for step in finding.flow]
        assert steps[0][0] == "ringreg_app.c" and steps[0][1].startswith("ioctl(RR_IOC_REGISTER)")
        assert [name for name, _ in steps[1:]] == ["ringreg.c"] * 3
        assert steps[-1][1].startswith("kept in 'ctx->pages'")


def test_fork_safe_foll_pin_becomes_a_warning_before_5_9() -> None:
    from gupcheck.rules import ALL_RULES

    folder = TESTDATA / "gup003" / "foll-pin-is-fork-safe"
    current = [f for f in analyse([str(folder)], ALL_RULES, use_model=True).findings if f.rule_id == "GUP003"]
    old = [
        f
        for f in analyse([str(folder)], ALL_RULES, use_model=True, target_kernel="5.4").findings
        if f.rule_id == "GUP003"
    ]
    assert [f.level.value for f in current] == ["error"]  # the FOLL_GET command only
    assert sorted(f.level.value for f in old) == ["error", "warning"]  # the FOLL_PIN one too


def test_system_counts_as_fork_only_when_asked() -> None:
    from gupcheck.rules import ALL_RULES

    folder = TESTDATA / "gup003" / "fork-deep-vs-spawn"

    def flagged(**options) -> set[str]:
        analysis = analyse([str(folder)], ALL_RULES, use_model=True, **options)
        return {Path(f.location.path).name for f in analysis.findings if f.rule_id == "GUP003"}

    assert flagged() == {"tracebuf_fork_app.c"}
    assert flagged(spawn_copies_memory=True) == {"tracebuf_fork_app.c", "tracebuf_spawn_app.c"}
