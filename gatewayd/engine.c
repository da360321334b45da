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
#include <sys/socket.h>
#include <sys/queue.h>

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gatewayd.h"
#include "log.h"

#define ENGINE_ACCEPT_BACKOFF	1	/* seconds a listener rests on EMFILE */

struct engine_listener {
	TAILQ_ENTRY(engine_listener)	 entry;
	struct gw_listen_conf		 conf;
	int				 fd;
	struct event			 ev;
	struct event			 pause;
	int				 armed;
	int				 paused;
};
TAILQ_HEAD(engine_listeners, engine_listener);

struct engine_component {
	TAILQ_ENTRY(engine_component)	 entry;
	struct gw_component_conf	 conf;
	struct gw_alias_conf		*aliases;
	size_t				 naliases;
};
TAILQ_HEAD(engine_components, engine_component);

struct engine_conf {
	struct gw_global		 global;
	struct engine_listeners		 listeners;
	struct engine_components	 components;
};

static struct imsgev		 iev_parent, iev_authd;
static struct engine_conf	*running, *staged;

static void	engine_dispatch_parent(int, short, void *);
static void	engine_dispatch_authd(int, short, void *);
static struct engine_conf *engine_conf_new(void);
static void	engine_conf_free(struct engine_conf *);
static void	engine_reconf_listener(struct imsg *);
static void	engine_reconf_component(struct imsg *);
static void	engine_reconf_alias(struct imsg *);
static void	engine_reconf_done(void);
static void	engine_accept(int, short, void *);
static void	engine_accept_resume(int, short, void *);
static void	engine_listener_arm(struct engine_listener *);

void
engine_main(int debug, int verbose, const char *user, const char *chrootdir)
{
	(void)debug;
	(void)verbose;

	/*
	 * The parent tells us when to stop, by closing our pipe: a signal
	 * to the whole process group is its to handle.
	 */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);

	event_init();
	imsgev_init(&iev_parent, PROC_PARENT_FD, "parent",
	    engine_dispatch_parent, NULL);
	imsgbuf_allow_fdpass(&iev_parent.ibuf);
	imsgev_init(&iev_authd, PROC_PEER_FD, "authd", engine_dispatch_authd,
	    NULL);
	running = engine_conf_new();

	proc_child_setup(PROC_ENGINE, user, chrootdir);
	log_debug("started");

	event_dispatch();
	fatalx("event loop ended");
}

static struct engine_conf *
engine_conf_new(void)
{
	struct engine_conf	*ec;

	if ((ec = calloc(1, sizeof(*ec))) == NULL)
		fatal("engine_conf_new");
	TAILQ_INIT(&ec->listeners);
	TAILQ_INIT(&ec->components);
	return (ec);
}

static void
engine_listener_close(struct engine_listener *el)
{
	if (el->armed) {
		event_del(&el->ev);
		el->armed = 0;
	}
	if (el->paused)
		evtimer_del(&el->pause);
	if (el->fd != -1)
		close(el->fd);
	free(el);
}

static void
engine_conf_free(struct engine_conf *ec)
{
	struct engine_listener	*el;
	struct engine_component	*c;

	if (ec == NULL)
		return;
	while ((el = TAILQ_FIRST(&ec->listeners)) != NULL) {
		TAILQ_REMOVE(&ec->listeners, el, entry);
		engine_listener_close(el);
	}
	while ((c = TAILQ_FIRST(&ec->components)) != NULL) {
		TAILQ_REMOVE(&ec->components, c, entry);
		free(c->aliases);
		free(c);
	}
	free(ec);
}

