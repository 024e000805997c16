"""GUP005 on what real drivers do (issue 16): the unchecked accessors' ignored results, user addresses
spelt through conversions, checks made by the callers, the driver's own range-check helpers (found by
their summaries, or declared), overflow-checked sizes, operands that are never evaluated, kernel
pointers an entry point receives, and a double fetch whose second copy a callee trusts.

Each test parses a small driver with libclang (the built-in kernel model, or Debian's real headers
where the test is about them) and runs GUP005 on it.
"""

from __future__ import annotations

import glob
import textwrap
import time
from pathlib import Path

import pytest

from gupcheck.analyses.uaccess import spelled_path
from gupcheck.kernel_api import uaccess
from gupcheck.kernel_api.declared import ApiKnowledge
from gupcheck.model.facts import Value
from gupcheck.pipeline.engine import analyse
from gupcheck.pipeline.projectconfig import ConfigFileError, load_config
from gupcheck.rules import ALL_RULES

GUP005 = tuple(rule for rule in ALL_RULES if rule.id == "GUP005")

PRELUDE = """\
#include <linux/module.h>
#include <linux/fs.h>
#include <linux/uaccess.h>
#include <linux/overflow.h>
#include <linux/slab.h>
"""


def debian_headers() -> str:
    trees = sorted(glob.glob("/usr/src/linux-headers-*-amd64"))
    if not trees:
        pytest.skip("Debian's linux-headers-amd64 is not installed (make test installs it)")
    return trees[-1]


def findings(tmp_path: Path, source: str, *, real: bool = False, api: ApiKnowledge | None = None) -> list:
    """GUP005's findings on `source` (after PRELUDE), as (line, message) sorted by line."""
    driver = tmp_path / "drv.c"
    driver.write_text(PRELUDE + textwrap.dedent(source))
    analysis = analyse(
        [str(driver)], GUP005, use_model=not real, kernel_dir=debian_headers() if real else None, api=api
    )
    assert analysis.units, [str(p) for p in analysis.problems]
    return sorted((f.location.line - PRELUDE.count("\n"), f.message) for f in analysis.findings)


def lines(found: list) -> list[int]:
    return [line for line, _message in found]


# --- ignored results -----------------------------------------------------------------------------------


def test_the_unchecked_accessors_report_failure_and_must_be_checked() -> None:
    for name in ("__copy_from_user", "__copy_to_user", "__get_user", "__put_user"):
        assert name in uaccess.MUST_CHECK and name in uaccess.FAILS_NONZERO, name
        assert name not in uaccess.CHECKING_COPIES, name  # a zero result does not mean access_ok passed
    for name in ("__copy_from_user_inatomic", "__copy_to_user_inatomic"):
        assert name in uaccess.MUST_CHECK, name


def test_an_ignored_inatomic_copy_is_flagged_with_real_headers(tmp_path: Path) -> None:
    found = findings(
        tmp_path,
        """\
        static int peek(void *dst, const void __user *src, unsigned long n)
        {
            if (!access_ok(src, n))
                return -EFAULT;
            pagefault_disable();
            __copy_from_user_inatomic(dst, src, n);
            pagefault_enable();
            return 0;
        }

        static int peek_checked(void *dst, const void __user *src, unsigned long n)
        {
            unsigned long left;

            if (!access_ok(src, n))
                return -EFAULT;
            pagefault_disable();
            left = __copy_from_user_inatomic(dst, src, n);
            pagefault_enable();
            return left ? -EFAULT : 0;
        }
        """,
        real=True,
    )
    assert found == [(6, "result of '__copy_from_user_inatomic' is ignored: a failed copy goes unnoticed")]


# --- conversions -----------------------------------------------------------------------------------------

