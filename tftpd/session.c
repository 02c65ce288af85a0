/*
 * session.c - one TFTP read transfer per struct tftpd_session: option
 * negotiation, the send window (RFC 7440), retransmission with backoff,
 * block-number rollover, and the one log line per transfer.
 *
 * Each session owns a connected UDP socket, one backend file reference
 * and one buffer of "slots" (header + block) allocated when the transfer
 * starts; sending a window fills slots with pread and hands them to
 * sendmmsg, so the per-packet path never allocates.  Blocks are counted
 * with 64-bit absolute numbers; only the wire carries 16 bits.
 * Duplicate ACKs are ignored: only the timer retransmits, which avoids
 * the Sorcerer's Apprentice Syndrome (RFC 1123 4.2.3.1).
 * Not here: write requests (refused), netascii windows (netascii runs
 * lock-step, windowsize is not granted for it).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bootshelf/log.h>

#include "tftpd.h"

#define MAX_SLOTS 32			/* blocks per sendmmsg */
#define SLOT_BYTES (1u << 20)		/* cap of one session's buffer */

enum sess_state { ST_OACK, ST_DATA };

struct tftpd_session {
	enum tftpd_kind kind;		/* TFTPD_SESSION */
	int fd;
	struct tftpd_session *prev, *next;
	size_t hidx;			/* position in the deadline heap */
	uint64_t deadline;
	struct sockaddr_storage peer;
	socklen_t peerlen;
	char peerstr[64];
	char fname[160];		/* cleaned for logs */

	struct bs_tftpd_file *file;	/* backend reference, owned */
	uint64_t size;
	enum bs_tftp_mode mode;
	enum sess_state state;
	struct bs_tftp_oack oack;
	uint32_t blksize, window;
	uint64_t last_acked;		/* highest block acknowledged */
	uint64_t last_sent;		/* highest block sent since then */
	uint64_t final;			/* last block; 0 = unknown */

	/* netascii: state at the start of block last_acked + 1 */
	uint64_t na_off, na_next_off;
	struct bs_tftp_netascii na, na_next;
	size_t na_len;			/* its length in slot 0 */
	int na_ready;

	uint32_t rto_us;		/* current retransmit timeout */
	uint32_t base_us;
	unsigned retries;
	unsigned long retrans;		/* DATA/OACK sent again */
	uint64_t start;

	unsigned nslots;
	uint8_t *slots;			/* nslots * (4 + blksize) */
	size_t map_len;			/* of the whole mapping */
	struct iovec iov[MAX_SLOTS];
	struct mmsghdr msgs[MAX_SLOTS];
};

uint64_t tftpd_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- deadline heap ------------------------------------------------- */

static void heap_swap(struct tftpd *d, size_t a, size_t b)
{
	struct tftpd_session *t = d->heap[a];

	d->heap[a] = d->heap[b];
	d->heap[b] = t;
	d->heap[a]->hidx = a;
	d->heap[b]->hidx = b;
}

static void heap_fix(struct tftpd *d, size_t i)
{
	while (i > 0 && d->heap[(i - 1) / 2]->deadline >
			d->heap[i]->deadline) {
		heap_swap(d, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < d->nheap && d->heap[l]->deadline <
				    d->heap[m]->deadline)
			m = l;
		if (r < d->nheap && d->heap[r]->deadline <
				    d->heap[m]->deadline)
			m = r;
		if (m == i)
			return;
		heap_swap(d, i, m);
		i = m;
	}
}

static int heap_add(struct tftpd *d, struct tftpd_session *s)
{
	if (d->nheap == d->capheap) {
		size_t cap = d->capheap ? 2 * d->capheap : 64;
		void *p = realloc(d->heap, cap * sizeof(*d->heap));
		if (!p)
			return -ENOMEM;
		d->heap = p;
		d->capheap = cap;
	}
	s->hidx = d->nheap;
	d->heap[d->nheap++] = s;
	heap_fix(d, s->hidx);
	return 0;
}

