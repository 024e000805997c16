/*
 * README: GUP005 case "range-helpers-and-sizes". A small virtqueue-like
 * device: user space registers its ring (checked by the driver's own helper
 * vlq_ring_access_ok, which calls access_ok) and a window of user memory
 * (checked with access_ok, then re-checked per access by vlq_win_contains,
 * which compares address and length with the stored limits). Accesses after
 * either helper succeeded are covered. Table uploads size their copies with
 * check_mul_overflow/check_add_overflow/array_size: an overflow check is not a
 * bound, so a size that is never compared with the table's capacity is
 * flagged; one compared with it (directly or as part of a checked sum) is not.
 * sizeof(*p) and typeof(*p) of a user pointer read no user memory.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/overflow.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#define VLQ_MAX_NUM		64
#define VLQ_TABLE_ENTRIES	32

struct vlq_entry {
	__u32 key;
	__u32 val;
};

struct vlq_ring_setup {
	__u64 desc;		/* num descriptors of 16 bytes */
	__u64 used;		/* num used slots of 8 bytes, after a 4-byte index */
	__u32 num;
	__u32 pad;
};

struct vlq_win_setup {
	__u64 start;
	__u64 size;
};

struct vlq_win_io {
	__u64 addr;
	__u32 len;
	__u32 pad;
};

struct vlq_table_io {
	__u64 entries;		/* user array of struct vlq_entry */
	__u32 first;		/* index of the first entry to replace */
	__u32 nr;
};

#define VLQ_IOC_MAGIC		'v'
#define VLQ_IOC_SET_RING	_IOW(VLQ_IOC_MAGIC, 1, struct vlq_ring_setup)
#define VLQ_IOC_SET_WINDOW	_IOW(VLQ_IOC_MAGIC, 2, struct vlq_win_setup)
#define VLQ_IOC_WIN_READ	_IOW(VLQ_IOC_MAGIC, 3, struct vlq_win_io)
#define VLQ_IOC_WIN_READ_RAW	_IOW(VLQ_IOC_MAGIC, 4, struct vlq_win_io)
#define VLQ_IOC_LOAD_TABLE	_IOW(VLQ_IOC_MAGIC, 5, struct vlq_table_io)
#define VLQ_IOC_LOAD_SLICE	_IOW(VLQ_IOC_MAGIC, 6, struct vlq_table_io)
#define VLQ_IOC_LOAD_ARRAY	_IOW(VLQ_IOC_MAGIC, 7, struct vlq_table_io)
#define VLQ_IOC_LOAD_BOUNDED	_IOW(VLQ_IOC_MAGIC, 8, struct vlq_table_io)
#define VLQ_IOC_KICK		_IO(VLQ_IOC_MAGIC, 9)
#define VLQ_IOC_PEEK_USED	_IOR(VLQ_IOC_MAGIC, 10, __u32)

struct vlq_dev {
	struct mutex lock;
	u32 num;
	u32 used_idx;
	unsigned long win_start, win_end;
	struct vlq_entry table[VLQ_TABLE_ENTRIES];
	u8 scratch[256];
};

static struct vlq_dev vlq;

/* The driver's range check: both rings lie in user space. */
static bool vlq_ring_access_ok(unsigned int num, void __user *desc, u32 __user *used)
{
	return access_ok(desc, (size_t)num * 16) && access_ok(used, 4 + (size_t)num * 8);
}

/* [addr, addr + len) lies in the registered window. */
static bool vlq_win_contains(const struct vlq_dev *d, unsigned long addr, size_t len)
{
	if (addr < d->win_start || addr > d->win_end || len > d->win_end - addr)
		return false;
	return true;
}

/* Negative: the helper checked both rings before the used index is published. */
static long vlq_set_ring(struct vlq_dev *d, struct vlq_ring_setup __user *usetup)
{
	struct vlq_ring_setup s;
	u32 __user *used;

	if (copy_from_user(&s, usetup, sizeof(s)))
		return -EFAULT;
	if (!s.num || s.num > VLQ_MAX_NUM)
		return -EINVAL;
	used = u64_to_user_ptr(s.used);
	if (!vlq_ring_access_ok(s.num, u64_to_user_ptr(s.desc), used))
		return -EFAULT;
	d->num = s.num;
	d->used_idx = 0;
	if (__put_user(d->used_idx, used))
		return -EFAULT;
	return 0;
}

static long vlq_set_window(struct vlq_dev *d, struct vlq_win_setup __user *usetup)
{
	struct vlq_win_setup w;

	if (copy_from_user(&w, usetup, sizeof(w)))
		return -EFAULT;
	if (!w.size || !access_ok(u64_to_user_ptr(w.start), w.size))
		return -EFAULT;
	d->win_start = w.start;
	d->win_end = w.start + w.size;
	return 0;
}

/* Negative: the window helper says the range is inside the checked window. */
static long vlq_win_read(struct vlq_dev *d, struct vlq_win_io __user *uio)
{
	struct vlq_win_io io;

	if (copy_from_user(&io, uio, sizeof(io)))
		return -EFAULT;
	if (io.len > sizeof(d->scratch))
		return -EINVAL;
	if (!vlq_win_contains(d, io.addr, io.len))
		return -EFAULT;
	if (__copy_to_user((void __user *)(uintptr_t)io.addr, d->scratch, io.len))
		return -EFAULT;
	return 0;
}

