"""Computing facts: in this process, or in a pool of worker processes.

Parsing is independent per file. A `FactJob` carries what one parse needs (the file's flags and its
bytes) and `compute_facts` turns it into a `FactResult`; both are plain picklable values, so any
executor can run them: this module's `WorkerPool`, or a cluster (`gupcheck.pipeline.distributed`).

`WorkerPool` keeps its workers across files, so each keeps its libclang index (and anything the
parse layer caches per process, such as a precompiled header) warm. A worker that dies (libclang can
crash on odd input) or exceeds the per-file timeout costs only the file it was parsing: that file is
reported as a problem, the worker is replaced and the run continues.
"""

from __future__ import annotations

import ctypes
import faulthandler
import multiprocessing
import multiprocessing.connection
import os
import resource
import signal
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.context import ForkContext, SpawnContext

from gupcheck.frontend.buildconfig import FileConfig
from gupcheck.model.facts import TranslationUnitFacts
from gupcheck.pipeline.factcodec import FactDecoder, encode
from gupcheck.pipeline.gcpause import collector_paused, kept_for_the_analysis

WorkerContext = ForkContext | SpawnContext
DEFAULT_TIMEOUT = 300.0  # seconds for one file's parse
DEFAULT_MEMORY_MIB = 4096  # address space of one worker (a parse takes 100-400 MiB; nested min() 4+ GiB)
PARSE_STACK_MIB = 256  # the stack a worker parses on (at most 1/16 of its memory limit)
_WORKING, _RETIRING = b"W", b"R"  # the byte before a worker's result: whether it ends after it
_PR_SET_PDEATHSIG = 1  # prctl option: the signal a process gets when its parent dies


@dataclass(frozen=True)
class FactJob:
    config: FileConfig
    source: bytes
    cache_key: str | None = None  # where a worker stores the facts, when a cache is in use
    cache_dir: str | None = None

    @property
    def path(self) -> str:
        return self.config.path


@dataclass
class FactResult:
    path: str
    unit: TranslationUnitFacts | None
    problem: str | None = None  # one line, when no facts could be computed
    seconds: float = 0.0
    cache_problems: tuple[str, ...] = ()  # warnings: the cache (facts or shared header) not written


def compute_facts(job: FactJob) -> FactResult:
    """Parse one file and extract its facts (and store them in the cache when one is given)."""
    # Imported here so that a process that only reads the cache never loads libclang.
    from gupcheck.frontend import pch
    from gupcheck.frontend.parse import ParseError, extract_facts

    started = time.perf_counter()
    try:
        with collector_paused():
            unit = extract_facts(job.config, job.source, cache_dir=job.cache_dir)  # the PCH is kept there too
    except ParseError as error:
        return FactResult(job.path, None, str(error), time.perf_counter() - started)
    except RecursionError:
        return FactResult(
            job.path, None, "the file nests too deeply to analyse", time.perf_counter() - started
        )
    warnings = [f"{reason}: files are parsed without it (slower)" for reason in sorted(pch.unsaved)]
    if job.cache_dir is not None and job.cache_key is not None:
        from gupcheck.pipeline.cache import FactCache, unwritable_warning

        unwritable = FactCache(job.cache_dir).store(job.cache_key, unit)
        if unwritable is not None:
            warnings.append(unwritable_warning(job.cache_dir, unwritable))
    return FactResult(job.path, unit, None, time.perf_counter() - started, tuple(warnings))


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}"
    return f"exited with status {code}"