CONVERSIONS = """\
struct req { __u64 data_ptr; __u64 other_ptr; __u32 len; };

static int via_u64(struct req *r, void *dst)
{
	if (!access_ok(u64_to_user_ptr(r->data_ptr), r->len))
		return -EFAULT;
	return __copy_from_user(dst, u64_to_user_ptr(r->data_ptr), r->len) ? -EFAULT : 0;
}

static int via_cast(struct req *r, void *dst)
{
	if (!access_ok((void __user *)(uintptr_t)r->data_ptr, r->len))
		return -EFAULT;
	return __copy_from_user(dst, (const void __user *)(unsigned long)r->data_ptr, r->len) ? -EFAULT : 0;
}

static int via_local(struct req *r, void *dst)
{
	void __user *user_data = u64_to_user_ptr(r->data_ptr);

	if (!access_ok(u64_to_user_ptr(r->data_ptr), r->len))
		return -EFAULT;
	return __copy_from_user(dst, user_data, r->len) ? -EFAULT : 0;
}

static int other_field(struct req *r, void *dst)
{
	if (!access_ok(u64_to_user_ptr(r->data_ptr), r->len))
		return -EFAULT;
	return __copy_from_user(dst, u64_to_user_ptr(r->other_ptr), r->len) ? -EFAULT : 0;
}

static long conv_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
	struct req r;
	char buf[16];

	if (copy_from_user(&r, (void __user *)arg, sizeof(r)) || r.len > sizeof(buf))
		return -EFAULT;
	return via_u64(&r, buf) + via_cast(&r, buf) + via_local(&r, buf) + other_field(&r, buf);
}

static const struct file_operations conv_fops = { .unlocked_ioctl = conv_ioctl };
"""


@pytest.mark.parametrize("real", [False, True], ids=["model", "real-headers"])
def test_a_checked_address_is_the_same_address_however_it_is_spelt(tmp_path: Path, real: bool) -> None:
    found = findings(tmp_path, CONVERSIONS, real=real)
    assert lines(found) == [30], found  # only the field no access_ok covered
    assert "u64_to_user_ptr(r->other_ptr)" in found[0][1]


def test_compat_ptr_keeps_the_address_it_converts(tmp_path: Path) -> None:
    found = findings(
        tmp_path,
        """\
        #include <linux/compat.h>

        static int compat_read(compat_uptr_t uptr, u32 *out)
        {
            if (!access_ok(compat_ptr(uptr), sizeof(u32)))
                return -EFAULT;
            return __get_user(*out, (u32 __user *)compat_ptr(uptr));
        }

        static int compat_write(compat_uptr_t uptr, compat_uptr_t other, u32 v)
        {
            if (!access_ok(compat_ptr(uptr), sizeof(u32)))
                return -EFAULT;
            return __put_user(v, (u32 __user *)compat_ptr(other));
        }

        struct uptrs { compat_uptr_t one, other; };

        static long uptrs_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
        {
            struct uptrs u;
            u32 v;

            if (copy_from_user(&u, (void __user *)arg, sizeof(u)))
                return -EFAULT;
            return compat_read(u.one, &v) ?: compat_write(u.one, u.other, v);
        }

        static const struct file_operations uptrs_fops = { .compat_ioctl = uptrs_ioctl };
        """,
        real=True,
    )
    assert lines(found) == [14], found


# --- checks made by the callers --------------------------------------------------------------------------

CALLERS = """\
struct xfer { __u64 dst; __u32 len; };

static int store(void *src, struct xfer *x)
{
	return __copy_to_user(u64_to_user_ptr(x->dst), src, x->len) ? -EFAULT : 0;
}

static int store_via(void *src, struct xfer *x)
{
	return store(src, x);
}

static long cal_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
	static char buf[16];
	struct xfer x;

	if (copy_from_user(&x, (void __user *)arg, sizeof(x)) || x.len > sizeof(buf))
		return -EFAULT;
	if (!access_ok(u64_to_user_ptr(x.dst), x.len))
		return -EFAULT;
	if (cmd == 1)
		return store(buf, &x);
	return store_via(buf, &x);
}

static const struct file_operations cal_fops = { .unlocked_ioctl = cal_ioctl };
"""


def test_a_field_every_caller_checked_is_covered_in_the_callee(tmp_path: Path) -> None:
    assert findings(tmp_path, CALLERS) == []


