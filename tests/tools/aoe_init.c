/*
 * aoe_init.c - a userspace ATA over Ethernet initiator for tests and
 * benchmarks: discovery, IDENTIFY, single ATA and config requests, and
 * reading a sector range with many requests outstanding (batched with
 * recvmmsg/sendmmsg), to a file, to stdout or only timed.
 *
 * The read loop is kept cheap so that a benchmark measures the target:
 * two system calls per round (sendmmsg, then a recvmmsg that waits for
 * the first reply), requests past the qdisc layer, and, when only
 * timing, no copy of the reply data.
 *
 * Output is one "key=value ..." line per result so tests can parse it.
 * Left out: writes of data (the "ata" command can send a write opcode
 * with the W flag and one zero sector, to check that it is refused),
 * multipath, congestion control beyond a fixed window, and a
 * PACKET_RX_RING (a TPACKET_V2 ring was measured: it saves the receive
 * call but the kernel's per-frame ring bookkeeping and a wake-up per
 * frame cost the sender more than recvmmsg saved here).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ETH_P_AOE 0x88a2
#define BATCH 64
#define FRAME 9216

static struct {
	const char *ifname;
	unsigned shelf, slot;	/* 0xffff / 0xff = any */
	unsigned window;	/* requests outstanding */
	unsigned spr;		/* sectors per request, 0 = advertised */
	int timeout_ms;		/* retransmit timeout */
	int retries;
	int wait_ms;		/* discovery collection time */
	const char *out;	/* read: output file, "-" = stdout */
	uint64_t limit;		/* bench: sectors, 0 = whole disk */
} opt = { NULL, 0xffff, 0xff, 16, 0, 200, 50, 500, NULL, 0 };

static int sock;
static int ifindex;
static uint8_t mymac[6], tmac[6];
static unsigned tshelf, tslot, tscnt, tbufcnt;

static void die(const char *what)
{
	fprintf(stderr, "aoe_init: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void open_sock(void)
{
	struct sockaddr_ll sll = { 0 };
	struct ifreq ifr = { 0 };
	int one = 1, buf = 32 << 20;

	sock = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_AOE));
	if (sock < 0)
		die("socket");
	ifindex = (int)if_nametoindex(opt.ifname);
	if (!ifindex)
		die(opt.ifname);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", opt.ifname);
	if (ioctl(sock, SIOCGIFHWADDR, &ifr) < 0)
		die("SIOCGIFHWADDR");
	memcpy(mymac, ifr.ifr_hwaddr.sa_data, 6);
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_AOE);
	sll.sll_ifindex = ifindex;
	if (bind(sock, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		die("bind");
	(void)setsockopt(sock, SOL_PACKET, 23 /* PACKET_IGNORE_OUTGOING */,
			 &one, sizeof(one));
	/* the requests skip the qdisc layer, as the target's replies do */
	(void)setsockopt(sock, SOL_PACKET, PACKET_QDISC_BYPASS, &one,
			 sizeof(one));
	if (setsockopt(sock, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)))
		(void)setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &buf,
				 sizeof(buf));
	if (setsockopt(sock, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)))
		(void)setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &buf,
				 sizeof(buf));
}

static void put_hdr(uint8_t *f, const uint8_t *dst, unsigned shelf,
		    unsigned slot, unsigned cmd, uint32_t tag)
{
	memset(f, 0, 60);
	memcpy(f, dst, 6);
	memcpy(f + 6, mymac, 6);
	f[12] = 0x88;
	f[13] = 0xa2;
	f[14] = 0x10;
	f[16] = (uint8_t)(shelf >> 8);
	f[17] = (uint8_t)shelf;
	f[18] = (uint8_t)slot;
	f[19] = (uint8_t)cmd;
	f[20] = (uint8_t)(tag >> 24);
	f[21] = (uint8_t)(tag >> 16);
	f[22] = (uint8_t)(tag >> 8);
	f[23] = (uint8_t)tag;
}

static uint32_t get_tag(const uint8_t *f)
{
	return (uint32_t)f[20] << 24 | (uint32_t)f[21] << 16 |
	       (uint32_t)f[22] << 8 | f[23];
}

static void send_frame(const uint8_t *f, size_t len)
{
	if (send(sock, f, len, 0) < 0)
		die("send");
}

/* Wait up to ms for one frame; returns its length or 0 on timeout. */
static ssize_t recv_frame(uint8_t *f, size_t cap, int ms)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, ms) <= 0)
		return 0;
	n = recv(sock, f, cap, MSG_DONTWAIT);
	return n < 0 ? 0 : n;
}

