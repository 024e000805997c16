"""Reading the guest's serial console.

The console mixes four things: firmware output (escape codes before the first line), the
runner's `@@GUPCHECK` protocol lines (see guest/runner.c), the repro programs' `RESULT` lines,
and kernel messages printed straight to the console, which can land in the middle of a
program's line. Lines end in `\\r\\n`. Everything is matched anywhere in a line, after the
escape codes and carriage returns are gone, and a kernel message that starts inside a line
is split off it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MARK = "@@GUPCHECK"

_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_KERNEL_STAMP = re.compile(r"\[\s*\d+\.\d{6}\]\s?")
_PROTOCOL = re.compile(re.escape(MARK) + r" (?P<kind>[A-Z-]+)(?: (?P<rest>.*))?$")
_RESULT = re.compile(
    r"RESULT (?P<name>[A-Za-z0-9][A-Za-z0-9._-]*) (?P<verdict>BUG|OK|ERROR)\b ?"
    r"(?P<evidence>.*)$"
)
_KMSG_PRIORITY = re.compile(r"^<\d+>")

# Kernel messages that mean the kernel itself objected: an oops, a BUG, a WARN, hardening.
_OOPS = re.compile(
    r"BUG: |kernel BUG at|Oops|general protection fault|Kernel panic|unable to handle|"
    r"Unable to handle|stack-protector|double fault"
)
_WARNING = re.compile(
    r"WARNING: |usercopy: |Buffer overflow detected|field-spanning write|"
    r"BUG [a-z0-9_-]+ \(|refcount_t: "
)
_RIP = re.compile(r"RIP: 0010:(?P<where>\S+)")
_PAGE_FAULT = re.compile(r"#PF: (?P<code>error_code\(\w+\) - .*)$")


def clean_line(raw: str) -> str:
    """A console line without escape sequences, carriage returns and other control characters."""
    return _CONTROL.sub("", _ESCAPE.sub("", raw)).strip()


def split_console(text: str) -> list[tuple[str, bool]]:
    """The console as (line, is_kernel_message) pairs, with kernel messages that interrupted a
    line split off into lines of their own."""
    lines: list[tuple[str, bool]] = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = clean_line(raw)
        if not line:
            continue
        stamps = list(_KERNEL_STAMP.finditer(line))
        if stamps and f"{MARK} KMSG " in line[: stamps[0].start()]:
            stamps = []  # the runner's copy of a kernel log line: one protocol line
        if not stamps:
            lines.append((line, False))
            continue
        head = line[: stamps[0].start()].strip()
        if head:
            lines.append((head, False))
        for i, stamp in enumerate(stamps):
            end = stamps[i + 1].start() if i + 1 < len(stamps) else len(line)
            message = line[stamp.end() : end].strip()
            if message:
                lines.append((message, True))
    return lines


def kernel_problem(message: str) -> str | None:
    """'oops' or 'warning' when a kernel message reports one, else None."""
    if _OOPS.search(message):
        return "oops"
    if _WARNING.search(message):
        return "warning"
    return None


@dataclass
class ProgramReport:
    verdict: str  # BUG, OK or ERROR
    evidence: str


@dataclass
class ResultRun:
    """One result as the guest ran it."""

    case_id: str
    result: str
    ended: str | None = None  # "EXIT 0", "SIGNAL 11", "TIMEOUT"; None: never ended (guest died)
    reports: list[ProgramReport] = field(default_factory=list)
    kernel: list[str] = field(default_factory=list)  # kernel messages during the result
    output: list[str] = field(default_factory=list)  # the program's other output

    def problems(self) -> list[tuple[str, str]]:
        """(kind, message) of the kernel's oopses and warnings during this result; an oops
        headline gets the function it happened in."""
        found: list[tuple[str, str]] = []
        seen: set[str] = set()
        for i, message in enumerate(self.kernel):
            kind = kernel_problem(message)
            if not kind or message in seen:
                continue
            seen.add(message)
            if kind == "oops":
                following = self.kernel[i + 1 : i + 40]
                fault = next((m for m in map(_PAGE_FAULT.search, following) if m), None)
                rip = next((m for m in map(_RIP.search, following) if m), None)
                if fault:
                    message = f"{message} [{fault.group('code')}]"
                if rip:
                    message = f"{message} in {rip.group('where')}"
            found.append((kind, message))
        return found


@dataclass
class GuestLog:
    release: str | None = None  # the booted kernel's release, from READY
    done: bool = False  # the runner reached the end of the plan
    loads: dict[tuple[str, str], str] = field(default_factory=dict)  # (case, module) -> "OK" / error
    runs: dict[tuple[str, str], ResultRun] = field(default_factory=dict)
    boot_kernel: list[str] = field(default_factory=list)
    last_lines: list[str] = field(default_factory=list)
    plan_errors: list[str] = field(default_factory=list)


def parse_console(text: str) -> GuestLog:
    log = GuestLog()
    current: ResultRun | None = None
    seen_kernel: set[tuple[str, str, str]] = set()

    def add_kernel(run: ResultRun | None, message: str) -> None:
        target = run.kernel if run else log.boot_kernel
        key = (run.case_id if run else "-", run.result if run else "boot", message)
        if key not in seen_kernel:
            seen_kernel.add(key)
            target.append(message)

    for line, is_kernel in split_console(text):
        log.last_lines = (log.last_lines + [line])[-30:]
        if is_kernel:
            add_kernel(current, line)
            continue
        protocol = _PROTOCOL.search(line)
        if protocol:
            kind, rest = protocol.group("kind"), (protocol.group("rest") or "")
            fields = rest.split(" ")
            if kind == "READY":
                log.release = rest.strip() or None
            elif kind == "BEGIN" and len(fields) >= 2:
                current = log.runs.setdefault((fields[0], fields[1]), ResultRun(fields[0], fields[1]))
            elif kind == "END" and len(fields) >= 3:
                run = log.runs.setdefault((fields[0], fields[1]), ResultRun(fields[0], fields[1]))
                run.ended = " ".join(fields[2:])
                current = None
            elif kind == "KMSG" and len(fields) >= 3:
                message = _KMSG_PRIORITY.sub("", " ".join(fields[2:]))
                message = _KERNEL_STAMP.sub("", message, count=1).strip()
                if message:
                    add_kernel(log.runs.get((fields[0], fields[1])), message)
            elif kind in ("LOAD", "UNLOAD") and len(fields) >= 3:
                status = " ".join(fields[2:])
                if kind == "LOAD" or status != "OK":
                    log.loads[(fields[0], fields[1])] = status if kind == "LOAD" else f"unload: {status}"
            elif kind == "DONE":
                log.done = True
                current = None
            elif kind == "PLAN-ERROR":
                log.plan_errors.append(rest)
            continue
        result = _RESULT.search(line)
        if result and current is not None and result.group("name") == current.result:
            current.reports.append(ProgramReport(result.group("verdict"), result.group("evidence").strip()))
        elif current is not None:
            current.output.append(line)
    return log
