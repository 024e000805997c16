/*
 * README: GUP005 case "user-pointer-deref". A __user pointer, or a pointer
 * cast from the ioctl argument, is dereferenced directly (faults or leaks with
 * SMAP, reads kernel memory without it). Look-alikes pass the same pointers
 * to copy_from_user/get_user, take sizeof(*p) or &p->field, or use kernel pointers.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/uaccess.h>

#define LED_COUNT	8

struct led_req {
	__u32 index;
	__u32 brightness;
	__u32 blink_ms;
	__u32 flags;
};

#define LED_IOC_MAGIC		'l'
#define LED_IOC_SET		_IOW(LED_IOC_MAGIC, 1, struct led_req)
#define LED_IOC_SET_FAST	_IOW(LED_IOC_MAGIC, 2, struct led_req)
#define LED_IOC_GET_COUNT	_IOR(LED_IOC_MAGIC, 3, __u32)
#define LED_IOC_PUT_COUNT	_IOR(LED_IOC_MAGIC, 4, __u32)
#define LED_IOC_BLINK		_IOW(LED_IOC_MAGIC, 5, struct led_req)
#define LED_IOC_BLINK_RAW	_IOW(LED_IOC_MAGIC, 6, struct led_req)
#define LED_IOC_REPLAY		_IO(LED_IOC_MAGIC, 7)
#define LED_IOC_SET_INDEX	_IOW(LED_IOC_MAGIC, 8, struct led_req)

struct led_dev {
	struct mutex lock;
	__u32 brightness[LED_COUNT];
	__u32 blink_ms[LED_COUNT];
	struct led_req last;
};

static struct led_dev leds;

static long led_apply(const struct led_req *req)
{
	if (req->index >= LED_COUNT)
		return -EINVAL;
	leds.brightness[req->index] = req->brightness;
	leds.blink_ms[req->index] = req->blink_ms;
	leds.last = *req;
	return 0;
}

static long led_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct led_req __user *ureq = (struct led_req __user *)arg;
	__u32 __user *ucount = (__u32 __user *)arg;
	struct led_req req;
	struct led_req *kreq;
	__u32 index;
	long ret = 0;

	mutex_lock(&leds.lock);
	switch (cmd) {
	case LED_IOC_SET:
		if (copy_from_user(&req, ureq, sizeof(*ureq))) {
			ret = -EFAULT;
			break;
		}
		ret = led_apply(&req);
		break;

	case LED_IOC_SET_FAST:
		/* Reads the index straight out of user memory. */
		if (ureq->index >= LED_COUNT) { /* expect: GUP005 */
			ret = -EINVAL;
			break;
		}
		ret = -EOPNOTSUPP;
		break;

	case LED_IOC_SET_INDEX:
		if (get_user(index, &ureq->index)) {
			ret = -EFAULT;
			break;
		}
		if (index >= LED_COUNT) {
			ret = -EINVAL;
			break;
		}
		leds.brightness[index] = 0;
		break;

	case LED_IOC_GET_COUNT:
		ret = put_user(LED_COUNT, ucount);
		break;

	case LED_IOC_PUT_COUNT:
		*ucount = LED_COUNT; /* expect: GUP005 */
		break;

	case LED_IOC_BLINK: {
		struct led_req *raw = (struct led_req *)arg;

		if (raw->index >= LED_COUNT) { /* expect: GUP005 */
			ret = -EINVAL;
			break;
		}
		ret = -EOPNOTSUPP;
		break;
	}

	case LED_IOC_BLINK_RAW:
		leds.last.blink_ms = ((struct led_req *)arg)->blink_ms; /* expect: GUP005 */
		break;

	case LED_IOC_REPLAY:
		/* A kernel pointer with the same shape: fine. */
		kreq = &leds.last;
		if (kreq->index < LED_COUNT)
			leds.brightness[kreq->index] = kreq->brightness;
		break;

	default:
		ret = -ENOTTY;
	}
	mutex_unlock(&leds.lock);
	return ret;
}

/* "<index><level>" as two digits, e.g. "37" sets LED 3 to level 7. */
static ssize_t led_write(struct file *file, const char __user *buf, size_t count, loff_t *ppos)
{
	char idx, level;

	if (count < 2)
		return -EINVAL;
	if (buf[0] < '0' || buf[0] >= '0' + LED_COUNT) /* expect: GUP005 */
		return -EINVAL;
	if (get_user(idx, buf) || get_user(level, &buf[1]))
		return -EFAULT;
	if (idx < '0' || idx >= '0' + LED_COUNT || level < '0' || level > '9')
		return -EINVAL;

	mutex_lock(&leds.lock);
	leds.brightness[idx - '0'] = (level - '0') * 28;
	mutex_unlock(&leds.lock);
	return count;
}

static const struct file_operations led_fops = {
	.owner		= THIS_MODULE,
	.write		= led_write,
	.unlocked_ioctl	= led_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice led_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "ledctl",
	.fops	= &led_fops,
};

static int __init led_init(void)
{
	mutex_init(&leds.lock);
	return misc_register(&led_misc);
}

static void __exit led_exit(void)
{
	misc_deregister(&led_misc);
}

module_init(led_init);
module_exit(led_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("LED bank control (gupcheck GUP005 test case)");
