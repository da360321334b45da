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

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gatewayd.h"
#include "log.h"

struct gatewayd_conf *
config_new(void)
{
	struct gatewayd_conf	*conf;

	if ((conf = calloc(1, sizeof(*conf))) == NULL)
		fatal("config_new");
	TAILQ_INIT(&conf->listeners);
	TAILQ_INIT(&conf->ctlsocks);
	TAILQ_INIT(&conf->components);
	TAILQ_INIT(&conf->secrets);
	TAILQ_INIT(&conf->upstreams);
	TAILQ_INIT(&conf->upsecrets);
	conf->global.max_conns = GW_MAX_CONNS;
	conf->global.max_unauth = GW_MAX_UNAUTH;
	conf->global.max_unauth_per_addr = GW_MAX_UNAUTH_PER_ADDR;
	conf->global.max_preauth = GW_MAX_PREAUTH;
	conf->global.max_stanza = GW_MAX_STANZA;
	conf->global.max_depth = GW_MAX_DEPTH;
	conf->global.max_attrs = GW_MAX_ATTRS;
	conf->global.auth_fail_max = GW_AUTH_FAIL_MAX;
	conf->global.auth_fail_window = GW_AUTH_FAIL_WINDOW;
	conf->global.auth_holddown = GW_AUTH_HOLDDOWN;
	conf->global.auth_budget = GW_AUTH_BUDGET;
	conf->global.max_queue = GW_MAX_QUEUE;
	conf->global.queue_timeout = GW_QUEUE_TIMEOUT;
	conf->global.flap_max = GW_FLAP_MAX;
	conf->global.flap_window = GW_FLAP_WINDOW;
	conf->global.flap_holddown = GW_FLAP_HOLDDOWN;
	/* Named after the host unless the configuration says otherwise. */
	if (gethostname(conf->global.name, sizeof(conf->global.name)) == -1 ||
	    domain_normalize(conf->global.name) == -1)
		strlcpy(conf->global.name, "localhost",
		    sizeof(conf->global.name));
	conf->global.handshake_timeout = GW_HANDSHAKE_TIMEOUT;
	conf->global.idle_timeout = GW_IDLE_TIMEOUT;
	strlcpy(conf->user, GATEWAYD_USER, sizeof(conf->user));
	strlcpy(conf->chroot, GATEWAYD_CHROOT, sizeof(conf->chroot));
	strlcpy(conf->secrets_path, GATEWAYD_SECRETS,
	    sizeof(conf->secrets_path));
	return (conf);
}

static void
secrets_purge(struct gw_secrets *head)
{
	struct gw_secret	*s;

	while ((s = TAILQ_FIRST(head)) != NULL) {
		TAILQ_REMOVE(head, s, entry);
		freezero(s, sizeof(*s));
	}
}

/* Once authd has them, the parent forgets the secrets, the servers' too. */
void
config_purge_secrets(struct gatewayd_conf *conf)
{
	secrets_purge(&conf->secrets);
	secrets_purge(&conf->upsecrets);
}

void
config_free(struct gatewayd_conf *conf)
{
	struct gw_listen	*l;
	struct gw_ctlsock	*cs;
	struct gw_component	*c;
	struct gw_alias		*a;
	struct gw_upstream	*up;

	if (conf == NULL)
		return;
	config_purge_secrets(conf);
	while ((l = TAILQ_FIRST(&conf->listeners)) != NULL) {
		TAILQ_REMOVE(&conf->listeners, l, entry);
		if (l->fd != -1)
			close(l->fd);
		free(l);
	}
	while ((cs = TAILQ_FIRST(&conf->ctlsocks)) != NULL) {
		TAILQ_REMOVE(&conf->ctlsocks, cs, entry);
		if (cs->fd != -1)
			close(cs->fd);
		free(cs);
	}
	while ((c = TAILQ_FIRST(&conf->components)) != NULL) {
		TAILQ_REMOVE(&conf->components, c, entry);
		while ((a = TAILQ_FIRST(&c->aliases)) != NULL) {
			TAILQ_REMOVE(&c->aliases, a, entry);
			free(a);
		}
		free(c->file);
		free(c);
	}
	while ((up = TAILQ_FIRST(&conf->upstreams)) != NULL) {
		TAILQ_REMOVE(&conf->upstreams, up, entry);
		free(up->file);
		free(up);
	}
	free(conf);
}

static const char *
upstream_name(const struct gatewayd_conf *conf, uint32_t id)
{
	const struct gw_upstream	*up;

	TAILQ_FOREACH(up, &conf->upstreams, entry)
		if (up->conf.id == id)
			return (up->conf.name);
	return ("?");
}

/* Is the host as written just this address (brackets aside)? */
static int
host_is_addr(const char *host, const char *addr)
{
	size_t	len = strlen(addr);

	if (strcmp(host, addr) == 0)
		return (1);
	return (host[0] == '[' && strncmp(host + 1, addr, len) == 0 &&
	    strcmp(host + 1 + len, "]") == 0);
}

