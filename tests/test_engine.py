"""The pipeline on a mixed tree: each file classified kernel or userland and parsed accordingly."""

from __future__ import annotations

from pathlib import Path

import pytest

from gupcheck.model.facts import HeaderMode, Side
from gupcheck.model.rule import LazyRule
from gupcheck.pipeline.engine import analyse
from gupcheck.rules import ALL_RULES, rule_by_id

APP = """
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void)
{
    char buf[64];
    int fd = open("/dev/demo", O_RDWR);
    size_t len = sizeof(buf);

    if (fd < 0)
        return 1;
    ioctl(fd, 1, buf);
    if (fork() == 0)
        _exit(0);
    printf("%zu\\n", len);
    return 0;
}
"""


def test_driver_and_userland_are_parsed_in_their_own_modes(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parent.parent / "testdata" / "example" / "demo_dev.c"
    (tmp_path / "driver").mkdir()
    (tmp_path / "driver" / "demo_dev.c").write_bytes(example.read_bytes())
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "demo_app.c").write_text(APP)
    analysis = analyse([str(tmp_path)], ALL_RULES, use_model=True)
    assert not analysis.problems, [str(p) for p in analysis.problems]
    units = {Path(unit.path).name: unit for unit in analysis.units}
    assert (units["demo_dev.c"].side, units["demo_dev.c"].mode) == (Side.KERNEL, HeaderMode.KERNEL_MODEL)
    assert (units["demo_app.c"].side, units["demo_app.c"].mode) == (Side.USERLAND, HeaderMode.SYSTEM)
    app_calls = {call.callee for fn in units["demo_app.c"].functions for _node, call in fn.call_sites()}
    assert {"open", "ioctl", "fork", "printf"} <= app_calls
    # GUP005 is a kernel rule: the userland program's calls are not its business
    assert {Path(f.location.path).name for f in analysis.findings} == {"demo_dev.c"}


def test_the_rule_table_names_each_rule_as_its_module_does() -> None:
    for rule in ALL_RULES:
        loaded = rule.load()
        assert (loaded.id, loaded.name) == (rule.id, rule.name) == (loaded.doc.id, loaded.doc.name)
        assert rule.doc is loaded.doc and rule_by_id(rule.name) is rule_by_id(rule.id.lower()) is rule
    mislabelled = LazyRule("GUP009", ALL_RULES[0].name, ALL_RULES[0].module)
    with pytest.raises(RuntimeError, match="GUP001"):
        mislabelled.load()
