#!/usr/bin/env python3
# Writes the seed corpora of the imsg fuzz targets: python3
# mkcorpus_imsg.py DIR makes DIR/imsg_engine and DIR/imsg_authd
# (regress/fuzz/corpus is its output, kept in the tree).  Each seed is
# a sequence of records as fz_op in imsg_engine_fuzz.c and
# imsg_authd_fuzz.c read them: a whole configuration, sessions, and
# what the receivers must survive.
import os
import sys

# imsg_engine_fuzz.c, fz_op: op % 32, then the op's bytes.
(START, LISTENER, COMPONENT, ALIAS, DONE, PING, CONTROL, CTL_LINE, CTL_END,
 STREAMID, RESULT, AUTHD_STATS) = range(12)
ANY_PARENT, ANY_AUTHD, RAW_PARENT, RAW_AUTHD, CHAN_CLOSE, TICK = range(12, 18)
CONNECT, CLIENT, CLOSE = 18, 19, 20
# fz_names
NAMES = ["a.example", "b.example", "alias-a.example", "c.example",
         "A.Example.", "nope.example", "gw.example", "192.0.2.1"]
VARIED, PLAIN, RAW, WRONG = range(4)


def mode(kind=PLAIN, fd=0, peerid=False):
    # fd: 0 none (for a listener or control socket: a new one), 4 a
    # listening socket (for those: none), 5 socketpair, 6 pipe, 7 null
    return kind | fd << 2 | (0xc0 if peerid else 0)


def msg(op, m=mode(), b=0, *rest):
    return bytes([op, m, b] + list(rest))


def e_start(m=mode(), b=0):
    # b: verbose b % 3; varied: per address b % 5, preauth 64 << (b >> 2
    # & 7), handshake timeout if b & 0x20, a large queue if b & 0x40
    return msg(START, m, b)


def e_listener(m=mode(), b=0):
    # b: a listener we passed (b % n), or with 0x80 port 1 + b
    return msg(LISTENER, m, b)


def e_component(name, cid, m=mode(), default=False, conflict=0):
    return msg(COMPONENT, m, NAMES.index(name) | cid << 3,
               int(default) | conflict << 1)


def e_alias(name, cid, m=mode()):
    return msg(ALIAS, m, NAMES.index(name) | cid << 4)


def e_done(m=mode()):
    return msg(DONE, m, 0, 0)


def e_ping(seq=0x1234, m=mode()):
    return msg(PING, m, seq & 0xff, seq >> 8)


def e_control(restricted=0, m=mode()):
    return msg(CONTROL, m, restricted, 0)


# Ids (fz_pick_id): the k-th the engine asked about, the k-th alive
# connection, past all, 0 or the largest.
def asked(k):
    return k << 2


def alive(k):
    return 1 | k << 2


def past(k=0):
    return 2 | k << 2


def odd(big):
    return 3 | (4 if big else 0)


def e_streamid(conn, kind=0, m=mode()):
    # kind: 0 good, 2 none, 3 31 digits (fatal), 0x30 not hex
    return msg(STREAMID, m, kind, conn)


def e_result(conn, verdict=0, m=mode()):
    # verdict & 3: 0 AUTH_OK, 2 AUTH_DENIED, 3 another number
    return msg(RESULT, m, verdict, conn)


def e_ctl_line(ctl, name="a.example", m=mode()):
    return msg(CTL_LINE, m, NAMES.index(name), ctl)


def e_ctl_end(ctl, status=0, m=mode()):
    return msg(CTL_END, m, status << 6, ctl)


def e_stats(ctl, throttled=1, m=mode()):
    return msg(AUTHD_STATS, m, throttled, ctl)


def e_any(to_authd, type_, payload=b"", m=mode()):
    return bytes([ANY_AUTHD if to_authd else ANY_PARENT, m, type_,
                  len(payload)]) + payload


def e_raw(to_authd, data):
    return bytes([RAW_AUTHD if to_authd else RAW_PARENT, 0, 0,
                  len(data)]) + data


def e_connect(client, listener=0, ctl=False):
    return bytes([CONNECT, client | int(ctl) << 2 | listener << 3])


def e_header(client, name):
    return bytes([CLIENT, client, NAMES.index(name)])


def e_handshake(client, seed=7):
    return bytes([CLIENT, client | 1 << 2, seed]) + bytes(range(20))


def e_stanza(client, frm, to, kind=2):
    # kind: 0 an iq get, 1 a message of type error, 2 a message
    return bytes([CLIENT, client | 2 << 2,
                  kind | NAMES.index(frm) << 2 | NAMES.index(to) << 5])


