"""gupcheck installs as a package should: every file it needs is in the wheel, and building it warns of
nothing (a deprecated field or a data folder setuptools does not know is a warning a user reads)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_the_wheel_builds_without_warnings_and_ships_the_data_files(tmp_path: Path) -> None:
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    output = build.stdout + build.stderr
    for warning in ("SetuptoolsDeprecationWarning", "is absent from the `packages` configuration"):
        assert warning not in output, [line for line in output.splitlines() if warning in line][:3]
    (wheel,) = tmp_path.glob("gupcheck-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    data = [
        path
        for folder in ("kernel_model", "validate/guest")
        for path in (REPO / "analyzer" / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    ]
    assert data
    missing = [str(p) for p in data if "gupcheck/" + str(p.relative_to(REPO / "analyzer")) not in shipped]
    assert missing == []