static void
engine_dispatch_parent(int fd, short event, void *arg)
{
	struct imsgev	*iev = arg;
	struct imsg	 imsg;
	int		 n, verbose;

	(void)fd;
	if (imsgev_handle_io(iev, event) == -1) {
		/* The parent is gone or tells us to stop. */
		log_debug("parent closed the pipe, exiting");
		exit(0);
	}
	for (;;) {
		if ((n = imsgbuf_get(&iev->ibuf, &imsg)) == -1)
			fatal("imsgbuf_get");
		if (n == 0)
			break;
		switch (imsg_get_type(&imsg)) {
		case IMSG_RECONF_START:
			engine_conf_free(staged);
			staged = engine_conf_new();
			imsg_get_fixed(&imsg, &staged->global,
			    sizeof(staged->global), "RECONF_START");
			log_setverbose(staged->global.verbose);
			break;
		case IMSG_RECONF_LISTENER:
			engine_reconf_listener(&imsg);
			break;
		case IMSG_RECONF_COMPONENT:
			engine_reconf_component(&imsg);
			break;
		case IMSG_RECONF_ALIAS:
			engine_reconf_alias(&imsg);
			break;
		case IMSG_RECONF_DONE:
			engine_reconf_done();
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
	imsgev_add(iev);
}

static void
engine_dispatch_authd(int fd, short event, void *arg)
{
	struct imsgev	*iev = arg;
	struct imsg	 imsg;
	int		 n;

	(void)fd;
	if (imsgev_handle_io(iev, event) == -1) {
		/* The parent sees authd die and ends us all. */
		log_warnx("lost authd");
		imsgev_clear(iev);
		return;
	}
	for (;;) {
		if ((n = imsgbuf_get(&iev->ibuf, &imsg)) == -1)
			fatal("imsgbuf_get");
		if (n == 0)
			break;
		fatalx("unexpected message %u from authd",
		    imsg_get_type(&imsg));
	}
	imsgev_add(iev);
}

static void
engine_staged_check(const char *what)
{
	if (staged == NULL)
		fatalx("%s outside a reconfiguration", what);
}

static void
engine_reconf_listener(struct imsg *imsg)
{
	struct engine_listener	*el;

	engine_staged_check("RECONF_LISTENER");
	if ((el = calloc(1, sizeof(*el))) == NULL)
		fatal("engine_reconf_listener");
	imsg_get_fixed(imsg, &el->conf, sizeof(el->conf), "RECONF_LISTENER");
	el->fd = imsg_get_fd(imsg);
	TAILQ_INSERT_TAIL(&staged->listeners, el, entry);
}

static void
engine_reconf_component(struct imsg *imsg)
{
	struct engine_component	*c;

	engine_staged_check("RECONF_COMPONENT");
	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal("engine_reconf_component");
	imsg_get_fixed(imsg, &c->conf, sizeof(c->conf), "RECONF_COMPONENT");
	imsg_check_string(c->conf.name, sizeof(c->conf.name), "component");
	TAILQ_INSERT_TAIL(&staged->components, c, entry);
}

static void
engine_reconf_alias(struct imsg *imsg)
{
	struct engine_component	*c;
	struct gw_alias_conf	 alias, *p;

	engine_staged_check("RECONF_ALIAS");
	imsg_get_fixed(imsg, &alias, sizeof(alias), "RECONF_ALIAS");
	imsg_check_string(alias.name, sizeof(alias.name), "alias");
	TAILQ_FOREACH(c, &staged->components, entry)
		if (c->conf.id == alias.component_id)
			break;
	if (c == NULL)
		fatalx("alias %s for unknown component %u", alias.name,
		    alias.component_id);
	if ((p = recallocarray(c->aliases, c->naliases, c->naliases + 1,
	    sizeof(*p))) == NULL)
		fatal("engine_reconf_alias");
	c->aliases = p;
	c->aliases[c->naliases++] = alias;
}

/*
 * Swap in the staged configuration.  A listener the parent sent without
 * a descriptor is one we already have: carry it over.  Listeners not in
 * the new configuration are closed.
 */
static void
engine_reconf_done(void)
{
	struct engine_listener	*el, *old;
	struct engine_component	*c;
	char			 addr[NI_MAXHOST + 16];
	size_t			 i;

	engine_staged_check("RECONF_DONE");
	TAILQ_FOREACH(el, &staged->listeners, entry) {
		sockaddr_print(&el->conf.ss, addr, sizeof(addr));
		if (el->fd != -1) {
			log_info("listening on %s", addr);
			continue;
		}
		TAILQ_FOREACH(old, &running->listeners, entry)
			if (sockaddr_cmp(&old->conf.ss, &el->conf.ss) == 0)
				break;
		if (old == NULL || old->fd == -1)
			fatalx("no socket for listener %s", addr);
		el->fd = old->fd;
		old->fd = -1;
	}
	TAILQ_FOREACH(old, &running->listeners, entry)
		if (old->fd != -1)
			log_info("no longer listening on %s",
			    sockaddr_print(&old->conf.ss, addr, sizeof(addr)));

	engine_conf_free(running);
	running = staged;
	staged = NULL;
	TAILQ_FOREACH(el, &running->listeners, entry)
		engine_listener_arm(el);
	TAILQ_FOREACH(c, &running->components, entry) {
		log_debug("component %s%s", c->conf.name,
		    (c->conf.flags & GW_COMP_DEFAULT_ROUTE) ?
		    " (default route)" : "");
		for (i = 0; i < c->naliases; i++)
			log_debug("alias %s of %s", c->aliases[i].name,
			    c->conf.name);
	}
	if (imsgev_compose(&iev_parent, IMSG_RECONF_ACK, 0, -1, NULL, 0) == -1)
		fatal("imsgev_compose");
}

static void
engine_listener_arm(struct engine_listener *el)
{
	event_set(&el->ev, el->fd, EV_READ | EV_PERSIST, engine_accept, el);
	event_add(&el->ev, NULL);
	evtimer_set(&el->pause, engine_accept_resume, el);
	el->armed = 1;
}

static void
engine_accept_resume(int fd, short event, void *arg)
{
	struct engine_listener	*el = arg;

	(void)fd;
	(void)event;
	el->paused = 0;
	event_add(&el->ev, NULL);
	el->armed = 1;
}

/*
 * Streams come with the next piece of work; until then a connection is
 * accepted, noted and closed.
 */
static void
engine_accept(int fd, short event, void *arg)
{
	struct engine_listener	*el = arg;
	struct sockaddr_storage	 ss;
	struct timeval		 tv = { ENGINE_ACCEPT_BACKOFF, 0 };
	socklen_t		 len = sizeof(ss);
	char			 addr[NI_MAXHOST + 16];
	int			 s;

	(void)event;
	if ((s = accept4(fd, (struct sockaddr *)&ss, &len,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1) {
		switch (errno) {
		case EINTR:
		case EAGAIN:
		case ECONNABORTED:
			return;
		case EMFILE:
		case ENFILE:
			/* Rest a little rather than spin on a full table. */
			log_warn("accept");
			event_del(&el->ev);
			el->armed = 0;
			el->paused = 1;
			evtimer_add(&el->pause, &tv);
			return;
		default:
			fatal("accept");
		}
	}
	log_debug("connection from %s",
	    sockaddr_print(&ss, addr, sizeof(addr)));
	close(s);
}