def e_bytes(client, data):
    return bytes([CLIENT, client | 3 << 2, len(data)]) + data


def e_ctl_ask(client, reload=False):
    return bytes([CLIENT, client, int(reload)])


def e_close(client):
    return bytes([CLOSE, client])


CONFIG = (e_start() + e_listener() + e_component("a.example", 1)
          + e_component("b.example", 2) + e_alias("alias-a.example", 1)
          + e_done())


def login(client, name, k):
    return (e_connect(client) + e_header(client, name)
            + e_streamid(asked(k)) + e_handshake(client, k)
            + e_result(asked(k)))


ENGINE = {
    "config": CONFIG + e_ping(),
    "sessions": CONFIG + login(0, "a.example", 0)
    + login(1, "b.example", 1)
    + e_stanza(0, "a.example", "b.example")
    + e_stanza(1, "b.example", "alias-a.example", 0)
    + e_stanza(0, "a.example", "nope.example", 2) + bytes([TICK])
    + e_close(0) + e_stanza(1, "b.example", "a.example"),
    "waiting": CONFIG + e_connect(0) + e_header(0, "a.example")
    + e_connect(1) + e_header(1, "b.example") + e_connect(2)
    + e_streamid(asked(1)) + e_handshake(1) + e_close(1)
    + e_result(asked(1)) + e_streamid(asked(0)) + e_streamid(asked(0))
    + e_streamid(alive(2)) + e_result(past()) + e_result(odd(True)),
    "denied": CONFIG + e_connect(0) + e_header(0, "a.example")
    + e_streamid(asked(0)) + e_handshake(0) + e_result(asked(0), 2)
    + e_connect(1) + e_header(1, "a.example") + e_streamid(asked(1), 2)
    + e_connect(2) + e_header(2, "a.example") + e_streamid(asked(2))
    + e_handshake(2) + e_result(asked(2), 3),
    "reload": CONFIG + login(0, "a.example", 0) + login(1, "b.example", 1)
    + e_start(b=1) + e_listener(mode(fd=4))
    + e_component("a.example", 1) + e_done()
    + e_stanza(0, "a.example", "b.example", 0) + e_start() + e_done(),
    "takeover": CONFIG + login(0, "a.example", 0) + login(1, "a.example", 1)
    + e_start() + e_listener(mode(fd=4))
    + e_component("a.example", 1, conflict=1) + e_done()
    + login(2, "a.example", 2),
    "limits": e_start(mode(VARIED), 0x62) + e_listener()
    + e_component("a.example", 1) + e_done() + e_connect(0) + e_connect(1)
    + e_connect(2) + e_header(2, "a.example") + e_connect(3)
    + bytes([TICK]),
    "control": CONFIG + e_control() + e_control(1) + e_connect(0, 0, True)
    + e_ctl_ask(0) + e_connect(1, 1, True) + e_ctl_ask(1, True)
    + e_stats(asked(0)) + e_ctl_line(asked(1)) + e_ctl_end(asked(1))
    + e_stats(past()) + e_ctl_end(past(), 1) + e_ctl_ask(1)
    + e_close(1) + e_stats(asked(0)),
    "control-more": CONFIG + e_control() + e_control() + e_control()
    + e_control() + e_control(),
    "control-nofd": CONFIG + e_control(m=mode(fd=4)),
    "bad-size": CONFIG + e_ping(m=mode(WRONG)) + bytes([1]),
    "bad-type": CONFIG + e_any(False, 8, bytes(8)),
    "bad-authd-type": CONFIG + e_any(True, 1, bytes(8)),
    "fd-on-ping": CONFIG + e_ping(m=mode(fd=5)),
    "fd-on-streamid": CONFIG + e_streamid(past(), m=mode(fd=4)),
    "listener-devnull": e_start() + e_listener(mode(fd=7))
    + e_listener(mode(fd=6), 0x80) + e_done(),
    "listener-none": e_start() + e_listener(mode(fd=4), 0x80) + e_done(),
    "outside": e_component("a.example", 1) + e_done(),
    "alias-unknown": e_start() + e_alias("alias-a.example", 3) + e_done(),
    "name-twice": e_start() + e_component("a.example", 1)
    + e_component("a.example", 2) + e_done(),
    "bad-id": CONFIG + e_connect(0) + e_header(0, "a.example")
    + e_streamid(asked(0), 3),
    "raw-start": e_start(mode(RAW)) + bytes(range(1, 256)) * 2,
    "chan-raw": CONFIG + e_raw(False, bytes(12))
    + e_raw(True, b"\x09\x00\x00\x00\x08" + bytes(11)),
    "parent-gone": CONFIG + login(0, "a.example", 0) + e_connect(1)
    + bytes([CHAN_CLOSE, 0]) + e_close(0) + e_close(1),
    "authd-gone": CONFIG + e_connect(0) + e_header(0, "a.example")
    + bytes([CHAN_CLOSE, 1]) + e_connect(1) + e_header(1, "b.example"),
    "raw-client": CONFIG + e_connect(0)
    + e_bytes(0, b"<?xml version='1.0'?><stream:stream xmlns='jabber:"
              b"component:accept' xmlns:stream='http://etherx.jabber.org/")
    + e_bytes(0, b"streams' to='a.example'>") + e_streamid(asked(0))
    + e_bytes(0, b"<handshake>" + b"0a" * 20 + b"</handshake>")
    + e_result(asked(0)) + e_bytes(0, b"<message to='x@b.example'><b/>"
                                    b"</message><presence/>"),
    # Found by reading, shown with these (see the report of the
    # targets): a RECONF_START whose name has no NUL, its bytes and the
    # limits behind it in a bounce's by=; a listener of no address family,
    # sockaddr_print reading its port uninitialised.
    "crash-unterminated-name": bytes([START, mode(RAW), 0]) + b"A" * 256
    + b"\x01" * 76 + e_listener() + e_component("a.example", 1)
    + e_component("b.example", 2) + e_done() + login(0, "a.example", 0)
    + e_stanza(0, "a.example", "nope.example"),
    "crash-sockaddr-unspec": e_start() + bytes([LISTENER, mode(RAW), 0])
    + bytes(136) + e_done(),
}