static void heap_del(struct tftpd *d, struct tftpd_session *s)
{
	size_t i = s->hidx;

	if (i >= d->nheap || d->heap[i] != s)
		return;
	d->nheap--;
	if (i != d->nheap) {
		d->heap[i] = d->heap[d->nheap];
		d->heap[i]->hidx = i;
		heap_fix(d, i);
	}
}

static void arm(struct tftpd *d, struct tftpd_session *s)
{
	s->deadline = d->now + (uint64_t)s->rto_us * 1000u;
	heap_fix(d, s->hidx);
}

/* ---- block numbers ------------------------------------------------- */

static uint16_t wire_block(const struct tftpd *d, uint64_t b)
{
	return bs_tftp_wire_block(b, d->cfg.rollover);
}

/* ---- teardown ------------------------------------------------------ */

static void session_end(struct tftpd *d, struct tftpd_session *s,
			const char *result)
{
	double secs = (double)(d->now - s->start) / 1e9;
	uint64_t bytes = s->last_acked * s->blksize;

	if (s->final && s->last_acked >= s->final)
		bytes = s->size;
	if (s->mode == BS_TFTP_NETASCII)
		bytes = s->na_off;
	bs_info("%s RRQ \"%s\" %s blksize %u windowsize %u%s: %llu bytes "
		"in %.3f s, %lu retransmits: %s", s->peerstr, s->fname,
		s->mode == BS_TFTP_OCTET ? "octet" : "netascii", s->blksize,
		s->window, s->oack.opts & BS_TFTP_OPT_TSIZE ? " tsize" : "",
		(unsigned long long)bytes, secs, s->retrans, result);
	heap_del(d, s);
	if (s->prev)
		s->prev->next = s->next;
	else
		d->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	d->nsessions--;
	if (s->fd >= 0)
		close(s->fd);	/* also leaves the epoll set */
	if (s->file)
		d->be->close(d->bectx, s->file);
	munmap(s, s->map_len);
	if (d->at_limit && d->nsessions < d->cfg.max_transfers) {
		d->at_limit = 0;
		bs_info("below the transfer limit again (%zu active)",
			d->nsessions);
	}
}

static void end_with_error(struct tftpd *d, struct tftpd_session *s,
			   int err, const char *result)
{
	uint8_t pkt[64];
	const char *m;
	uint16_t code = bs_tftp_errcode(err, &m);
	int n = bs_tftp_build_error(pkt, sizeof(pkt), code, m);

	if (n > 0)
		(void)send(s->fd, pkt, (size_t)n, 0);
	session_end(d, s, result);
}

/* ---- sending ------------------------------------------------------- */

/* Fill slot i with absolute block b (octet). @ret length or -errno */
static ssize_t fill_octet(struct tftpd *d, struct tftpd_session *s,
			  unsigned i, uint64_t b)
{
	uint8_t *p = s->slots + (size_t)i * (BS_TFTP_HDR + s->blksize);
	uint64_t off = (b - 1) * s->blksize;
	size_t want = off >= s->size ? 0 :
		      s->size - off < s->blksize ? (size_t)(s->size - off)
						 : s->blksize;
	ssize_t n = 0;

	bs_tftp_build_data_hdr(p, BS_TFTP_HDR, wire_block(d, b));
	if (want) {
		n = d->be->pread(d->bectx, s->file, p + BS_TFTP_HDR, want,
				 off);
		if (n < 0)
			return n;
		/* A file that shrank under us cannot keep tsize's promise. */
		if ((size_t)n != want)
			return -EIO;
	}
	return BS_TFTP_HDR + n;
}

