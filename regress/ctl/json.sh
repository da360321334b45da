#!/bin/sh
# The JSON documents gatewayctl -j makes of fixed structs (ctl_unit -J):
# each parses (python3 -m json.tool), is plain ASCII, has the members
# gatewayctl.8 describes with the types it gives, and its strings decode
# to the very names the structs hold: quotes, backslashes, control
# bytes, UTF-8, and invalid UTF-8 as U+FFFD.
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1
O=${OBJ:-obj}
UNIT=$O/regress/ctl_unit

if [ ! -x "$UNIT" ]; then
	notok "json: $UNIT missing"
	finish
fi
dir=$(mktemp -d /tmp/gw-ctl.XXXXXX)
trap 'rm -rf "$dir"' EXIT
if ! "$UNIT" -J "$dir" > "$dir/err" 2>&1; then
	notok "json: ctl_unit -J: $(cat "$dir/err")"
	finish
fi

for f in "$dir"/*.json; do
	name=$(basename "$f")
	if out=$(/usr/bin/python3 -m json.tool "$f" 2>&1 >/dev/null); then
		ok "json: $name parses"
	else
		notok "json: $name parses: $out"
	fi
done

/usr/bin/python3 - "$dir" <<'PY' || failures=1
import json, sys

d = sys.argv[1]
TRICKY = (b'q"b\\s\x01\n\t\x7f\xc3\xa9\xff\xf0\x9d\x84\x9e'
          b'\xe0\x80\x80.example').decode('utf-8', 'replace')
failed = 0

def result(name, problem):
    global failed
    if problem:
        failed += 1
        print('not ok - json: %s: %s' % (name, problem))
    else:
        print('ok - json: %s' % name)

SUMMARY = ['started', 'uptime', 'connections', 'unauthenticated',
           'authenticated', 'components', 'listeners', 'throttled_sources',
           'accepted', 'refused', 'shed', 'stanzas_in', 'stanzas_out',
           'stanzas_in_rate', 'stanzas_out_rate', 'bytes_in', 'bytes_out',
           'bytes_unacked', 'bounces', 'bounce_malformed',
           'bounce_not_found', 'bounce_timeout', 'takeovers',
           'auth_failures', 'stalls', 'parsers', 'parser_bytes']
COMPONENT = ['domain', 'aliases', 'connected', 'peer', 'since',
             'stanzas_in', 'stanzas_out', 'bytes_in', 'bytes_out', 'queued',
             'stalls', 'takeovers', 'bounces', 'streams']
LISTENER = ['address', 'port', 'accepted', 'paused']
UPSTREAM = ['domain', 'upstream', 'state', 'since', 'reconnects',
            'last_error', 'held_down_stanzas', 'held_down_bytes',
            'held_up_stanzas', 'held_up_bytes']
HEAD = ['command', 'status', 'message']

def check_summary(s):
    if list(s) != SUMMARY:
        return 'summary members %r' % list(s)
    if not all(type(v) is int for v in s.values()):
        return 'a summary value that is not an integer'
    if s['uptime'] != 93784 or s['started'] != 1700000000:
        return 'summary values %r' % s

def check_component(c):
    if list(c) != COMPONENT:
        return 'component members %r' % list(c)
    if type(c['connected']) is not bool:
        return 'connected is not a boolean'
    if not isinstance(c['aliases'], list) or \
       not all(isinstance(a, str) for a in c['aliases']):
        return 'aliases is not a list of strings'
    if c['peer'] is not None and not isinstance(c['peer'], str):
        return 'peer is neither a string nor null'
    if c['since'] is not None and type(c['since']) is not int:
        return 'since is neither an integer nor null'
    if (c['peer'] is None) != (c['since'] is None) or \
       c['connected'] != (c['peer'] is not None):
        return 'peer, since and connected disagree: %r' % c
    for k in COMPONENT[5:]:
        if type(c[k]) is not int:
            return '%s is not an integer' % k

def check_components(cs):
    names = [c.get('domain') for c in cs]
    if names != ['irc.example.org', 'xmpp.example.net', TRICKY]:
        return 'domains %r' % names
    for c in cs:
        p = check_component(c)
        if p:
            return p
    if cs[0]['aliases'] != ['chat.example.org', 'muc.example.org'] or \
       cs[2]['aliases'] != ['alias.' + TRICKY]:
        return 'aliases %r' % [c['aliases'] for c in cs]

def check_listeners(ls):
    for l in ls:
        if list(l) != LISTENER or type(l['paused']) is not bool:
            return 'listener %r' % l
    if [(l['address'], l['port'], l['accepted'], l['paused'])
        for l in ls] != [('127.0.0.1', 5347, 100, False),
                         ('::1', 5348, 20, True)]:
        return 'listeners %r' % ls

def check_upstreams(us):
    for u in us:
        if list(u) != UPSTREAM:
            return 'upstream members %r' % list(u)
        if u['state'] not in ('waiting', 'connecting', 'handshake', 'up'):
            return 'state %r' % u['state']
        if u['since'] is not None and type(u['since']) is not int:
            return 'since is neither an integer nor null'
        if u['last_error'] is not None and \
           not (isinstance(u['last_error'], str) and u['last_error']):
            return 'last_error is neither a string nor null'
        for k in UPSTREAM[6:] + ['reconnects']:
            if type(u[k]) is not int:
                return '%s is not an integer' % k
    got = [(u['domain'], u['upstream'], u['state'], u['since'],
            u['reconnects'], u['last_error'], u['held_down_stanzas'],
            u['held_down_bytes'], u['held_up_stanzas'], u['held_up_bytes'])
           for u in us]
    want = [('irc.example.org', 'xmpp', 'up', 1700000000, 2, None,
             0, 0, 0, 0),
            ('xmpp.example.net', 'prosody-2', 'waiting', 1700003600, 5,
             'connect to 127.0.0.1 port 5347: Connection refused',
             3, 612, 7, 1400),
            (TRICKY, 'up.' + TRICKY, 'handshake', None, 0,
             'said ' + TRICKY, 0, 0, 0, 0)]
    if got != want:
        return 'upstreams %r' % got

def check(name, command, extra, checks, domain=False, status=0,
          message='done: ' + TRICKY):
    path = '%s/%s' % (d, name)
    label = '%s: ASCII, members, types, strings decoded' % name
    raw = open(path, 'rb').read()
    try:
        raw.decode('ascii')
        doc = json.loads(raw)
    except ValueError as e:
        return result(label, e)
    keys = HEAD[:1] + (['domain'] if domain else []) + HEAD[1:] + extra
    if list(doc) != keys:
        return result(label, 'members %r, not %r' % (list(doc), keys))
    if doc['command'] != command:
        return result(label, 'command %r' % doc['command'])
    if domain and doc['domain'] != TRICKY:
        return result(label, 'domain %r' % doc['domain'])
    if type(doc['status']) is not int or doc['status'] != status:
        return result(label, 'status %r' % doc['status'])
    if doc['message'] != message:
        return result(label, 'message %r' % doc['message'])
    for key, fn in checks:
        p = fn(doc[key])
        if p:
            return result(label, p)
    result(label, None)

check('summary.json', 'show summary', ['summary'],
      [('summary', check_summary)])
check('components.json', 'show components', ['components'],
      [('components', check_components)])
check('component.json', 'show component', ['component'],
      [('component', lambda c: check_component(c) or
        (c['domain'] != TRICKY and 'domain %r' % c['domain']))],
      domain=True)
check('listeners.json', 'show listeners', ['listeners'],
      [('listeners', check_listeners)])
check('upstreams.json', 'show upstreams', ['upstreams'],
      [('upstreams', check_upstreams)])
check('metrics.json', 'show metrics', ['summary', 'components',
                                       'listeners', 'upstreams'],
      [('summary', check_summary), ('components', check_components),
       ('listeners', check_listeners), ('upstreams', check_upstreams)])
check('reload.json', 'reload', ['lines'],
      [('lines', lambda l: l != [
          '/etc/gatewayd/gatewayd.conf:3: syntax error',
          '/etc/gatewayd/gatewayd.conf:7: unknown "%s"' % TRICKY] and
        'lines %r' % l)])
check('kick.json', 'kick', [], [], domain=True)
check('log.json', 'log verbose', [], [])
check('failed.json', 'show component', ['component'],
      [('component', lambda c: c is not None and 'component %r' % c)],
      domain=True, status=-3, message='no such component')
sys.exit(1 if failed else 0)
PY
finish