def test_a_caller_that_skips_the_check_leaves_the_callee_flagged(tmp_path: Path) -> None:
    skipping = CALLERS.replace(
        "\tif (cmd == 1)\n", "\tif (cmd == 2)\n\t\treturn store(buf, (struct xfer *)&x);\n\tif (cmd == 1)\n"
    ).replace("\tif (!access_ok(u64_to_user_ptr(x.dst), x.len))\n\t\treturn -EFAULT;\n", "")
    assert lines(findings(tmp_path, skipping)) == [5]


# --- the driver's range-check helpers ---------------------------------------------------------------------

HELPERS = """\
struct win { unsigned long start, end; };
static struct win window;

static bool inside(const struct win *w, unsigned long addr, size_t len)
{
	if (addr < w->start || len > w->end - addr)
		return false;
	return true;
}

static bool too_busy(const struct win *w, unsigned long addr, size_t len)
{
	return addr > w->end || len > 4096;
}

static bool rings_ok(void __user *desc, void __user *used, unsigned int num)
{
	return access_ok(desc, num * 16) && access_ok(used, num * 8);
}

static int put_inside(unsigned long addr, u32 v)
{
	if (!inside(&window, addr, sizeof(v)))
		return -EFAULT;
	return __put_user(v, (u32 __user *)addr);
}

static int put_unless_busy(unsigned long addr, u32 v)
{
	if (too_busy(&window, addr, sizeof(v)))
		return -EBUSY;
	return __put_user(v, (u32 __user *)addr);
}

static int put_used(void __user *desc, u32 __user *used, u32 v)
{
	if (!rings_ok(desc, used, 8))
		return -EFAULT;
	return __put_user(v, used);
}

static int put_declared(unsigned long addr, u32 v)
{
	if (!vendor_range_ok(addr, sizeof(v)))
		return -EFAULT;
	return __put_user(v, (u32 __user *)addr);
}
"""
HELPERS_DECLARED = (
    "extern bool vendor_range_ok(unsigned long addr, size_t len);\n"
    + HELPERS
    + """
static long win_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
	return put_inside(arg, 1) ?: put_unless_busy(arg, 2) ?:
		put_used((void __user *)arg, (u32 __user *)arg, 3) ?: put_declared(arg, 4);
}

static const struct file_operations win_fops = { .unlocked_ioctl = win_ioctl };
"""
)


def test_range_check_helpers_are_recognised_by_their_summaries(tmp_path: Path) -> None:
    found = findings(tmp_path, HELPERS_DECLARED)
    # inside() compares address and length with stored limits; rings_ok() calls access_ok;
    # too_busy() compares one parameter only: it checks no range. vendor_range_ok() is not seen.
    assert lines(found) == [33, 47], found


def test_a_declared_range_check_covers_its_arguments(tmp_path: Path) -> None:
    config = tmp_path / "gupcheck.toml"
    config.write_text('[api]\nrange-checks = ["vendor_range_ok"]\n')
    declared = load_config(config).api
    assert declared.range_checks == ("vendor_range_ok",)
    assert lines(findings(tmp_path, HELPERS_DECLARED, api=declared)) == [33]


def test_range_checks_must_be_a_list_of_names(tmp_path: Path) -> None:
    config = tmp_path / "gupcheck.toml"
    config.write_text('[api]\nrange-checks = "vendor_range_ok"\n')
    with pytest.raises(ConfigFileError, match="api.range-checks"):
        load_config(config)


# --- sizes ------------------------------------------------------------------------------------------------