/* Produce block last_acked + 1 in slot 0 (netascii, lock-step). */
static ssize_t fill_netascii(struct tftpd *d, struct tftpd_session *s)
{
	uint8_t *p = s->slots, *in = s->slots + BS_TFTP_HDR + s->blksize;
	uint64_t off = s->na_off;
	size_t out = 0;

	if (s->na_ready)
		return (ssize_t)(BS_TFTP_HDR + s->na_len);
	s->na_next = s->na;
	while (out < s->blksize) {
		size_t used, chunk = s->blksize - out;
		ssize_t n = d->be->pread(d->bectx, s->file, in, chunk, off);
		size_t w;

		if (n < 0)
			return n;
		w = bs_tftp_netascii_encode(&s->na_next, in, (size_t)n,
					    &used, p + BS_TFTP_HDR + out,
					    s->blksize - out);
		out += w;
		off += used;
		if (n == 0 && !s->na_next.pending)
			break;
	}
	bs_tftp_build_data_hdr(p, BS_TFTP_HDR,
			       wire_block(d, s->last_acked + 1));
	s->na_next_off = off;
	s->na_len = out;
	s->na_ready = 1;
	if (out < s->blksize)
		s->final = s->last_acked + 1;
	return (ssize_t)(BS_TFTP_HDR + out);
}

static int send_oack(struct tftpd_session *s)
{
	uint8_t pkt[128];
	int n = bs_tftp_build_oack(pkt, sizeof(pkt), &s->oack);

	if (n < 0)
		return n;
	if (send(s->fd, pkt, (size_t)n, 0) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

/*
 * Send blocks last_sent + 1 .. last_acked + window (or up to the final
 * block), in batches of nslots.  A full socket buffer stops early; the
 * retransmit timer covers what was not sent.
 */
static int send_window(struct tftpd *d, struct tftpd_session *s)
{
	uint64_t end = s->last_acked + s->window;

	if (s->final && end > s->final)
		end = s->final;
	while (s->last_sent < end) {
		unsigned k = 0;
		int sent;

		for (; k < s->nslots && s->last_sent + 1 + k <= end; k++) {
			ssize_t n = s->mode == BS_TFTP_NETASCII
				? fill_netascii(d, s)
				: fill_octet(d, s, k, s->last_sent + 1 + k);
			if (n < 0)
				return (int)n;
			s->iov[k].iov_base = s->slots + (size_t)k *
					     (BS_TFTP_HDR + s->blksize);
			s->iov[k].iov_len = (size_t)n;
			if (s->mode == BS_TFTP_NETASCII) {
				k++;
				break;
			}
		}
		sent = sendmmsg(s->fd, s->msgs, k, 0);
		if (sent < 0) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ENOBUFS)
				return 0;
			/* ICMP unreachable shows up here: client gone */
			return -errno;
		}
		s->last_sent += (unsigned)sent;
		if ((unsigned)sent < k)
			return 0;
	}
	return 0;
}

static int start_data(struct tftpd *d, struct tftpd_session *s)
{
	s->state = ST_DATA;
	s->last_acked = 0;
	s->last_sent = 0;
	return send_window(d, s);
}

/* ---- events -------------------------------------------------------- */

static void on_ack(struct tftpd *d, struct tftpd_session *s, uint16_t n)
{
	uint64_t delta;
	int err;

	if (s->state == ST_OACK) {
		if (n != 0)
			return;
		s->retries = 0;
		s->rto_us = s->base_us;
		err = start_data(d, s);
		goto sent;
	}
	delta = bs_tftp_ack_advance(s->last_acked, n, d->cfg.rollover);
	/* A duplicate (delta 0) or a block never sent: ignore it. */
	if (delta == 0 || delta > s->last_sent - s->last_acked)
		return;
	s->last_acked += delta;
	if (s->mode == BS_TFTP_NETASCII) {
		s->na = s->na_next;
		s->na_off = s->na_next_off;
		s->na_ready = 0;
	}
	if (s->final && s->last_acked >= s->final) {
		session_end(d, s, "ok");
		return;
	}
	s->retries = 0;
	s->rto_us = s->base_us;
	/*
	 * RFC 7440: an ACK inside the window means the client lost what
	 * follows it; the window restarts after it.
	 */
	s->last_sent = s->last_acked;
	err = send_window(d, s);
sent:
	if (err) {
		end_with_error(d, s, err, strerror(-err));
		return;
	}
	arm(d, s);
}