static void hexmac(char *s, const uint8_t *m)
{
	sprintf(s, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
		m[4], m[5]);
}

static void print_cfg(FILE *out, const uint8_t *f, size_t n)
{
	char mac[20], str[1100];
	unsigned len = (unsigned)(f[30] << 8 | f[31]);

	if (len > n - 32)
		len = (unsigned)(n - 32);
	for (unsigned i = 0; i < len && i < 1024; i++)
		str[i] = f[32 + i] >= 0x21 && f[32 + i] < 0x7f ?
			 (char)f[32 + i] : '.';
	str[len < 1024 ? len : 1024] = 0;
	hexmac(mac, f + 6);
	fprintf(out, "target shelf=%u slot=%u mac=%s bufcnt=%u fw=0x%04x "
	       "scnt=%u ver=%u ccmd=%u flags=0x%x err=%u cfg=%s\n",
	       f[16] << 8 | f[17], f[18], mac, f[24] << 8 | f[25],
	       f[26] << 8 | f[27], f[28], f[29] >> 4, f[29] & 15, f[14] & 15,
	       f[15], str);
}

/* Query Config to the broadcast address; with collect, print every
 * reply seen in wait_ms, else stop at the first.  Returns the count. */
static int query_cfg(int collect, unsigned ccmd, const char *str)
{
	static const uint8_t bc[6] = { 255, 255, 255, 255, 255, 255 };
	uint8_t f[FRAME], r[FRAME];
	size_t slen = str ? strlen(str) : 0, len = 32 + slen;
	uint32_t tag = 0x40000000u | (uint32_t)(now_us() & 0xffff);
	int found = 0;

	put_hdr(f, bc, opt.shelf, opt.slot, 1, tag);
	f[29] = (uint8_t)(0x10 | ccmd);
	f[30] = (uint8_t)(slen >> 8);
	f[31] = (uint8_t)slen;
	memcpy(f + 32, str ? str : "", slen);
	if (len < 60)
		len = 60;
	for (int a = 0; a < opt.retries && !found; a++) {
		int64_t end = now_us() + (collect ? opt.wait_ms : 200) * 1000;
		send_frame(f, len);
		for (;;) {
			int64_t left = (end - now_us()) / 1000;
			ssize_t n;
			if (left <= 0)
				break;
			n = recv_frame(r, sizeof(r), (int)left);
			if (n < 32 || !(r[14] & 8) || r[19] != 1 ||
			    get_tag(r) != tag)
				continue;
			if (!found) {
				memcpy(tmac, r + 6, 6);
				tshelf = (unsigned)(r[16] << 8 | r[17]);
				tslot = r[18];
				tbufcnt = (unsigned)(r[24] << 8 | r[25]);
				tscnt = r[28];
			}
			found++;
			print_cfg(collect ? stdout : stderr, r, (size_t)n);
			if (!collect)
				break;
		}
		if (collect)
			break;
	}
	return found;
}

static void need_target(void)
{
	if (!query_cfg(0, 0, NULL)) {
		fprintf(stderr, "aoe_init: no target answered\n");
		exit(2);
	}
}

/* One ATA request, retried; returns the reply length (0: no answer). */
static ssize_t ata1(uint8_t aflags, uint8_t cmd, uint64_t lba, uint8_t cnt,
		    int withdata, uint8_t *r)
{
	uint8_t f[FRAME];
	uint32_t tag = 0x20000000u | (uint32_t)(now_us() & 0xffffff);
	size_t len = 36 + (withdata ? 512u * cnt : 0);

	put_hdr(f, tmac, tshelf, tslot, 0, tag);
	f[24] = aflags;
	f[26] = cnt;
	f[27] = cmd;
	for (int i = 0; i < 6; i++)
		f[28 + i] = (uint8_t)(lba >> (8 * i));
	if (withdata)
		memset(f + 36, 0, 512u * cnt);
	if (len < 60)
		len = 60;
	for (int a = 0; a < opt.retries; a++) {
		int64_t end = now_us() + opt.timeout_ms * 1000;
		send_frame(f, len);
		for (;;) {
			int64_t left = (end - now_us()) / 1000;
			ssize_t n;
			if (left <= 0)
				break;
			n = recv_frame(r, FRAME, (int)left);
			if (n >= 24 && (r[14] & 8) && r[19] == 0 &&
			    get_tag(r) == tag)
				return n;
		}
	}
	return 0;
}