/* A connect to line, with the addresses it was resolved to, in order. */
static void
print_connect(FILE *fp, const struct gw_connect_to *ct)
{
	char	addr[NI_MAXHOST];
	size_t	i;

	fprintf(fp, "\tconnect to %s port %u", ct->host, (unsigned)ct->port);
	for (i = 0; i < ct->naddrs; i++) {
		if (getnameinfo((const struct sockaddr *)&ct->addrs[i],
		    sockaddr_len(&ct->addrs[i]), addr, sizeof(addr), NULL, 0,
		    NI_NUMERICHOST) != 0)
			strlcpy(addr, "?", sizeof(addr));
		if (ct->naddrs == 1 && host_is_addr(ct->host, addr))
			break;
		fprintf(fp, "%s%s", i == 0 ? "\t# " : ", ", addr);
	}
	fprintf(fp, "\n");
}

static void
print_upstream(FILE *fp, const struct gw_upstream *up)
{
	size_t	i;

	fprintf(fp, "\nupstream \"%s\" {\n", up->conf.name);
	for (i = 0; i < up->nconnect; i++)
		print_connect(fp, &up->connect[i]);
	fprintf(fp, "\tsecrets \"%s\"\n", up->secrets_path);
	fprintf(fp, "\tgrace %u\n", up->conf.grace);
	fprintf(fp, "\tgrace size %u\n", up->conf.grace_size);
	fprintf(fp, "}\n");
}

/*
 * The configuration as gatewayd.conf syntax, secrets never shown; the
 * upstreams come before the components, which name them.
 */
void
config_print(FILE *fp, const struct gatewayd_conf *conf)
{
	const struct gw_listen		*l;
	const struct gw_ctlsock		*cs;
	const struct gw_upstream	*up;
	const struct gw_component	*c;
	const struct gw_alias		*a;
	char				 addr[NI_MAXHOST + 16];

	if (conf->name_set)
		fprintf(fp, "name \"%s\"\n", conf->global.name);
	TAILQ_FOREACH(l, &conf->listeners, entry)
		fprintf(fp, "listen on %s\n",
		    sockaddr_print(&l->conf.ss, addr, sizeof(addr)));
	TAILQ_FOREACH(cs, &conf->ctlsocks, entry)
		fprintf(fp, "control socket \"%s\"%s\n", cs->path,
		    cs->restricted ? " restricted" : "");
	fprintf(fp, "user \"%s\"\n", conf->user);
	fprintf(fp, "chroot \"%s\"\n", conf->chroot);
	fprintf(fp, "secrets \"%s\"\n", conf->secrets_path);
	fprintf(fp, "max connections %u\n", conf->global.max_conns);
	fprintf(fp, "max unauthenticated %u per address %u\n",
	    conf->global.max_unauth, conf->global.max_unauth_per_addr);
	fprintf(fp, "max preauth size %u\n", conf->global.max_preauth);
	fprintf(fp, "max stanza size %u\n", conf->global.max_stanza);
	fprintf(fp, "max depth %u\n", conf->global.max_depth);
	fprintf(fp, "max attributes %u\n", conf->global.max_attrs);
	fprintf(fp, "handshake timeout %u\n", conf->global.handshake_timeout);
	fprintf(fp, "handshake failures %u per %u holddown %u\n",
	    conf->global.auth_fail_max, conf->global.auth_fail_window,
	    conf->global.auth_holddown);
	fprintf(fp, "handshake checks %u\n", conf->global.auth_budget);
	fprintf(fp, "idle timeout %u\n", conf->global.idle_timeout);
	fprintf(fp, "max queue size %u\n", conf->global.max_queue);
	fprintf(fp, "queue timeout %u\n", conf->global.queue_timeout);
	fprintf(fp, "max takeovers %u per %u holddown %u\n",
	    conf->global.flap_max, conf->global.flap_window,
	    conf->global.flap_holddown);

	TAILQ_FOREACH(up, &conf->upstreams, entry)
		print_upstream(fp, up);
	TAILQ_FOREACH(c, &conf->components, entry) {
		fprintf(fp, "\ncomponent \"%s\" {\n", c->conf.name);
		TAILQ_FOREACH(a, &c->aliases, entry)
			fprintf(fp, "\talias \"%s\"\n", a->conf.name);
		if (c->conf.flags & GW_COMP_DEFAULT_ROUTE)
			fprintf(fp, "\tdefault route\n");
		fprintf(fp, "\ton conflict %s\n",
		    c->conf.conflict == CONFLICT_REJECT ? "reject" : "replace");
		if (c->conf.max_stanza != 0)
			fprintf(fp, "\tmax stanza size %u\n", c->conf.max_stanza);
		if (c->conf.upstream_id != 0)
			fprintf(fp, "\tupstream \"%s\"\n",
			    upstream_name(conf, c->conf.upstream_id));
		fprintf(fp, "\t# %d secret%s: ********\n", c->nsecrets,
		    c->nsecrets == 1 ? "" : "s");
		fprintf(fp, "}\n");
	}
}

