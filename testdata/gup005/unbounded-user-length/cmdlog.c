/*
 * README: GUP005 case "unbounded-user-length". A length that user space
 * controls (a read/write count, the ioctl argument, a field of a struct copied
 * in) must be bounded before it sizes a copy into or out of a fixed-size
 * kernel object. Look-alikes bound it, clamp it, copy into a buffer allocated
 * with that very length, or use sizeof() as the length.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#define CMDLOG_CMD_MAX		64
#define CMDLOG_LOG_SIZE		256
#define CMDLOG_REG_COUNT	32

struct cmdlog_xfer {
	__u64 data;		/* user pointer */
	__u32 len;
	__u32 reg;
};

struct cmdlog_stats {
	__u64 commands;
	__u64 bytes;
	__u32 errors;
	__u32 last_len;
};

#define CMDLOG_IOC_MAGIC	'L'
#define CMDLOG_IOC_LOAD_REGS	_IOW(CMDLOG_IOC_MAGIC, 1, struct cmdlog_xfer)
#define CMDLOG_IOC_STORE_BLOB	_IOW(CMDLOG_IOC_MAGIC, 2, struct cmdlog_xfer)
#define CMDLOG_IOC_TAIL		_IO(CMDLOG_IOC_MAGIC, 3)
#define CMDLOG_IOC_GET_STATS	_IOR(CMDLOG_IOC_MAGIC, 4, struct cmdlog_stats)
#define CMDLOG_IOC_SAVE_REGS	_IOW(CMDLOG_IOC_MAGIC, 5, struct cmdlog_xfer)

struct cmdlog_dev {
	struct mutex lock;
	u8 regs[CMDLOG_REG_COUNT];
	char log[CMDLOG_LOG_SIZE];
	char tail[CMDLOG_LOG_SIZE];
	size_t log_len;
	void *blob;
	size_t blob_len;
	struct cmdlog_stats stats;
};

static struct cmdlog_dev cmdlog;
static char cmdlog_last_cmd[CMDLOG_CMD_MAX];

static long cmdlog_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	struct cmdlog_xfer xfer;
	void *blob;
	size_t len;
	long ret = 0;

	mutex_lock(&cmdlog.lock);
	switch (cmd) {
	case CMDLOG_IOC_LOAD_REGS:
		if (copy_from_user(&xfer, uarg, sizeof(xfer))) {
			ret = -EFAULT;
			break;
		}
		/* xfer.len is never compared with sizeof(cmdlog.regs). */
		if (copy_from_user(cmdlog.regs, u64_to_user_ptr(xfer.data), xfer.len)) /* expect: GUP005 */
			ret = -EFAULT;
		break;

	case CMDLOG_IOC_SAVE_REGS:
		if (copy_from_user(&xfer, uarg, sizeof(xfer))) {
			ret = -EFAULT;
			break;
		}
		if (xfer.len > sizeof(cmdlog.regs)) {
			ret = -EINVAL;
			break;
		}
		if (copy_to_user(u64_to_user_ptr(xfer.data), cmdlog.regs, xfer.len))
			ret = -EFAULT;
		break;

	case CMDLOG_IOC_STORE_BLOB:
		if (copy_from_user(&xfer, uarg, sizeof(xfer))) {
			ret = -EFAULT;
			break;
		}
		/* The destination is allocated with the user's length. */
		blob = kmalloc(xfer.len, GFP_KERNEL);
		if (!blob) {
			ret = -ENOMEM;
			break;
		}
		if (copy_from_user(blob, u64_to_user_ptr(xfer.data), xfer.len)) {
			kfree(blob);
			ret = -EFAULT;
			break;
		}
		kfree(cmdlog.blob);
		cmdlog.blob = blob;
		cmdlog.blob_len = xfer.len;
		break;

	case CMDLOG_IOC_TAIL:
		/* The argument is the number of log bytes to snapshot. */
		len = (size_t)arg;
		memcpy(cmdlog.tail, cmdlog.log, len); /* expect: GUP005 */
		break;

	case CMDLOG_IOC_GET_STATS:
		if (copy_to_user(uarg, &cmdlog.stats, sizeof(cmdlog.stats)))
			ret = -EFAULT;
		break;

	default:
		ret = -ENOTTY;
	}
	mutex_unlock(&cmdlog.lock);
	return ret;
}

