"""The official SARIF tools: the 2.1.0 schema and Microsoft's SARIF Multitool (npm package,
installed into .tools/sarif by scripts/setup-sarif-tools.sh)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest

REPO = Path(__file__).resolve().parent.parent
SETUP_SCRIPT = REPO / "scripts" / "setup-sarif-tools.sh"
MULTITOOL_PACKAGE = REPO / ".tools" / "sarif" / "node_modules" / "@microsoft" / "sarif-multitool-linux"


@pytest.fixture(scope="session")
def multitool_package() -> Path:
    if not (MULTITOOL_PACKAGE / "sarif-2.1.0.json").is_file():
        subprocess.run(["bash", str(SETUP_SCRIPT)], check=True, capture_output=True, timeout=600)
    return MULTITOOL_PACKAGE


@pytest.fixture(scope="session")
def sarif_validator(multitool_package: Path) -> jsonschema.protocols.Validator:
    schema = json.loads((multitool_package / "sarif-2.1.0.json").read_text())
    validator_class = jsonschema.validators.validator_for(schema)  # the schema declares draft 2020-12
    validator_class.check_schema(schema)
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


def run_multitool_validate(package: Path, sarif_file: Path, output: Path) -> list[dict]:
    """Validation results of the Multitool, read from the SARIF log it writes (its exit code is 0 even
    when it reports errors). Only errors and warnings are reported (the default --level)."""
    proc = subprocess.run(
        [
            str(package / "Sarif.Multitool"),
            "validate",
            str(sarif_file),  # before the options: list-valued options such as --log swallow what follows
            "--rule-kind",
            "Gh;Sarif",
            "--output",
            str(output),
            "--log",
            "ForceOverwrite",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    validation = json.loads(output.read_text(encoding="utf-8-sig"))
    return [
        {"ruleId": r["ruleId"], "level": r.get("level", "warning"), "message": r["message"]}
        for run in validation["runs"]
        for r in run.get("results", [])
    ]
