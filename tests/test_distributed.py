"""Facts computed on a Dask cluster (`--executor dask`): a real LocalCluster on loopback, its workers in
their own processes. Skipped only when Dask distributed is not installed (the `test` extra has it)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner

distributed = pytest.importorskip("distributed")

from gupcheck.cli import main  # noqa: E402
from gupcheck.output.sarif import render_sarif  # noqa: E402
from gupcheck.pipeline.distributed import DaskExecutor  # noqa: E402
from gupcheck.pipeline.engine import analyse  # noqa: E402
from gupcheck.rules import ALL_RULES  # noqa: E402

TESTDATA = Path(__file__).resolve().parent.parent / "testdata"


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=40,
    ) as local_cluster:
        yield local_cluster


@pytest.fixture
def client(cluster):
    with distributed.Client(cluster, set_as_default=False) as dask_client:
        yield dask_client


def sarif_of(analysis) -> str:
    docs = [rule.doc for rule in ALL_RULES]
    return render_sarif(
        analysis.findings,
        docs,
        source_root=str(TESTDATA),
        files_analysed=analysis.files_analysed,
        notifications=[*analysis.problems, *analysis.notes],
        execution_successful=bool(analysis.units),
    )


def test_a_dask_run_gives_the_sarif_of_a_local_run(client) -> None:
    local = analyse([str(TESTDATA)], ALL_RULES, use_model=True)
    executor = DaskExecutor(client)
    remote = analyse([str(TESTDATA)], ALL_RULES, use_model=True, executor=executor)
    assert executor.files == len(local.units) > 20
    assert remote.findings
    assert sarif_of(remote) == sarif_of(local)


def test_a_worker_killed_mid_run_loses_no_file(client) -> None:
    local = analyse([str(TESTDATA)], ALL_RULES, use_model=True)
    killed: list[int] = []

    def kill_a_busy_worker(done: int, total: int) -> None:
        if killed or done < 2:
            return
        busy = [
            worker
            for worker, keys in client.processing().items()
            if any(str(key).startswith("gupcheck-facts-") for key in keys)
        ]
        assert busy, "the run ended before a worker could be killed"
        pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    executor = DaskExecutor(client)
    remote = analyse(
        [str(TESTDATA)], ALL_RULES, use_model=True, executor=executor, progress=kill_a_busy_worker
    )
    assert killed
    assert not [problem for problem in remote.problems if problem.fatal]
    assert remote.files_analysed == local.files_analysed
    assert sarif_of(remote) == sarif_of(local)


def test_cli_executor_dask_reports_what_a_local_run_reports(cluster, tmp_path: Path) -> None:
    runner = CliRunner()
    common = [
        str(TESTDATA / "gup001"),
        "--kernel-model",
        "--format",
        "sarif",
        "--no-cache",
        "--source-root",
        str(TESTDATA),
    ]
    local = runner.invoke(main, [*common, "-o", str(tmp_path / "local.sarif")])
    remote = runner.invoke(
        main,
        [
            *common,
            "-o",
            str(tmp_path / "dask.sarif"),
            "--executor",
            "dask",
            "--scheduler",
            cluster.scheduler_address,
        ],
    )
    assert local.exit_code == remote.exit_code == 1, remote.output
    assert (tmp_path / "dask.sarif").read_text() == (tmp_path / "local.sarif").read_text()
    assert "files/s" in remote.stderr


def test_cli_executor_dask_without_a_reachable_scheduler_is_a_usage_error(monkeypatch) -> None:
    monkeypatch.setattr("gupcheck.pipeline.distributed.CONNECT_TIMEOUT", 2.0)
    runner = CliRunner()
    missing = runner.invoke(main, [str(TESTDATA / "gup001"), "--kernel-model", "--executor", "dask"])
    assert missing.exit_code == 2
    assert "--scheduler" in missing.stderr
    unreachable = runner.invoke(
        main,
        [
            str(TESTDATA / "gup001"),
            "--kernel-model",
            "--executor",
            "dask",
            "--scheduler",
            "tcp://127.0.0.1:9",
        ],
    )
    assert unreachable.exit_code == 2
    assert "cannot reach the Dask scheduler" in unreachable.stderr
