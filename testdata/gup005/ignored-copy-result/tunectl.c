/*
 * README: GUP005 case "ignored-copy-result". copy_from_user/copy_to_user,
 * get_user/put_user, clear_user and strncpy_from_user can fail part-way; a
 * result thrown away (expression statement or cast to void) is flagged.
 * The look-alikes test the result with if, assign it first, or return it.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#define TUNE_NAME_LEN	32

struct tune_config {
	__u32 frequency_khz;
	__u32 bandwidth_khz;
	__s32 gain_db;
	__u32 flags;
};

struct tune_status {
	__u32 locked;
	__s32 rssi_dbm;
	__u32 frequency_khz;
	__u32 errors;
};

#define TUNE_IOC_MAGIC		'u'
#define TUNE_IOC_SET_CONFIG	_IOW(TUNE_IOC_MAGIC, 1, struct tune_config)
#define TUNE_IOC_GET_STATUS	_IOR(TUNE_IOC_MAGIC, 2, struct tune_status)
#define TUNE_IOC_SET_GAIN	_IOW(TUNE_IOC_MAGIC, 3, __s32)
#define TUNE_IOC_GET_GAIN	_IOR(TUNE_IOC_MAGIC, 4, __s32)
#define TUNE_IOC_SET_NAME	_IOW(TUNE_IOC_MAGIC, 5, char *)
#define TUNE_IOC_QUICK_CONFIG	_IOW(TUNE_IOC_MAGIC, 6, struct tune_config)
#define TUNE_IOC_PEEK_STATUS	_IOR(TUNE_IOC_MAGIC, 7, struct tune_status)
#define TUNE_IOC_NUDGE_GAIN	_IOW(TUNE_IOC_MAGIC, 8, __s32)
#define TUNE_IOC_GET_ERRORS	_IOR(TUNE_IOC_MAGIC, 9, __u32)
#define TUNE_IOC_LABEL		_IOW(TUNE_IOC_MAGIC, 10, char *)
#define TUNE_IOC_GET_FREQ	_IOR(TUNE_IOC_MAGIC, 11, __u32)

struct tune_dev {
	struct mutex lock;
	struct tune_config cfg;
	struct tune_status status;
	char name[TUNE_NAME_LEN];
};

static struct tune_dev tuner;

static long tune_set_name(const char __user *uname)
{
	char name[TUNE_NAME_LEN];
	long n;

	n = strncpy_from_user(name, uname, sizeof(name));
	if (n < 0)
		return n;
	if (n == sizeof(name))
		return -ENAMETOOLONG;
	strscpy(tuner.name, name, sizeof(tuner.name));
	return 0;
}

static long tune_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	struct tune_config cfg;
	char label[TUNE_NAME_LEN];
	__s32 gain;
	long ret = 0;

	mutex_lock(&tuner.lock);
	switch (cmd) {
	case TUNE_IOC_SET_CONFIG:
		if (copy_from_user(&cfg, uarg, sizeof(cfg))) {
			ret = -EFAULT;
			break;
		}
		tuner.cfg = cfg;
		break;

	case TUNE_IOC_QUICK_CONFIG:
		(void)copy_from_user(&cfg, uarg, sizeof(cfg)); /* expect: GUP005 */
		tuner.cfg = cfg;
		break;

	case TUNE_IOC_GET_STATUS:
		ret = copy_to_user(uarg, &tuner.status, sizeof(tuner.status)) ? -EFAULT : 0;
		break;

	case TUNE_IOC_PEEK_STATUS:
		copy_to_user(uarg, &tuner.status, sizeof(tuner.status)); /* expect: GUP005 */
		break;

	case TUNE_IOC_SET_GAIN:
		ret = get_user(gain, (__s32 __user *)uarg);
		if (ret)
			break;
		tuner.cfg.gain_db = gain;
		break;

	case TUNE_IOC_NUDGE_GAIN:
		gain = 0;
		get_user(gain, (__s32 __user *)uarg); /* expect: GUP005 */
		tuner.cfg.gain_db += gain;
		break;

	case TUNE_IOC_GET_GAIN:
		if (put_user(tuner.cfg.gain_db, (__s32 __user *)uarg))
			ret = -EFAULT;
		break;

	case TUNE_IOC_GET_ERRORS:
		put_user(tuner.status.errors, (__u32 __user *)uarg); /* expect: GUP005 */
		tuner.status.errors = 0;
		break;

	case TUNE_IOC_GET_FREQ:
		ret = put_user(tuner.cfg.frequency_khz, (__u32 __user *)uarg);
		break;

	case TUNE_IOC_SET_NAME:
		ret = tune_set_name(uarg);
		break;

	case TUNE_IOC_LABEL:
		memset(label, 0, sizeof(label));
		strncpy_from_user(label, uarg, sizeof(label) - 1); /* expect: GUP005 */
		strscpy(tuner.name, label, sizeof(tuner.name));
		break;

	default:
		ret = -ENOTTY;
	}
	mutex_unlock(&tuner.lock);
	return ret;
}

static int tune_fill_status(char __user *buf, size_t count)
{
	struct tune_status st;
	unsigned long left;

	mutex_lock(&tuner.lock);
	st = tuner.status;
	mutex_unlock(&tuner.lock);
	if (copy_to_user(buf, &st, sizeof(st)))
		return -EFAULT;
	left = clear_user(buf + sizeof(st), count - sizeof(st));
	if (left)
		return -EFAULT;
	return 0;
}

/* Reads return the status record; a longer read is padded with zeroes. */
static ssize_t tune_read(struct file *file, char __user *buf, size_t count, loff_t *ppos)
{
	int ret;

	if (count < sizeof(struct tune_status))
		return -EINVAL;
	ret = tune_fill_status(buf, count);
	if (ret)
		return ret;
	return count;
}

/* Writes clear the caller's buffer as an acknowledgement (a legacy quirk). */
static ssize_t tune_write(struct file *file, const char __user *buf, size_t count, loff_t *ppos)
{
	if (count < sizeof(__u32))
		return -EINVAL;
	clear_user((void __user *)buf, sizeof(__u32)); /* expect: GUP005 */
	return count;
}

static const struct file_operations tune_fops = {
	.owner		= THIS_MODULE,
	.read		= tune_read,
	.write		= tune_write,
	.unlocked_ioctl	= tune_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice tune_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "tunectl",
	.fops	= &tune_fops,
};

static int __init tune_init(void)
{
	mutex_init(&tuner.lock);
	strscpy(tuner.name, "tuner0", sizeof(tuner.name));
	return misc_register(&tune_misc);
}

static void __exit tune_exit(void)
{
	misc_deregister(&tune_misc);
}

module_init(tune_init);
module_exit(tune_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Radio tuner control (gupcheck GUP005 test case)");