void tftpd_session_read(struct tftpd *d, struct tftpd_session *s)
{
	uint8_t pkt[516];
	uint16_t n, code;
	const char *msg;
	size_t ml;
	ssize_t len = recv(s->fd, pkt, sizeof(pkt), MSG_DONTWAIT);

	if (len < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		/* e.g. ECONNREFUSED: the client's port is closed */
		session_end(d, s, strerror(errno));
		return;
	}
	if (bs_tftp_parse_ack(pkt, (size_t)len, &n) == 0) {
		on_ack(d, s, n);
	} else if (bs_tftp_parse_error(pkt, (size_t)len, &code, &msg,
				       &ml) == 0) {
		char clean[96], res[128];

		bs_log_clean(clean, sizeof(clean), msg, ml);
		snprintf(res, sizeof(res), "client error %u \"%s\"", code,
			 clean);
		session_end(d, s, res);
	}
	/* Anything else from the client is ignored. */
}

static void on_timeout(struct tftpd *d, struct tftpd_session *s)
{
	int err;

	if (s->retries >= d->cfg.retries) {
		session_end(d, s, "timed out");
		return;
	}
	s->retries++;
	s->retrans++;
	/* Back off: double up to 8 times the base timeout. */
	if (s->rto_us < s->base_us * 8u)
		s->rto_us *= 2;
	if (s->state == ST_OACK) {
		err = send_oack(s);
	} else {
		s->last_sent = s->last_acked;
		err = send_window(d, s);
	}
	if (err) {
		end_with_error(d, s, err, strerror(-err));
		return;
	}
	arm(d, s);
}

int tftpd_timers(struct tftpd *d)
{
	d->now = tftpd_now();
	while (d->nheap && d->heap[0]->deadline <= d->now)
		on_timeout(d, d->heap[0]);
	if (!d->nheap)
		return -1;
	/* Round up so the loop does not wake just before the deadline. */
	return (int)((d->heap[0]->deadline - d->now + 999999) / 1000000);
}

void tftpd_shutdown(struct tftpd *d)
{
	while (d->sessions)
		end_with_error(d, d->sessions, -ECANCELED,
			       "aborted: server shutting down");
	free(d->heap);
	d->heap = NULL;
	d->nheap = d->capheap = 0;
}

/* ---- new requests -------------------------------------------------- */

/* Why a name is refused before any lookup: ".." components. */
static int check_name(char *name, int remap)
{
	char *p;

	if (remap)
		for (p = name; *p; p++)
			if (*p == '\\')
				*p = '/';
	for (p = name; *p; ) {
		size_t l = strcspn(p, "/");
		if (l == 2 && p[0] == '.' && p[1] == '.')
			return -EACCES;
		p += l;
		while (*p == '/')
			p++;
	}
	return 0;
}