/*
 * FNV-1a over what the upstream connects to: when a reload changes it,
 * the engine connects anew.
 */
static uint64_t
hash_bytes(uint64_t h, const void *p, size_t len)
{
	const unsigned char	*b = p;

	while (len-- > 0) {
		h ^= *b++;
		h *= 0x100000001b3ULL;
	}
	return (h);
}

static uint64_t
upstream_addr_hash(const struct gw_upstream *up)
{
	uint64_t	h = 0xcbf29ce484222325ULL;
	size_t		i, j;

	for (i = 0; i < up->nconnect; i++) {
		h = hash_bytes(h, up->connect[i].host,
		    strlen(up->connect[i].host) + 1);
		h = hash_bytes(h, &up->connect[i].port,
		    sizeof(up->connect[i].port));
		for (j = 0; j < up->connect[i].naddrs; j++)
			h = hash_bytes(h, &up->connect[i].addrs[j],
			    sockaddr_len(&up->connect[i].addrs[j]));
	}
	return (h);
}

/*
 * Configuration for the engine: limits, listeners (with a descriptor for
 * each one the parent has just bound, -1 for one the engine already has),
 * the control sockets (at the start), the upstreams, then the components
 * (which name them) and their aliases.  Never a secret, nor an address
 * of an upstream: the parent makes those connections.
 */
int
config_send_engine(struct imsgev *iev, const struct gatewayd_conf *conf)
{
	struct gw_listen		*l;
	struct gw_ctlsock		*cs;
	struct gw_control_conf		 cc;
	struct gw_upstream_conf		 upc;
	const struct gw_upstream	*up;
	const struct gw_component	*c;
	const struct gw_alias		*a;

	if (imsgev_compose(iev, IMSG_RECONF_START, 0, -1, &conf->global,
	    sizeof(conf->global)) == -1)
		return (-1);
	TAILQ_FOREACH(l, &conf->listeners, entry) {
		if (imsgev_compose(iev, IMSG_RECONF_LISTENER, 0, l->fd,
		    &l->conf, sizeof(l->conf)) == -1)
			return (-1);
		l->fd = -1;	/* imsg closes it once sent */
	}
	/* The control sockets, made at the start, go once. */
	TAILQ_FOREACH(cs, &conf->ctlsocks, entry) {
		if (cs->fd == -1)
			continue;
		cc.restricted = cs->restricted;
		if (imsgev_compose(iev, IMSG_RECONF_CONTROL, 0, cs->fd, &cc,
		    sizeof(cc)) == -1)
			return (-1);
		cs->fd = -1;	/* imsg closes it once sent */
	}
	TAILQ_FOREACH(up, &conf->upstreams, entry) {
		upc = up->conf;
		upc.addr_hash = upstream_addr_hash(up);
		if (imsgev_compose(iev, IMSG_RECONF_UPSTREAM, 0, -1, &upc,
		    sizeof(upc)) == -1)
			return (-1);
	}
	TAILQ_FOREACH(c, &conf->components, entry) {
		if (imsgev_compose(iev, IMSG_RECONF_COMPONENT, 0, -1,
		    &c->conf, sizeof(c->conf)) == -1)
			return (-1);
		TAILQ_FOREACH(a, &c->aliases, entry)
			if (imsgev_compose(iev, IMSG_RECONF_ALIAS, 0, -1,
			    &a->conf, sizeof(a->conf)) == -1)
				return (-1);
	}
	return (imsgev_compose(iev, IMSG_RECONF_DONE, 0, -1, NULL, 0));
}

/*
 * authd learns the components and their secrets, then the secret each
 * component's server has for it; nothing else.
 */
int
config_send_authd(struct imsgev *iev, const struct gatewayd_conf *conf)
{
	const struct gw_component	*c;
	const struct gw_secret		*s;

	if (imsgev_compose(iev, IMSG_RECONF_START, 0, -1, &conf->global,
	    sizeof(conf->global)) == -1)
		return (-1);
	TAILQ_FOREACH(c, &conf->components, entry)
		if (imsgev_compose(iev, IMSG_RECONF_COMPONENT, 0, -1,
		    &c->conf, sizeof(c->conf)) == -1)
			return (-1);
	TAILQ_FOREACH(s, &conf->secrets, entry)
		if (imsgev_compose(iev, IMSG_RECONF_SECRET, 0, -1, &s->conf,
		    sizeof(s->conf)) == -1)
			return (-1);
	TAILQ_FOREACH(s, &conf->upsecrets, entry)
		if (imsgev_compose(iev, IMSG_RECONF_UPSECRET, 0, -1, &s->conf,
		    sizeof(s->conf)) == -1)
			return (-1);
	return (imsgev_compose(iev, IMSG_RECONF_DONE, 0, -1, NULL, 0));
}