/* Commands are written as text; the last one is kept. */
static ssize_t cmdlog_write(struct file *file, const char __user *buf, size_t count, loff_t *ppos)
{
	char cmd[CMDLOG_CMD_MAX];

	if (count >= sizeof(cmd))
		return -EINVAL;
	if (copy_from_user(cmd, buf, count))
		return -EFAULT;
	cmd[count] = '\0';

	mutex_lock(&cmdlog.lock);
	cmdlog.stats.commands++;
	cmdlog.stats.bytes += count;
	cmdlog.stats.last_len = count;
	strscpy(cmdlog_last_cmd, cmd, sizeof(cmdlog_last_cmd));
	mutex_unlock(&cmdlog.lock);
	return count;
}

/* Same as cmdlog_write but appends raw bytes to the global command buffer. */
static ssize_t cmdlog_raw_write(struct file *file, const char __user *buf, size_t count, loff_t *ppos)
{
	if (count > sizeof(cmdlog_last_cmd))
		pr_warn("cmdlog: command of %zu bytes truncated\n", count);
	if (copy_from_user(cmdlog_last_cmd, buf, count)) /* expect: GUP005 */
		return -EFAULT;
	return count;
}

static ssize_t cmdlog_read(struct file *file, char __user *buf, size_t count, loff_t *ppos)
{
	size_t len;

	mutex_lock(&cmdlog.lock);
	len = min(count, sizeof(cmdlog.log));
	if (copy_to_user(buf, cmdlog.log, len)) {
		mutex_unlock(&cmdlog.lock);
		return -EFAULT;
	}
	mutex_unlock(&cmdlog.lock);
	return len;
}

/* Reads the statistics record, trusting the caller's count. */
static ssize_t cmdlog_stats_read(struct file *file, char __user *buf, size_t count, loff_t *ppos)
{
	struct cmdlog_stats snap;

	mutex_lock(&cmdlog.lock);
	snap = cmdlog.stats;
	mutex_unlock(&cmdlog.lock);
	if (copy_to_user(buf, &snap, count)) /* expect: GUP005 */
		return -EFAULT;
	return count;
}

/* Fills the log from user space, clamped to the log size. */
static ssize_t cmdlog_log_write(struct file *file, const char __user *buf, size_t count, loff_t *ppos)
{
	size_t n = min_t(size_t, count, sizeof(cmdlog.log));

	mutex_lock(&cmdlog.lock);
	if (copy_from_user(cmdlog.log, buf, n)) {
		mutex_unlock(&cmdlog.lock);
		return -EFAULT;
	}
	cmdlog.log_len = n;
	mutex_unlock(&cmdlog.lock);
	return n;
}

static const struct file_operations cmdlog_fops = {
	.owner		= THIS_MODULE,
	.read		= cmdlog_read,
	.write		= cmdlog_write,
	.unlocked_ioctl	= cmdlog_ioctl,
	.llseek		= noop_llseek,
};

static const struct file_operations cmdlog_raw_fops = {
	.owner		= THIS_MODULE,
	.read		= cmdlog_stats_read,
	.write		= cmdlog_raw_write,
	.llseek		= noop_llseek,
};

static const struct file_operations cmdlog_log_fops = {
	.owner		= THIS_MODULE,
	.read		= cmdlog_read,
	.write		= cmdlog_log_write,
	.llseek		= noop_llseek,
};

static struct miscdevice cmdlog_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "cmdlog",
	.fops	= &cmdlog_fops,
};

static struct miscdevice cmdlog_raw_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "cmdlog-raw",
	.fops	= &cmdlog_raw_fops,
};

static struct miscdevice cmdlog_log_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "cmdlog-log",
	.fops	= &cmdlog_log_fops,
};

static int __init cmdlog_init(void)
{
	int ret;

	mutex_init(&cmdlog.lock);
	ret = misc_register(&cmdlog_misc);
	if (ret)
		return ret;
	ret = misc_register(&cmdlog_raw_misc);
	if (ret)
		goto err_main;
	ret = misc_register(&cmdlog_log_misc);
	if (ret)
		goto err_raw;
	return 0;

err_raw:
	misc_deregister(&cmdlog_raw_misc);
err_main:
	misc_deregister(&cmdlog_misc);
	return ret;
}

static void __exit cmdlog_exit(void)
{
	misc_deregister(&cmdlog_log_misc);
	misc_deregister(&cmdlog_raw_misc);
	misc_deregister(&cmdlog_misc);
	kfree(cmdlog.blob);
}

module_init(cmdlog_init);
module_exit(cmdlog_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Command logger (gupcheck GUP005 test case)");