/* Positive: the same copy without asking the window. */
static long vlq_win_read_raw(struct vlq_dev *d, struct vlq_win_io __user *uio)
{
	struct vlq_win_io io;

	if (copy_from_user(&io, uio, sizeof(io)))
		return -EFAULT;
	if (io.len > sizeof(d->scratch))
		return -EINVAL;
	if (__copy_to_user((void __user *)(uintptr_t)io.addr, d->scratch, io.len)) /* expect: GUP005 */
		return -EFAULT;
	return 0;
}

/* Positive: the multiplication cannot wrap, but nothing compares bytes with the table. */
static long vlq_load_table(struct vlq_dev *d, struct vlq_table_io __user *uio)
{
	struct vlq_table_io io;
	size_t bytes;

	if (copy_from_user(&io, uio, sizeof(io)))
		return -EFAULT;
	if (check_mul_overflow((size_t)io.nr, sizeof(struct vlq_entry), &bytes))
		return -EOVERFLOW;
	if (copy_from_user(d->table, u64_to_user_ptr(io.entries), bytes)) /* expect: GUP005 */
		return -EFAULT;
	return 0;
}

/* Negative: the checked sum of first and nr is compared with the table size. */
static long vlq_load_slice(struct vlq_dev *d, struct vlq_table_io __user *uio)
{
	struct vlq_table_io io;
	u32 end;

	if (copy_from_user(&io, uio, sizeof(io)))
		return -EFAULT;
	if (check_add_overflow(io.first, io.nr, &end) || end > VLQ_TABLE_ENTRIES)
		return -EINVAL;
	if (copy_from_user(d->table + io.first, u64_to_user_ptr(io.entries),
			   io.nr * sizeof(struct vlq_entry)))
		return -EFAULT;
	return 0;
}

/* Positive: array_size() saturates instead of wrapping, which bounds nothing. */
static long vlq_load_array(struct vlq_dev *d, struct vlq_table_io __user *uio)
{
	struct vlq_table_io io;

	if (copy_from_user(&io, uio, sizeof(io)))
		return -EFAULT;
	if (copy_from_user(d->table, u64_to_user_ptr(io.entries), /* expect: GUP005 */
			   array_size(io.nr, sizeof(struct vlq_entry))))
		return -EFAULT;
	return 0;
}

/* Negative: nr is bounded first, so array_size() of it is too. */
static long vlq_load_bounded(struct vlq_dev *d, struct vlq_table_io __user *uio)
{
	struct vlq_table_io io;
	size_t bytes;

	if (copy_from_user(&io, uio, sizeof(io)))
		return -EFAULT;
	if (io.nr > VLQ_TABLE_ENTRIES)
		return -EINVAL;
	bytes = array_size(io.nr, sizeof(struct vlq_entry));
	if (copy_from_user(d->table, u64_to_user_ptr(io.entries), bytes))
		return -EFAULT;
	return 0;
}

/* Negative: only the size and type of *uidx are used. */
static long vlq_peek_used(struct vlq_dev *d, u32 __user *uidx)
{
	typeof(*uidx) idx = d->used_idx;
	size_t bits = sizeof(*uidx) * 8;

	if (bits < 32)
		return -EINVAL;
	return put_user(idx, uidx);
}

static long vlq_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	long ret;

	mutex_lock(&vlq.lock);
	switch (cmd) {
	case VLQ_IOC_SET_RING:
		ret = vlq_set_ring(&vlq, uarg);
		break;
	case VLQ_IOC_SET_WINDOW:
		ret = vlq_set_window(&vlq, uarg);
		break;
	case VLQ_IOC_WIN_READ:
		ret = vlq_win_read(&vlq, uarg);
		break;
	case VLQ_IOC_WIN_READ_RAW:
		ret = vlq_win_read_raw(&vlq, uarg);
		break;
	case VLQ_IOC_LOAD_TABLE:
		ret = vlq_load_table(&vlq, uarg);
		break;
	case VLQ_IOC_LOAD_SLICE:
		ret = vlq_load_slice(&vlq, uarg);
		break;
	case VLQ_IOC_LOAD_ARRAY:
		ret = vlq_load_array(&vlq, uarg);
		break;
	case VLQ_IOC_LOAD_BOUNDED:
		ret = vlq_load_bounded(&vlq, uarg);
		break;
	case VLQ_IOC_PEEK_USED:
		ret = vlq_peek_used(&vlq, uarg);
		break;
	default:
		ret = -ENOTTY;
	}
	mutex_unlock(&vlq.lock);
	return ret;
}

static const struct file_operations vlq_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= vlq_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice vlq_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "vring_lite",
	.fops	= &vlq_fops,
};

static int __init vlq_init(void)
{
	mutex_init(&vlq.lock);
	memset(vlq.scratch, 0x77, sizeof(vlq.scratch));
	return misc_register(&vlq_misc);
}

static void __exit vlq_exit(void)
{
	misc_deregister(&vlq_misc);
}

module_init(vlq_init);
module_exit(vlq_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Virtqueue-like ring with its own range checks (gupcheck GUP005 test case)");