# imsg_authd_fuzz.c, fz_op: op % 32, then the op's bytes.
(A_START, A_COMPONENT, A_SECRET, A_DONE, A_PING, A_VERBOSE, A_STREAM,
 A_HANDSHAKE, A_FORGET, A_STATS) = range(10)
A_ANY_PARENT, A_ANY_ENGINE, A_RAW_PARENT, A_RAW_ENGINE = range(10, 14)
A_CLOSE, A_CLOCK = 14, 15
# imsg_authd_fuzz.c's fz_names and the clock's steps
A_NAMES = ["a.example", "b.example", "c.example", "d.example",
           "A.Example.", "nope.example", "~a.example", "192.0.2.1"]
STEPS = [1, 10, 100, 500, 999, 1000, 1001, 2000, 5000, 30000, 60000,
         120000, 600000, 3600000, 86400000, 0]


def a_start(verbose=0, m=mode(), limits=None):
    # limits (varied): max_unauth, fail_max, holddown / 30, budget / 10,
    # fail window
    if limits is None:
        return bytes([A_START, m, verbose])
    unauth, fails, hold, budget, window = limits
    return bytes([A_START, mode(VARIED), window,
                  unauth | fails << 2 | hold << 4 | budget << 6])


def a_component(name):
    return bytes([A_COMPONENT, mode(), A_NAMES.index(name)])


def a_secret(name, tag=0x11, bad=0):
    # bad: 1 not NUL ended, 2 too long, 3 empty
    return bytes([A_SECRET, mode(), A_NAMES.index(name) | 8 * (tag & 7)
                  | bad << 6, tag])


def a_done():
    return bytes([A_DONE, mode(), 0, 0])


def a_ping(seq=0x1234, m=mode()):
    return bytes([A_PING, m, seq & 0xff, seq >> 8])


def a_stream(conn, name="a.example", source=0, family=4, m=mode()):
    # family 4, 6, or 0 (no address)
    b = A_NAMES.index(name) | (source & 1) << 3
    b |= {4: 0, 6: 0x20, 0: 0x10}[family]
    return bytes([A_STREAM, m, b, conn])


def a_handshake(conn, secret=0, right=True, m=mode()):
    return bytes([A_HANDSHAKE, m, (0 if right else 2) | secret << 2,
                  conn])


def a_forget(conn):
    return bytes([A_FORGET, mode(), 0, conn])


def a_stats(ctl=5):
    return bytes([A_STATS, mode(), ctl, 0])


def a_clock(ms):
    return bytes([A_CLOCK, STEPS.index(ms)])


def a_close(engine):
    return bytes([A_CLOSE, int(engine)])