SIZES = """\
struct upload { __u64 ptr; __u32 nr; __u32 first; };

static long sz_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
	static u32 table[16];
	struct upload up;
	size_t bytes;
	u32 end;

	if (copy_from_user(&up, (void __user *)arg, sizeof(up)))
		return -EFAULT;
	switch (cmd) {
	case 1:
		if (check_mul_overflow((size_t)up.nr, sizeof(u32), &bytes))
			return -EOVERFLOW;
		return copy_from_user(table, u64_to_user_ptr(up.ptr), bytes) ? -EFAULT : 0;
	case 2:
		if (check_add_overflow(up.first, up.nr, &end) || end > 16)
			return -EINVAL;
		return copy_from_user(table, u64_to_user_ptr(up.ptr), up.nr * sizeof(u32)) ? -EFAULT : 0;
	case 3:
		return copy_from_user(table, u64_to_user_ptr(up.ptr), array_size(up.nr, 4)) ? -EFAULT : 0;
	case 4:
		if (up.nr > 16)
			return -EINVAL;
		bytes = struct_size((struct upload *)NULL, first, up.nr);
		return copy_from_user(table, u64_to_user_ptr(up.ptr), bytes) ? -EFAULT : 0;
	}
	return -ENOTTY;
}

static const struct file_operations sz_fops = { .unlocked_ioctl = sz_ioctl };
"""


@pytest.mark.parametrize("real", [False, True], ids=["model", "real-headers"])
def test_an_overflow_check_is_no_bound_but_a_compared_checked_sum_is(tmp_path: Path, real: bool) -> None:
    found = findings(tmp_path, SIZES, real=real)
    assert lines(found) == [16, 22], found
    assert all("without a bound" in message for _line, message in found)


# --- operands that are never evaluated, kernel pointers of entry points ----------------------------------


def test_an_undefined_type_macro_on_a_user_pointer_is_no_dereference(tmp_path: Path) -> None:
    # BITS_PER_TYPE is not in the kernel model: it parses as a call whose operand is `*bits`
    found = findings(
        tmp_path,
        """\
        static ssize_t bits_read(struct file *f, char __user *bits, size_t n, loff_t *pos)
        {
            size_t width = BITS_PER_TYPE(*bits);

            if (n < 1)
                return 0;
            return bits[0] == 'x' ? width : 0;
        }

        static const struct file_operations bits_fops = { .read = bits_read };
        """,
    )
    assert lines(found) == [7], found  # bits[0] is read; *bits inside BITS_PER_TYPE is not


def test_the_iov_iter_of_write_iter_is_kernel_memory(tmp_path: Path) -> None:
    found = findings(
        tmp_path,
        """\
        #include <linux/uio.h>

        static size_t total(const struct iovec *iov, unsigned long nr)
        {
            size_t sum = 0;
            unsigned long i;

            for (i = 0; i < nr; i++)
                sum += iov[i].iov_len;
            return sum;
        }

        static ssize_t seg_write_iter(struct kiocb *iocb, struct iov_iter *from)
        {
            if (from->nr_segs > 8)
                return -EINVAL;
            return total(from->iov, from->nr_segs);
        }

        static ssize_t seg_write(struct file *f, const char __user *buf, size_t n, loff_t *pos)
        {
            return n && buf[0] == '1' ? n : -EINVAL;
        }

        static const struct file_operations seg_fops = { .write_iter = seg_write_iter, .write = seg_write };
        """,
        real=True,
    )
    assert lines(found) == [22], found  # buf is a user pointer; from, from->iov and iov are not


# --- double fetch followed into callees --------------------------------------------------------------------

REFETCH = """\
struct msg { __u32 len; __u8 body[]; };
static u8 *kept;

static int keep(const struct msg *m)
{
	kfree(kept);
	kept = kmemdup(m->body, m->len, GFP_KERNEL);
	return kept ? 0 : -ENOMEM;
}

static int relay(const struct msg *m)
{
	return keep(m);
}

static int keep_same(const struct msg *m, const struct msg *first)
{
	if (m->len != first->len)
		return -EINVAL;
	return keep(m);
}

static long rf_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
	struct msg __user *um = (void __user *)arg;
	struct msg hdr, *m;
	long ret;

	if (copy_from_user(&hdr, um, sizeof(hdr)) || hdr.len > 256)
		return -EINVAL;
	m = kmalloc(sizeof(hdr) + hdr.len, GFP_KERNEL);
	if (!m)
		return -ENOMEM;
	if (copy_from_user(m, um, sizeof(hdr) + hdr.len)) {
		kfree(m);
		return -EFAULT;
	}
	ret = cmd == 1 ? relay(m) : keep_same(m, &hdr);
	kfree(m);
	return ret;
}

static const struct file_operations rf_fops = { .unlocked_ioctl = rf_ioctl };
"""


