/*
 * README: GUP005 case "unchecked-double-underscore". The __copy_*_user,
 * __get_user, __put_user and __clear_user calls below skip the range check,
 * so each needs an access_ok() on that pointer on every path before it.
 * Flagged: no check, check on one branch only, a check that does not return,
 * and a helper with an unchecked caller; not an address of unknown origin.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/uaccess.h>

#define STAMP_MAX_SAMPLES	32

struct stamp_sample {
	__u64 ns;
	__u32 channel;
	__u32 flags;
};

struct stamp_batch {
	__u32 count;
	__u32 flags;
	__u64 samples;		/* user pointer to struct stamp_sample[count] */
	__u64 done;		/* user pointer to a __u32: how many samples were written */
};

#define STAMP_BATCH_VERBOSE	0x1

#define STAMP_IOC_MAGIC		'T'
#define STAMP_IOC_SET_CHANNEL	_IOW(STAMP_IOC_MAGIC, 1, __u32)
#define STAMP_IOC_GET_SAMPLE	_IOR(STAMP_IOC_MAGIC, 2, struct stamp_sample)
#define STAMP_IOC_GET_COUNTER	_IOR(STAMP_IOC_MAGIC, 3, __u64)
#define STAMP_IOC_READ_BATCH	_IOWR(STAMP_IOC_MAGIC, 4, struct stamp_batch)
#define STAMP_IOC_LAST_SAMPLE	_IOR(STAMP_IOC_MAGIC, 5, struct stamp_sample)
#define STAMP_IOC_PEEK_CHANNEL	_IOR(STAMP_IOC_MAGIC, 6, __u32)
#define STAMP_IOC_WIPE		_IOW(STAMP_IOC_MAGIC, 7, struct stamp_sample)
#define STAMP_IOC_COPY_SAMPLE	_IOWR(STAMP_IOC_MAGIC, 8, struct stamp_sample)
#define STAMP_IOC_LOAD_CHANNEL	_IOW(STAMP_IOC_MAGIC, 9, __u32)
#define STAMP_IOC_SYNC_SAMPLE	_IOR(STAMP_IOC_MAGIC, 10, struct stamp_sample)
#define STAMP_IOC_ACK_BATCH	_IOWR(STAMP_IOC_MAGIC, 11, struct stamp_batch)

struct stamp_dev {
	struct mutex lock;
	__u32 channel;
	__u64 counter;
	__u64 mirror;		/* user address that receives synced samples */
	struct stamp_sample ring[STAMP_MAX_SAMPLES];
	unsigned int head;
};

static struct stamp_dev stamp;

/* Only reached from callers that ran access_ok() on 'uchan': fine. */
static int stamp_read_channel(__u32 __user *uchan, __u32 *out)
{
	return __get_user(*out, uchan);
}

/* One caller checks 'dst', the other does not: flagged here. */
static int stamp_write_result(struct stamp_sample __user *dst, const struct stamp_sample *s)
{
	if (__copy_to_user(dst, s, sizeof(*s))) /* expect: GUP005 */
		return -EFAULT;
	return 0;
}

static struct stamp_sample *stamp_latest(void)
{
	return &stamp.ring[(stamp.head + STAMP_MAX_SAMPLES - 1) % STAMP_MAX_SAMPLES];
}

static long stamp_batch_read(struct stamp_batch __user *ubatch)
{
	struct stamp_sample __user *dst;
	__u32 __user *udone;
	struct stamp_batch batch;
	unsigned int i;

	if (copy_from_user(&batch, ubatch, sizeof(batch)))
		return -EFAULT;
	if (batch.count > STAMP_MAX_SAMPLES)
		return -EINVAL;
	dst = u64_to_user_ptr(batch.samples);

	/* Checks the whole array once, then stores element by element: fine. */
	if (!access_ok(dst, batch.count * sizeof(*dst)))
		return -EFAULT;
	for (i = 0; i < batch.count; i++) {
		if (__put_user(stamp.ring[i].ns, &dst[i].ns))
			return -EFAULT;
	}

	/* The completion counter is checked on the verbose path only. */
	udone = u64_to_user_ptr(batch.done);
	if (batch.flags & STAMP_BATCH_VERBOSE) {
		if (!access_ok(udone, sizeof(*udone)))
			return -EFAULT;
	}
	if (__put_user(batch.count, udone)) /* expect: GUP005 */
		return -EFAULT;
	return 0;
}

/*
 * A successful copy_from_user() of the whole struct already passed access_ok() on its range,
 * so writing one field back with __put_user() is fine.
 */
