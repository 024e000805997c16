"""scripts/new_rule.py starts a rule in a copy of the repository: a module that loads and finds
nothing yet, a first testdata case, the registry line; and refuses to overwrite anything."""

from __future__ import annotations

import ast
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

from gupcheck.analyses.context import Analyses
from gupcheck.model.program import Program

REPO = Path(__file__).resolve().parent.parent
PYTHON = REPO / ".venv" / "bin" / "python"
SCRIPT = REPO / "scripts" / "new_rule.py"
NEW_LINE = 'LazyRule("GUP006", "pin-in-atomic-context", f"{__name__}.pin_in_atomic_context"),'


def new_rule(root: Path, *args: str) -> subprocess.CompletedProcess:
    python = PYTHON if PYTHON.exists() else Path(sys.executable)
    return subprocess.run(
        [str(python), str(SCRIPT), *args, "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_new_rule_is_created_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "testdata").mkdir()
    shutil.copy(REPO / "rules" / "__init__.py", tmp_path / "rules" / "__init__.py")

    created = new_rule(tmp_path, "pin-in-atomic-context")
    assert created.returncode == 0, created.stderr
    assert "rules/pin_in_atomic_context.py" in created.stdout

    registry = (tmp_path / "rules" / "__init__.py").read_text()
    ast.parse(registry)
    lines = [line.strip() for line in registry.splitlines()]
    last_old = next(i for i, line in enumerate(lines) if line.startswith('LazyRule("GUP005"'))
    assert lines[last_old + 1] == NEW_LINE
    assert registry.count("LazyRule(") == (REPO / "rules" / "__init__.py").read_text().count("LazyRule(") + 1

    module_path = tmp_path / "rules" / "pin_in_atomic_context.py"
    spec = importlib.util.spec_from_file_location(f"new_rule_under_test_{tmp_path.name}", module_path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (module.RULE.doc.id, module.RULE.doc.name) == ("GUP006", "pin-in-atomic-context")
    assert list(module.RULE.check(Analyses(Program([])))) == []
    assert "TODO" in module.DOC.what_it_does and "TODO" in module.DOC.example

    case = tmp_path / "testdata" / "gup006" / "first-case"
    assert (case / "Kbuild").read_text() == "obj-m += first_case.o\n"
    source = (case / "first_case.c").read_text()
    assert "#include <linux/module.h>" in source and 'MODULE_LICENSE("GPL");' in source

    before = tree(tmp_path)
    again = new_rule(tmp_path, "pin-in-atomic-context")
    assert again.returncode == 2
    assert len(again.stderr.splitlines()) == 1 and "pin-in-atomic-context" in again.stderr
    assert tree(tmp_path) == before


def test_an_existing_id_or_module_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "testdata").mkdir()
    shutil.copy(REPO / "rules" / "__init__.py", tmp_path / "rules" / "__init__.py")
    (tmp_path / "rules" / "taken_name.py").write_text("# someone's work\n")
    before = tree(tmp_path)

    taken_id = new_rule(tmp_path, "another-rule", "--id", "GUP003")
    assert taken_id.returncode == 2 and "GUP003" in taken_id.stderr
    taken_file = new_rule(tmp_path, "taken-name")
    assert taken_file.returncode == 2 and "taken_name.py" in taken_file.stderr
    assert tree(tmp_path) == before