def test_a_callee_two_calls_down_that_trusts_the_refetched_length_is_found(tmp_path: Path) -> None:
    found = findings(tmp_path, REFETCH)
    assert lines(found) == [34], found
    assert "'m->len' from the second copy is trusted by 'keep'" in found[0][1]


def test_a_callee_that_compares_with_the_first_copy_is_not_a_double_fetch(tmp_path: Path) -> None:
    checked_only = REFETCH.replace("cmd == 1 ? relay(m) : keep_same(m, &hdr)", "keep_same(m, &hdr)")
    assert findings(tmp_path, checked_only) == []


# --- spellings of an address ---------------------------------------------------------------------------


def test_casts_and_conversions_are_taken_off_an_address_and_arithmetic_is_not() -> None:
    def spelled(text: str, *names: str) -> str | None:
        return spelled_path(Value(text=text, names=names))

    assert spelled("(u64 __user *)(uintptr_t)args->size", "args->size") == "args->size"
    assert spelled("compat_ptr((compat_uptr_t)req.ptr)", "req.ptr") == "req.ptr"
    assert spelled("u64_to_user_ptr(x[2].addr)", "x[].addr") == "x[].addr"
    assert spelled("(void __user *)(p + 1)", "p") is None
    assert spelled("u64_to_user_ptr(f(x))", "x") is None
    assert spelled("(a)->b", "a") is None  # a parenthesised pointer, not a cast


def test_a_long_run_of_words_in_parentheses_is_read_in_linear_time() -> None:
    # a cast-like pattern that once made the matcher backtrack for minutes on real drivers
    text = "(" + "reg " * 40 + "val"
    started = time.perf_counter()
    assert spelled_path(Value(text=text, names=("val",))) is None
    assert time.perf_counter() - started < 1.0


def test_the_last_byte_of_a_checked_range_is_covered(tmp_path: Path) -> None:
    found = findings(
        tmp_path,
        """\
        struct ent { __u64 relocs_ptr; __u32 count; };

        static int prefault(const struct ent *e)
        {
            const char __user *addr, *end;
            unsigned long size = e->count * 16UL;
            char c;

            addr = u64_to_user_ptr(e->relocs_ptr);
            if (!access_ok(addr, size))
                return -EFAULT;
            end = addr + size;
            for (; addr < end; addr += PAGE_SIZE)
                if (__get_user(c, addr))
                    return -EFAULT;
            if (__get_user(c, end - 1))
                return -EFAULT;
            return __get_user(c, (const char __user *)u64_to_user_ptr(e->relocs_ptr) + size);
        }

        static long ent_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
        {
            struct ent e;

            if (copy_from_user(&e, (void __user *)arg, sizeof(e)))
                return -EFAULT;
            return prefault(&e);
        }

        static const struct file_operations ent_fops = { .unlocked_ioctl = ent_ioctl };
        """,
    )
    assert lines(found) == [18], found  # the spelling through e->relocs_ptr was never checked (addr was)


# --- where an unchecked accessor's address comes from ------------------------------------------------------

ORIGINS = """\
#include <linux/uio.h>

struct mirror_dev {
	__u64 sink;		/* set from user input by MIRROR_SET */
	__u64 spare;		/* never set from user input */
	struct iovec iov[4];	/* filled from the driver's own table */
	unsigned long table[4];
};

static struct mirror_dev mdev;

static int fill_iov(struct mirror_dev *d, unsigned int n)
{
	d->iov[0].iov_base = (void __user *)d->table[n & 3];
	d->iov[0].iov_len = 8;
	return 1;
}

static int mirror_push(struct mirror_dev *d, const void *src, size_t len)
{
	if (__copy_to_user(u64_to_user_ptr(d->sink), src, len))
		return -EFAULT;
	if (__copy_to_user(u64_to_user_ptr(d->spare), src, len))
		return -EFAULT;
	fill_iov(d, 1);
	return __copy_to_user(d->iov[0].iov_base, src, d->iov[0].iov_len) ? -EFAULT : 0;
}

static long mirror_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
	u64 where;
	char buf[8] = { 0 };

	if (cmd == 1) {
		if (copy_from_user(&where, (void __user *)arg, sizeof(where)))
			return -EFAULT;
		mdev.sink = where;
		return 0;
	}
	return mirror_push(&mdev, buf, sizeof(buf));
}

static const struct file_operations mirror_fops = { .unlocked_ioctl = mirror_ioctl };
"""


