"""GUP001's path search on shapes real drivers use: paths no execution holding the pages takes,
pages pinned through a window into a larger array, helpers that release through a local pointing
into one of several parameters, pages mapped into user space by a fault handler, and pages an MMU
notifier drops (Case 3 of pin_user_pages.rst). Each shape has a look-alike that must be reported."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gupcheck.model.findings import Finding
from gupcheck.pipeline.engine import analyse
from gupcheck.rules import ALL_RULES

PROLOGUE = """\
#include <linux/module.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/kref.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
"""


def gup001(tmp_path: Path, body: str, name: str = "drv.c") -> list[Finding]:
    (tmp_path / name).write_text(PROLOGUE + textwrap.dedent(body))
    analysis = analyse([str(tmp_path)], ALL_RULES, use_model=True)
    assert not analysis.problems, [str(p) for p in analysis.problems]
    return [f for f in analysis.findings if f.rule_id == "GUP001"]


def ioctl_calling(call: str) -> str:
    return f"""
    static long drv_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
    {{
    \tstruct drv_ctx *ctx = f->private_data;

    \treturn {call};
    }}

    static const struct file_operations drv_fops = {{ .unlocked_ioctl = drv_ioctl }};
    static struct miscdevice drv_misc = {{ .minor = MISC_DYNAMIC_MINOR, .name = "drv", .fops = &drv_fops }};
    module_misc_device(drv_misc);
    MODULE_LICENSE("GPL");
    """


WINDOW = """
struct drv_ctx { struct page **pages; int npages; };

static int drv_pin_all(struct drv_ctx *ctx, unsigned long uaddr, int npages)
{
	struct page **pvec = kvmalloc_array(npages, sizeof(*pvec), GFP_KERNEL);
	int done = 0, ret;

	if (!pvec)
		return -ENOMEM;
	do {
		struct page **window = pvec + done;

		ret = pin_user_pages_fast(uaddr + done * PAGE_SIZE, npages - done, FOLL_LONGTERM, window);
		if (ret < 0) {
			unpin_user_pages(pvec, done);
			kvfree(pvec);
			return ret;
		}
		done += ret;
	} while (done < npages);
	%s
	return 0;
}
"""


def test_pages_pinned_through_a_window_are_held_by_the_whole_array(tmp_path: Path) -> None:
    kept = WINDOW % "ctx->pages = pvec;\n\tctx->npages = npages;" + ioctl_calling("drv_pin_all(ctx, arg, 16)")
    assert gup001(tmp_path, kept) == []
    lost = WINDOW % "kvfree(pvec);" + ioctl_calling("drv_pin_all(ctx, arg, 16)")
    (finding,) = gup001(tmp_path, lost)
    assert "leak" in finding.message and finding.function == "drv_pin_all"


CHUNKS = """
struct drv_ctx { unsigned long frames[64]; int nframes; };