# Connection ids (fz_pick_id): the k-th sent, the k-th holding a stream
# id, new (past all), 0 or the largest.
def a_sent(k):
    return k << 2


def a_held(k):
    return 1 | k << 2


A_NEW = 2
A_CONFIG = (a_start() + a_component("a.example") + a_component("b.example")
            + a_secret("a.example", 1) + a_secret("b.example", 2)
            + a_secret("a.example", 3) + a_done())
A_HOLD = a_start(limits=(0, 1, 2, 1, 30)) + a_secret("a.example", 1) \
    + a_done()

AUTHD = {
    "config": A_CONFIG + a_ping() + a_stats(),
    "logins": A_CONFIG + a_stream(A_NEW) + a_handshake(a_sent(0), 0)
    + a_stream(A_NEW, "b.example") + a_handshake(a_sent(1), 1)
    + a_stream(A_NEW) + a_handshake(a_sent(2), 2)
    + a_stream(A_NEW) + a_handshake(a_sent(3), 0, False)
    + a_handshake(a_sent(3), 0) + a_stream(A_NEW) + a_forget(a_sent(4))
    + a_handshake(a_sent(4), 0),
    "throttle": A_HOLD + b"".join(a_stream(A_NEW, source=k & 1)
                                  + a_handshake(a_sent(k), 0, k % 3 != 0)
                                  for k in range(6))
    + a_stats() + a_clock(999) + a_clock(1) + a_stream(A_NEW)
    + a_handshake(a_sent(6), 0) + a_forget(a_sent(6)) + a_clock(2000),
    "throttle-v6": A_HOLD + b"".join(a_stream(A_NEW, family=6, source=k)
                                     + a_handshake(a_sent(k), 0, False)
                                     for k in range(4))
    + a_stream(A_NEW, family=0) + a_handshake(a_sent(4), 0, False)
    + a_clock(120000) + a_stream(A_NEW, family=6)
    + a_handshake(a_sent(5), 0),
    "table-full": A_CONFIG + b"".join(a_stream(A_NEW) for _ in range(6))
    + a_handshake(a_held(0), 0) + a_stream(A_NEW),
    "reload": A_CONFIG + a_stream(A_NEW) + a_start(1)
    + a_secret("a.example", 4) + a_done() + a_handshake(a_sent(0), 0)
    + a_stream(A_NEW) + a_handshake(a_sent(1), 3),
    "verbose": A_CONFIG + bytes([A_VERBOSE, mode(), 1, 0])
    + a_stream(A_NEW, "~a.example") + a_handshake(a_sent(0), 0, False),
    "dup-stream": A_CONFIG + a_stream(A_NEW) + a_stream(a_sent(0)),
    "bad-len": a_start() + a_secret("a.example", 1, 2),
    "not-ended": a_start() + a_secret("a.example", 1, 1),
    "empty": a_start() + a_secret("a.example", 1, 3),
    "outside": a_secret("a.example") + a_done(),
    "raw-stream": A_CONFIG + bytes([A_STREAM, mode(RAW), 0, A_NEW])
    + bytes(range(1, 255)) * 2,
    "wrong-size": a_ping(m=mode(WRONG)) + bytes([1]),
    "unknown": bytes([A_ANY_PARENT, 0, 7, 4]) + bytes(4),
    "fd": a_ping(m=mode(fd=5)) + a_ping(m=mode(fd=7))
    + A_CONFIG + a_stream(A_NEW, m=mode(fd=4)),
    "raw-bytes": A_CONFIG + bytes([A_RAW_ENGINE, 0, 0, 16]) + bytes(16),
    "engine-gone": A_HOLD + a_stream(A_NEW) + a_handshake(a_sent(0), 0,
                                                          False)
    + a_stream(A_NEW) + a_handshake(a_sent(1), 0) + a_close(True)
    + a_clock(5000),
    "parent-gone": A_CONFIG + a_stream(A_NEW) + a_close(False)
    + a_stream(A_NEW),
    # A peer of no address family: addr_print of the handshake reads
    # sockaddr_print's port uninitialised.
    "crash-sockaddr-unspec": a_stream(A_NEW, family=0)
    + a_handshake(a_sent(0)),
}


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else "corpus"
    for name, seeds in (("imsg_engine", ENGINE), ("imsg_authd", AUTHD)):
        d = os.path.join(top, name)
        os.makedirs(d, exist_ok=True)
        for seed, data in seeds.items():
            with open(os.path.join(d, seed), "wb") as f:
                f.write(data)


main()
