/*
 * Copyright (c) 2026 The gatewayd developers
 *
 * Permission to use, copy, modify, and distribute this software for any
 * purpose with or without fee is hereby granted, provided that the above
 * copyright notice and this permission notice appear in all copies.
 *
 * THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
 * WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
 * MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
 * ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
 * WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
 * ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
 * OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "gatewayd.h"
#include "log.h"

/*
 * authd holds the shared secrets and nothing else: no network, no files
 * once sandboxed, two pipes (parent and engine) served by a poll loop.
 * No libevent here: nothing in this process that it does not need.
 */

struct authd_secret {
	TAILQ_ENTRY(authd_secret)	 entry;
	struct gw_secret_conf		 conf;
};
TAILQ_HEAD(authd_secrets, authd_secret);

struct authd_conf {
	struct gw_global	 global;
	struct authd_secrets	 secrets;
	size_t			 ncomponents;
	size_t			 nsecrets;
};

enum { PFD_PARENT, PFD_ENGINE, PFD_MAX };

static struct imsgbuf		 ibuf_parent, ibuf_engine;
static struct authd_conf	*running, *staged;
static int			 engine_gone;

static void	authd_preinit_crypto(void);
static int	authd_dispatch_parent(void);
static int	authd_dispatch_engine(void);
static struct authd_conf *authd_conf_new(void);
static void	authd_conf_free(struct authd_conf *);

void
authd_main(int debug, int verbose, const char *user, const char *chrootdir)
{
	struct pollfd	pfd[PFD_MAX];
	int		i;

	(void)debug;
	(void)verbose;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);

	authd_preinit_crypto();
	if (imsgbuf_init(&ibuf_parent, PROC_PARENT_FD) == -1 ||
	    imsgbuf_init(&ibuf_engine, PROC_PEER_FD) == -1)
		fatal("imsgbuf_init");
	running = authd_conf_new();

	proc_child_setup(PROC_AUTHD, user, chrootdir);
	log_debug("started");

	for (;;) {
		pfd[PFD_PARENT].fd = ibuf_parent.fd;
		pfd[PFD_PARENT].events = POLLIN;
		if (imsgbuf_queuelen(&ibuf_parent) > 0)
			pfd[PFD_PARENT].events |= POLLOUT;
		pfd[PFD_ENGINE].fd = engine_gone ? -1 : ibuf_engine.fd;
		pfd[PFD_ENGINE].events = POLLIN;
		if (imsgbuf_queuelen(&ibuf_engine) > 0)
			pfd[PFD_ENGINE].events |= POLLOUT;

		if (poll(pfd, PFD_MAX, -1) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		for (i = 0; i < PFD_MAX; i++)
			if (pfd[i].revents & POLLNVAL)
				fatalx("poll: invalid descriptor");

		if ((pfd[PFD_PARENT].revents & POLLOUT) &&
		    imsgbuf_write(&ibuf_parent) == -1) {
			if (errno != EPIPE)
				fatal("imsgbuf_write to the parent");
			break;
		}
		if ((pfd[PFD_PARENT].revents & (POLLIN | POLLHUP)) &&
		    authd_dispatch_parent() == -1)
			break;

		if ((pfd[PFD_ENGINE].revents & POLLOUT) &&
		    imsgbuf_write(&ibuf_engine) == -1) {
			if (errno != EPIPE)
				fatal("imsgbuf_write to the engine");
			engine_gone = 1;
		}
		if ((pfd[PFD_ENGINE].revents & (POLLIN | POLLHUP)) &&
		    authd_dispatch_engine() == -1) {
			/* The parent sees the engine die and ends us all. */
			log_warnx("lost the engine");
			engine_gone = 1;
		}
	}

	log_debug("parent closed the pipe, exiting");
	authd_conf_free(running);
	authd_conf_free(staged);
	exit(0);
}

/*
 * libcrypto loads its configuration and picks its implementations on
 * first use: do it now, while files can still be opened.
 */
static void
authd_preinit_crypto(void)
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	mdlen;

	if (OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL) != 1)
		fatalx("OPENSSL_init_crypto");
	if (EVP_Digest("gatewayd", 8, md, &mdlen, EVP_sha1(), NULL) != 1)
		fatalx("EVP_Digest");
	explicit_bzero(md, sizeof(md));
}