static long drv_register(struct drv_ctx *ctx, unsigned long uaddr, int npages)
{
	struct page *chunk[8];
	int left = npages, nchunks = 0, got, i, n;
	long ret = 0;

	while (left) {
		n = min(left, 8);
		got = pin_user_pages(uaddr, n, FOLL_WRITE | FOLL_LONGTERM, chunk, NULL);
		if (got != n) {
			if (got < 0) {
				ret = got;
			} else {
				unpin_user_pages(chunk, got);
				ret = -EFAULT;
			}
			goto out;
		}
		nchunks++;
		for (i = 0; i < got; i++)
			ctx->frames[ctx->nframes++] = page_to_pfn(chunk[i]);
		uaddr += got * PAGE_SIZE;
		left -= got;
	}
out:
	if (ret) {
		if (nchunks) {
			%s
		}
	}
	return ret;
}
"""
UNPIN_FRAMES = "while (ctx->nframes)\n\t\t\t\tunpin_user_page(pfn_to_page(ctx->frames[--ctx->nframes]));"


def test_paths_no_execution_holding_the_pages_takes_are_not_leaks(tmp_path: Path) -> None:
    """`for (i = 0; i < got; i++)` runs at least once when `got` pages are held, `nchunks++` makes
    `if (nchunks)` true, and `ret = got` on the `got < 0` branch makes `if (ret)` true."""
    source = CHUNKS % UNPIN_FRAMES + ioctl_calling("drv_register(ctx, arg, 32)")
    assert gup001(tmp_path, source) == []


def test_a_leak_on_a_feasible_path_is_still_reported(tmp_path: Path) -> None:
    # the frames are unpinned on failure only for the first chunk: a failing later chunk keeps
    # the earlier ones in ctx->frames, which nothing releases (no .release, no unregister)
    source = (CHUNKS % "ctx->nframes = 0;").replace("FOLL_WRITE | FOLL_LONGTERM", "FOLL_WRITE")
    findings = gup001(tmp_path, source + ioctl_calling("drv_register(ctx, arg, 32)"))
    assert findings and all(f.function == "drv_register" for f in findings)
    assert any(
        "without FOLL_LONGTERM are kept after the ioctl syscall returns" in f.message for f in findings
    )


RELEASE_THROUGH_LOCAL = """
struct drv_node { struct page **pages; };
struct drv_buf { struct page **pages; int n; };
struct drv_ctx { int unused; };

static void drv_unpin(struct drv_buf *buf, struct drv_node *node, int idx, int n, bool mapped)
{
	struct page **pages;

	if (mapped)
		pages = &node->pages[idx];
	else
		pages = &buf->pages[idx];
	%s
}

static long drv_setup(struct drv_ctx *ctx, unsigned long uaddr)
{
	struct drv_buf *buf = kzalloc(sizeof(*buf), GFP_KERNEL);
	int pinned;

	if (!buf)
		return -ENOMEM;
	buf->pages = kcalloc(16, sizeof(*buf->pages), GFP_KERNEL);
	if (!buf->pages) {
		kfree(buf);
		return -ENOMEM;
	}
	pinned = pin_user_pages_fast(uaddr, 16, FOLL_WRITE | FOLL_LONGTERM, buf->pages);
	if (pinned > 0)
		drv_unpin(buf, NULL, 0, pinned, false);
	kfree(buf->pages);
	kfree(buf);
	return pinned < 0 ? pinned : 0;
}
"""


def test_a_helper_releasing_through_a_local_into_either_parameter_releases_both(tmp_path: Path) -> None:
    source = RELEASE_THROUGH_LOCAL % "unpin_user_pages(pages, n);" + ioctl_calling("drv_setup(ctx, arg)")
    assert gup001(tmp_path, source) == []
    forgetful = RELEASE_THROUGH_LOCAL % "(void)pages;" + ioctl_calling("drv_setup(ctx, arg)")
    (finding,) = gup001(tmp_path, forgetful)
    assert "leak" in finding.message and finding.function == "drv_setup"


FAULT = """
struct drv_ctx { unsigned long base; };

static int drv_pin_one(unsigned long uaddr, unsigned long *pfn)
{
	struct page *page;
	int ret = get_user_pages_fast(uaddr, 1, FOLL_WRITE, &page);

	if (ret == 1) {
		*pfn = page_to_pfn(page);
		ret = 0;
	}
	return ret;
}

static vm_fault_t drv_fault(struct vm_fault *vmf)
{
	struct drv_ctx *ctx = vmf->vma->vm_private_data;
	unsigned long pfn = 0;
	vm_fault_t ret;

	if (drv_pin_one(ctx->base + (vmf->address - vmf->vma->vm_start), &pfn) != 0)
		return VM_FAULT_SIGBUS;
	ret = VM_FAULT_SIGBUS;
	if (pfn && pfn_valid(pfn)) {
		%s
	}
	return ret;
}

static const struct vm_operations_struct drv_vm_ops = { .fault = drv_fault };

