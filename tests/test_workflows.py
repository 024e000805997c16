"""gupcheck inside the tools kernel developers already run: the real `pre-commit` and Kbuild's `CHECK=`."""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TESTDATA = REPO / "testdata"
GUPCHECK = Path(sys.executable).parent / "gupcheck"

CLEAN_DRIVER = """\
#include <linux/module.h>
#include <linux/fs.h>
#include <linux/uaccess.h>

static char note[16];

static ssize_t note_write(struct file *file, const char __user *buf, size_t count, loff_t *pos)
{
\tif (count > sizeof(note))
\t\treturn -EINVAL;
\tif (copy_from_user(note, buf, count))
\t\treturn -EFAULT;
\treturn count;
}

static const struct file_operations note_fops = {
\t.owner = THIS_MODULE,
\t.write = note_write,
};
MODULE_LICENSE("GPL");
"""


def _git(repo: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
    }
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=env)


def _try_repo(repo: Path, pre_commit_home: Path) -> subprocess.CompletedProcess:
    """`pre-commit try-repo <this repository> gupcheck` on what is staged in `repo`."""
    env = {**os.environ, "PRE_COMMIT_HOME": str(pre_commit_home)}
    env.pop("GUPCHECK_KERNEL_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(REPO), "gupcheck"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="git is needed for pre-commit")
def test_pre_commit_refuses_a_flagged_driver_and_passes_a_clean_one(tmp_path: Path) -> None:
    repo = tmp_path / "project"
    repo.mkdir()
    _git(repo, "init", "-q")
    home = tmp_path / "pre-commit-home"

    (repo / "note.c").write_text(CLEAN_DRIVER)
    _git(repo, "add", "note.c")
    clean = _try_repo(repo, home)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "gupcheck" in clean.stdout and "Passed" in clean.stdout
    _git(repo, "commit", "-q", "-m", "clean driver")

    shutil.copy(TESTDATA / "example" / "demo_dev.c", repo / "demo_dev.c")
    _git(repo, "add", "demo_dev.c")
    flagged = _try_repo(repo, home)
    assert flagged.returncode == 1, flagged.stdout + flagged.stderr
    assert "Failed" in flagged.stdout
    assert "demo_dev.c:66:" in flagged.stdout and "[GUP005]" in flagged.stdout
    # only the committed file is reported: the clean driver analysed alongside it gives nothing
    assert "note.c:" not in flagged.stdout


def test_hook_reports_only_the_given_files_but_links_across_the_project(tmp_path: Path) -> None:
    """The userland half of GUP002 needs the driver: the hook analyses the configured paths and keeps
    only findings in the committed program."""
    case = tmp_path / "case"
    shutil.copytree(TESTDATA / "gup002" / "stack-array-direct", case)
    (case / ".gupcheck.toml").write_text('paths = ["."]\n')
    app = "pagepoke_app.c"
    run = subprocess.run([str(GUPCHECK), "hook", app], cwd=case, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "[GUP002]" in run.stdout
    assert all(
        line.startswith(app) for line in run.stdout.splitlines() if ": error:" in line or ": warning:" in line
    )
    driver_only = subprocess.run(
        [str(GUPCHECK), "hook", "README.md"], cwd=case, capture_output=True, text=True, timeout=300
    )
    assert driver_only.returncode == 0 and driver_only.stdout == ""


def _headers_tree() -> str:
    trees = sorted(glob.glob("/usr/src/linux-headers-*-amd64"))
    if not trees:
        pytest.skip("Debian's linux-headers-amd64 is not installed (make test installs it)")
    return trees[-1]


def test_kbuild_check_runs_gupcheck_with_the_exact_flags(tmp_path: Path) -> None:
    tree = _headers_tree()
    driver = tmp_path / "demo"
    shutil.copytree(TESTDATA / "example", driver)
    before = (driver / "demo_dev.c").read_bytes()
    run = subprocess.run(
        ["make", "-C", tree, f"M={driver}", "C=2", f"CHECK={GUPCHECK} kbuild"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "CHECK   " in run.stdout and "demo_dev.c" in run.stdout
    # findings reach the terminal like compiler warnings, once, with the Kbuild flags (real headers:
    # no note about the built-in model)
    assert f"{driver}/demo_dev.c:66:7: error:" in run.stderr
    assert "[GUP005]" in run.stderr
    assert "built-in kernel API model" not in run.stderr
    assert (driver / "demo_dev.ko").exists()
    assert (driver / "demo_dev.c").read_bytes() == before

    strict = subprocess.run(
        ["make", "-C", tree, f"M={driver}", "C=2", f"CHECK={GUPCHECK} kbuild --werror"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert strict.returncode != 0
    assert "[GUP005]" in strict.stderr


def test_kbuild_without_a_source_file_is_a_one_line_error() -> None:
    run = subprocess.run(
        [str(GUPCHECK), "kbuild", "-D__KERNEL__"], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "no .c file" in run.stderr


def _readme_pre_commit_block() -> str:
    """The README's .pre-commit-config.yaml, as a user copies it."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return text.split("# .pre-commit-config.yaml\n", 1)[1].split("```", 1)[0]


@pytest.mark.skipif(shutil.which("git") is None, reason="git is needed for pre-commit")
def test_the_readme_pre_commit_recipe_works_as_written(tmp_path: Path) -> None:
    block = _readme_pre_commit_block()
    rev = re.search(r"^\s*rev: (\S+)", block, re.MULTILINE)
    assert rev is not None, block
    exists = subprocess.run(["git", "cat-file", "-e", f"{rev.group(1)}^{{commit}}"], cwd=REPO)
    assert exists.returncode == 0, f"rev {rev.group(1)} is not a commit of this repository"
    # the one substitution: the README's repo is the reader's clone, here the repository under test
    config, replaced = re.subn(r"(^\s*- repo: )\S+", rf"\g<1>{REPO}", block, count=1, flags=re.MULTILINE)
    assert replaced == 1, block
    repo = tmp_path / "project"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / ".pre-commit-config.yaml").write_text(config)
    shutil.copy(TESTDATA / "example" / "demo_dev.c", repo / "demo_dev.c")
    _git(repo, "add", ".pre-commit-config.yaml", "demo_dev.c")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    env.pop("GUPCHECK_KERNEL_DIR", None)

    def pre_commit_run() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "pre_commit", "run"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=900,
            env=env,
        )

    refused = pre_commit_run()
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "demo_dev.c:66:" in refused.stdout and "[GUP005]" in refused.stdout
    # the recipe's --fail-level=error: the same findings as warnings are shown but pass
    (repo / ".gupcheck.toml").write_text('[levels]\nGUP005 = "warning"\n')
    _git(repo, "add", ".gupcheck.toml")
    passed = pre_commit_run()
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Passed" in passed.stdout
