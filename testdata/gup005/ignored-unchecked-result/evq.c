/*
 * README: GUP005 case "ignored-unchecked-result". An event queue whose ioctls
 * check the user range once with access_ok() and then use the unchecked
 * accessors (__copy_from_user, __copy_to_user, __get_user, __put_user). They
 * skip the range check, not the fault handling: an unmapped page still makes
 * them fail, and a result thrown away is flagged like one of copy_from_user.
 * The look-alikes test the result, assign it, or return it.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#define EVQ_DEPTH	16

struct evq_event {
	__u32 code;
	__u32 value;
	__u64 stamp;
};

#define EVQ_IOC_MAGIC		'q'
#define EVQ_IOC_POST		_IOW(EVQ_IOC_MAGIC, 1, struct evq_event)
#define EVQ_IOC_TAKE		_IOR(EVQ_IOC_MAGIC, 2, struct evq_event)
#define EVQ_IOC_SET_MASK	_IOW(EVQ_IOC_MAGIC, 3, __u32)
#define EVQ_IOC_PENDING		_IOR(EVQ_IOC_MAGIC, 4, __u32)
#define EVQ_IOC_POST_SAFE	_IOW(EVQ_IOC_MAGIC, 5, struct evq_event)
#define EVQ_IOC_PEEK		_IOR(EVQ_IOC_MAGIC, 6, struct evq_event)
#define EVQ_IOC_GET_MASK	_IOR(EVQ_IOC_MAGIC, 7, __u32)
#define EVQ_IOC_SET_MASK_SAFE	_IOW(EVQ_IOC_MAGIC, 8, __u32)

struct evq_dev {
	struct mutex lock;
	struct evq_event ring[EVQ_DEPTH];
	unsigned int head, count;
	u32 mask;
};

static struct evq_dev evq;

static void evq_push(const struct evq_event *ev)
{
	if (!(evq.mask & (1u << (ev->code & 31))))
		return;
	evq.ring[(evq.head + evq.count) % EVQ_DEPTH] = *ev;
	if (evq.count < EVQ_DEPTH)
		evq.count++;
	else
		evq.head = (evq.head + 1) % EVQ_DEPTH;
}

/* Positive: a fault leaves ev zeroed, and a zeroed event is queued as if posted. */
static long evq_post(struct evq_event __user *uev)
{
	struct evq_event ev = {};

	if (!access_ok(uev, sizeof(*uev)))
		return -EFAULT;
	__copy_from_user(&ev, uev, sizeof(ev)); /* expect: GUP005 */
	evq_push(&ev);
	return 0;
}

/* Negative: the same, with the result tested. */
static long evq_post_safe(struct evq_event __user *uev)
{
	struct evq_event ev;

	if (!access_ok(uev, sizeof(*uev)))
		return -EFAULT;
	if (__copy_from_user(&ev, uev, sizeof(ev)))
		return -EFAULT;
	evq_push(&ev);
	return 0;
}

/* Positive: the event leaves the queue whether or not it reached user space. */
static long evq_take(struct evq_event __user *uev)
{
	if (!access_ok(uev, sizeof(*uev)))
		return -EFAULT;
	if (!evq.count)
		return -EAGAIN;
	__copy_to_user(uev, &evq.ring[evq.head], sizeof(*uev)); /* expect: GUP005 */
	evq.head = (evq.head + 1) % EVQ_DEPTH;
	evq.count--;
	return 0;
}

/* Negative: the event stays queued when the copy fails. */
static long evq_peek(struct evq_event __user *uev)
{
	unsigned long left;

	if (!access_ok(uev, sizeof(*uev)))
		return -EFAULT;
	if (!evq.count)
		return -EAGAIN;
	left = __copy_to_user(uev, &evq.ring[evq.head], sizeof(*uev));
	return left ? -EFAULT : 0;
}

/* Positive: a fault sets the mask to 0, silently muting every event. */
static long evq_set_mask(u32 __user *umask)
{
	u32 mask = 0;

	if (!access_ok(umask, sizeof(*umask)))
		return -EFAULT;
	__get_user(mask, umask); /* expect: GUP005 */
	evq.mask = mask;
	return 0;
}

/* Negative: the error of __get_user is returned. */
static long evq_set_mask_safe(u32 __user *umask)
{
	u32 mask;
	int err;

	if (!access_ok(umask, sizeof(*umask)))
		return -EFAULT;
	err = __get_user(mask, umask);
	if (err)
		return err;
	evq.mask = mask;
	return 0;
}

/* Positive: reports success although the count never arrived. */
static long evq_pending(u32 __user *ucount)
{
	if (!access_ok(ucount, sizeof(*ucount)))
		return -EFAULT;
	__put_user(evq.count, ucount); /* expect: GUP005 */
	return 0;
}

/* Negative: the result of __put_user is the ioctl's. */
static long evq_get_mask(u32 __user *umask)
{
	if (!access_ok(umask, sizeof(*umask)))
		return -EFAULT;
	return __put_user(evq.mask, umask);
}

static long evq_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	long ret;

	mutex_lock(&evq.lock);
	switch (cmd) {
	case EVQ_IOC_POST:
		ret = evq_post(uarg);
		break;
	case EVQ_IOC_POST_SAFE:
		ret = evq_post_safe(uarg);
		break;
	case EVQ_IOC_TAKE:
		ret = evq_take(uarg);
		break;
	case EVQ_IOC_PEEK:
		ret = evq_peek(uarg);
		break;
	case EVQ_IOC_SET_MASK:
		ret = evq_set_mask(uarg);
		break;
	case EVQ_IOC_SET_MASK_SAFE:
		ret = evq_set_mask_safe(uarg);
		break;
	case EVQ_IOC_PENDING:
		ret = evq_pending(uarg);
		break;
	case EVQ_IOC_GET_MASK:
		ret = evq_get_mask(uarg);
		break;
	default:
		ret = -ENOTTY;
	}
	mutex_unlock(&evq.lock);
	return ret;
}

static const struct file_operations evq_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= evq_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice evq_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "evq",
	.fops	= &evq_fops,
};

static int __init evq_init(void)
{
	mutex_init(&evq.lock);
	evq.mask = ~0u;
	return misc_register(&evq_misc);
}

static void __exit evq_exit(void)
{
	misc_deregister(&evq_misc);
}

module_init(evq_init);
module_exit(evq_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Event queue (gupcheck GUP005 test case)");