static int drv_mmap(struct file *f, struct vm_area_struct *vma)
{
	vma->vm_ops = &drv_vm_ops;
	vma->vm_private_data = f->private_data;
	return 0;
}

static const struct file_operations drv_fops = { .mmap = drv_mmap };
static struct miscdevice drv_misc = { .minor = MISC_DYNAMIC_MINOR, .name = "drv", .fops = &drv_fops };
module_misc_device(drv_misc);
MODULE_LICENSE("GPL");
"""


def test_a_fault_handler_mapping_the_pinned_frame_keeps_it(tmp_path: Path) -> None:
    """The frame a fault handler pins and maps with remap_pfn_range() stays with the mapping: kept
    after the fault (a FOLL_GET reference no MMU notifier drops), not lost; unmapped, it leaks."""
    mapped = (
        "if (remap_pfn_range(vmf->vma, vmf->address & PAGE_MASK, pfn, PAGE_SIZE,"
        " vmf->vma->vm_page_prot) == 0)\n\t\t\tret = VM_FAULT_NOPAGE;"
    )
    (kept,) = gup001(tmp_path, FAULT % mapped)
    assert "kept after the page fault returns" in kept.message and "remap_pfn_range()" in kept.message
    (lost,) = gup001(tmp_path, FAULT % "ret = VM_FAULT_NOPAGE;")
    assert "leak" in lost.message and lost.function == "drv_fault"


MIRROR = """
struct drv_ctx {
	struct mmu_interval_notifier notifier;
	struct page *pages[16];
	int npages;
};

static void drv_drop(struct drv_ctx *ctx)
{
	while (ctx->npages)
		put_page(ctx->pages[--ctx->npages]);
}

static bool drv_invalidate(struct mmu_interval_notifier *mni,
	const struct mmu_notifier_range *range, unsigned long seq)
{
	drv_drop(container_of(mni, struct drv_ctx, notifier));
	return true;
}

static const struct mmu_interval_notifier_ops drv_mni_ops = { .invalidate = %s };

static long drv_mirror(struct drv_ctx *ctx, unsigned long uaddr)
{
	int got = get_user_pages_fast(uaddr, 16, FOLL_WRITE, ctx->pages);

	if (got < 0)
		return got;
	ctx->npages = got;
	return mmu_interval_notifier_insert(&ctx->notifier, current->mm, uaddr, 16 * PAGE_SIZE, &drv_mni_ops);
}
"""


def test_pages_an_mmu_notifier_drops_may_be_kept_with_foll_get(tmp_path: Path) -> None:
    """Case 3 of pin_user_pages.rst: the notifier's invalidation drops the references, so a FOLL_GET
    reference kept past the ioctl is what the kernel documents; without such a notifier it is not."""
    assert gup001(tmp_path, MIRROR % "drv_invalidate" + ioctl_calling("drv_mirror(ctx, arg)")) == []
    findings = gup001(tmp_path, MIRROR % "NULL" + ioctl_calling("drv_mirror(ctx, arg)"))
    assert [f.function for f in findings] == ["drv_mirror"]
    assert "FOLL_GET reference from get_user_pages_fast() is kept after the ioctl" in findings[0].message


PING_PONG = """
struct drv_ctx { int unused; };
struct drv_xfer { struct page **pages; int n; };

static void drv_finish(struct drv_xfer *x)
{
	unpin_user_pages(x->pages, x->n);
}

