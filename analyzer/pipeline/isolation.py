"""Running one rule so that it cannot take the run down: an exception, a run past its time or past its
memory allowance stops that rule alone. The findings it produced before are kept, and the failure is
one line naming the rule and, when the failure happened while a function was being analysed, that
function. The other rules run as usual.

The time limit is a SIGALRM timer (the rules are Python code, so the exception it raises lands between
two bytecodes of whatever the rule was doing); the memory allowance is a soft RLIMIT_AS above what the
process uses when the rule starts, so a rule that grows without bound gets a MemoryError instead of
taking the machine's memory.
"""

from __future__ import annotations

import contextlib
import resource
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from types import FrameType, TracebackType

from gupcheck.model.facts import Function
from gupcheck.model.findings import Finding

DEFAULT_RULE_SECONDS = 600.0  # a rule's time on the whole program
DEFAULT_RULE_MEMORY_MIB = 8192  # what a rule may allocate on top of the facts


class RuleTimeout(Exception):
    """Raised inside a rule whose time is up."""


@dataclass(frozen=True)
class RuleBudget:
    seconds: float | None = DEFAULT_RULE_SECONDS
    memory_mib: int | None = DEFAULT_RULE_MEMORY_MIB


@dataclass(frozen=True)
class RuleOutcome:
    findings: list[Finding]
    failure: str | None = None  # one line when the rule stopped before its end


def run_rule(check: Callable[[], Iterable[Finding]], budget: RuleBudget) -> RuleOutcome:
    """Every finding `check()` yields, or those it yielded before it failed and why it stopped."""
    findings: list[Finding] = []
    started = time.monotonic()
    try:
        with _time_limit(budget.seconds), _memory_allowance(budget.memory_mib):
            for finding in check():
                findings.append(finding)
    except RuleTimeout as error:
        return RuleOutcome(findings, f"stopped after {budget.seconds:g} s{_where(error.__traceback__)}")
    except MemoryError as error:
        return RuleOutcome(findings, f"needed more than {budget.memory_mib} MiB{_where(error.__traceback__)}")
    except RecursionError as error:
        return RuleOutcome(findings, f"recursed too deeply{_where(error.__traceback__)}")
    except Exception as error:  # noqa: BLE001 - an analyser bug costs this rule, not the run
        elapsed = time.monotonic() - started
        where = _where(error.__traceback__)
        return RuleOutcome(
            findings, f"internal error after {elapsed:.1f} s{where}: {type(error).__name__}: {error}"
        )
    return RuleOutcome(findings)


def _where(trace: TracebackType | None) -> str:
    """ ", in f()": the innermost frame of the failure with a function of the program in a local named
    `fn` (or a `pin`, `access`, ... holding one), where the analyses keep the function they work on."""
    frames: list[FrameType] = []
    while trace is not None:
        frames.append(trace.tb_frame)
        trace = trace.tb_next
    for frame in reversed(frames):
        for value in frame.f_locals.values():
            try:
                function = value if isinstance(value, Function) else getattr(value, "function", None)
            except Exception:  # noqa: BLE001 - whatever a local is, naming the function must not fail
                continue
            if isinstance(function, Function):
                return f" in {function.name}() ({function.file}:{function.location.line})"
    return ""


@contextlib.contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only: elsewhere the rule runs unbounded in time
        return

    def expire(_signal: int, _frame: FrameType | None) -> None:
        raise RuleTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _memory_allowance(mib: int | None) -> Iterator[None]:
    used = _address_space_bytes()
    if mib is None or used is None:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    allowed = used + mib * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        allowed = min(allowed, hard)
    if soft != resource.RLIM_INFINITY and soft < allowed:
        yield  # a tighter limit is already in place
        return
    resource.setrlimit(resource.RLIMIT_AS, (allowed, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _address_space_bytes() -> int | None:
    """This process's address space (VmSize), from /proc; None where unavailable."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None
