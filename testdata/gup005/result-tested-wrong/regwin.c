/*
 * GUP005 case "result-tested-wrong": a register-window device. Each command keeps the result of
 * its copy in a variable, but three of them never act on a failure: one tests it for a negative
 * value (copy_*_user() return the number of bytes NOT copied, never a negative errno), one only
 * logs it and carries on, one never reads it. The look-alikes test the same variable properly:
 * non-zero, or `!= 0` with a log and a return, where it is assigned, or pass it on to the caller.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/uaccess.h>

struct regwin_io {
	__u32 offset;	/* register index, below REGWIN_NR_REGS */
	__u32 value;
};

#define REGWIN_NR_REGS		64
#define REGWIN_IOC_WRITE	_IOW('w', 1, struct regwin_io)
#define REGWIN_IOC_READ		_IOWR('w', 2, struct regwin_io)
#define REGWIN_IOC_WRITE_LOGGED	_IOW('w', 3, struct regwin_io)
#define REGWIN_IOC_SNAPSHOT	_IOR('w', 4, __u32[REGWIN_NR_REGS])
#define REGWIN_IOC_WRITE_OK	_IOW('w', 5, struct regwin_io)
#define REGWIN_IOC_READ_OK	_IOWR('w', 6, struct regwin_io)
#define REGWIN_IOC_SNAPSHOT_OK	_IOR('w', 7, __u32[REGWIN_NR_REGS])
#define REGWIN_IOC_READ_INLINE	_IOWR('w', 8, struct regwin_io)

static DEFINE_MUTEX(regwin_lock);
static u32 regwin_regs[REGWIN_NR_REGS];

static long regwin_store(const struct regwin_io *io)
{
	if (io->offset >= REGWIN_NR_REGS)
		return -EINVAL;
	regwin_regs[io->offset] = io->value;
	return 0;
}

/* Positive: a failed copy is never negative, so the test never sees it. */
static long regwin_write(void __user *uarg)
{
	struct regwin_io io = { 0 };
	unsigned long left;

	left = copy_from_user(&io, uarg, sizeof(io)); /* expect: GUP005 */
	if ((long)left < 0)
		return -EFAULT;
	return regwin_store(&io);
}

/* Positive: the failure is printed, then the command goes on as if it had worked. */
static long regwin_write_logged(void __user *uarg)
{
	struct regwin_io io = { 0 };
	int rv;

	rv = copy_from_user(&io, uarg, sizeof(io)); /* expect: GUP005 */
	if (rv)
		pr_info("regwin: %d bytes of the request not copied, continuing\n", rv);
	return regwin_store(&io);
}

/* Positive: the result is kept and never looked at. */
static long regwin_snapshot(void __user *uarg)
{
	unsigned long left;

	left = copy_to_user(uarg, regwin_regs, sizeof(regwin_regs)); /* expect: GUP005 */
	return 0;
}

/* Negative: the same write, testing the count for non-zero. */
static long regwin_write_ok(void __user *uarg)
{
	struct regwin_io io;
	unsigned long left;

	left = copy_from_user(&io, uarg, sizeof(io));
	if (left)
		return -EFAULT;
	return regwin_store(&io);
}

/* Negative: logged and refused. */
static long regwin_read_ok(void __user *uarg)
{
	struct regwin_io io;
	int rv;

	rv = copy_from_user(&io, uarg, sizeof(io));
	if (rv) {
		pr_info("regwin: %d bytes of the request not copied\n", rv);
		return -EFAULT;
	}
	if (io.offset >= REGWIN_NR_REGS)
		return -EINVAL;
	io.value = regwin_regs[io.offset];
	rv = copy_to_user(uarg, &io, sizeof(io));
	return rv ? -EFAULT : 0;
}

/* Negative: the count goes back to the caller, which tests it. */
static unsigned long regwin_copy_out(void __user *uarg)
{
	unsigned long left;

	left = copy_to_user(uarg, regwin_regs, sizeof(regwin_regs));
	return left;
}

/* Negative: tested in the condition that assigns it. */
static long regwin_read_inline(void __user *uarg)
{
	struct regwin_io io;
	unsigned long left;

	if ((left = copy_from_user(&io, uarg, sizeof(io))) != 0)
		return -EFAULT;
	if (io.offset >= REGWIN_NR_REGS)
		return -EINVAL;
	io.value = regwin_regs[io.offset];
	return copy_to_user(uarg, &io, sizeof(io)) ? -EFAULT : 0;
}

static long regwin_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	long ret;

	mutex_lock(&regwin_lock);
	switch (cmd) {
	case REGWIN_IOC_WRITE:
		ret = regwin_write(uarg);
		break;
	case REGWIN_IOC_WRITE_LOGGED:
		ret = regwin_write_logged(uarg);
		break;
	case REGWIN_IOC_SNAPSHOT:
		ret = regwin_snapshot(uarg);
		break;
	case REGWIN_IOC_WRITE_OK:
		ret = regwin_write_ok(uarg);
		break;
	case REGWIN_IOC_READ_OK:
		ret = regwin_read_ok(uarg);
		break;
	case REGWIN_IOC_SNAPSHOT_OK:
		ret = regwin_copy_out(uarg) ? -EFAULT : 0;
		break;
	case REGWIN_IOC_READ_INLINE:
		ret = regwin_read_inline(uarg);
		break;
	default:
		ret = -ENOTTY;
	}
	mutex_unlock(&regwin_lock);
	return ret;
}

static const struct file_operations regwin_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= regwin_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice regwin_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "regwin",
	.fops	= &regwin_fops,
};
module_misc_device(regwin_misc);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gupcheck testdata: GUP005 result-tested-wrong");