static long drv_stream(struct drv_ctx *ctx, unsigned long uaddr, int chunks)
{
	struct drv_xfer tbl[2] = {};
	struct drv_xfer *cur, *prev = NULL;
	struct page *held[2][4];
	int idx = 0, got;
	long ret = 0;

	tbl[0].pages = held[0];
	tbl[1].pages = held[1];
	while (chunks--) {
		cur = &tbl[idx];
		got = pin_user_pages_fast(uaddr, 4, FOLL_WRITE, cur->pages);
		if (got != 4) {
			if (got > 0)
				unpin_user_pages(cur->pages, got);
			ret = -EFAULT;
			%s
			goto out;
		}
		cur->n = got;
		if (prev != NULL)
			drv_finish(prev);
		prev = cur;
		idx = !idx;
		uaddr += 4 * PAGE_SIZE;
	}
	if (prev != NULL)
		drv_finish(prev);
out:
	return ret;
}
"""


def test_a_pointer_only_ever_set_to_an_address_is_not_null_once_copied(tmp_path: Path) -> None:
    """Ping-pong transfers: `prev = cur` with `cur = &tbl[i]`, so `prev != NULL` false cannot follow
    a pin kept in `prev`; the look-alike forgets the previous transfer on the failure path."""
    finishing = PING_PONG % "if (prev != NULL)\n\t\t\t\tdrv_finish(prev);"
    assert gup001(tmp_path, finishing + ioctl_calling("drv_stream(ctx, arg, 8)")) == []
    findings = gup001(tmp_path, PING_PONG % "" + ioctl_calling("drv_stream(ctx, arg, 8)"))
    assert findings and all("leak" in f.message and f.function == "drv_stream" for f in findings)


BATCH = """
struct drv_batch { struct page *pages[16]; int nr_pages; int nr_ops; int flags; };
struct drv_ctx { struct drv_batch *cached; };

static void drv_put(struct drv_batch *b)
{
	unpin_user_pages(b->pages, b->nr_pages);
	b->nr_pages = 0;
}

static void drv_flush(struct drv_batch *b)
{
	drv_put(b);
	b->nr_ops = 0;
}

static int drv_add(struct drv_batch *b, unsigned long uaddr)
{
	struct page *page;
	int ret = pin_user_pages_fast(uaddr, 1, FOLL_WRITE, &page);

	if (ret < 0)
		return ret;
	b->pages[b->nr_pages++] = page;
	b->nr_ops++;
	return 0;
}

static long drv_copy(struct drv_ctx *ctx, unsigned long uaddr, int n)
{
	struct drv_batch *b = kzalloc(sizeof(*b), GFP_KERNEL);
	int i, ret = 0;

	if (!b)
		return -ENOMEM;
	for (i = 0; i < n && i < 16; i++) {
		ret = drv_add(b, uaddr + i * PAGE_SIZE);
		if (ret < 0) {
			drv_put(b);
			goto out;
		}
	}
	if (b->%s)
		drv_flush(b);
out:
	kfree(ctx->cached);
	ctx->cached = b;	/* kept for the next call */
	return ret;
}
"""


def test_a_count_the_pinning_helper_makes_non_zero_guards_the_callers_release(tmp_path: Path) -> None:
    """A batch helper pins a page and counts the operation (`b->nr_ops++`, then `return 0`): the
    caller's `if (b->nr_ops)` flush is taken whenever pages are held. A field the helper does not
    count says nothing, and the pages stay with the cached batch after the ioctl."""
    assert gup001(tmp_path, BATCH % "nr_ops" + ioctl_calling("drv_copy(ctx, arg, 4)")) == []
    findings = gup001(tmp_path, BATCH % "flags" + ioctl_calling("drv_copy(ctx, arg, 4)"))
    assert [f.function for f in findings] == ["drv_copy"]
    assert "kept after the ioctl syscall returns" in findings[0].message


def test_a_pin_search_past_its_budget_names_the_function_and_the_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gupcheck.analyses.pins import fate

    monkeypatch.setattr(fate, "STATE_BUDGET", 10)
    (tmp_path / "drv.c").write_text(
        PROLOGUE + textwrap.dedent(CHUNKS % UNPIN_FRAMES + ioctl_calling("drv_register(ctx, arg, 32)"))
    )
    analysis = analyse([str(tmp_path)], ALL_RULES, use_model=True)
    (note,) = [note for note in analysis.notes if "not fully analysed" in note]
    assert "GUP001: drv_register() not fully analysed: the paths of its pins stopped after" in note
    assert analysis.units and not analysis.problems


KREF = """
struct drv_region { struct kref ref; struct page **pages; int n; };
struct drv_ctx { struct drv_region *region; };