static void negotiate(struct tftpd *d, struct tftpd_session *s,
		      const struct bs_tftp_req *r)
{
	s->blksize = BS_TFTP_BLKSIZE_DEF;
	s->window = 1;
	s->base_us = d->cfg.timeout_us;
	s->oack.opts = 0;
	if (r->opts & BS_TFTP_OPT_BLKSIZE) {
		s->blksize = r->blksize < d->cfg.max_blksize
			? r->blksize : d->cfg.max_blksize;
		s->oack.blksize = s->blksize;
		s->oack.opts |= BS_TFTP_OPT_BLKSIZE;
	}
	/* netascii changes the length, so no tsize and no window for it */
	if ((r->opts & BS_TFTP_OPT_TSIZE) && r->mode == BS_TFTP_OCTET) {
		s->oack.tsize = s->size;
		s->oack.opts |= BS_TFTP_OPT_TSIZE;
	}
	if (r->opts & BS_TFTP_OPT_TIMEOUT) {
		s->oack.timeout = r->timeout;
		s->oack.opts |= BS_TFTP_OPT_TIMEOUT;
		s->base_us = r->timeout * 1000000u;
	}
	if ((r->opts & BS_TFTP_OPT_WINDOWSIZE) &&
	    r->mode == BS_TFTP_OCTET) {
		uint32_t w = r->windowsize, cap = d->cfg.window_bytes /
						  s->blksize;

		if (w > d->cfg.max_window)
			w = d->cfg.max_window;
		if (w > cap)
			w = cap ? cap : 1;
		s->window = w;
		s->oack.windowsize = w;
		s->oack.opts |= BS_TFTP_OPT_WINDOWSIZE;
	}
	s->rto_us = s->base_us;
}

/*
 * One mapping holds the session and its slots.  mmap'ed rather than
 * malloc'ed: a storm of abandoned transfers gives its memory back to the
 * system as the sessions end, instead of leaving the heap grown.
 * @v tmp  the negotiated session, copied
 * @ret    the new session or NULL
 */
static struct tftpd_session *session_new(const struct tftpd_session *tmp)
{
	size_t slot = BS_TFTP_HDR + tmp->blksize;
	size_t head = (sizeof(*tmp) + 63) & ~(size_t)63;
	unsigned n = tmp->window < MAX_SLOTS ? tmp->window : MAX_SLOTS;
	struct tftpd_session *s;
	size_t len;

	if (n * slot > SLOT_BYTES)
		n = (unsigned)(SLOT_BYTES / slot);
	if (n < 1)
		n = 1;
	/* netascii needs a second block as its input buffer */
	len = head + (tmp->mode == BS_TFTP_NETASCII ? 2 * slot : n * slot);
	s = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED)
		return NULL;
	memcpy(s, tmp, sizeof(*s));
	s->map_len = len;
	s->nslots = n;
	s->slots = (uint8_t *)s + head;
	for (unsigned i = 0; i < MAX_SLOTS; i++) {
		s->msgs[i].msg_hdr.msg_iov = &s->iov[i];
		s->msgs[i].msg_hdr.msg_iovlen = 1;
	}
	return s;
}