static uint64_t identify(int print)
{
	uint8_t r[FRAME];
	ssize_t n = ata1(0, 0xec, 0xa0000000ULL, 1, 0, r);
	uint64_t s48 = 0, s28;
	char model[41], serial[21], fw[9];

	if (n < 36 + 512 || (r[14] & 4) || (r[27] & 1)) {
		fprintf(stderr, "aoe_init: IDENTIFY failed (len %zd)\n", n);
		exit(2);
	}
	const uint8_t *id = r + 36;
	for (int w = 3; w >= 0; w--)
		s48 = s48 << 16 | (uint64_t)(id[200 + 2 * w] |
					     id[201 + 2 * w] << 8);
	s28 = (uint64_t)id[120] | (uint64_t)id[121] << 8 |
	      (uint64_t)id[122] << 16 | (uint64_t)id[123] << 24;
	for (int i = 0; i < 40; i++)
		model[i] = (char)id[54 + (i ^ 1)];
	for (int i = 0; i < 20; i++)
		serial[i] = (char)id[20 + (i ^ 1)];
	for (int i = 0; i < 8; i++)
		fw[i] = (char)id[46 + (i ^ 1)];
	model[40] = serial[20] = fw[8] = 0;
	for (int i = 39; i >= 0 && model[i] == ' '; i--)
		model[i] = 0;
	for (int i = 19; i >= 0 && serial[i] == ' '; i--)
		serial[i] = 0;
	for (int i = 7; i >= 0 && fw[i] == ' '; i--)
		fw[i] = 0;
	/* LBA48: bit 10 of word 83 or 86 */
	int lba48 = ((id[167] | id[173]) & 0x04) != 0;
	if (print)
		printf("identify sectors=%llu lba28=%llu lba48=%d "
		       "model=\"%s\" serial=\"%s\" fw=\"%s\"\n",
		       (unsigned long long)(lba48 ? s48 : s28),
		       (unsigned long long)s28, lba48, model, serial, fw);
	return lba48 ? s48 : s28;
}

/* ---- pipelined reads ---------------------------------------------------- */

struct slot {
	uint64_t lba;
	unsigned cnt;
	uint16_t gen;
	int busy;
	int64_t sent;
	uint8_t frame[60];
};

/* Read sectors [start, start+count) with opt.window requests in flight;
 * data goes to buf (may be NULL).  Prints the RESULT line. */