static long stamp_ack_batch(struct stamp_batch __user *ubatch)
{
	struct stamp_batch batch;

	if (copy_from_user(&batch, ubatch, sizeof(batch)))
		return -EFAULT;
	if (batch.count > STAMP_MAX_SAMPLES)
		return -EINVAL;
	return __put_user(batch.count, &ubatch->flags);
}

static long stamp_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	struct stamp_sample sample;
	__u32 chan;
	long ret = 0;

	mutex_lock(&stamp.lock);
	switch (cmd) {
	case STAMP_IOC_SET_CHANNEL:
		if (!access_ok(uarg, sizeof(__u32))) {
			ret = -EFAULT;
			break;
		}
		ret = stamp_read_channel(uarg, &chan);
		if (!ret)
			stamp.channel = chan;
		break;

	case STAMP_IOC_LOAD_CHANNEL:
		if (unlikely(!access_ok(uarg, sizeof(__u32)))) {
			ret = -EFAULT;
			break;
		}
		ret = stamp_read_channel(uarg, &chan);
		break;

	case STAMP_IOC_GET_SAMPLE:
		if (!access_ok(uarg, sizeof(sample))) {
			ret = -EFAULT;
			break;
		}
		ret = stamp_write_result(uarg, stamp_latest());
		break;

	case STAMP_IOC_LAST_SAMPLE:
		/* No check before the helper. */
		ret = stamp_write_result(uarg, stamp_latest());
		break;

	case STAMP_IOC_GET_COUNTER:
		if (!access_ok(uarg, sizeof(__u64)))
			pr_warn("stampctl: bad counter pointer\n");
		if (__put_user(stamp.counter, (__u64 __user *)uarg)) /* expect: GUP005 */
			ret = -EFAULT;
		break;

	case STAMP_IOC_PEEK_CHANNEL:
		if (access_ok(uarg, sizeof(__u32)))
			ret = __put_user(stamp.channel, (__u32 __user *)uarg) ? -EFAULT : 0;
		else
			ret = -EFAULT;
		break;

	case STAMP_IOC_WIPE:
		if (__clear_user(uarg, sizeof(struct stamp_sample))) /* expect: GUP005 */
			ret = -EFAULT;
		break;

	case STAMP_IOC_COPY_SAMPLE:
		if (!access_ok(uarg, sizeof(sample))) {
			ret = -EFAULT;
			break;
		}
		if (__copy_from_user(&sample, uarg, sizeof(sample))) {
			ret = -EFAULT;
			break;
		}
		stamp.ring[stamp.head] = sample;
		stamp.head = (stamp.head + 1) % STAMP_MAX_SAMPLES;
		break;

	case STAMP_IOC_SYNC_SAMPLE: {
		struct stamp_sample __user *uin = uarg;
		struct stamp_sample __user *uout = u64_to_user_ptr(stamp.mirror);

		/* 'uout' is read from a field nothing sets from user input: of unknown origin, not flagged. */
		if (!access_ok(uin, sizeof(*uin))) {
			ret = -EFAULT;
			break;
		}
		if (__copy_from_user(&sample, uin, sizeof(sample))) {
			ret = -EFAULT;
			break;
		}
		if (__copy_to_user(uout, &sample, sizeof(sample)))
			ret = -EFAULT;
		break;
	}

	case STAMP_IOC_READ_BATCH:
		ret = stamp_batch_read(uarg);
		break;

	case STAMP_IOC_ACK_BATCH:
		ret = stamp_ack_batch(uarg);
		break;

	default:
		ret = -ENOTTY;
	}
	mutex_unlock(&stamp.lock);
	return ret;
}

static ssize_t stamp_read(struct file *file, char __user *buf, size_t count, loff_t *ppos)
{
	struct stamp_sample s;

	if (count < sizeof(s))
		return -EINVAL;
	if (!access_ok(buf, sizeof(s)))
		return -EFAULT;
	mutex_lock(&stamp.lock);
	s = *stamp_latest();
	mutex_unlock(&stamp.lock);
	if (__copy_to_user(buf, &s, sizeof(s)))
		return -EFAULT;
	return sizeof(s);
}

static const struct file_operations stamp_fops = {
	.owner		= THIS_MODULE,
	.read		= stamp_read,
	.unlocked_ioctl	= stamp_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice stamp_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "stampctl",
	.fops	= &stamp_fops,
};

static int __init stamp_init(void)
{
	mutex_init(&stamp.lock);
	return misc_register(&stamp_misc);
}

static void __exit stamp_exit(void)
{
	misc_deregister(&stamp_misc);
}

module_init(stamp_init);
module_exit(stamp_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Timestamp sampler (gupcheck GUP005 test case)");
