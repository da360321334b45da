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
 * What the imsg fuzz targets share (imsg_fuzz.c): a child process run in
 * ours over two socketpairs, the parent's pipe and its sibling's, with
 * common/log.c and common/proc.c built in for their statics.  A target
 * (imsg_engine_fuzz.c, imsg_authd_fuzz.c) defines fz_target: the child,
 * its peers and its oracles.  Included after proc.h.
 */

#ifndef IMSG_FUZZ_H
#define IMSG_FUZZ_H

#include <setjmp.h>

enum { FZ_PARENT, FZ_SIBLING, FZ_PIPES };	/* the child's two pipes */
#define FZ_PAYLOAD	4096	/* of a message either way, at most */
#define FZ_ACK		UINT64_MAX /* a RECONF_ACK is due, not a PONG */

/* How a run ends: the value setjmp(fz_jmp) returns. */
enum { FZ_RUN, FZ_DONE, FZ_FATAL, FZ_EXIT };

/* The descriptors a child finds at exec time: made for each input. */
extern int	fz_parent_fd, fz_peer_fd;
#undef PROC_PARENT_FD
#define PROC_PARENT_FD	fz_parent_fd
#undef PROC_PEER_FD
#define PROC_PEER_FD	fz_peer_fd

/* A message type a table takes, on which pipe, of what size. */
struct fz_type {
	int		 chn;
	uint32_t	 type;
	size_t		 len;
};

/*
 * The target: its names in the lines we print (prog the program, self
 * the child) and log.c's for the child (proc); who we are on each pipe;
 * what the sibling's table takes (the parent's, the same for both
 * children, is imsg_fuzz.c's).  start makes its state for an input, run
 * is the child's main, teardown makes it a fresh process again, linked
 * says whether the child holds what a fatal's handler allocated (NULL:
 * nothing is tracked).  got has what the child wrote, past its table's
 * check; line each log line (and in lower case); fatal a fatal's
 * message, to FZ_DONE or FZ_FATAL (or a breach).
 */
struct fz_target {
	const char		*prog, *self, *proc;
	const char		*peer[FZ_PIPES];
	const struct fz_type	*takes;
	size_t			 ntakes;
	void			(*start)(void);
	void			(*run)(void);
	void			(*teardown)(void);
	int			(*linked)(const void *);
	void			(*got)(int, uint32_t, const void *);
	void			(*line)(const char *, const char *);
	int			(*fatal)(int, const char *);
};

/* Our end of each pipe (fd, -1 once we closed it) and the child's. */
struct fz_pipe {
	int		 fd, theirs;
	struct imsgbuf	 ibuf;
};

extern const struct fz_target	fz_target;	/* the target's own */
extern struct fz_pipe		fz_pipes[FZ_PIPES];
extern jmp_buf			fz_jmp;
extern int			fz_armed;

__dead void	breach(const char *, ...)
		    __attribute__((__format__ (printf, 1, 2)));

void		fz_bytes(void *, size_t);
uint8_t		fz_byte(void);
size_t		fz_left(void);

int		fz_imsg_get_fd(struct imsg *);
void		fz_kept(void *);
void		fz_lower(char *, const char *, size_t);
int		fz_designed(const char *, const char *const *, size_t);

int		fz_passfd(int);
void		fz_flush(int);
int		fz_compose(int, uint32_t, uint32_t, int, const void *,
		    size_t);
size_t		fz_shape(uint8_t, void *, size_t);
uint32_t	fz_peerid(uint8_t);
size_t		fz_any(uint32_t *, void *);
int		fz_pipe_close(int);
int		fz_read(int);

#endif /* IMSG_FUZZ_H */