static int read_range(uint64_t start, uint64_t count, uint8_t *buf)
{
	unsigned k = opt.window;
	unsigned spr = opt.spr ? opt.spr : tscnt;
	struct slot *s = calloc(k, sizeof(*s));
	static uint8_t rx[BATCH][FRAME];
	struct mmsghdr rm[BATCH], sm[BATCH];
	struct iovec riov[BATCH], siov[BATCH];
	uint64_t next = start, end = start + count, done = 0;
	uint64_t retrans = 0, frames = 0, stale = 0;
	unsigned nsend, inflight = 0;
	struct rusage ru0, ru1;
	int64_t t0, t1;

	if (!s || spr == 0 || k == 0 || k > 32768) {
		fprintf(stderr, "aoe_init: bad window or sector count\n");
		return 2;
	}
	if (spr > 255)
		spr = 255;
	/* when timing only, take the AoE and ATA headers of each reply
	 * and its length (MSG_TRUNC), not its data: the copy would cost
	 * this initiator, not the target, and cap what it can measure */
	int trunc = buf ? 0 : MSG_TRUNC;
	for (unsigned i = 0; i < BATCH; i++) {
		riov[i].iov_base = rx[i];
		riov[i].iov_len = buf ? FRAME : 64;
		memset(&rm[i], 0, sizeof(rm[i]));
		rm[i].msg_hdr.msg_iov = &riov[i];
		rm[i].msg_hdr.msg_iovlen = 1;
		memset(&sm[i], 0, sizeof(sm[i]));
		sm[i].msg_hdr.msg_iov = &siov[i];
		sm[i].msg_hdr.msg_iovlen = 1;
	}
	/* a zero timeout would mean "wait for ever" to the socket */
	int ms = opt.timeout_ms > 0 ? opt.timeout_ms : 1;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	if (setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		die("SO_RCVTIMEO");
	getrusage(RUSAGE_SELF, &ru0);
	t0 = now_us();
	while (done < count) {
		int64_t t = now_us();

		/* fill the window and retransmit what timed out */
		nsend = 0;
		for (unsigned i = 0; i < k; i++) {
			struct slot *q = &s[i];
			int fresh = !q->busy && next < end;
			int late = q->busy &&
				   t - q->sent > opt.timeout_ms * 1000;
			if (!fresh && !late)
				continue;
			if (fresh) {
				q->lba = next;
				q->cnt = (unsigned)(end - next < spr ?
						    end - next : spr);
				next += q->cnt;
				q->busy = 1;
				inflight++;
			} else {
				retrans++;
			}
			q->gen = (uint16_t)((q->gen + 1) & 0x7fff);
			put_hdr(q->frame, tmac, tshelf, tslot, 0,
				(uint32_t)q->gen << 16 | i);
			q->frame[24] = 0x40;
			q->frame[26] = (uint8_t)q->cnt;
			q->frame[27] = 0x24;
			for (int b = 0; b < 6; b++)
				q->frame[28 + b] =
					(uint8_t)(q->lba >> (8 * b));
			q->sent = t;
			siov[nsend].iov_base = q->frame;
			siov[nsend].iov_len = 60;
			if (++nsend == BATCH) {
				if (sendmmsg(sock, sm, nsend, 0) < 0)
					die("sendmmsg");
				nsend = 0;
			}
		}
		if (nsend && sendmmsg(sock, sm, nsend, 0) < 0)
			die("sendmmsg");
		/* wait for replies, in the receive itself (one system
		 * call, not poll and receive); the socket's receive
		 * timeout bounds retransmission */
		int n = recvmmsg(sock, rm, BATCH, MSG_WAITFORONE | trunc,
				 NULL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			die("recvmmsg");
		}
		for (int j = 0; j < n; j++) {
			const uint8_t *r = rx[j];
			unsigned len = rm[j].msg_len;
			uint32_t tag;
			struct slot *q;

			frames++;
			if (len < 36 || !(r[14] & 8) || r[19] != 0 ||
			    (unsigned)(r[16] << 8 | r[17]) != tshelf ||
			    r[18] != tslot)
				continue;
			tag = get_tag(r);
			if ((tag & 0xffff) >= k) {
				stale++;
				continue;
			}
			q = &s[tag & 0xffff];
			if (!q->busy || q->gen != tag >> 16) {
				/* the answer to a retransmitted tag */
				stale++;
				continue;
			}
			if ((r[14] & 4) || (r[27] & 0x01)) {
				fprintf(stderr, "aoe_init: error reply at lba "
					"%llu: aoe err %u status 0x%02x "
					"error 0x%02x\n",
					(unsigned long long)q->lba,
					(r[14] & 4) ? r[15] : 0, r[27], r[25]);
				return 3;
			}
			if (len < 36 + q->cnt * 512u) {
				fprintf(stderr, "aoe_init: short read reply "
					"(%u bytes for %u sectors)\n", len,
					q->cnt);
				return 3;
			}
			if (buf)
				memcpy(buf + (q->lba - start) * 512, r + 36,
				       q->cnt * 512u);
			done += q->cnt;
			q->busy = 0;
			inflight--;
		}
	}
	t1 = now_us();
	getrusage(RUSAGE_SELF, &ru1);
	/* replies the kernel dropped at our socket (buffer full): a
	 * retransmission that is the initiator's fault, not the target's */
	struct tpacket_stats ps = { 0 };
	socklen_t psl = sizeof(ps);
	(void)getsockopt(sock, SOL_PACKET, PACKET_STATISTICS, &ps, &psl);
	double secs = (double)(t1 - t0) / 1e6;
	double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec +
			      ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
		     (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec +
			      ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) /
			     1e6;
	fprintf(buf && opt.out && !strcmp(opt.out, "-") ? stderr : stdout,
		"RESULT k=%u spr=%u bytes=%llu secs=%.3f MBps=%.2f cpu=%.1f%% "
		"retrans=%llu frames=%llu stale=%llu drops=%u\n", k, spr,
		(unsigned long long)(count * 512), secs,
		secs > 0 ? (double)count * 512 / secs / 1e6 : 0.0,
		secs > 0 ? 100.0 * cpu / secs : 0.0,
		(unsigned long long)retrans, (unsigned long long)frames,
		(unsigned long long)stale, ps.tp_drops);
	(void)inflight;
	free(s);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: aoe_init -i IFACE [-t SHELF.SLOT] [-k OUTSTANDING] [-n SECTORS]\n"
"                [-T MS] [-r RETRIES] [-w MS] [-o FILE] [-l MIB] COMMAND\n"
"commands:\n"
"  discover              list targets answering a Query Config\n"
"  identify              IDENTIFY the target: capacity, model, serial\n"
"  read [LBA COUNT]      read sectors (default all) to -o FILE or stdout\n"
"  bench                 read the disk (or -l MiB of it), print MB/s\n"
"  ata CMD AFLAGS LBA COUNT [data]  one ATA request, print the reply\n"
"  cfg CCMD [STRING]     one Query Config with CCMD, print replies\n");
}

