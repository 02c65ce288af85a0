/*
 * net.c - sockets of bootshelf-tftpd: listening sockets (own bind or
 * systemd's), per-transfer sockets connected to one client, address
 * parsing and printing, one-shot error replies.
 *
 * Not here: what a request means (session.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bootshelf/log.h>

#include "tftpd.h"

/*
 * "ADDR", "ADDR:PORT", ":PORT", "[V6]:PORT" or a bare IPv6 address.
 * Default 0.0.0.0 port 69.
 */
int tftpd_parse_addr(const char *spec, struct sockaddr_storage *ss,
		     socklen_t *len)
{
	char host[256] = "0.0.0.0", port[16] = "69";
	const char *colon = strrchr(spec, ':');
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM,
				  .ai_flags = AI_PASSIVE |
					      AI_NUMERICSERV },
			*res;
	int rc;

	if (spec[0] == '[') {
		const char *rb = strchr(spec, ']');
		if (!rb || (size_t)(rb - spec - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, spec + 1, (size_t)(rb - spec - 1));
		host[rb - spec - 1] = '\0';
		if (rb[1] == ':')
			snprintf(port, sizeof(port), "%s", rb + 2);
		else if (rb[1])
			return -EINVAL;
	} else if (colon && strchr(spec, ':') == colon) {
		if (colon > spec) {
			if ((size_t)(colon - spec) >= sizeof(host))
				return -EINVAL;
			memcpy(host, spec, (size_t)(colon - spec));
			host[colon - spec] = '\0';
		}
		snprintf(port, sizeof(port), "%s", colon + 1);
	} else if (*spec) {
		snprintf(host, sizeof(host), "%s", spec);	/* v4 or v6 */
	}
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc)
		return -EINVAL;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* Ask for the destination address of each datagram; non-blocking. */
int tftpd_listener_prepare(int fd, int *family)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int one = 1, buf = 4 << 20;

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return -errno;
	*family = ss.ss_family;
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		return -errno;
	if (ss.ss_family == AF_INET6) {
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one,
			       sizeof(one)) < 0)
			return -errno;
	} else if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one,
			      sizeof(one)) < 0) {
		return -errno;
	}
	/* Boot storms arrive in bursts; FORCE works as root only. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)))
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf,
				 sizeof(buf));
	return 0;
}

int tftpd_listen(const struct sockaddr_storage *ss, socklen_t len)
{
	int one = 1, family, err;
	int fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, len) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	err = tftpd_listener_prepare(fd, &family);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

/*
 * A socket for one transfer: bound to the address the request came to
 * (so multi-homed servers answer from the right one) on a fresh port,
 * connected to the client so the kernel filters out other senders.
 */
int tftpd_peer_socket(int family, const struct sockaddr_storage *local,
		      const struct sockaddr_storage *peer, socklen_t plen)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
			0);
	socklen_t ll = family == AF_INET6 ? sizeof(struct sockaddr_in6)
					  : sizeof(struct sockaddr_in);
	int err;

	if (fd < 0)
		return -errno;
	if (bind(fd, (const struct sockaddr *)local, ll) < 0 ||
	    connect(fd, (const struct sockaddr *)peer, plen) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

void tftpd_addr_str(const struct sockaddr_storage *ss, char *buf,
		    size_t cap)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(buf, cap, "[%s]:%u", a, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const void *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(buf, cap, "%s:%u", a, ntohs(s4->sin_port));
	}
}

/* Answer a request we will not serve, from a fresh port like a TID. */
void tftpd_reply_error(int family, const struct sockaddr_storage *local,
		       const struct sockaddr_storage *peer, socklen_t plen,
		       int err, const char *msg)
{
	uint8_t pkt[128];
	const char *m;
	uint16_t code = bs_tftp_errcode(err, &m);
	int n, fd = tftpd_peer_socket(family, local, peer, plen);

	if (fd < 0)
		return;
	n = bs_tftp_build_error(pkt, sizeof(pkt), code, msg ? msg : m);
	if (n > 0)
		(void)send(fd, pkt, (size_t)n, 0);
	close(fd);
}

/* Take the local address out of IP_PKTINFO / IPV6_PKTINFO. */
static void local_addr(struct msghdr *mh, int family,
		       struct sockaddr_storage *local)
{
	memset(local, 0, sizeof(*local));
	local->ss_family = (sa_family_t)family;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c;
	     c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == IPPROTO_IP &&
		    c->cmsg_type == IP_PKTINFO && family == AF_INET) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			((struct sockaddr_in *)local)->sin_addr =
				pi.ipi_addr;
		} else if (c->cmsg_level == IPPROTO_IPV6 &&
			   c->cmsg_type == IPV6_PKTINFO &&
			   family == AF_INET6) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			((struct sockaddr_in6 *)local)->sin6_addr =
				pi.ipi6_addr;
		}
	}
}

/* Drain a listening socket (bounded, so sessions get their turn). */
void tftpd_listener_read(struct tftpd *d, struct tftpd_listener *l)
{
	/* Requests are small (RFC 2347: 512 bytes); longer ones are cut. */
	static uint8_t pkt[2048];
	union {
		char buf[256];
		struct cmsghdr align;
	} cbuf;

	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage peer, local;
		struct iovec iov = { pkt, sizeof(pkt) };
		struct msghdr mh = {
			.msg_name = &peer, .msg_namelen = sizeof(peer),
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cbuf.buf,
			.msg_controllen = sizeof(cbuf.buf),
		};
		ssize_t n = recvmsg(l->fd, &mh, MSG_DONTWAIT);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				bs_warn("recvmsg: %s", strerror(errno));
			return;
		}
		local_addr(&mh, l->family, &local);
		tftpd_request(d, l, pkt, (size_t)n, &peer, mh.msg_namelen,
			      &local);
	}
}