static void drv_region_free(struct kref *ref)
{
	struct drv_region *r = container_of(ref, struct drv_region, ref);

	%s
	kfree(r->pages);
	kfree(r);
}

static long drv_map(struct drv_ctx *ctx, unsigned long uaddr)
{
	struct drv_region *r = kzalloc(sizeof(*r), GFP_KERNEL);
	int got;

	if (!r)
		return -ENOMEM;
	kref_init(&r->ref);
	r->pages = kcalloc(8, sizeof(*r->pages), GFP_KERNEL);
	if (!r->pages) {
		kfree(r);
		return -ENOMEM;
	}
	got = pin_user_pages_fast(uaddr, 8, FOLL_WRITE | FOLL_LONGTERM, r->pages);
	if (got <= 0) {
		kfree(r->pages);
		kfree(r);
		return got ? got : -EFAULT;
	}
	r->n = got;
	if (got != 8) {
		kref_put(&r->ref, drv_region_free);
		return -EFAULT;
	}
	ctx->region = r;
	return 0;
}
"""


def test_kref_put_releases_what_its_release_function_releases(tmp_path: Path) -> None:
    source = KREF % "unpin_user_pages(r->pages, r->n);" + ioctl_calling("drv_map(ctx, arg)")
    assert gup001(tmp_path, source) == []
    (finding,) = gup001(tmp_path, KREF % "" + ioctl_calling("drv_map(ctx, arg)"))
    assert "leak" in finding.message and finding.function == "drv_map"


FLAG = """
struct drv_ctx { int mapped; int flags; };

static long drv_xfer(struct drv_ctx *ctx, unsigned long uaddr, bool direct)
{
	struct page *pages[4];
	int got;

	ctx->mapped = 0;
	if (direct) {
		got = pin_user_pages_fast(uaddr, 4, FOLL_WRITE, pages);
		if (got != 4) {
			if (got > 0)
				unpin_user_pages(pages, got);
			return -EFAULT;
		}
		ctx->mapped = 1;
	}
	if (ctx->%s)
		unpin_user_pages(pages, 4);
	return 0;
}
"""


def test_a_flag_field_set_after_the_pin_guards_the_release(tmp_path: Path) -> None:
    """`ctx->mapped = 1` after the pin: `if (ctx->mapped)` false cannot hold the pages; a field
    nothing sets says nothing, and the pages leak."""
    assert gup001(tmp_path, FLAG % "mapped" + ioctl_calling("drv_xfer(ctx, arg, true)")) == []
    (finding,) = gup001(tmp_path, FLAG % "flags" + ioctl_calling("drv_xfer(ctx, arg, true)"))
    assert "leak" in finding.message and finding.function == "drv_xfer"


OLD_SIGNATURE = """
struct drv_ctx { struct page *pages[4]; };

static long drv_register(struct drv_ctx *ctx, unsigned long uaddr)
{
	/* the 4.6-4.8 signature (start, nr, write, force, pages, vmas): clang cannot type the call */
	long got = get_user_pages(uaddr, 4, 1, 0, ctx->pages, NULL);

	return got == 4 ? 0 : -EFAULT;
}
"""


def test_a_pin_call_with_another_kernels_arguments_is_still_a_pin(tmp_path: Path) -> None:
    (tmp_path / "drv.c").write_text(
        PROLOGUE + textwrap.dedent(OLD_SIGNATURE + ioctl_calling("drv_register(ctx, arg)"))
    )
    analysis = analyse([str(tmp_path)], ALL_RULES, use_model=True)
    assert any("parsed with" in str(problem) for problem in analysis.problems)  # the arity error
    (finding,) = [f for f in analysis.findings if f.rule_id == "GUP001"]
    assert finding.function == "drv_register"
    assert (
        "FOLL_GET reference from get_user_pages() is kept after the ioctl syscall returns" in finding.message
    )
