"""GUP001 beyond the line numbers of testdata: levels, messages, related locations, code flows,
SARIF fixes, the target kernel, and the pin API signatures."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gupcheck.kernel_api.pins import FOLL_GET, FOLL_PIN, pin_api
from gupcheck.model.findings import Level
from gupcheck.pipeline.engine import analyse
from gupcheck.rules import ALL_RULES

TESTDATA = Path(__file__).resolve().parent.parent / "testdata" / "gup001"


def gup001(folder: Path, **options):
    analysis = analyse([str(folder)], ALL_RULES, use_model=True, **options)
    assert not analysis.problems, [str(p) for p in analysis.problems]
    return [f for f in analysis.findings if f.rule_id == "GUP001"]


def test_foll_get_kept_in_private_data_is_an_error_with_release_site_flow_and_fix() -> None:
    (finding,) = gup001(TESTDATA / "get-kept-in-private-data")
    assert finding.level == Level.ERROR
    assert "FOLL_GET reference from get_user_pages_fast()" in finding.message
    assert "kept in 'ctx->pages'" in finding.message
    released = [r for r in finding.related if r.message.startswith("released here")]
    assert released and "release" in released[0].message  # reached from the .release handler
    steps = [step.message for step in finding.flow]
    assert steps[0].startswith("ioctl entry point") and steps[-1].endswith("returns with the pages pinned")
    assert any(step.startswith("kept in") for step in steps)
    (fix,) = finding.fixes
    texts = [r.text for r in fix.replacements]
    assert any(t.startswith("pin_user_pages_fast(") and "FOLL_WRITE | FOLL_LONGTERM" in t for t in texts)
    # the releases are renamed where they are: put_page() in .release, release_pages() on the error path
    assert sorted((r.original, r.text) for r in fix.replacements if r.text.startswith("unpin_")) == [
        ("put_page", "unpin_user_page"),
        ("release_pages", "unpin_user_pages"),
    ]


def test_foll_pin_without_longterm_is_a_warning_and_longterm_is_clean() -> None:
    folder = TESTDATA / "longterm-pin-stored"
    (source,) = folder.glob("*.c")
    flagged = [n for n, line in enumerate(source.read_text().splitlines(), 1) if "expect: GUP001" in line]
    findings = gup001(folder)
    assert [(f.level, f.location.line) for f in findings] == [(Level.WARNING, flagged[0])]
    assert "without FOLL_LONGTERM" in findings[0].message
    (fix,) = findings[0].fixes
    assert "pin_user_pages_fast(reg.addr, nr, FOLL_LONGTERM, pages)" in [r.text for r in fix.replacements]


def test_leak_reports_the_leaking_path_to_its_return() -> None:
    (finding,) = gup001(TESTDATA / "goto-skips-release")
    assert finding.level == Level.ERROR and "leak" in finding.message
    assert finding.related and finding.related[0].message.startswith("the function returns here")
    assert finding.flow[0].location == finding.location
    assert finding.related[0].location.line > finding.location.line
    assert not finding.fixes


def test_old_target_kernel_changes_the_advice_and_drops_the_fix() -> None:
    (finding,) = gup001(TESTDATA / "get-kept-in-private-data", target_kernel="5.4")
    assert "no pin_user_pages()" in finding.hint and "FOLL_LONGTERM" in finding.hint
    assert not finding.fixes
    (older,) = gup001(TESTDATA / "get-kept-in-private-data", target_kernel="4.19")
    assert "neither pin_user_pages() nor FOLL_LONGTERM" in older.hint


@pytest.mark.parametrize(
    ("name", "argc", "expected"),
    [
        ("get_user_pages", 5, (FOLL_GET, 3, 2, 1)),  # (start, nr, gup_flags, pages, vmas)
        ("get_user_pages", 8, (FOLL_GET, 6, None, 3)),  # (tsk, mm, start, nr, write, force, pages, vmas)
        ("get_user_pages", 6, (FOLL_GET, 4, None, 1)),  # (start, nr, write, force, pages, vmas)
        ("get_user_pages_fast", 4, (FOLL_GET, 3, 2, 1)),
        ("get_user_pages_unlocked", 4, (FOLL_GET, 2, 3, 1)),
        ("get_user_pages_remote", 7, (FOLL_GET, 4, 3, 2)),  # (mm, start, nr, gup_flags, pages, vmas, locked)
        ("get_user_pages_remote", 8, (FOLL_GET, 5, 4, 3)),  # (tsk, mm, start, nr, gup_flags, ...)
        ("pin_user_pages_fast", 4, (FOLL_PIN, 3, 2, 1)),
        ("pin_user_pages_remote", 7, (FOLL_PIN, 4, 3, 2)),
    ],
)
def test_pin_api_signatures(name: str, argc: int, expected) -> None:
    api = pin_api(name, argc)
    assert (api.kind, api.pages, api.flags, api.nr) == expected


def test_flags_from_literals_and_old_int_write_signature(tmp_path: Path) -> None:
    (tmp_path / "lit.c").write_text(
        textwrap.dedent("""
        #include <linux/fs.h>
        #include <linux/miscdevice.h>
        #include <linux/mm.h>
        #include <linux/module.h>

        static struct page *lit_pages[4];

        static long lit_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
        {
            if (cmd == 1)
                return pin_user_pages_fast(arg, 4, 0x10001, lit_pages);  /* FOLL_WRITE|FOLL_LONGTERM in 6.1 */
            return pin_user_pages_fast(arg, 4, 1, lit_pages);  /* FOLL_WRITE only */
        }

        static const struct file_operations lit_fops = { .unlocked_ioctl = lit_ioctl };
        static struct miscdevice lit_misc = { .minor = MISC_DYNAMIC_MINOR, .name = "lit", .fops = &lit_fops };
        module_misc_device(lit_misc);
        MODULE_LICENSE("GPL");
    """)
    )
    findings = gup001(tmp_path)
    assert [(f.location.line, f.level) for f in findings] == [(13, Level.WARNING)]
    # with 6.2's enum values, 0x10001 no longer carries FOLL_LONGTERM
    assert sorted(f.location.line for f in gup001(tmp_path, target_kernel="6.2")) == [12, 13]


def test_foll_get_held_until_the_io_completes_is_advised_foll_pin_without_longterm(tmp_path: Path) -> None:
    """Case 1 of pin_user_pages.rst with FOLL_GET: still an error, but the advice is pin_user_pages*()
    alone, not FOLL_LONGTERM; the registration next to it keeps its long-term advice."""
    source = (TESTDATA / "held-until-io-completes" / "xferq.c").read_text()
    submit = "pinned = pin_user_pages_fast(buf.addr, buf.nr_pages, FOLL_WRITE, job->pages);"
    completion = "unpin_user_pages_dirty_lock(job->pages, job->nr, true);"
    assert submit in source and completion in source
    source = source.replace(submit, submit.replace("pin_user_pages_fast", "get_user_pages_fast"))
    source = source.replace(completion, "release_pages(job->pages, job->nr);")
    (tmp_path / "xferq.c").write_text(source)
    findings = {f.function: f for f in gup001(tmp_path)}
    assert set(findings) == {"xq_submit", "xq_register"}
    transfer = findings["xq_submit"]
    assert transfer.level == Level.ERROR and "FOLL_GET reference" in transfer.message
    assert transfer.hint.startswith("pin with pin_user_pages*() and release")
    assert "Case 1" in transfer.hint and "not FOLL_LONGTERM" in transfer.hint
    registration = findings["xq_register"]
    assert registration.level == Level.WARNING
    assert registration.hint == "add FOLL_LONGTERM to the gup flags: the pin lasts beyond the syscall"
