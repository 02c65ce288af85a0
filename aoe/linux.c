/*
 * linux.c - raw Ethernet for bootshelf-aoed on Linux: AF_PACKET sockets,
 * batched with recvmmsg/sendmmsg.  The five functions dial, getpkts,
 * putpkts, getea and getmtu are the whole seam; a port to another OS
 * (BPF devices) replaces this file only.
 *
 * Replies are sent as two pieces, the header from the batch buffer and
 * the sectors straight from the file's mapping, so the kernel copies
 * them once; PACKET_QDISC_BYPASS skips the qdisc layer, which a
 * request/reply protocol with its own retransmission does not need.
 *
 * Left out: PACKET_MMAP rings.  A TPACKET_V2 receive ring was tried and
 * measured the same target CPU per GB as recvmmsg: the per-frame cost
 * is in the kernel's Ethernet path (skb, veth or tap, the peer's socket
 * and its wake-up), not in the copy of a request, and one recvmmsg per
 * wake-up is already one system call per batch.  A transmit ring
 * would save only the per-message part of sendmmsg (about 2% of the
 * daemon's time at 16 requests outstanding) and is not safe here: the
 * kernel hands a ring frame back when its skb is orphaned, and tun
 * (a VM's tap) orphans it when it queues it, so a reused frame could
 * change under a reply the guest has not read yet.  Kernel BPF filters
 * are left out too (the socket is bound to the AoE EtherType already;
 * shelf/slot filtering is done in user space because one socket serves
 * every target).
 */
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "aoed.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

int aoed_batch_init(struct aoed_batch *b, unsigned max, size_t framecap)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
	b->framecap = framecap;
	b->buf = aligned_alloc(64, (size_t)max * ((framecap + 63) & ~63UL));
	b->msg = calloc(max, sizeof(*b->msg));
	b->iov = calloc(max, sizeof(*b->iov));
	b->data = calloc(max, sizeof(*b->data));
	b->faults = calloc(max, sizeof(*b->faults));
	b->pair = calloc(2 * (size_t)max, sizeof(*b->pair));
	b->addr = calloc(max, sizeof(*b->addr));
	if (!b->buf || !b->msg || !b->iov || !b->data || !b->faults ||
	    !b->pair || !b->addr) {
		aoed_batch_free(b);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < max; i++) {
		b->iov[i].iov_base = b->buf + i * ((framecap + 63) & ~63UL);
		b->iov[i].iov_len = framecap;
		b->msg[i].msg_hdr.msg_iov = &b->iov[i];
		b->msg[i].msg_hdr.msg_iovlen = 1;
	}
	return 0;
}

void aoed_batch_free(struct aoed_batch *b)
{
	free(b->buf);
	free(b->msg);
	free(b->iov);
	free(b->data);
	free(b->faults);
	free(b->pair);
	free(b->addr);
	memset(b, 0, sizeof(*b));
}

static int ifreq_ioctl(const char *ifname, unsigned long req,
		       struct ifreq *ifr)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int r;

	if (s < 0)
		return -errno;
	memset(ifr, 0, sizeof(*ifr));
	if (strlen(ifname) >= sizeof(ifr->ifr_name)) {
		close(s);
		return -ENAMETOOLONG;
	}
	strcpy(ifr->ifr_name, ifname);
	r = ioctl(s, req, ifr) < 0 ? -errno : 0;
	close(s);
	return r;
}

int aoed_getea(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr;
	int r = ifreq_ioctl(ifname, SIOCGIFHWADDR, &ifr);

	if (r < 0)
		return r;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}

int aoed_getmtu(const char *ifname)
{
	struct ifreq ifr;
	int r = ifreq_ioctl(ifname, SIOCGIFMTU, &ifr);

	return r < 0 ? r : ifr.ifr_mtu;
}

