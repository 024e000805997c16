/*
 * A metering device: READING returns the running total, PEAK the highest
 * sample, LIMITS installs new alarm limits. The user accesses themselves are
 * in meterq.h (see the comment there for what is flagged and why).
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>

#include "meterq.h"

#define METERQ_IOC_MAGIC	'm'
#define METERQ_IOC_READING	_IOR(METERQ_IOC_MAGIC, 1, __u64)
#define METERQ_IOC_PEAK		_IOR(METERQ_IOC_MAGIC, 2, __u64)
#define METERQ_IOC_LIMITS	_IOW(METERQ_IOC_MAGIC, 3, struct meterq_limits)
#define METERQ_IOC_TOTAL	_IOR(METERQ_IOC_MAGIC, 4, __u64)

struct meterq_dev {
	struct mutex lock;
	__u64 total;
	__u64 peak;
	struct meterq_limits limits;
};

static struct meterq_dev meterq = {
	.total = 0x1234,
	.peak = 0x99,
	.limits = { .low = 1, .high = 100 },
};

static long meterq_peak(__u64 __user *dst)
{
	__u64 peak;

	if (!access_ok(dst, sizeof(*dst)))
		return -EFAULT;
	mutex_lock(&meterq.lock);
	peak = meterq.peak;
	mutex_unlock(&meterq.lock);
	return meterq_put_checked(dst, peak);
}

static long meterq_total(__u64 __user *dst)
{
	if (!access_ok(dst, sizeof(*dst)))
		return -EFAULT;
	return meterq_put_checked(dst, meterq.total);
}

static long meterq_set_limits(const void __user *src)
{
	struct meterq_limits limits = meterq.limits;

	meterq_fetch_limits(&limits, src);
	if (limits.low > limits.high)
		return -EINVAL;
	mutex_lock(&meterq.lock);
	meterq.limits = limits;
	mutex_unlock(&meterq.lock);
	return 0;
}

static long meterq_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case METERQ_IOC_READING:
		return meterq_put_reading(uarg, meterq.total);
	case METERQ_IOC_PEAK:
		return meterq_peak(uarg);
	case METERQ_IOC_LIMITS:
		return meterq_set_limits(uarg);
	case METERQ_IOC_TOTAL:
		return meterq_total(uarg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations meterq_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= meterq_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice meterq_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "meterq",
	.fops	= &meterq_fops,
};

static int __init meterq_init(void)
{
	mutex_init(&meterq.lock);
	return misc_register(&meterq_misc);
}

static void __exit meterq_exit(void)
{
	misc_deregister(&meterq_misc);
}

module_init(meterq_init);
module_exit(meterq_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Meter with accessors in its header (gupcheck GUP005 test case)");