static unsigned long long num(const char *s)
{
	char *e;
	unsigned long long v = strtoull(s, &e, 0);

	if (*s == 0 || *e) {
		fprintf(stderr, "aoe_init: bad number %s\n", s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	int c;

	while ((c = getopt(argc, argv, "i:t:k:n:T:r:w:o:l:h")) != -1) {
		switch (c) {
		case 'i': opt.ifname = optarg; break;
		case 't':
			if (sscanf(optarg, "%u.%u", &opt.shelf,
				   &opt.slot) != 2)
				goto bad;
			break;
		case 'k': opt.window = (unsigned)num(optarg); break;
		case 'n': opt.spr = (unsigned)num(optarg); break;
		case 'T': opt.timeout_ms = (int)num(optarg); break;
		case 'r': opt.retries = (int)num(optarg); break;
		case 'w': opt.wait_ms = (int)num(optarg); break;
		case 'o': opt.out = optarg; break;
		case 'l': opt.limit = num(optarg) * 2048; break;
		case 'h': usage(stdout); return 0;
		default: goto bad;
		}
	}
	if (!opt.ifname || optind >= argc)
		goto bad;
	open_sock();
	const char *cmd = argv[optind++];
	if (!strcmp(cmd, "discover"))
		return query_cfg(1, 0, NULL) ? 0 : 2;
	if (!strcmp(cmd, "cfg")) {
		if (optind >= argc)
			goto bad;
		unsigned cc = (unsigned)num(argv[optind]);
		return query_cfg(1, cc, optind + 1 < argc ?
				 argv[optind + 1] : NULL) ? 0 : 2;
	}
	need_target();
	if (!strcmp(cmd, "identify")) {
		identify(1);
		return 0;
	}
	if (!strcmp(cmd, "ata")) {
		uint8_t r[FRAME];
		if (argc - optind < 4)
			goto bad;
		ssize_t n = ata1((uint8_t)num(argv[optind + 1]),
				 (uint8_t)num(argv[optind]),
				 num(argv[optind + 2]),
				 (uint8_t)num(argv[optind + 3]),
				 argc - optind > 4, r);
		if (n == 0) {
			printf("ata noreply\n");
			return 2;
		}
		printf("ata len=%zd flags=0x%x aoeerr=%u status=0x%02x "
		       "error=0x%02x count=%u\n", n, r[14] & 15, r[15],
		       n >= 36 ? r[27] : 0, n >= 36 ? r[25] : 0,
		       n >= 36 ? r[26] : 0);
		return 0;
	}
	if (!strcmp(cmd, "read") || !strcmp(cmd, "bench")) {
		uint64_t total = identify(0), start = 0, count = total;
		uint8_t *buf = NULL;
		int rc;

		if (!strcmp(cmd, "read") && argc - optind >= 2) {
			start = num(argv[optind]);
			count = num(argv[optind + 1]);
		}
		if (!strcmp(cmd, "bench") && opt.limit && opt.limit < count)
			count = opt.limit;
		if (!strcmp(cmd, "read")) {
			buf = malloc(count ? count * 512 : 1);
			if (!buf)
				die("malloc");
		}
		rc = read_range(start, count, buf);
		if (rc == 0 && buf) {
			int fd = 1;
			if (opt.out && strcmp(opt.out, "-"))
				fd = open(opt.out, O_WRONLY | O_CREAT |
					  O_TRUNC, 0644);
			if (fd < 0)
				die(opt.out);
			for (uint64_t o = 0; o < count * 512;) {
				ssize_t w = write(fd, buf + o,
						  count * 512 - o);
				if (w <= 0)
					die("write");
				o += (uint64_t)w;
			}
			if (fd != 1)
				close(fd);
		}
		free(buf);
		return rc;
	}
bad:
	usage(stderr);
	return 2;
}
