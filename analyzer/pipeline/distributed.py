"""Facts computed on a Dask distributed cluster: `gupcheck --executor dask --scheduler tcp://HOST:PORT`.

Extracting facts is independent per file, so a whole tree (all of `drivers/`) can be spread over a
cluster: `DaskExecutor` submits one task per file (`compute_facts` of a `FactJob`) and yields the results
as they complete; the engine links the merged facts and runs the rules here, on the client, exactly as
after a local run, so the findings are the same.

The workers: `dask worker tcp://HOST:PORT --nthreads 1` (more processes for more cores) on machines
with this version of gupcheck installed and the kernel headers at the paths the flags name (the same
build tree, or the same compile database). A worker process parses one file at a time whatever its
thread count: the parse layer keeps per-process state (libclang's index, the precompiled header).
The client writes the facts it receives to its own cache; workers keep the precompiled header under
the same cache path when they can write there, else in their temporary directory.

Lost workers: the scheduler runs the tasks of a worker that died again on another one. A file whose
task kills every worker that tries it (libclang crashing on odd input) comes back as `KilledWorker`
and is reported as a problem with that file; a task lost in transit is submitted again, up to
`MAX_ATTEMPTS` times. The rest of the run goes on.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from gupcheck.pipeline.cache import FactCache, unwritable_warning
from gupcheck.pipeline.workers import FactJob, FactResult, compute_facts

MAX_ATTEMPTS = 3  # submissions of one file whose result was lost before it is reported as a problem
CONNECT_TIMEOUT = 30.0  # seconds to reach the scheduler

_one_parse_at_a_time = threading.Lock()


class DaskUnavailable(Exception):
    """dask.distributed is not installed, or the scheduler cannot be reached (one line)."""


def compute_facts_on_worker(job: FactJob) -> FactResult:
    """`compute_facts` in a Dask worker, one file at a time per process."""
    with _one_parse_at_a_time:
        return compute_facts(job)


class DaskExecutor:
    """A fact executor for `gupcheck.pipeline.engine.analyse(executor=...)` over a `distributed.Client`."""

    def __init__(self, client: Any, *, owns_client: bool = False) -> None:
        self.client = client
        self._owns_client = owns_client
        self.files = 0  # results received in the last run
        self.seconds = 0.0  # wall time of the last run
        self.resubmitted = 0  # tasks submitted again after their result was lost

    @classmethod
    def connect(cls, scheduler: str, timeout: float | None = None) -> DaskExecutor:
        """A client of the scheduler at `scheduler` (``tcp://HOST:PORT``). Raises DaskUnavailable."""
        timeout = CONNECT_TIMEOUT if timeout is None else timeout
        try:
            from distributed import Client
        except ImportError as error:
            raise DaskUnavailable(
                "--executor dask needs Dask distributed: pip install 'gupcheck[dask]'"
            ) from error
        try:
            client = Client(scheduler, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as error:
            raise DaskUnavailable(f"cannot reach the Dask scheduler at {scheduler}: {error}") from error
        return cls(client, owns_client=True)

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    def __call__(self, jobs: list[FactJob]) -> Iterator[FactResult]:
        from distributed import as_completed

        started = time.perf_counter()
        self.files = 0
        submitted: dict[Any, tuple[FactJob, int]] = {}
        completed = as_completed(loop=self.client.loop)
        for job in jobs:
            self._submit(job, 1, submitted, completed)
        for future in completed:
            job, attempt = submitted.pop(future)
            result = self._result(future, job, attempt, submitted, completed)
            future.release()
            if result is None:
                continue  # submitted again
            if result.unit is not None and job.cache_dir is not None and job.cache_key is not None:
                unwritable = FactCache(job.cache_dir).store(job.cache_key, result.unit)
                if unwritable is not None:
                    result.cache_problems += (unwritable_warning(job.cache_dir, unwritable),)
            self.files += 1
            self.seconds = time.perf_counter() - started
            yield result
        self.seconds = time.perf_counter() - started

    def _submit(self, job: FactJob, attempt: int, submitted: dict, completed: Any) -> None:
        # The client stores the facts in its cache; the worker only keeps the PCH under cache_dir.
        on_worker = replace(job, cache_key=None)
        future = self.client.submit(
            compute_facts_on_worker, on_worker, pure=False, key=f"gupcheck-facts-{uuid.uuid4().hex}"
        )
        submitted[future] = (job, attempt)
        completed.add(future)

    def _result(
        self, future: Any, job: FactJob, attempt: int, submitted: dict, completed: Any
    ) -> FactResult | None:
        from distributed import KilledWorker

        try:
            return future.result()
        except KilledWorker:
            return FactResult(
                job.path,
                None,
                "the parser process crashed on every Dask worker that tried this file; file skipped",
            )
        except Exception as error:  # noqa: BLE001 - a lost result costs this file at most, not the run
            if attempt < MAX_ATTEMPTS:
                self.resubmitted += 1
                self._submit(job, attempt + 1, submitted, completed)
                return None
            return FactResult(
                job.path,
                None,
                f"no result from the Dask cluster after {attempt} attempts "
                f"({type(error).__name__}: {error}); file skipped",
            )

    def summary(self) -> str:
        """One line: files, time, workers and files per second of the last run."""
        workers = len(self.client.scheduler_info().get("workers", {}))
        rate = self.files / self.seconds if self.seconds > 0 else 0.0
        again = f", {self.resubmitted} submitted again" if self.resubmitted else ""
        return (
            f"{self.files} file{'s' if self.files != 1 else ''} parsed on {workers} Dask "
            f"worker{'s' if workers != 1 else ''} in {self.seconds:.1f} s ({rate:.1f} files/s{again})"
        )