static struct authd_conf *
authd_conf_new(void)
{
	struct authd_conf	*ac;

	if ((ac = calloc(1, sizeof(*ac))) == NULL)
		fatal("authd_conf_new");
	TAILQ_INIT(&ac->secrets);
	return (ac);
}

static void
authd_conf_free(struct authd_conf *ac)
{
	struct authd_secret	*s;

	if (ac == NULL)
		return;
	while ((s = TAILQ_FIRST(&ac->secrets)) != NULL) {
		TAILQ_REMOVE(&ac->secrets, s, entry);
		freezero(s, sizeof(*s));
	}
	freezero(ac, sizeof(*ac));
}

static void
authd_reconf_secret(struct imsg *imsg)
{
	struct authd_secret	*s;

	if (staged == NULL)
		fatalx("RECONF_SECRET outside a reconfiguration");
	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("authd_reconf_secret");
	imsg_get_fixed(imsg, &s->conf, sizeof(s->conf), "RECONF_SECRET");
	imsg_check_string(s->conf.domain, sizeof(s->conf.domain), "domain");
	if (s->conf.len == 0 || s->conf.len >= sizeof(s->conf.secret) ||
	    s->conf.secret[s->conf.len] != '\0')
		fatalx("RECONF_SECRET: bad secret length");
	TAILQ_INSERT_TAIL(&staged->secrets, s, entry);
	staged->nsecrets++;
}

/* Returns -1 once the parent has closed the pipe. */
static int
authd_dispatch_parent(void)
{
	struct imsg			imsg;
	struct gw_component_conf	comp;
	int				n, verbose;

	if ((n = imsgbuf_read(&ibuf_parent)) == -1) {
		if (errno == ECONNRESET)
			return (-1);
		fatal("imsgbuf_read from the parent");
	}
	if (n == 0)
		return (-1);
	for (;;) {
		if ((n = imsgbuf_get(&ibuf_parent, &imsg)) == -1)
			fatal("imsgbuf_get");
		if (n == 0)
			break;
		switch (imsg_get_type(&imsg)) {
		case IMSG_RECONF_START:
			authd_conf_free(staged);
			staged = authd_conf_new();
			imsg_get_fixed(&imsg, &staged->global,
			    sizeof(staged->global), "RECONF_START");
			log_setverbose(staged->global.verbose);
			break;
		case IMSG_RECONF_COMPONENT:
			if (staged == NULL)
				fatalx("RECONF_COMPONENT outside a "
				    "reconfiguration");
			imsg_get_fixed(&imsg, &comp, sizeof(comp),
			    "RECONF_COMPONENT");
			imsg_check_string(comp.name, sizeof(comp.name),
			    "component");
			staged->ncomponents++;
			break;
		case IMSG_RECONF_SECRET:
			authd_reconf_secret(&imsg);
			break;
		case IMSG_RECONF_DONE:
			if (staged == NULL)
				fatalx("RECONF_DONE outside a reconfiguration");
			authd_conf_free(running);
			running = staged;
			staged = NULL;
			log_info("%zu secrets for %zu components",
			    running->nsecrets, running->ncomponents);
			if (imsg_compose(&ibuf_parent, IMSG_RECONF_ACK, 0, 0,
			    -1, NULL, 0) == -1)
				fatal("imsg_compose");
			break;
		case IMSG_CTL_VERBOSE:
			imsg_get_fixed(&imsg, &verbose, sizeof(verbose),
			    "CTL_VERBOSE");
			log_setverbose(verbose);
			break;
		default:
			fatalx("unexpected message %u from the parent",
			    imsg_get_type(&imsg));
		}
		imsg_free(&imsg);
	}
	return (0);
}

/* Returns -1 once the engine has closed the pipe. */
static int
authd_dispatch_engine(void)
{
	struct imsg	imsg;
	int		n;

	if ((n = imsgbuf_read(&ibuf_engine)) == -1) {
		if (errno == ECONNRESET)
			return (-1);
		fatal("imsgbuf_read from the engine");
	}
	if (n == 0)
		return (-1);
	for (;;) {
		if ((n = imsgbuf_get(&ibuf_engine, &imsg)) == -1)
			fatal("imsgbuf_get");
		if (n == 0)
			break;
		fatalx("unexpected message %u from the engine",
		    imsg_get_type(&imsg));
	}
	return (0);
}
