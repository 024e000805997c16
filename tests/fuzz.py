"""Generated C inputs for the fuzz test: mutations of the testdata and hostile shapes.

Each generator takes a random source (`random.Random`, seeded by the caller: a run is reproducible
from its seed) and the text of a testdata file, and returns C text. The shapes are the ones that
once broke the analyser: truncation, deleted and duplicated lines, random bytes, unbalanced braces
and `#if`s, huge macros and lines, deep nesting, webs of gotos, recursion, self-referencing
structs, ops tables naming functions that do not exist, pins inside loops that never end.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
KERNEL_PRELUDE = "#include <linux/module.h>\n#include <linux/fs.h>\n#include <linux/mm.h>\n"


def seeds() -> list[Path]:
    """The testdata's C files (not the QEMU reproducers), in a stable order."""
    return sorted(p for p in (REPO / "testdata").rglob("*.c") if "repro" not in p.parts)


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True) or ["\n"]


def truncated(rng: random.Random, text: str) -> str:
    return text[: rng.randrange(len(text) + 1)]


def lines_deleted(rng: random.Random, text: str) -> str:
    lines = _lines(text)
    for _ in range(rng.randint(1, max(1, len(lines) // 5))):
        del lines[rng.randrange(len(lines))]
        if not lines:
            break
    return "".join(lines)


def lines_duplicated(rng: random.Random, text: str) -> str:
    lines = _lines(text)
    for _ in range(rng.randint(1, max(1, len(lines) // 5))):
        at = rng.randrange(len(lines))
        lines[at:at] = lines[at : at + rng.randint(1, 5)]
    return "".join(lines)


def random_bytes(rng: random.Random, text: str) -> str:
    data = bytearray(text.encode())
    for _ in range(rng.randint(1, 40)):
        data[rng.randrange(len(data) + 1) : 0] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    return data.decode("latin-1")  # written back as bytes: every byte value appears


def unbalanced(rng: random.Random, text: str) -> str:
    lines = _lines(text)
    for _ in range(rng.randint(1, 6)):
        token = rng.choice(["{\n", "}\n", "#if 1\n", "#endif\n", "#else\n", "(\n", ")\n", "/*\n", '"\n'])
        lines.insert(rng.randrange(len(lines) + 1), token)
    return "".join(lines)


def huge_macro(rng: random.Random, text: str) -> str:
    terms = rng.randint(5_000, 40_000)
    body = " + ".join(f"(x{i % 7})" for i in range(terms))
    use = "static int huge_use(int x0, int x1, int x2, int x3, int x4, int x5, int x6) { return HUGE; }\n"
    return f"#define HUGE {body}\n{text}\n{use}"


def huge_line(rng: random.Random, text: str) -> str:
    width = rng.randint(100_000, 400_000)
    return text + '\nstatic const char huge_line[] = "' + "a" * width + '";\n'


def deep_nesting(rng: random.Random, text: str) -> str:
    depth = rng.randint(100, 600)
    kind = rng.choice(["braces", "parens", "ifs", "casts", "calls"])
    if kind == "braces":
        body = "{" * depth + "x++;" + "}" * depth
    elif kind == "parens":
        body = "x = " + "(" * depth + "x" + ")" * depth + ";"
    elif kind == "ifs":
        body = "".join(f"if (x > {i}) " for i in range(depth)) + "x = 0;"
    elif kind == "casts":
        body = "x = " + "(long)(int)" * depth + "x;"
    else:
        body = "x = " + "min(x, " * depth + "1" + ")" * depth + ";"
    return f"{text}\nstatic long nested_shape(long x)\n{{\n{body}\nreturn x;\n}}\n"


def goto_web(rng: random.Random, text: str) -> str:
    labels = rng.randint(20, 400)
    lines = ["static long goto_web(unsigned long arg)\n{\n\tstruct page *page;\n\tlong n = 0;"]
    lines.append("\tif (get_user_pages_fast(arg, 1, FOLL_WRITE, &page) != 1)\n\t\treturn -EFAULT;")
    for i in range(labels):
        lines.append(f"web{i}:\n\tn += {i};")
        lines.append(
            f"\tif (n % {rng.randint(2, 9)} == {rng.randint(0, 1)})\n\t\tgoto web{rng.randrange(labels)};"
        )
        if rng.random() < 0.05:
            lines.append("\tput_page(page);")
    lines.append("\treturn n;\n}")
    return text + "\n" + KERNEL_PRELUDE + "\n".join(lines) + "\n"


def recursion(rng: random.Random, text: str) -> str:
    ring = rng.randint(1, 50)
    declarations = "".join(f"static long rec{i}(unsigned long arg, struct page **p);\n" for i in range(ring))
    bodies = "".join(
        f"static long rec{i}(unsigned long arg, struct page **p)\n{{\n"
        + ("\tif (get_user_pages_fast(arg, 1, 0, p) != 1)\n\t\treturn -EFAULT;\n" if i == 0 else "")
        + f"\treturn arg ? rec{(i + 1) % ring}(arg - 1, p) : 0;\n}}\n"
        for i in range(ring)
    )
    return text + "\n" + KERNEL_PRELUDE + declarations + bodies


def self_referencing_struct(rng: random.Random, text: str) -> str:
    depth = rng.randint(10, 300)
    chain = "->".join(["next"] * depth)
    return (
        text
        + "\nstruct loop_node { struct loop_node *next; struct loop_node *self; struct page *pages[4]; };\n"
        "static struct page *walk_nodes(struct loop_node *n)\n"
        f"{{ n->self = n; return n->{chain}->pages[0]; }}\n"
    )


def undefined_ops(rng: random.Random, text: str) -> str:
    fields = [".unlocked_ioctl", ".mmap", ".open", ".release", ".compat_ioctl", ".read", ".write"]
    chosen = rng.sample(fields, rng.randint(1, len(fields)))
    entries = ", ".join(f"{name} = nowhere_{i}" for i, name in enumerate(chosen))
    return (
        text + "\n" + KERNEL_PRELUDE + f"static const struct file_operations ghost_fops = {{ {entries} }};\n"
    )


def pin_in_endless_loop(rng: random.Random, text: str) -> str:
    shape = rng.choice(["for", "while-pin", "do"])
    if shape == "for":
        loop = (
            "\tfor (;;) {\n\t\tret = get_user_pages_fast(arg, 1, 0, &page);\n"
            "\t\tif (ret == 1)\n\t\t\tput_page(page);\n\t}"
        )
    elif shape == "while-pin":
        loop = "\twhile ((ret = get_user_pages_fast(arg, 1, 0, &page)) > 0)\n\t\targ += ret;"
    else:
        loop = "\tdo {\n\t\tret = get_user_pages_fast(arg, 1, 0, &page);\n\t} while (1);"
    return (
        text
        + "\n"
        + KERNEL_PRELUDE
        + "static long endless(unsigned long arg)\n{\n\tstruct page *page;\n\tlong ret = 0;\n"
        f"{loop}\n\treturn ret;\n}}\n"
    )


MUTATIONS: dict[str, Callable[[random.Random, str], str]] = {
    "truncated": truncated,
    "lines-deleted": lines_deleted,
    "lines-duplicated": lines_duplicated,
    "random-bytes": random_bytes,
    "unbalanced": unbalanced,
    "huge-macro": huge_macro,
    "huge-line": huge_line,
    "deep-nesting": deep_nesting,
    "goto-web": goto_web,
    "recursion": recursion,
    "self-referencing-struct": self_referencing_struct,
    "undefined-ops": undefined_ops,
    "pin-in-endless-loop": pin_in_endless_loop,
}


def generate(seed: int, count: int, folder: Path) -> list[Path]:
    """`count` mutants written under `folder` (every mutation in turn, each of a random testdata
    file), reproducible from `seed`."""
    rng = random.Random(seed)
    sources = seeds()
    names = list(MUTATIONS)
    written = []
    for index in range(count):
        name = names[index % len(names)]
        seed_file = rng.choice(sources)
        text = MUTATIONS[name](rng, seed_file.read_text(encoding="utf-8", errors="surrogateescape"))
        path = folder / f"mutant-{index:04d}-{name}-{seed_file.stem}.c"
        path.write_bytes(
            text.encode("latin-1") if name == "random-bytes" else text.encode("utf-8", "surrogateescape")
        )
        written.append(path)
    return written
