"""Fixes: every fix in testdata applies to a copy of its case, the result parses and the finding is gone;
`--diff` is a unified diff `patch -p1` accepts and that gives what `--fix` writes; a file changed after
it was read, overlapping fixes and a region that no longer holds what the rule saw are left alone; the
text report says a fix is available; and the rules offer fixes only where they are mechanical."""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
import textwrap
from pathlib import Path

import pytest
from test_cli import gupcheck as run_gupcheck
from test_cli import tree_digest
from testdata_cases import TESTDATA

from gupcheck.analyses.context import Analyses
from gupcheck.frontend.discovery import is_repro_folder
from gupcheck.kernel_api.pins import FOLL_PIN, PIN_RELEASE_OF
from gupcheck.model.findings import Finding, Fix, Level, Replacement, SourceLocation
from gupcheck.model.program import Program
from gupcheck.output.text import render_text
from gupcheck.pipeline.engine import analyse
from gupcheck.pipeline.fixes import Snapshot, apply_fixes, apply_plan, plan_fixes, render_diff
from gupcheck.rules import ALL_RULES

REPO = Path(__file__).resolve().parent.parent
CASES = sorted({path.parent for path in TESTDATA.rglob("*.c") if not is_repro_folder(str(path.parent))})


def copy_case(case: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "src" / case.relative_to(TESTDATA)
    shutil.copytree(case, copy)
    return copy


def findings_of(folder: Path) -> list[Finding]:
    analysis = analyse([str(folder)], ALL_RULES, use_model=True)
    assert not analysis.problems, [str(p) for p in analysis.problems]  # parsed without an error
    return analysis.findings


def gupcheck(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The command line on the built-in kernel model, without the cache."""
    return run_gupcheck("--kernel-model", "--no-cache", *args, cwd=cwd)


# -- every fix of testdata -----------------------------------------------------------------------
def test_every_testdata_fix_applies_parses_and_removes_its_finding(tmp_path: Path) -> None:
    before = tree_digest(TESTDATA)
    kinds: set[str] = set()
    for case in CASES:
        copy = copy_case(case, tmp_path)
        snapshot = Snapshot.of_sources([str(copy)])
        findings = findings_of(copy)
        fixable = [f for f in findings if f.fixes]
        if not fixable:
            continue
        for finding in fixable:
            for replacement in finding.fixes[0].replacements:
                assert replacement.region.line == replacement.region.end_line  # lines do not move
                assert replacement.original, "a rule's replacement says what it replaces"
            kinds.add(f"{finding.rule_id}: {finding.fixes[0].description.split('(')[0]}")
        outcome = apply_fixes(findings, snapshot, str(tmp_path / "src"))
        assert outcome.warnings == [], (case, outcome.warnings)
        assert [id(f) for f in outcome.applied] == [id(f) for f in sorted(fixable, key=Finding.sort_key)]
        assert outcome.files  # written
        after = findings_of(copy)  # parses with no error (findings_of asserts it)
        left = {(f.rule_id, Path(f.location.path).name, f.location.line) for f in after}
        for finding in fixable:
            where = (finding.rule_id, Path(finding.location.path).name, finding.location.line)
            assert where not in left, f"{case.name}: {where} still flagged after its fix"
        assert not any(f.fixes for f in after if f.rule_id == "GUP001"), "a pin fix left a pin to fix"
        _assert_pins_released_as_pinned(copy)
    assert tree_digest(TESTDATA) == before, "testdata was modified"
    # the kinds of fix testdata exercises (this test fails if a rule stops offering one)
    assert {
        "GUP001: pin with pin_user_pages_fast",
        "GUP001: pin with pin_user_pages",
        "GUP001: pin with pin_user_pages_unlocked",
        "GUP005: use put_user",
        "GUP005: use copy_to_user",
        "GUP005: return -EFAULT when clear_user",
    } <= kinds, kinds


def _assert_pins_released_as_pinned(folder: Path) -> None:
    """After the fixes no FOLL_PIN pin has a release that drops a FOLL_GET reference (put_page,
    release_pages): a pin converted without all of its releases would."""
    analysis = analyse([str(folder)], (), use_model=True)
    pins = Analyses(Program(analysis.units, target_kernel=(6, 1))).pins
    for pin in pins.all_pins():
        if pin.kind != FOLL_PIN or pin.via:
            continue
        wrong = [call.callee for _fn, call in pins.releases(pin).calls if call.callee in PIN_RELEASE_OF]
        assert not wrong, f"{folder.name}: {pin.api}() at line {pin.call.location.line} released by {wrong}"


def test_gup001_fixes_cover_every_release_or_are_not_offered() -> None:
    by_case = {case.name: findings_of(case) for case in CASES if case.parent.name == "gup001"}
    (grab,) = by_case["get-kept-in-private-data"]
    texts = sorted(r.text for r in grab.fixes[0].replacements)
    assert texts == [
        "pin_user_pages_fast(uaddr, FG_FRAME_PAGES, FOLL_WRITE | FOLL_LONGTERM, pages)",
        "unpin_user_page",  # put_page() in .release
        "unpin_user_pages",  # release_pages() on the partial pin's path
    ]
    (ring,) = by_case["pin-in-mmap"]  # the pages' own field: the error paths and vm_close
    assert sorted(r.region.line for r in ring.fixes[0].replacements) == [55, 103, 106, 113]
    (listed,) = by_case["kept-in-list"]  # kept on a list, released through a helper that decides
    assert not listed.fixes
    remote = [f for f in by_case["xarray-idr-remote"] if "get_user_pages_remote" in f.message]
    assert remote and not remote[0].fixes  # released by npu_put_pages(), a helper
    assert not any(f.fixes for f in by_case["wrapper-helper"])  # pinned inside helpers


# -- --diff and --fix on the command line -------------------------------------------------------------
def test_diff_is_a_unified_diff_patch_accepts_and_gives_what_fix_writes(tmp_path: Path) -> None:
    diffed, fixed = tmp_path / "diffed", tmp_path / "fixed"
    for root in (diffed, fixed):
        shutil.copytree(TESTDATA, root / "testdata")
    result = gupcheck("--diff", "--source-root", str(diffed), "testdata", cwd=diffed)
    assert result.returncode == 1, result.stderr  # findings, as without --diff
    diff = result.stdout
    assert diff.startswith("--- a/testdata/") and "\n+++ b/testdata/" in diff
    assert re.search(r"^@@ -\d+,\d+ \+\d+,\d+ @@$", diff, re.MULTILINE)
    assert "warning" not in result.stderr
    assert tree_digest(diffed / "testdata") == tree_digest(TESTDATA)  # --diff writes nothing
    parsed = tmp_path / "parsed"  # the diff read hunk by hunk: every context and removed line matches
    shutil.copytree(TESTDATA, parsed / "testdata")
    apply_unified_diff(diff, parsed)
    if shutil.which("patch"):
        check = subprocess.run(
            ["patch", "-p1", "--dry-run"], input=diff, cwd=diffed, capture_output=True, text=True
        )
        assert check.returncode == 0, check.stdout + check.stderr
        subprocess.run(["patch", "-p1", "-s"], input=diff, cwd=diffed, check=True, text=True)
        assert tree_digest(diffed / "testdata") == tree_digest(parsed / "testdata")
    else:
        apply_unified_diff(diff, diffed)
    result = gupcheck("--fix", "--source-root", str(fixed), "testdata", cwd=fixed)
    changed = diff.count("\n+++ b/")
    assert re.fullmatch(rf"applied \d+ fixes in {changed} files", _summary(result.stderr)), result.stderr
    assert tree_digest(fixed / "testdata") == tree_digest(diffed / "testdata")
    again = gupcheck("--diff", "--source-root", str(fixed), "testdata", cwd=fixed)
    assert again.stdout == "" and "no fixes to show" in again.stderr


def apply_unified_diff(diff: str, root: Path) -> None:
    """A strict applier for the diffs gupcheck writes (GNU patch may be missing): every context and
    removed line must match."""
    files = re.split(r"^--- a/", diff, flags=re.MULTILINE)[1:]
    for chunk in files:
        header, _, body = chunk.partition("\n")
        path = root / header
        lines = path.read_text().splitlines(keepends=True)
        hunks = re.split(
            r"^(@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@)\n", body.split("\n", 1)[1], flags=re.MULTILINE
        )
        offset = 0
        for marker, text in zip(hunks[1::2], hunks[2::2], strict=True):
            start = int(re.match(r"@@ -(\d+)", marker).group(1)) - 1 + offset
            old, new = [], []
            for line in text.splitlines(keepends=True):
                tag, content = line[0], line[1:]
                if tag in " -":
                    old.append(content)
                if tag in " +":
                    new.append(content)
            assert lines[start : start + len(old)] == old, f"{header}: hunk {marker} does not apply"
            lines[start : start + len(old)] = new
            offset += len(new) - len(old)
        path.write_text("".join(lines))


def _summary(stderr: str) -> str:
    (line,) = [line for line in stderr.splitlines() if line.startswith("gupcheck: applied")]
    return line.removeprefix("gupcheck: ")


def test_fix_applies_in_place_keeps_the_mode_and_counts_what_is_left(tmp_path: Path) -> None:
    grab = copy_case(TESTDATA / "gup001" / "get-kept-in-private-data", tmp_path)
    source = grab / "framegrab.c"
    source.chmod(0o640)
    result = gupcheck("--fix", str(grab), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr  # its one finding is fixed
    assert _summary(result.stderr) == "applied 1 fix in 1 file"
    assert "no findings" in result.stdout
    assert stat.S_IMODE(source.stat().st_mode) == 0o640
    assert (
        "pin_user_pages_fast(uaddr, FG_FRAME_PAGES, FOLL_WRITE | FOLL_LONGTERM, pages)" in source.read_text()
    )
    assert not list(grab.glob(".gupcheck-fix-*"))  # no temporary file left

    tune = copy_case(TESTDATA / "gup005" / "ignored-copy-result", tmp_path)
    result = gupcheck("--fix", str(tune), cwd=tmp_path)
    assert result.returncode == 1, result.stderr  # the findings without a fix remain
    assert _summary(result.stderr) == "applied 1 fix in 1 file"
    assert "5 findings" in result.stdout.splitlines()[-1]
    assert (
        "if (clear_user((void __user *)buf, sizeof(__u32))) return -EFAULT;"
        in (tune / "tunectl.c").read_text()
    )


def test_diff_and_fix_together_are_a_usage_error(tmp_path: Path) -> None:
    grab = copy_case(TESTDATA / "gup001" / "get-kept-in-private-data", tmp_path)
    result = gupcheck("--diff", "--fix", str(grab), cwd=tmp_path)
    assert result.returncode == 2 and "--diff" in result.stderr
    assert tree_digest(grab) == tree_digest(TESTDATA / "gup001" / "get-kept-in-private-data")


# -- what --fix refuses ---------------------------------------------------------------------------
def test_a_file_changed_after_analysis_is_not_fixed(tmp_path: Path) -> None:
    case = copy_case(TESTDATA / "gup001" / "get-kept-in-private-data", tmp_path)
    source = case / "framegrab.c"
    snapshot = Snapshot.of_sources([str(case)])
    findings = findings_of(case)
    assert any(f.fixes for f in findings)
    edited = source.read_text() + "/* edited after the analysis */\n"
    source.write_text(edited)
    outcome = apply_fixes(findings, snapshot, str(tmp_path))
    assert outcome.applied == [] and outcome.files == []
    (warning,) = outcome.warnings
    assert warning.startswith(
        "src/gup001/get-kept-in-private-data/framegrab.c: changed since it was analysed"
    )
    assert source.read_text() == edited

    # changed between the plan and the write: the file is left alone too
    source.write_text(edited.replace("/* edited after the analysis */\n", ""))
    plan = plan_fixes(findings, snapshot, str(tmp_path))
    assert plan.changes and not plan.warnings
    source.write_text(edited)
    outcome = apply_plan(plan, snapshot, str(tmp_path))
    assert outcome.applied == [] and "changed since it was analysed" in outcome.warnings[0]
    assert source.read_text() == edited

    # a file the snapshot never read (a header, a file outside the analysed paths) is not changed
    outcome = apply_fixes(findings, Snapshot({}), str(tmp_path))
    assert outcome.applied == [] and "not read before the analysis" in outcome.warnings[0]


def _finding(path: Path, line: int, fix: Fix | None, rule: str = "GUP005") -> Finding:
    return Finding(
        rule_id=rule,
        level=Level.WARNING,
        message="m",
        location=SourceLocation(str(path), line, 1),
        fixes=[fix] if fix is not None else [],
    )


def _replace(path: Path, line: int, start: int, end: int, text: str, original: str = "") -> Replacement:
    return Replacement(SourceLocation(str(path), line, start, line, end), text, original)


def test_overlapping_fixes_apply_the_first_and_skip_the_other(tmp_path: Path) -> None:
    source = tmp_path / "a.c"
    source.write_text("int a;\nint b = f(x, y);\nint c;\n")
    snapshot = Snapshot.of_files([str(source)])
    # the findings' order: file, line, column, rule; so GUP001 at line 2 comes first
    whole = _finding(source, 2, Fix("whole", (_replace(source, 2, 9, 16, "h(z)", "f(x, y)"),)), rule="GUP001")
    inner = _finding(source, 2, Fix("inner", (_replace(source, 2, 9, 10, "g", "f"),)))
    other = _finding(source, 3, Fix("other", (_replace(source, 3, 5, 6, "d", "c"),)))
    outcome = apply_fixes([other, inner, whole], snapshot, str(tmp_path))
    assert [f.fixes[0].description for f in outcome.applied] == ["whole", "other"]
    assert source.read_text() == "int a;\nint b = h(z);\nint d;\n"
    assert outcome.warnings == [
        "a.c:2: GUP005 fix not applied: it overlaps the fix of GUP001 at a.c:2, applied first"
    ]
    assert outcome.summary() == "applied 2 fixes in 1 file"


def test_the_same_replacement_in_two_fixes_is_made_once(tmp_path: Path) -> None:
    source = tmp_path / "a.c"
    source.write_text("void f(void) { put_page(p); put_page(q); }\n")
    snapshot = Snapshot.of_files([str(source)])
    release = _replace(source, 1, 16, 24, "unpin_user_page", "put_page")
    one = _finding(source, 1, Fix("one", (release,)), rule="GUP001")
    two = _finding(
        source, 1, Fix("two", (release, _replace(source, 1, 29, 37, "unpin_user_page", "put_page")))
    )
    outcome = apply_fixes([one, two], snapshot, str(tmp_path))
    assert outcome.warnings == [] and len(outcome.applied) == 2
    assert source.read_text() == "void f(void) { unpin_user_page(p); unpin_user_page(q); }\n"


def test_a_region_that_no_longer_holds_what_the_rule_saw_is_not_fixed(tmp_path: Path) -> None:
    source = tmp_path / "a.c"
    source.write_text("int b = f(x, y);\n")
    snapshot = Snapshot.of_files([str(source)])
    wrong = _finding(source, 1, Fix("wrong", (_replace(source, 1, 9, 10, "g", "k"),)))
    outside = _finding(source, 5, Fix("outside", (_replace(source, 5, 1, 2, "g"),)))
    tangled = _finding(
        source, 1, Fix("tangled", (_replace(source, 1, 9, 12, "g"), _replace(source, 1, 11, 13, "h")))
    )
    outcome = apply_fixes([wrong, outside, tangled], snapshot, str(tmp_path))
    assert outcome.applied == [] and source.read_text() == "int b = f(x, y);\n"
    assert len(outcome.warnings) == 3
    assert any("no longer holds 'k'" in w for w in outcome.warnings)
    assert any("line 5, column 1 is not in the file" in w for w in outcome.warnings)
    assert any("overlap each other" in w for w in outcome.warnings)


def test_a_diff_of_a_file_with_a_form_feed_and_without_a_final_newline(tmp_path: Path) -> None:
    source = tmp_path / "a.c"
    source.write_bytes(b"\x0c/* a page */\nint b = f(x);")  # a form feed ends no line for patch
    snapshot = Snapshot.of_files([str(source)])
    finding = _finding(source, 2, Fix("g", (_replace(source, 2, 9, 10, "g", "f"),)))
    diff = render_diff(plan_fixes([finding], snapshot, str(tmp_path)), str(tmp_path))
    assert diff == (
        "--- a/a.c\n+++ b/a.c\n@@ -1,2 +1,2 @@\n \x0c/* a page */\n"
        "-int b = f(x);\n\\ No newline at end of file\n"
        "+int b = g(x);\n\\ No newline at end of file\n"
    )
    if shutil.which("patch"):
        subprocess.run(["patch", "-p1", "-s"], input=diff, cwd=tmp_path, check=True, text=True)
        assert source.read_bytes() == b"\x0c/* a page */\nint b = g(x);"


# -- the text report ----------------------------------------------------------------------------------
def test_text_output_says_a_fix_is_available(tmp_path: Path) -> None:
    source = tmp_path / "a.c"
    source.write_text("int b = f(x);\n")
    fixed = _finding(source, 1, Fix("use g()", (_replace(source, 1, 9, 10, "g", "f"),)))
    plain = _finding(source, 1, None, rule="GUP001")
    text = render_text([fixed, plain], {}, color=False, source_root=str(tmp_path), files_analysed=1)
    lines = [line for line in text.splitlines() if "fix available" in line]
    assert lines == ["  fix available: use g() (--diff shows it, --fix applies it)"]


# -- where the rules offer fixes ------------------------------------------------------------------------
DRIVER_HEAD = """\
#include <linux/module.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/uaccess.h>
"""
DRIVER_TAIL = """
static const struct file_operations fx_fops = {
    .owner = THIS_MODULE,
    .unlocked_ioctl = fx_ioctl,
    .release = fx_release,
};
static struct miscdevice fx_misc = { .minor = MISC_DYNAMIC_MINOR, .name = "fx", .fops = &fx_fops };
module_misc_device(fx_misc);
MODULE_LICENSE("GPL");
"""


def fixes_by_line(tmp_path: Path, body: str) -> dict[int, list[Fix]]:
    source = tmp_path / "fx.c"
    source.write_text(DRIVER_HEAD + textwrap.dedent(body) + DRIVER_TAIL)
    return {f.location.line: f.fixes for f in findings_of(tmp_path)}


def line_of(tmp_path: Path, marker: str) -> int:
    lines = (tmp_path / "fx.c").read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1) if marker in line)


def test_an_ignored_copy_is_checked_only_where_returning_skips_nothing(tmp_path: Path) -> None:
    found = fixes_by_line(
        tmp_path,
        """
        static struct mutex fx_lock;
        static u32 fx_value;

        static void fx_notify(u32 __user *uarg)
        {
            put_user(1, uarg); /* void */
        }

        static long fx_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
        {
            u32 __user *uarg = (u32 __user *)arg;
            u32 v = 0;

            switch (cmd) {
            case 1:
                get_user(v, uarg); /* alone */
                return v;
            case 2:
                mutex_lock(&fx_lock);
                put_user(fx_value, uarg); /* locked */
                mutex_unlock(&fx_lock);
                return 0;
            case 3:
                if (v)
                    put_user(v, uarg); /* then */
                else
                    v = 1;
                return v;
            case 4:
                (void)copy_to_user(uarg, &fx_value, sizeof(fx_value)); /* cast */
                return 0;
            case 5:
                copy_to_user(uarg, &fx_value, sizeof(fx_value)); /* stored */
                fx_value = 0;
                return 0;
            default:
                fx_notify(uarg);
                return -ENOTTY;
            }
        }

        static int fx_release(struct inode *inode, struct file *file)
        {
            return 0;
        }
        """,
    )
    assert not found[line_of(tmp_path, "/* void */")]  # fx_notify() returns nothing
    assert not found[line_of(tmp_path, "/* locked */")]  # the unlock would be skipped
    assert not found[line_of(tmp_path, "/* then */")]  # an `else` may follow
    assert not found[line_of(tmp_path, "/* stored */")]  # the store after it would be skipped
    (alone,) = found[line_of(tmp_path, "/* alone */")]
    (cast,) = found[line_of(tmp_path, "/* cast */")]
    assert alone.description == "return -EFAULT when get_user() fails"
    assert [r.original for r in cast.replacements] == ["(void)copy_to_user", ")"]
    outcome = apply_fixes(findings_of(tmp_path), Snapshot.of_files([str(tmp_path / "fx.c")]), str(tmp_path))
    assert len(outcome.applied) == 2 and outcome.warnings == []
    text = (tmp_path / "fx.c").read_text()
    assert "        if (get_user(v, uarg)) return -EFAULT; /* alone */\n" in text
    assert "        if (copy_to_user(uarg, &fx_value, sizeof(fx_value))) return -EFAULT; /* cast */\n" in text
    left = {f.location.line for f in findings_of(tmp_path)}
    assert line_of(tmp_path, "/* alone */") not in left and line_of(tmp_path, "/* cast */") not in left


def test_foll_get_pins_sharing_their_releases_get_no_fix_and_flags_keep_their_meaning(tmp_path: Path) -> None:
    found = fixes_by_line(
        tmp_path,
        """
        struct fx_ctx { struct page **pages; struct page **ro; };

        static long fx_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
        {
            struct fx_ctx *ctx = file->private_data;
            struct page **pages = kcalloc(4, sizeof(*pages), GFP_KERNEL);
            int got, write = cmd & 1;

            if (!pages)
                return -ENOMEM;
            if (cmd == 8) {
                got = pin_user_pages_fast(arg, 4, write ? FOLL_WRITE : 0, pages); /* ternary */
                if (got != 4) {
                    if (got > 0)
                        unpin_user_pages(pages, got);
                    kfree(pages);
                    return -EFAULT;
                }
                ctx->ro = pages;
                return 0;
            }
            if (cmd == 1)
                got = get_user_pages_fast(arg, 4, FOLL_WRITE, pages); /* first */
            else
                got = get_user_pages_fast(arg, 4, 0, pages); /* second */
            if (got != 4) {
                if (got > 0)
                    release_pages(pages, got);
                kfree(pages);
                return -EFAULT;
            }
            ctx->pages = pages;
            return 0;
        }

        static int fx_release(struct inode *inode, struct file *file)
        {
            struct fx_ctx *ctx = file->private_data;

            release_pages(ctx->pages, 4);
            unpin_user_pages(ctx->ro, 4);
            return 0;
        }
        """,
    )
    assert found[line_of(tmp_path, "/* first */")] == []  # one release_pages() drops both pins' pages
    assert found[line_of(tmp_path, "/* second */")] == []
    (ternary,) = found[line_of(tmp_path, "/* ternary */")]
    (replacement,) = ternary.replacements
    assert replacement.text == "pin_user_pages_fast(arg, 4, (write ? FOLL_WRITE : 0) | FOLL_LONGTERM, pages)"


def test_releases_through_a_local_are_fixed_and_pages_handed_to_an_unknown_api_are_not(
    tmp_path: Path,
) -> None:
    found = fixes_by_line(
        tmp_path,
        """
        struct fx_ctx { struct page **pages; struct page **ext; };
        extern void fx_external(struct page **pages, int n);

        static long fx_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
        {
            struct fx_ctx *ctx = file->private_data;
            struct page **pages = kcalloc(4, sizeof(*pages), GFP_KERNEL);
            int got;

            if (!pages)
                return -ENOMEM;
            got = get_user_pages_fast(arg, 4, FOLL_WRITE, pages); /* aliased */
            if (got != 4) {
                if (got > 0)
                    release_pages(pages, got); /* partial */
                kfree(pages);
                return -EFAULT;
            }
            if (cmd == 1) {
                ctx->pages = pages;
                return 0;
            }
            ctx->ext = pages;
            fx_external(ctx->ext, 4);
            return 0;
        }

        static int fx_release(struct inode *inode, struct file *file)
        {
            struct fx_ctx *ctx = file->private_data;
            struct page **held = ctx->pages;
            int i;

            for (i = 0; i < 4; i++)
                put_page(held[i]); /* through a local */
            release_pages(ctx->ext, 4);
            return 0;
        }
        """,
    )
    assert found[line_of(tmp_path, "/* aliased */")] == []  # the same pages also go to fx_external()

    (tmp_path / "fx.c").write_text((tmp_path / "fx.c").read_text().replace("fx_external(ctx->ext, 4);", ""))
    (fix,) = {f.location.line: f.fixes for f in findings_of(tmp_path)}[line_of(tmp_path, "/* aliased */")]
    renamed = {r.region.line: r.text for r in fix.replacements if r.text.startswith("unpin_")}
    assert renamed == {
        line_of(tmp_path, "/* partial */"): "unpin_user_pages",
        line_of(tmp_path, "/* through a local */"): "unpin_user_page",
        line_of(tmp_path, "release_pages(ctx->ext, 4);"): "unpin_user_pages",
    }


@pytest.mark.parametrize("target", ["5.4", "5.8"])
def test_no_pin_fix_for_a_kernel_without_the_counterpart(tmp_path: Path, target: str) -> None:
    source = copy_case(TESTDATA / "gup001" / "get-kept-in-private-data", tmp_path)
    analysis = analyse([str(source)], ALL_RULES, use_model=True, target_kernel=target)
    (finding,) = [f for f in analysis.findings if f.rule_id == "GUP001"]
    assert bool(finding.fixes) == (target == "5.8")  # pin_user_pages_fast() arrived in 5.6