def test_an_address_a_driver_kept_from_user_input_is_user_supplied(tmp_path: Path) -> None:
    # `sink` is set from what an ioctl copied in; `spare` from nothing; the iovec from the driver's
    # own table: only the first has an origin user space chose.
    found = findings(tmp_path, ORIGINS)
    assert lines(found) == [21], found
    assert "d->sink" in found[0][1]


OPS_ONLY = """\
struct blob_ops { int (*put)(void *obj, const struct blob_args *args); };
struct blob_args { __u64 data_ptr; __u32 size; };

static int blob_put(void *obj, const struct blob_args *args)
{
	char __user *user_data = u64_to_user_ptr(args->data_ptr);

	return __get_user(*(char *)obj, user_data);
}

const struct blob_ops blob_ops = { .put = blob_put };
"""


def test_a_function_reached_only_from_outside_the_program_is_not_flagged(tmp_path: Path) -> None:
    # blob_put is reached through an ops pointer that code outside the analysed files calls (which
    # may check the range): its address has no origin the program shows.
    assert findings(tmp_path, "struct blob_args;\n" + OPS_ONLY) == []


def test_the_same_function_called_with_a_copied_in_address_is_flagged(tmp_path: Path) -> None:
    caller = """
static long blob_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
	struct blob_args a;
	char c;

	if (copy_from_user(&a, (void __user *)arg, sizeof(a)))
		return -EFAULT;
	return blob_put(&c, &a);
}

static const struct file_operations blob_fops = { .unlocked_ioctl = blob_ioctl };
"""
    found = findings(tmp_path, "struct blob_args;\n" + OPS_ONLY + caller)
    assert lines(found) == [9], found


# --- a helper that range-checks and returns an error ------------------------------------------------------

ERRNO_HELPER = """\
struct span { __u64 ptr; __u32 count; };

static int span_check(const struct span *s)
{
	const char __user *addr = u64_to_user_ptr(s->ptr);

	if (!access_ok(addr, s->count))
		return -EFAULT;
	return 0;
}

static int span_note(const struct span *s)
{
	if (!access_ok(u64_to_user_ptr(s->ptr), s->count))
		pr_debug("span: bad range\\n");
	return 0;
}

static long span_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
	struct span one, two;
	char buf[64];
	int err;

	if (copy_from_user(&one, (void __user *)arg, sizeof(one)) || one.count > 64)
		return -EFAULT;
	if (copy_from_user(&two, (void __user *)arg + 16, sizeof(two)) || two.count > 64)
		return -EFAULT;
	err = span_check(&one);
	if (err)
		return err;
	if (__copy_from_user(buf, u64_to_user_ptr(one.ptr), one.count))
		return -EFAULT;
	err = span_note(&two);
	if (err)
		return err;
	if (__copy_from_user(buf, u64_to_user_ptr(two.ptr), two.count))
		return -EFAULT;
	if (span_check(&two))
		return -EFAULT;
	return __copy_from_user(buf, u64_to_user_ptr(two.ptr), two.count) ? -EFAULT : 0;
}

static const struct file_operations span_fops = { .unlocked_ioctl = span_ioctl };
"""


def test_a_helper_that_returns_an_error_when_its_range_check_fails_covers_the_caller(tmp_path: Path) -> None:
    # span_check() returns -EFAULT when access_ok fails: where its result is zero, the field it
    # checked is covered. span_note() only logs a failed check: it covers nothing.
    found = findings(tmp_path, ERRNO_HELPER)
    assert lines(found) == [37], found