int aoed_dial(const char *ifname, int bufbytes)
{
	struct sockaddr_ll sll;
	unsigned idx = if_nametoindex(ifname);
	int one = 1;
	int s, r;

	if (idx == 0)
		return -errno;
	s = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
		   htons(BS_AOE_ETHERTYPE));
	if (s < 0)
		return -errno;
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(BS_AOE_ETHERTYPE);
	sll.sll_ifindex = (int)idx;
	if (bind(s, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		r = -errno;
		close(s);
		return r;
	}
	/* our own announcements and replies must not come back to us */
	(void)setsockopt(s, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one,
			 sizeof(one));
	(void)setsockopt(s, SOL_PACKET, PACKET_QDISC_BYPASS, &one,
			 sizeof(one));
	/* many requests in flight with jumbo frames overflow the default
	 * buffers; the FORCE variants pass rmem_max when we may */
	if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &bufbytes,
		       sizeof(bufbytes)) < 0)
		(void)setsockopt(s, SOL_SOCKET, SO_RCVBUF, &bufbytes,
				 sizeof(bufbytes));
	if (setsockopt(s, SOL_SOCKET, SO_SNDBUFFORCE, &bufbytes,
		       sizeof(bufbytes)) < 0)
		(void)setsockopt(s, SOL_SOCKET, SO_SNDBUF, &bufbytes,
				 sizeof(bufbytes));
	return s;
}

int aoed_getpkts(int fd, struct aoed_batch *b, int wait)
{
	int n, k = 0;

	for (unsigned i = 0; i < b->max; i++) {
		b->iov[i].iov_len = b->framecap;
		b->msg[i].msg_hdr.msg_name = &b->addr[i];
		b->msg[i].msg_hdr.msg_namelen = sizeof(b->addr[i]);
		b->msg[i].msg_hdr.msg_flags = 0;
	}
	n = recvmmsg(fd, b->msg, b->max, wait ? MSG_WAITFORONE : MSG_DONTWAIT,
		     NULL);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	/* keep frames addressed to us (unicast, broadcast, multicast);
	 * compact them to the front */
	for (int i = 0; i < n; i++) {
		struct sockaddr_ll *sll = (struct sockaddr_ll *)&b->addr[i];
		size_t len = b->msg[i].msg_len;

		if (sll->sll_pkttype == PACKET_OTHERHOST ||
		    sll->sll_pkttype == PACKET_OUTGOING)
			continue;
		if (len > b->framecap)
			len = b->framecap;
		if (k != i) {
			struct iovec t = b->iov[k];
			b->iov[k] = b->iov[i];
			b->iov[i] = t;
		}
		b->msg[k].msg_len = (unsigned)len;
		k++;
	}
	b->n = (unsigned)k;
	return k;
}

int aoed_putpkts(int fd, struct aoed_batch *b, unsigned n)
{
	unsigned done = 0;
	int tries = 0;

	for (unsigned i = 0; i < n; i++) {
		b->msg[i].msg_hdr.msg_name = NULL;
		b->msg[i].msg_hdr.msg_namelen = 0;
		b->pair[2 * i] = b->iov[i];
		b->pair[2 * i + 1] = b->data[i];
		b->msg[i].msg_hdr.msg_iov = &b->pair[2 * i];
		b->msg[i].msg_hdr.msg_iovlen = b->data[i].iov_len ? 2 : 1;
	}
	while (done < n) {
		int r = sendmmsg(fd, b->msg + done, n - done, MSG_DONTWAIT);
		if (r > 0) {
			done += (unsigned)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EFAULT && b->data[done].iov_len) {
			/* the data is gone (file cut short): say so */
			b->pair[2 * done].iov_len = bs_aoe_read_failed(
				b->iov[done].iov_base, b->framecap);
			b->msg[done].msg_hdr.msg_iovlen = 1;
			if (b->faults[done])
				(*b->faults[done])++;
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == ENOBUFS) &&
		    tries++ < 20) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			(void)poll(&p, 1, 5);
			continue;
		}
		/* the initiator retransmits what we could not send */
		if (done == 0 && r < 0 && errno != EAGAIN && errno != ENOBUFS)
			return -errno;
		break;
	}
	return (int)done;
}
