#!/usr/bin/env python3
"""How the rule stage scales with the shape of a driver (run by hand; never a timed test).

    .venv/bin/python bench/shapes.py [--only NAME ...] [--sizes small|large]

Generates drivers whose shape stresses one part of the analysis (a pinning function with thousands
of forward gotos, a chain of thousands of pinning helpers, thousands of labels, a long function,
nested ifs, a big switch, mutual recursion, a pin whose result is reused in a loop), runs gupcheck
on each with the built-in kernel API model and prints, per shape and size: exit status, the time of
the rule stage ("link and rules" of --stats), the wall time and the main process's peak memory.
The target is near-linear growth: each shape at its largest size under 5 s of rules. Exits 1 when a
run fails (status other than 0 or 1, or a traceback) or passes the target.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUPCHECK = [sys.executable, "-m", "gupcheck"]
RULES_TARGET_S = 5.0
HEADERS = (
    "#include <linux/module.h>\n#include <linux/fs.h>\n#include <linux/mm.h>\n#include <linux/uaccess.h>\n"
)
FOOTER = (
    "static const struct file_operations shape_fops = { .unlocked_ioctl = shape_ioctl };\n"
    'MODULE_LICENSE("GPL");\n'
)


def pinning_gotos(n: int) -> str:
    """A pinning ioctl with n forward gotos to one label, then n more to a second one: the shape of
    a long error path (each test is of a different value; each step updates a counter)."""
    lines = [
        "static long shape_ioctl(struct file *file, unsigned int cmd, unsigned long arg)\n{",
        "\tstruct page *pages[4];\n\tlong got, x = 0;",
        "\tgot = get_user_pages_fast(arg, 4, FOLL_WRITE, pages);",
        "\tif (got < 0)\n\t\treturn got;",
    ]
    lines += [f"\tif (arg == {i})\n\t\tgoto out;\n\tx++;" for i in range(n)]
    lines.append("out:")
    lines += [f"\tif (cmd == {i})\n\t\tgoto done;\n\tx--;" for i in range(n)]
    lines.append("\tif (x > 7)\n\t\treturn -EINVAL;")  # a path that returns holding the pages
    lines.append("done:\n\tput_page(pages[0]);\n\treturn x;\n}")
    return "\n".join(lines) + "\n"


def helper_chain(n: int) -> str:
    """n helpers, each calling the next; the last pins; the ioctl calls the first."""
    parts = [
        f"static long helper{n - 1}(unsigned long addr, struct page **pages)\n"
        "{\n\treturn get_user_pages_fast(addr, 1, FOLL_WRITE, pages);\n}\n"
    ]
    for i in range(n - 2, -1, -1):
        parts.append(
            f"static long helper{i}(unsigned long addr, struct page **pages)\n"
            f"{{\n\treturn helper{i + 1}(addr, pages);\n}}\n"
        )
    parts.append(
        "static long shape_ioctl(struct file *file, unsigned int cmd, unsigned long arg)\n"
        "{\n\tstruct page *page;\n\tlong got = helper0(arg, &page);\n\treturn got;\n}\n"
    )
    return "".join(parts)


def labels(n: int) -> str:
    """n labels, each the target of a backward goto from later in the function."""
    lines = [
        "static long shape_ioctl(struct file *file, unsigned int cmd, unsigned long arg)\n{",
        "\tlong x = arg;\n\tstruct page *page;",
        "\tif (get_user_pages_fast(arg, 1, FOLL_WRITE, &page) != 1)\n\t\treturn -EFAULT;",
    ]
    for i in range(n):
        lines.append(f"again{i}:\n\tx--;")
        if i:
            lines.append(f"\tif (x == {i})\n\t\tgoto again{i - 1};")
    lines.append("\tput_page(page);\n\treturn x;\n}")
    return "\n".join(lines) + "\n"


def long_function(n: int) -> str:
    """One pinning function of n statements."""
    body = "\n".join(f"\tx = x * 3 + {i};" for i in range(n))
    return (
        "static long shape_ioctl(struct file *file, unsigned int cmd, unsigned long arg)\n{\n"
        "\tlong x = arg;\n\tstruct page *page;\n"
        "\tif (get_user_pages_fast(arg, 1, FOLL_WRITE, &page) != 1)\n\t\treturn -EFAULT;\n"
        f"{body}\n\tput_page(page);\n\treturn x;\n}}\n"
    )


def nested_ifs(n: int) -> str:
    """A pin and its release at the bottom of n nested ifs."""
    opening = "".join(f"{chr(9) * (i + 1)}if (arg & {1 << (i % 60)}UL) {{\n" for i in range(n))
    closing = "".join(f"{chr(9) * (i + 1)}}}\n" for i in reversed(range(n)))
    return (
        "static long shape_ioctl(struct file *file, unsigned int cmd, unsigned long arg)\n{\n"
        "\tstruct page *page;\n"
        f"{opening}"
        "\tif (get_user_pages_fast(arg, 1, FOLL_WRITE, &page) == 1)\n\t\tput_page(page);\n"
        f"{closing}\treturn 0;\n}}\n"
    )


def big_switch(n: int) -> str:
    """An ioctl dispatching n commands; every tenth pins and releases."""
    cases = []
    for i in range(n):
        if i % 10 == 0:
            cases.append(
                f"\tcase {i}:\n\t\tif (get_user_pages_fast(arg, 1, FOLL_WRITE, &page) != 1)\n"
                "\t\t\treturn -EFAULT;\n\t\tput_page(page);\n\t\treturn 0;"
            )
        else:
            cases.append(f"\tcase {i}:\n\t\treturn {i};")
    return (
        "static long shape_ioctl(struct file *file, unsigned int cmd, unsigned long arg)\n{\n"
        "\tstruct page *page;\n\tswitch (cmd) {\n" + "\n".join(cases) + "\n\tdefault:\n\t\treturn -ENOTTY;\n"
        "\t}\n}\n"
    )


def mutual_recursion(n: int) -> str:
    """n functions calling each other in a ring, one of them pinning."""
    declarations = "".join(f"static long ring{i}(unsigned long addr, int depth);\n" for i in range(n))
    bodies = []
    for i in range(n):
        pin = (
            "\tstruct page *page;\n\tif (get_user_pages_fast(addr, 1, 0, &page) == 1)\n\t\tput_page(page);\n"
            if i == 0
            else ""
        )
        bodies.append(
            f"static long ring{i}(unsigned long addr, int depth)\n{{\n{pin}"
            f"\tif (depth <= 0)\n\t\treturn 0;\n\treturn ring{(i + 1) % n}(addr, depth - 1);\n}}\n"
        )
    return (
        declarations
        + "".join(bodies)
        + "static long shape_ioctl(struct file *file, unsigned int cmd, unsigned long arg)\n"
        "{\n\treturn ring0(arg, cmd);\n}\n"
    )


def pin_result_reused_in_loop(n: int) -> str:
    """n pins in loops whose result variable is reassigned in the loop, some releasing."""
    parts = []
    for i in range(n):
        release = "\t\tput_page(page);\n" if i % 2 else ""
        parts.append(
            f"static long loop{i}(unsigned long arg)\n{{\n\tstruct page *page;\n\tlong ret = 0;\n"
            f"\twhile (arg--) {{\n\t\tret = get_user_pages_fast(arg, 1, 0, &page);\n"
            f"\t\tif (ret < 0)\n\t\t\tbreak;\n{release}\t\tret = arg & 3;\n\t}}\n\treturn ret;\n}}\n"
        )
    calls = "".join(f"\tloop{i}(arg);\n" for i in range(n))
    return (
        "".join(parts) + "static long shape_ioctl(struct file *file, unsigned int cmd, unsigned long arg)\n"
        f"{{\n{calls}\treturn 0;\n}}\n"
    )


def goto_into_loops(n: int) -> str:
    """n loops, each pinning and releasing in its body, entered again by a goto from after the
    next loop into a label inside the body."""
    lines = [
        "static long shape_ioctl(struct file *file, unsigned int cmd, unsigned long arg)\n{",
        "\tstruct page *page;\n\tlong i, x = arg;",
    ]
    for k in range(n):
        lines.append(
            f"\tfor (i = 0; i < x; i++) {{\nbody{k}:\n"
            "\t\tif (get_user_pages_fast(arg + i, 1, 0, &page) != 1)\n\t\t\treturn -EFAULT;\n"
            "\t\tput_page(page);\n\t}"
        )
        if k:
            lines.append(f"\tif (x-- == {k})\n\t\tgoto body{k - 1};")
    lines.append("\treturn 0;\n}")
    return "\n".join(lines) + "\n"


SHAPES: dict[str, tuple[Callable[[int], str], tuple[int, ...], tuple[int, ...]]] = {
    # name: (generator, small sizes, large sizes)
    "pinning-gotos": (pinning_gotos, (250, 500, 1000), (500, 1000, 2000)),
    "helper-chain": (helper_chain, (500, 1000, 2000), (1000, 2000, 4000)),
    "labels": (labels, (500, 1000), (1000, 2000)),
    "long-function": (long_function, (1000, 2500), (2500, 5000)),
    "nested-ifs": (nested_ifs, (50, 100), (100, 200)),
    "big-switch": (big_switch, (1000, 3000), (3000, 6000)),
    "mutual-recursion": (mutual_recursion, (100, 500), (500, 2000)),
    "pin-result-reused-in-loop": (pin_result_reused_in_loop, (50, 200), (200, 800)),
    "goto-into-loops": (goto_into_loops, (100, 300), (300, 1000)),
}
STAT = re.compile(r"gupcheck: stats: (link and rules|peak memory of the main process): ([0-9.]+)")


def measure(source: str, folder: Path) -> tuple[int, float, float, float, bool]:
    """(exit status, rules seconds, wall seconds, main MiB, traceback)"""
    path = folder / "shape.c"
    path.write_text(HEADERS + source + FOOTER)
    started = time.perf_counter()
    done = subprocess.run(
        [*GUPCHECK, "check", "--kernel-model", "--no-cache", "--stats", "-q", "--timeout", "600", str(path)],
        capture_output=True,
        text=True,
        cwd=folder,
    )
    wall = time.perf_counter() - started
    figures = dict(STAT.findall(done.stderr))
    return (
        done.returncode,
        float(figures.get("link and rules", "nan")),
        wall,
        float(figures.get("peak memory of the main process", "nan")),
        "Traceback (most recent call last)" in done.stderr,
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="*", choices=sorted(SHAPES), help="shapes to run (default: all)")
    parser.add_argument("--sizes", choices=("small", "large"), default="large")
    options = parser.parse_args()
    failed = False
    print(f"{'shape':28} {'size':>6} {'exit':>4} {'rules s':>8} {'wall s':>7} {'main MiB':>8}")
    with tempfile.TemporaryDirectory(prefix="gupcheck-shapes-") as scratch:
        for name in options.only or SHAPES:
            generate, small, large = SHAPES[name]
            for size in small if options.sizes == "small" else large:
                status, rules, wall, memory, traceback = measure(generate(size), Path(scratch))
                bad = status not in (0, 1) or traceback or not rules <= RULES_TARGET_S
                failed |= bad
                flag = "  <- FAILED" if bad else ""
                print(
                    f"{name:28} {size:>6} {status:>4} {rules:>8.2f} {wall:>7.1f} {memory:>8.0f}{flag}",
                    flush=True,
                )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
