/*
 * delayline.c - a userspace delay line between two tap devices, for
 * benchmarks that need a link with latency on a kernel without netem.
 *
 *   delayline TAP_A TAP_B DELAY_US [SLOTS]
 *
 * Creates TAP_A and TAP_B (IFF_TAP, no packet info).  Every frame read
 * from one is written to the other DELAY_US microseconds later, through
 * a ring of timestamped frames per direction (SLOTS frames each, default
 * 16384; a full ring drops, like a full queue).  The caller moves the
 * taps into network namespaces and configures them once "ready" is
 * printed; the delay line keeps the fds.  SIGTERM/SIGINT end it and it
 * prints frame counts.  Frames up to 2048 bytes (MTU 1500 is assumed).
 * Not here: loss, jitter, rate limits, reordering.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define FRAME_MAX 2048

struct ring {
	uint8_t *buf;		/* slots * FRAME_MAX */
	uint16_t *len;
	uint64_t *due;		/* ns, CLOCK_MONOTONIC */
	size_t slots, head, count;
	unsigned long in, out, dropped;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int tap_open(const char *name)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0) {
		perror("/dev/net/tun");
		exit(1);
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		perror(name);
		exit(1);
	}
	return fd;
}

static void ring_init(struct ring *r, size_t slots)
{
	r->slots = slots;
	r->buf = mmap(NULL, slots * FRAME_MAX, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	r->len = calloc(slots, sizeof(*r->len));
	r->due = calloc(slots, sizeof(*r->due));
	if (r->buf == MAP_FAILED || !r->len || !r->due) {
		perror("ring");
		exit(1);
	}
}

/* Read every frame waiting on fd into the ring, stamped now + delay. */
static void take(int fd, struct ring *r, uint64_t delay)
{
	for (int i = 0; i < 512; i++) {
		uint8_t scratch[FRAME_MAX];
		size_t tail = (r->head + r->count) % r->slots;
		uint8_t *p = r->count < r->slots ? r->buf + tail * FRAME_MAX
						 : scratch;
		ssize_t n = read(fd, p, FRAME_MAX);

		if (n <= 0)
			return;
		r->in++;
		if (p == scratch) {
			r->dropped++;
			continue;
		}
		r->len[tail] = (uint16_t)n;
		r->due[tail] = now_ns() + delay;
		r->count++;
	}
}

/* Write every frame that is due to fd. */
static void give(int fd, struct ring *r, uint64_t now)
{
	while (r->count && r->due[r->head] <= now) {
		ssize_t n = write(fd, r->buf + r->head * FRAME_MAX,
				  r->len[r->head]);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0)
			r->dropped++;
		else
			r->out++;
		r->head = (r->head + 1) % r->slots;
		r->count--;
	}
}

int main(int argc, char **argv)
{
	struct ring ab = { 0 }, ba = { 0 };
	struct pollfd pfd[2];
	uint64_t delay;
	size_t slots = 16384;
	struct sigaction sa = { .sa_handler = on_signal };

	if (argc < 4) {
		fprintf(stderr, "usage: delayline TAP_A TAP_B DELAY_US "
			"[SLOTS]\n");
		return 2;
	}
	delay = strtoull(argv[3], NULL, 10) * 1000u;
	if (argc > 4)
		slots = strtoul(argv[4], NULL, 10);
	pfd[0].fd = tap_open(argv[1]);
	pfd[1].fd = tap_open(argv[2]);
	ring_init(&ab, slots);
	ring_init(&ba, slots);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* Sleep as precisely as the kernel allows: the delay is the point. */
	prctl(PR_SET_TIMERSLACK, 1UL);
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		uint64_t now = now_ns(), next = UINT64_MAX;
		struct timespec ts, *tsp = NULL;

		give(pfd[1].fd, &ab, now);
		give(pfd[0].fd, &ba, now);
		if (ab.count)
			next = ab.due[ab.head];
		if (ba.count && ba.due[ba.head] < next)
			next = ba.due[ba.head];
		if (next != UINT64_MAX) {
			uint64_t wait = next > now ? next - now : 0;
			ts.tv_sec = (time_t)(wait / 1000000000u);
			ts.tv_nsec = (long)(wait % 1000000000u);
			tsp = &ts;
		}
		pfd[0].events = pfd[1].events = POLLIN;
		if (ppoll(pfd, 2, tsp, NULL) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents & POLLIN)
			take(pfd[0].fd, &ab, delay);
		if (pfd[1].revents & POLLIN)
			take(pfd[1].fd, &ba, delay);
	}
	printf("%s->%s: %lu frames in, %lu out, %lu dropped\n", argv[1],
	       argv[2], ab.in, ab.out, ab.dropped);
	printf("%s->%s: %lu frames in, %lu out, %lu dropped\n", argv[2],
	       argv[1], ba.in, ba.out, ba.dropped);
	return 0;
}
