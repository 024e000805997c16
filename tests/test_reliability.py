"""Inputs that once made a stage loop, grow or crash: each runs in a fresh process under a time limit, so
a regression fails this test instead of hanging the suite."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from gupcheck.analyses.context import Analyses
from gupcheck.model.program import Program

LIMIT = 60  # seconds; each case takes well under one

# The pin's result variable is reused inside the loop that pins: the search over (node, result still
# live) once recorded a parent under the flipped flag, the parent links made a cycle and the leak
# path never ended (a public DMA driver grew to 24 GB).
PIN_RESULT_REUSED_IN_LOOP = """
#include <linux/module.h>
#include <linux/fs.h>
#include <linux/mm.h>

static int submit(struct page *page);

static long lr_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct page *page;
	int ret = 0, i;

	for (i = 0; i < 8; i++) {
		ret = get_user_pages_fast(arg + i * PAGE_SIZE, 1, FOLL_WRITE, &page);
		if (ret != 1)
			break;
		ret = submit(page);
		if (ret)
			continue;
	}
	return ret;
}

static const struct file_operations lr_fops = { .unlocked_ioctl = lr_ioctl };
MODULE_LICENSE("GPL");
"""


def gupcheck(tmp_path: Path, source: str, *args: str) -> subprocess.CompletedProcess:
    path = tmp_path / "case.c"
    path.write_text(textwrap.dedent(source))
    return subprocess.run(
        [sys.executable, "-m", "gupcheck", "--kernel-model", "--no-cache", *args, str(path)],
        capture_output=True,
        text=True,
        timeout=LIMIT,
        cwd=tmp_path,
    )


def test_a_pin_whose_result_is_reused_in_its_loop_ends_with_the_leak(tmp_path: Path) -> None:
    done = gupcheck(tmp_path, PIN_RESULT_REUSED_IN_LOOP)
    assert done.returncode == 1, done.stderr
    assert "leak on a path" in done.stdout and "[GUP001]" in done.stdout


def test_the_leak_path_follows_cfg_edges_from_the_pin(kernel_facts) -> None:
    unit = kernel_facts(PIN_RESULT_REUSED_IN_LOOP)
    context = Analyses(Program([unit]))
    (pin,) = context.pins.all_pins()
    path = context.pins.fate(pin).leak_path
    assert path is not None and path[0] is pin.node and path[-1] is pin.function.exit
    for before, after in zip(path, path[1:], strict=False):
        assert any(edge.target == after.id for edge in before.succs), (before.text, after.text)
