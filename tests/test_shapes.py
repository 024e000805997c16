"""Drivers of extreme shape are analysed to the end, with the verdict their code calls for.

The shapes are bench/shapes.py's (the benchmark prints how the rule stage's time grows with them;
these tests check that nothing is cut short or lost at the sizes the reliability issue names: 2000
gotos and labels, 5000 statements, 200 nested ifs, a 3000-case switch, 2000 functions calling each
other in a ring, 4000 chained helpers). Each parses in a worker with the built-in kernel model.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from gupcheck.analyses.context import Analyses
from gupcheck.kernel_api.entries import Role
from gupcheck.model.program import Program
from gupcheck.pipeline.engine import Analysis, analyse
from gupcheck.rules import ALL_RULES

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import shapes  # noqa: E402 - the generators live with the benchmark


def analysed(tmp_path: Path, source: str) -> Analysis:
    path = tmp_path / "shape.c"
    path.write_text(shapes.HEADERS + source + shapes.FOOTER)
    result = analyse([str(path)], ALL_RULES, use_model=True, jobs=1, timeout=600)
    assert not result.problems, result.problems
    assert [unit.path for unit in result.units] == [str(path)]
    return result


def gup001_lines(result: Analysis) -> list[int]:
    return sorted(f.location.line for f in result.findings if f.rule_id == "GUP001")


def test_a_pin_followed_by_2000_forward_gotos_still_has_its_leak_found(tmp_path: Path) -> None:
    result = analysed(tmp_path, shapes.pinning_gotos(2000))
    [finding] = [f for f in result.findings if f.rule_id == "GUP001"]
    assert (
        "return -EINVAL"
        in Path(finding.location.path).read_text().splitlines()[finding.flow[-1].location.line - 1]
    )


def test_2000_labels_reached_by_backward_gotos_keep_the_release(tmp_path: Path) -> None:
    result = analysed(tmp_path, shapes.labels(2000))
    assert gup001_lines(result) == []
    program = Program(result.units)
    pins = Analyses(program).pins
    [pin] = pins.all_pins()
    assert pins.fate(pin).released


def test_a_5000_statement_function_is_followed_to_its_release(tmp_path: Path) -> None:
    result = analysed(tmp_path, shapes.long_function(5000))
    assert gup001_lines(result) == []
    pins = Analyses(Program(result.units)).pins
    [pin] = pins.all_pins()
    assert pins.fate(pin).released


def test_a_pin_under_200_nested_ifs_is_found_and_released(tmp_path: Path) -> None:
    result = analysed(tmp_path, shapes.nested_ifs(200))
    pins = Analyses(Program(result.units)).pins
    [pin] = pins.all_pins()
    assert pins.fate(pin).released and gup001_lines(result) == []


def test_every_case_of_a_3000_case_switch_is_dispatched(tmp_path: Path) -> None:
    result = analysed(tmp_path, shapes.big_switch(3000))
    program = Program(result.units)
    [handler] = [fn for fn in program.kernel_functions() if fn.name == "shape_ioctl"]
    assert len(program.ioctl_dispatch(handler)) == 3000
    pins = Analyses(program).pins
    assert len(pins.all_pins()) == 300 and all(pins.fate(pin).released for pin in pins.all_pins())


def test_a_ring_of_2000_functions_calling_each_other_reaches_the_ioctl(tmp_path: Path) -> None:
    result = analysed(tmp_path, shapes.mutual_recursion(2000))
    program = Program(result.units)
    ring = [fn for fn in program.kernel_functions() if fn.name.startswith("ring")]
    assert len(ring) == 2000
    assert all(Role.IOCTL in program.roles_reaching(fn) for fn in ring)
    assert gup001_lines(result) == []


def test_a_chain_of_4000_helpers_carries_the_pin_to_the_ioctl(tmp_path: Path) -> None:
    result = analysed(tmp_path, shapes.helper_chain(4000))
    program = Program(result.units)
    pins = Analyses(program).pins
    helpers = [fn for fn in program.kernel_functions() if fn.name.startswith("helper")]
    assert len(helpers) == 4000
    assert all(1 in pins.summaries[fn.key].pins_into for fn in helpers)  # each pins into its 2nd parameter
    [handler] = [fn for fn in program.kernel_functions() if fn.name == "shape_ioctl"]
    assert [pin.call.callee for pin in pins.pins_in(handler)] == ["helper0"]


@pytest.mark.parametrize("count", [200])
def test_pins_whose_result_is_reused_in_their_loop_are_judged_one_by_one(tmp_path: Path, count: int) -> None:
    result = analysed(tmp_path, shapes.pin_result_reused_in_loop(count))
    flagged = {f.function for f in result.findings if f.rule_id == "GUP001"}
    assert flagged == {f"loop{i}" for i in range(0, count, 2)}  # the loops that never release


def test_gotos_back_into_loop_bodies_keep_each_release(tmp_path: Path) -> None:
    result = analysed(tmp_path, shapes.goto_into_loops(300))
    pins = Analyses(Program(result.units)).pins
    assert len(pins.all_pins()) == 300 and all(pins.fate(pin).released for pin in pins.all_pins())
    assert gup001_lines(result) == []
