/*
 * Repro of testdata/gup005/ignored-unchecked-result: each request gets an address just unmapped.
 * access_ok() accepts it (it lies in user space); the unchecked accessor then faults. Where the
 * driver ignores that, the request reports success: a zeroed event is queued, a queued event is
 * lost, the mask is muted, a count is never delivered. The look-alikes return -EFAULT.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

struct evq_event {
	uint32_t code;
	uint32_t value;
	uint64_t stamp;
};

#define EVQ_IOC_POST		_IOW('q', 1, struct evq_event)
#define EVQ_IOC_TAKE		_IOR('q', 2, struct evq_event)
#define EVQ_IOC_SET_MASK	_IOW('q', 3, uint32_t)
#define EVQ_IOC_PENDING		_IOR('q', 4, uint32_t)
#define EVQ_IOC_POST_SAFE	_IOW('q', 5, struct evq_event)
#define EVQ_IOC_PEEK		_IOR('q', 6, struct evq_event)
#define EVQ_IOC_GET_MASK	_IOR('q', 7, uint32_t)
#define EVQ_IOC_SET_MASK_SAFE	_IOW('q', 8, uint32_t)

/* Opens the device with every event code let through (a scenario before may have muted some). */
static int open_evq(void)
{
	uint32_t all = ~0u;
	int fd = open("/dev/evq", O_RDWR);

	if (fd >= 0 && ioctl(fd, EVQ_IOC_SET_MASK_SAFE, &all)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The result of `request` on an address with nothing mapped: 0 or -errno. */
static long on_hole(int fd, unsigned long request)
{
	void *hole = unmapped_address();

	if (!hole)
		return -ENOMEM;
	return ioctl(fd, request, hole) < 0 ? -errno : 0;
}

/* Takes every queued event out (through the checked path of a valid buffer); how many there were. */
static int drain(int fd)
{
	struct evq_event ev;
	int n = 0;

	while (n < 64 && ioctl(fd, EVQ_IOC_PEEK, &ev) == 0 && ioctl(fd, EVQ_IOC_TAKE, &ev) == 0)
		n++;
	return n;
}

static int post_queues_event_that_never_arrived(void)
{
	int fd = open_evq(), queued;
	long ret;

	if (fd < 0)
		return setup_error("/dev/evq: %s", strerror(errno));
	drain(fd);
	ret = on_hole(fd, EVQ_IOC_POST);
	queued = drain(fd);
	close(fd);
	if (ret == 0 && queued)
		return bug("EVQ_IOC_POST from an unmapped address returned 0 and queued %d event(s) "
			   "that never came from user space", queued);
	return ok("EVQ_IOC_POST from an unmapped address returned %ld (%d queued)", ret, queued);
}

static int post_safe_reports_fault(void)
{
	int fd = open_evq(), queued;
	long ret;

	if (fd < 0)
		return setup_error("/dev/evq: %s", strerror(errno));
	drain(fd);
	ret = on_hole(fd, EVQ_IOC_POST_SAFE);
	queued = drain(fd);
	close(fd);
	if (ret != -EFAULT || queued)
		return bug("EVQ_IOC_POST_SAFE from an unmapped address returned %ld and queued %d", ret, queued);
	return ok("EVQ_IOC_POST_SAFE from an unmapped address returned -EFAULT and queued nothing");
}

/* Posts one event, then asks for it into an unmapped address; whether it is still queued after. */
static long take_or_peek_on_hole(unsigned long request, int *still_queued)
{
	struct evq_event ev = { .code = 3, .value = 42 };
	int fd = open_evq();
	long ret;

	*still_queued = -1;
	if (fd < 0)
		return -1000 - errno;
	drain(fd);
	if (ioctl(fd, EVQ_IOC_POST_SAFE, &ev)) {
		close(fd);
		return -2000 - errno;
	}
	ret = on_hole(fd, request);
	*still_queued = drain(fd);
	close(fd);
	return ret;
}

static int take_drops_event_it_could_not_deliver(void)
{
	int still_queued;
	long ret = take_or_peek_on_hole(EVQ_IOC_TAKE, &still_queued);

	if (ret <= -1000)
		return setup_error("/dev/evq or EVQ_IOC_POST_SAFE failed (%ld)", ret);
	if (ret == 0 && still_queued == 0)
		return bug("EVQ_IOC_TAKE into an unmapped address returned 0 and the event left the queue: "
			   "it was lost without reaching user space");
	return ok("EVQ_IOC_TAKE into an unmapped address returned %ld (%d still queued)", ret, still_queued);
}

static int peek_keeps_event_on_fault(void)
{
	int still_queued;
	long ret = take_or_peek_on_hole(EVQ_IOC_PEEK, &still_queued);

	if (ret <= -1000)
		return setup_error("/dev/evq or EVQ_IOC_POST_SAFE failed (%ld)", ret);
	if (ret != -EFAULT || still_queued != 1)
		return bug("EVQ_IOC_PEEK into an unmapped address returned %ld (%d still queued)", ret, still_queued);
	return ok("EVQ_IOC_PEEK into an unmapped address returned -EFAULT and the event stayed queued");
}

static int hides_fault(unsigned long request, const char *name)
{
	int fd = open_evq();
	long ret;

	if (fd < 0)
		return setup_error("/dev/evq: %s", strerror(errno));
	ret = on_hole(fd, request);
	close(fd);
	if (ret == 0)
		return bug("%s with an unmapped address returned 0 (success): the fault was ignored", name);
	return ok("%s with an unmapped address returned %ld", name, ret);
}

static int reports_fault(unsigned long request, const char *name)
{
	int fd = open_evq();
	long ret;

	if (fd < 0)
		return setup_error("/dev/evq: %s", strerror(errno));
	ret = on_hole(fd, request);
	close(fd);
	if (ret != -EFAULT)
		return bug("%s with an unmapped address returned %ld, not -EFAULT", name, ret);
	return ok("%s with an unmapped address returned -EFAULT", name);
}

static int set_mask_hides_fault(void)
{
	return hides_fault(EVQ_IOC_SET_MASK, "EVQ_IOC_SET_MASK");
}

static int set_mask_safe_reports_fault(void)
{
	return reports_fault(EVQ_IOC_SET_MASK_SAFE, "EVQ_IOC_SET_MASK_SAFE");
}

static int pending_hides_fault(void)
{
	return hides_fault(EVQ_IOC_PENDING, "EVQ_IOC_PENDING");
}

static int get_mask_reports_fault(void)
{
	return reports_fault(EVQ_IOC_GET_MASK, "EVQ_IOC_GET_MASK");
}

REPRO_SCENARIOS(
	{ "post-queues-event-that-never-arrived", post_queues_event_that_never_arrived },
	{ "post-safe-reports-fault", post_safe_reports_fault },
	{ "take-drops-event-it-could-not-deliver", take_drops_event_it_could_not_deliver },
	{ "peek-keeps-event-on-fault", peek_keeps_event_on_fault },
	{ "set-mask-hides-fault", set_mask_hides_fault },
	{ "set-mask-safe-reports-fault", set_mask_safe_reports_fault },
	{ "pending-hides-fault", pending_hides_fault },
	{ "get-mask-reports-fault", get_mask_reports_fault },
)