def test_a_pointer_walked_from_a_parameter_is_checked_where_the_caller_checked_it(tmp_path: Path) -> None:
    source = """\
        static int put_block(const char __user *buf, int count, char *out)
        {
            int offset;

            for (offset = 0; offset < count; offset++)
                if (__get_user(out[offset], buf + offset))
                    return -EFAULT;
            return count;
        }

        static ssize_t blk_write(struct file *f, const char __user *buf, size_t count, loff_t *pos)
        {
            char out[32];

            if (count > sizeof(out))
                count = sizeof(out);
            if (!access_ok(buf, count))
                return -EFAULT;
            return put_block(buf, count, out);
        }

        static const struct file_operations blk_fops = { .write = blk_write };
        """
    assert findings(tmp_path, source) == []
    unchecked = source.replace("if (!access_ok(buf, count))", "if (!count)")
    found = findings(tmp_path, unchecked)
    assert lines(found) == [6], found


# --- sizes of the objects copied into ----------------------------------------------------------------------


def test_a_copy_into_an_element_is_bounded_by_the_array_not_the_element(tmp_path: Path) -> None:
    found = findings(
        tmp_path,
        """\
        struct blk { __u32 w[4]; };
        struct msg { u32 size; struct blk fixed[2]; struct blk body[]; };

        static ssize_t msg_write(struct file *f, const char __user *buf, size_t count, loff_t *pos)
        {
            struct msg *m = kzalloc(sizeof(*m) + count, GFP_KERNEL);

            if (!m)
                return -ENOMEM;
            if (copy_from_user(&m->body[0], buf, count))
                count = -EFAULT;
            else if (copy_from_user(&m->fixed[0], buf, count))
                count = -EFAULT;
            kfree(m);
            return count;
        }

        static const struct file_operations msg_fops = { .write = msg_write };
        """,
    )
    # the flexible array has no size the code shows; the fixed one holds 2 elements of 16 bytes
    assert [(line, "(32 bytes)" in message) for line, message in found] == [(12, True)], found


# --- user addresses the kernel makes -------------------------------------------------------------------


def test_an_address_vm_mmap_returned_is_user_memory(tmp_path: Path) -> None:
    found = findings(
        tmp_path,
        """\
        #include <linux/mman.h>

        static void poke(void)
        {
            unsigned long uaddr = vm_mmap(NULL, 0, PAGE_SIZE, PROT_READ | PROT_WRITE,
                                          MAP_ANONYMOUS | MAP_PRIVATE, 0);
            unsigned long *kbuf = kmalloc(sizeof(*kbuf), GFP_KERNEL);
            unsigned long *p = (unsigned long *)uaddr;

            if (!kbuf)
                return;
            *kbuf = *p;
            kfree(kbuf);
            vm_munmap(uaddr, PAGE_SIZE);
        }
        """,
        real=True,
    )
    assert lines(found) == [12], found
    assert "'p'" in found[0][1]


# --- calls written in the driver's own macros' arguments ------------------------------------------------


def test_a_call_a_macro_runs_as_a_statement_is_an_ignored_result_once(tmp_path: Path) -> None:
    found = findings(
        tmp_path,
        """\
        #define PER_WORD(n, step) \\
        { \\
            int i; \\
            for (i = 0; i < (n); i++) { \\
                if (!(n)) \\
                    return -EIO; \\
                step; \\
            } \\
        }
        #define OR_FAULT(op) { if (op) return -EFAULT; }

        static ssize_t words_read(struct file *f, char __user *buf, size_t count, loff_t *pos)
        {
            u8 word[2] = { 1, 2 };
            int n = 0;

            PER_WORD(count / 2, put_user(word[0], buf + n++); put_user(word[1], buf + n++));
            PER_WORD(count / 2, OR_FAULT(put_user(word[0], buf + n++)));
            OR_FAULT(put_user(word[1], buf));
            return n;
        }

        static const struct file_operations words_fops = { .read = words_read };
        """,
    )
    # both statements of the first argument are ignored, each reported once; OR_FAULT tests its own
    assert [(line, "'put_user' is ignored" in message) for line, message in found] == [(17, True), (17, True)]
