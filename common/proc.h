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

/*
 * Process bring-up and the pipes between the processes: every process
 * (parent, engine, authd) uses these and nothing process specific.
 */

#ifndef PROC_H
#define PROC_H

#include <sys/types.h>
#include <sys/queue.h>

#include <event.h>
#include <imsg.h>
#include <stdint.h>

#include "compat.h"
#include "msg.h"

extern const char	*gw_procnames[PROC_MAX];

/*
 * One entry of a channel's table: a message type the far end may send,
 * its payload size (exact, or a minimum with IMSGF_MIN) and its handler.
 * The handler of a fixed-size message gets a copy of the payload,
 * aligned for its struct and wiped after the call; the others read the
 * imsg themselves.  A descriptor may come only where IMSGF_FD says so.
 */
#define IMSGF_FD	0x01
#define IMSGF_MIN	0x02

struct imsg_handler {
	uint32_t	 type;
	const char	*name;
	size_t		 len;
	int		 flags;
	void		(*fn)(struct imsg *, const void *, void *);
};

struct imsg_channel {
	const char			*peer;		/* for errors */
	const struct imsg_handler	*handlers;
	size_t				 nhandlers;
	void				(*done)(void *); /* after a batch */
};

/* An imsg channel with its libevent event. */
struct imsgev {
	struct imsgbuf			 ibuf;
	struct event			 ev;
	const struct imsg_channel	*channel;
	void				*data;		/* for the handlers */
	void				(*gone)(struct imsgev *);
	int				(*room)(void);	/* may it read? */
	int				 paused;	/* not reading */
	int				 eof;		/* nothing more comes */
	int				 burst;		/* trim once written */
	short				 events;
};

pid_t		 proc_exec(enum gw_proc, int, int, int, int, const char *,
		    const char *);
void		 proc_child_setup(enum gw_proc, const char *, const char *);

int		 imsg_dispatch(struct imsgbuf *, const struct imsg_channel *,
		    void *);
void		 imsg_check_string(const char *, size_t, const char *);
void		 proc_log_to_parent(struct imsgbuf *, void (*)(void));
void		 proc_log_detach(struct imsgbuf *);

void		 imsgev_init(struct imsgev *, int, const struct imsg_channel *,
		    void *, void (*)(struct imsgev *));
void		 imsgev_add(struct imsgev *);
void		 imsgev_clear(struct imsgev *);
void		 imsgev_set_room(struct imsgev *, int (*)(void));
void		 imsgev_resume(struct imsgev *);
int		 imsgev_compose(struct imsgev *, uint32_t, uint32_t, int,
		    const void *, size_t);

#endif /* PROC_H */