def _worker_main(
    connection: multiprocessing.connection.Connection,
    parents_end: multiprocessing.connection.Connection,
    memory_mib: int | None,
    stderr_path: str,
    parent_pid: int,
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles ^C and stops its workers
    faulthandler.disable()  # a crash is reported by the parent as one line, not a stack dump
    _outlive_nothing(parents_end, parent_pid)
    if memory_mib is not None:
        limit = memory_mib * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    # what libclang prints (its crash and fatal-error dumps) goes to a file the parent summarises
    descriptor = os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(descriptor, 2)
    os.close(descriptor)
    # libclang parses on a thread of its own with an 8 MiB stack, and its parser recurses with the
    # code's nesting: a 20 000-term expression overflowed it (SIGSEGV). Parsing on the calling thread
    # instead, a thread with a deep stack, makes such files parse.
    os.environ["LIBCLANG_NOTHREADS"] = "1"
    stack_mib = PARSE_STACK_MIB if memory_mib is None else min(PARSE_STACK_MIB, max(memory_mib // 16, 8))
    threading.stack_size(stack_mib * 1024 * 1024)
    while True:
        try:
            job = connection.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        os.ftruncate(2, 0)
        os.lseek(2, 0, os.SEEK_SET)
        outcome: list[FactResult] = []
        parse = threading.Thread(target=_compute_into, args=(outcome, job, memory_mib))
        try:
            parse.start()
            parse.join()
        except RuntimeError:  # no room for the thread's stack: parse on this one
            _compute_into(outcome, job, memory_mib)
        result = outcome[0]
        exhausted = _near_the_limit(memory_mib)
        if result.unit is None and result.problem is not None and result.problem.startswith("libclang"):
            result.problem = _with_what_libclang_said(result.problem, stderr_path, memory_mib, exhausted)
        # A worker whose address space grew near its limit ends after this file (the parent starts
        # another): what the next file's parse gets, and how a failure of it reads, must not depend on
        # the files before.
        connection.send_bytes((_RETIRING if exhausted else _WORKING) + encode(result))
        if exhausted:
            return


def _compute_into(outcome: list[FactResult], job: FactJob, memory_mib: int | None) -> None:
    """`compute_facts` (on the parse thread), with the worker's failures turned into a problem with
    the file; the result is appended to `outcome`."""
    outcome.append(_compute_guarded(job, memory_mib))


def _compute_guarded(job: FactJob, memory_mib: int | None) -> FactResult:
    try:
        return compute_facts(job)
    except MemoryError:
        return FactResult(job.path, None, f"the parse needed more than {memory_mib} MiB; file skipped")
    except Exception as error:  # noqa: BLE001 - an analyser bug costs this file, not the run
        return FactResult(
            job.path, None, f"internal error while extracting facts: {type(error).__name__}: {error}"
        )


def _outlive_nothing(parents_end: multiprocessing.connection.Connection, parent_pid: int) -> None:
    """A worker ends when the parent does, whatever ends it: the parent's end of the pipe is closed
    here (else the worker, holding both ends, never sees EOF), and on Linux the kernel sends SIGKILL
    when the parent dies (SIGKILL and SIGTERM included)."""
    parents_end.close()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:  # the parent died before the prctl
        os._exit(0)


class _Worker:
    def __init__(self, context: WorkerContext, memory_mib: int | None, stderr_path: str) -> None:
        self.connection, child = context.Pipe()
        self.stderr_path = stderr_path
        self.process = context.Process(
            target=_worker_main,
            args=(child, self.connection, memory_mib, stderr_path, os.getpid()),
            daemon=True,
        )
        self.process.start()
        child.close()
        self.job: FactJob | None = None
        self.deadline = 0.0

    def give(self, job: FactJob, timeout: float) -> None:
        self.job = job
        self.deadline = time.monotonic() + timeout
        self.connection.send(job)

    def stop(self, *, kill: bool = False) -> None:
        if not kill and self.process.is_alive():
            try:
                self.connection.send(None)
            except OSError:
                kill = True
            self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.connection.close()


class WorkerPool:
    """`jobs` worker processes parsing files; results come back as they finish."""

    def __init__(
        self, jobs: int, timeout: float = DEFAULT_TIMEOUT, memory_mib: int | None = DEFAULT_MEMORY_MIB
    ) -> None:
        if jobs < 1:
            raise ValueError("a worker pool needs at least one worker")
        self.jobs = jobs
        self.timeout = timeout
        self.memory_mib = memory_mib
        # fork: workers start in milliseconds and inherit the loaded modules; they never touch the
        # parent's libclang state (the parent does not parse while a pool runs).
        self._context: WorkerContext = (
            multiprocessing.get_context("fork")
            if "fork" in multiprocessing.get_all_start_methods()
            else multiprocessing.get_context("spawn")
        )
        self.peak_rss_kib: dict[int, int] = {}

    def run(self, jobs: Iterable[FactJob], decoder: FactDecoder | None = None) -> Iterator[FactResult]:
        """The results of `jobs` as they finish; `decoder` decodes the facts (one per analysis shares
        repeated values across all its files)."""
        decoder = decoder or FactDecoder()
        queue = deque(jobs)
        scratch = tempfile.TemporaryDirectory(prefix="gupcheck-workers-")
        started = 0

        def new_worker() -> _Worker:
            nonlocal started
            started += 1
            return _Worker(self._context, self.memory_mib, os.path.join(scratch.name, f"stderr-{started}"))

        workers = [new_worker() for _ in range(min(self.jobs, len(queue)))]
        try:
            for worker in workers:
                if queue:
                    worker.give(queue.popleft(), self.timeout)
            while any(worker.job is not None for worker in workers):
                busy = [worker for worker in workers if worker.job is not None]
                wait = max(0.0, min(worker.deadline for worker in busy) - time.monotonic())
                ready = multiprocessing.connection.wait(
                    [w.connection for w in busy] + [w.process.sentinel for w in busy], timeout=wait
                )
                for index, worker in enumerate(workers):
                    if worker.job is None:
                        continue
                    outcome = self._collect(worker, ready)
                    if outcome is None:
                        continue
                    retiring = isinstance(outcome, bytes) and outcome.startswith(_RETIRING)
                    if isinstance(outcome, bytes):
                        outcome = outcome[1:]
                    self._record_memory(worker)
                    if retiring or not worker.process.is_alive():
                        worker.stop(kill=not retiring)  # a retiring worker ends by itself
                        worker = workers[index] = new_worker()
                    # The next file first: decoding a large result takes the parent a while, and
                    # the worker would wait for it.
                    if queue:
                        worker.give(queue.popleft(), self.timeout)
                    if isinstance(outcome, bytes):  # facts for the analysis, which unfreezes them at its end
                        with kept_for_the_analysis():
                            decoded = decoder.decode(outcome)
                        assert isinstance(decoded, FactResult)
                        outcome = decoded
                    yield outcome
        finally:
            for worker in workers:
                worker.stop(kill=worker.job is not None)
            scratch.cleanup()

    def _collect(self, worker: _Worker, ready: list) -> FactResult | bytes | None:
        """The worker's result, still pickled (bytes), or the problem it had; None while it works."""
        job = worker.job
        assert job is not None
        result: FactResult | bytes | None = None
        if worker.connection in ready:
            try:
                result = worker.connection.recv_bytes()
            except (EOFError, OSError):
                pass  # the worker died before or while sending: a crash
        if result is None:
            if worker.connection in ready or worker.process.sentinel in ready:
                worker.process.join(timeout=5)
                result = FactResult(job.path, None, self._crash(worker))
            elif time.monotonic() >= worker.deadline:
                worker.process.kill()
                worker.process.join()
                result = FactResult(
                    job.path, None, f"parsing took longer than {self.timeout:g} s; file skipped"
                )
            else:
                return None
        worker.job = None
        return result

    def _crash(self, worker: _Worker) -> str:
        """One line on a worker that died: how, what libclang said last, and the memory limit when
        running out of it is a likely cause (a failed allocation aborts libclang; the kernel's
        out-of-memory killer sends SIGKILL)."""
        code = worker.process.exitcode
        message = f"the parser process crashed ({_describe_exit(code)})"
        said = _first_error_line(worker.stderr_path)
        if said:
            message += f": {said}"
        if self.memory_mib is not None and code in (-signal.SIGABRT, -signal.SIGKILL):
            message += f" (the memory limit is {self.memory_mib} MiB: --max-memory)"
        return message + "; file skipped"

    def _record_memory(self, worker: _Worker) -> None:
        pid = worker.process.pid
        rss = _peak_rss_kib(pid)
        if pid is not None and rss is not None:
            self.peak_rss_kib[pid] = rss


def _with_what_libclang_said(problem: str, stderr_path: str, memory_mib: int | None, exhausted: bool) -> str:
    """A parse that failed, with why: the memory limit when the worker reached it (a macro that
    expands without end; libclang says `LLVM ERROR: out of memory`, or, when even that allocation
    fails, nothing), else the line of libclang's output that says what went wrong."""
    said = _first_error_line(stderr_path)
    if memory_mib is not None and (exhausted or "out of memory" in said.lower()):
        return f"{problem}: it needs more memory than the limit of {memory_mib} MiB (--max-memory)"
    return f"{problem}: {said}" if said else problem


def _near_the_limit(memory_mib: int | None) -> bool:
    """Whether this process's address space has reached three quarters of its limit (VmPeak)."""
    if memory_mib is None:
        return False
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmPeak:"):
                    return int(line.split()[1]) >= memory_mib * 1024 * 3 // 4
    except (OSError, ValueError, IndexError):
        pass
    return False


def _first_error_line(path: str) -> str:
    """The line of a worker's standard error that says what went wrong (libclang's fatal errors and
    crash dumps are many lines), shortened."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = [line.strip() for line in handle.read(65536).splitlines() if line.strip()]
    except OSError:
        return ""
    chosen = next((line for line in lines if "error" in line.lower() or "fatal" in line.lower()), "")
    return chosen[:200]


def _peak_rss_kib(pid: int | None) -> int | None:
    """A process's peak resident set (VmHWM) in KiB, from /proc; None where unavailable."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def run_in_process(jobs: Iterable[FactJob]) -> Iterator[FactResult]:
    """The same results without worker processes (for one file, or a caller that wants no fork)."""
    for job in jobs:
        yield compute_facts(job)


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)