void tftpd_request(struct tftpd *d, struct tftpd_listener *l,
		   const uint8_t *pkt, size_t len,
		   const struct sockaddr_storage *peer, socklen_t plen,
		   const struct sockaddr_storage *local)
{
	struct bs_tftp_req r;
	/* Negotiated on the stack, then moved into the session's mapping. */
	struct tftpd_session tmp, *s;
	char peerstr[64], name[512], clean[160];
	int op = bs_tftp_opcode(pkt, len), err;
	struct epoll_event ev;

	tftpd_addr_str(peer, peerstr, sizeof(peerstr));
	if (op != BS_TFTP_RRQ && op != BS_TFTP_WRQ) {
		/* Stray ACK/DATA/ERROR or noise: no reply, no reflection. */
		bs_debug("%s: ignored packet (opcode %d, %zu bytes) on the "
			 "request port", peerstr, op, len);
		return;
	}
	err = bs_tftp_parse_req(pkt, len, &r);
	if (err) {
		bs_debug("%s: malformed request (%zu bytes)", peerstr, len);
		tftpd_reply_error(l->family, local, peer, plen, err,
				  err == -EPROTONOSUPPORT ?
				  "Unsupported mode" : NULL);
		return;
	}
	bs_log_clean(clean, sizeof(clean), r.filename, strlen(r.filename));
	if (r.op == BS_TFTP_WRQ) {
		bs_info("%s WRQ \"%s\": refused, read-only server", peerstr,
			clean);
		tftpd_reply_error(l->family, local, peer, plen, -EACCES,
				  "Read-only server");
		return;
	}
	/* A retransmitted RRQ while we are still answering the first. */
	for (s = d->sessions; s; s = s->next)
		if (s->peerlen == plen && !memcmp(&s->peer, peer, plen)) {
			bs_debug("%s: duplicate RRQ ignored", peerstr);
			return;
		}
	if (d->cfg.max_transfers && d->nsessions >= d->cfg.max_transfers) {
		if (!d->at_limit) {
			d->at_limit = 1;
			bs_warn("transfer limit reached (%u active): %s new "
				"requests", d->cfg.max_transfers,
				d->cfg.refuse_busy ? "refusing" : "dropping");
		}
		if (d->cfg.refuse_busy)
			tftpd_reply_error(l->family, local, peer, plen,
					  -EBUSY, NULL);
		return;
	}
	if (strlen(r.filename) >= sizeof(name)) {
		err = -ENAMETOOLONG;
		goto refuse;
	}
	strcpy(name, r.filename);
	err = check_name(name, d->cfg.remap_backslash);
	if (err)
		goto refuse;
	memset(&tmp, 0, sizeof(tmp));
	tmp.kind = TFTPD_SESSION;
	tmp.fd = -1;
	tmp.mode = r.mode;
	tmp.start = d->now;
	tmp.hidx = SIZE_MAX;
	memcpy(&tmp.peer, peer, plen);
	tmp.peerlen = plen;
	snprintf(tmp.peerstr, sizeof(tmp.peerstr), "%s", peerstr);
	snprintf(tmp.fname, sizeof(tmp.fname), "%s", clean);
	err = d->be->open(d->bectx, name, &tmp.file, &tmp.size);
	if (err)
		goto refuse;
	negotiate(d, &tmp, &r);
	if (tmp.mode == BS_TFTP_OCTET)
		tmp.final = tmp.size / tmp.blksize + 1;
	s = session_new(&tmp);
	if (!s) {
		d->be->close(d->bectx, tmp.file);
		err = -ENOMEM;
		goto refuse;
	}
	/* Linked from here on: every failure goes through session_end. */
	s->next = d->sessions;
	if (s->next)
		s->next->prev = s;
	d->sessions = s;
	d->nsessions++;
	err = heap_add(d, s);
	if (!err) {
		s->fd = tftpd_peer_socket(l->family, local, peer, plen);
		if (s->fd < 0)
			err = s->fd;
	}
	if (err) {
		tftpd_reply_error(l->family, local, peer, plen, err, NULL);
		session_end(d, s, strerror(-err));
		return;
	}
	if (s->window > 1 || s->blksize > 8192) {
		int sb = (int)(s->nslots * (BS_TFTP_HDR + s->blksize) * 4);
		(void)setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &sb,
				 sizeof(sb));
	}
	ev.events = EPOLLIN;
	ev.data.ptr = s;
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, s->fd, &ev) < 0) {
		err = -errno;
		end_with_error(d, s, err, strerror(-err));
		return;
	}
	if (s->oack.opts) {
		s->state = ST_OACK;
		/*
		 * Wait longer before the first OACK resend: a client is
		 * slowest at the start of a transfer, and some (atftp 0.8)
		 * abort on a duplicate OACK that arrives after their ACK 0.
		 * on_ack() goes back to the base timeout.
		 */
		s->rto_us = 2 * s->base_us;
		err = send_oack(s);
	} else {
		err = start_data(d, s);
	}
	if (err) {
		end_with_error(d, s, err, strerror(-err));
		return;
	}
	arm(d, s);
	return;
refuse:
	bs_info("%s RRQ \"%s\": %s", peerstr, clean,
		bs_tftp_errstr(bs_tftp_errcode(err, NULL)));
	tftpd_reply_error(l->family, local, peer, plen, err, NULL);
}
