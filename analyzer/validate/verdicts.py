"""From what the guest printed to a verdict for every expected finding and look-alike.

A result (one scenario of a case's program) ends in one of three states: the bug showed
(`RESULT name BUG`, or an oops during a result that may oops), it did not (`RESULT name OK`
and no oops; a kernel warning is kept in the evidence), or it could not tell (no RESULT line, `ERROR`, a
build or load failure, a timeout, a guest crash). An expected finding is then confirmed, not
reproduced or an error; a look-alike is clean, shows the bug, or is an error.
"""

from __future__ import annotations

from dataclasses import dataclass

from gupcheck.validate.cases import Case, Expectation, ResultSpec
from gupcheck.validate.console import GuestLog, ResultRun

CONFIRMED = "confirmed"
NOT_REPRODUCED = "not reproduced"
ERROR = "error"
BY_REASONING = "by reasoning"
CLEAN = "clean"
BUG_SHOWN = "bug shown"

GOOD_FOR_FINDINGS = (CONFIRMED, BY_REASONING)
GOOD_FOR_LOOK_ALIKES = (CLEAN, BY_REASONING)

BUG, NO_BUG, UNDECIDED = "bug", "no bug", "undecided"


@dataclass(frozen=True)
class Verdict:
    case: str  # as shown
    case_path: str  # absolute
    kernel: str
    file: str  # relative to the case folder
    line: int
    rule: str | None  # None for a look-alike
    result: str | None
    verdict: str
    evidence: str

    @property
    def positive(self) -> bool:
        return self.rule is not None

    @property
    def site(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def good(self) -> bool:
        return self.verdict in (GOOD_FOR_FINDINGS if self.positive else GOOD_FOR_LOOK_ALIKES)


def result_state(
    spec: ResultSpec, run: ResultRun | None, setup_error: str | None, log: GuestLog | None, boot_outcome: str
) -> tuple[str, str]:
    """(BUG | NO_BUG | UNDECIDED, evidence) for one result of one case on one kernel."""
    if setup_error:
        return UNDECIDED, setup_error
    if run is None:
        last = log.last_lines[-1] if log and log.last_lines else "no console output"
        return UNDECIDED, f"the guest never ran it ({boot_outcome}; last console line: {last[:160]})"
    problems = run.problems()
    oopses = [message for kind, message in problems if kind == "oops"]
    if run.reports:
        report = run.reports[0]
        if report.verdict == "BUG":
            shown = problems and problems[0][1] not in report.evidence
            return BUG, report.evidence + (f"; kernel: {problems[0][1]}" if shown else "")
        if report.verdict == "OK":
            if oopses:
                return UNDECIDED, f"{report.evidence}; but the kernel oopsed: {oopses[0]}"
            warning = f"; kernel warning: {problems[0][1]}" if problems else ""
            return NO_BUG, report.evidence + warning
        return UNDECIDED, report.evidence or "the program could not set the scenario up"
    if spec.oops and oopses:
        return BUG, f"{oopses[0]}; the program was killed ({run.ended or 'guest stopped'})"
    if run.ended is None:
        where = oopses[0] if oopses else boot_outcome
        return UNDECIDED, f"the guest stopped during this result ({where})"
    if run.ended == "TIMEOUT":
        return UNDECIDED, f"timed out after {spec.timeout} s" + (f" ({oopses[0]})" if oopses else "")
    detail = problems[0][1] if problems else (run.output[-1] if run.output else "no output")
    return UNDECIDED, f"no RESULT line (program ended with {run.ended.lower()}: {detail[:200]})"


def expectation_verdict(expectation: Expectation, state: str) -> str:
    if expectation.positive:
        return {BUG: CONFIRMED, NO_BUG: NOT_REPRODUCED}.get(state, ERROR)
    return {BUG: BUG_SHOWN, NO_BUG: CLEAN}.get(state, ERROR)


def case_verdicts(case: Case, kernel: str, states: dict[str, tuple[str, str]]) -> list[Verdict]:
    """Verdicts of a case's expectations given the state of each of its results."""
    verdicts = []
    for expectation in case.expectations:
        if expectation.reasoning is not None:
            verdict, evidence = BY_REASONING, expectation.reasoning
        else:
            assert expectation.result is not None
            state, evidence = states[expectation.result]
            verdict = expectation_verdict(expectation, state)
        verdicts.append(
            Verdict(
                case.name,
                str(case.path),
                kernel,
                expectation.file,
                expectation.line,
                expectation.rule,
                expectation.result,
                verdict,
                evidence,
            )
        )
    return verdicts
