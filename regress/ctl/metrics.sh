#!/bin/sh
# The Prometheus text gatewayctl makes of fixed structs (ctl_unit -J):
# promtool check metrics, where promtool is installed; and checks of our
# own, with a parser of the format written here: every series after the
# HELP and TYPE of its name, each family in one piece, counters ending
# in _total and nothing else, the gatewayd_ prefix, label values that
# decode to the names the structs hold, one series a component, a
# listener or an uplink (two for what an uplink holds, one a direction),
# and the names the same as in gatewayctl.8.
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1
O=${OBJ:-obj}
UNIT=$O/regress/ctl_unit

if [ ! -x "$UNIT" ]; then
	notok "metrics: $UNIT missing"
	finish
fi
dir=$(mktemp -d /tmp/gw-ctl.XXXXXX)
trap 'rm -rf "$dir"' EXIT
if ! "$UNIT" -J "$dir" > "$dir/err" 2>&1; then
	notok "metrics: ctl_unit -J: $(cat "$dir/err")"
	finish
fi

for f in metrics.prom empty.prom; do
	if ! command -v promtool >/dev/null 2>&1; then
		skip "metrics: promtool check metrics $f:" \
		    "promtool not installed"
	elif out=$(promtool check metrics < "$dir/$f" 2>&1); then
		ok "metrics: promtool check metrics $f"
	else
		notok "metrics: promtool check metrics $f: $out"
	fi
done

/usr/bin/python3 - "$dir" gatewayctl/gatewayctl.8 <<'PY' || failures=1
import re, sys

d, manpage = sys.argv[1], sys.argv[2]
TRICKY = (b'q"b\\s\x01\n\t\x7f\xc3\xa9\xff\xf0\x9d\x84\x9e'
          b'\xe0\x80\x80.example').decode('utf-8', 'replace')
NAME = re.compile(r'[a-zA-Z_:][a-zA-Z0-9_:]*')
failed = 0

def result(name, problem):
    global failed
    if problem:
        failed += 1
        print('not ok - metrics: %s: %s' % (name, problem))
    else:
        print('ok - metrics: %s' % name)

def labels(text, pos, line):
    """The label set at text[pos] ('{' ... '}'), decoded; and the end."""
    out = {}
    pos += 1
    while text[pos] != '}':
        m = NAME.match(text, pos)
        if not m or text[m.end():m.end() + 2] != '="':
            raise ValueError('bad label at %d: %s' % (pos, line))
        key, pos, val = m.group(0), m.end() + 2, []
        while text[pos] != '"':
            if text[pos] == '\\':
                esc = text[pos + 1]
                if esc not in '\\"n':
                    raise ValueError('bad escape \\%s: %s' % (esc, line))
                val.append('\n' if esc == 'n' else esc)
                pos += 2
            elif text[pos] == '\n':
                raise ValueError('raw newline in a label: %s' % line)
            else:
                val.append(text[pos])
                pos += 1
        if key in out:
            raise ValueError('label %s twice: %s' % (key, line))
        out[key] = ''.join(val)
        pos += 1
        if text[pos] == ',':
            pos += 1
    return out, pos + 1

def parse(path):
    """(families in order, {name: (type, help, [(labels, value)])})."""
    raw = open(path, 'rb').read()
    text = raw.decode('utf-8')      # the format is UTF-8: must decode
    fams, order, cur, pos = {}, [], None, 0
    while pos < len(text):
        end = text.index('\n', pos)
        line = text[pos:end]
        if line.startswith('# HELP '):
            name, help_ = line[7:].split(' ', 1)
            if name in fams:
                raise ValueError('family %s twice' % name)
            fams[name] = [None, help_, []]
            order.append(name)
            cur = name
            pos = end + 1
            continue
        if line.startswith('# TYPE '):
            name, type_ = line[7:].split(' ')
            if name != cur or fams[name][0] is not None:
                raise ValueError('TYPE %s not right after its HELP' % name)
            if type_ not in ('counter', 'gauge'):
                raise ValueError('type %s' % type_)
            fams[name][0] = type_
            pos = end + 1
            continue
        m = NAME.match(text, pos)
        if not m:
            raise ValueError('not a sample: %r' % line)
        name, pos = m.group(0), m.end()
        lab = {}
        if text[pos] == '{':
            lab, pos = labels(text, pos, line)
        end = text.index('\n', pos)
        if text[pos] != ' ':
            raise ValueError('no space before the value: %r' % line)
        value = text[pos + 1:end]
        if name != cur or fams[name][0] is None:
            raise ValueError('%s without its HELP and TYPE just before'
                             % name)
        if not re.fullmatch(r'[0-9]+', value):
            raise ValueError('%s: value %r' % (name, value))
        fams[name][2].append((lab, int(value)))
        pos = end + 1
    return order, fams

try:
    order, fams = parse(d + '/metrics.prom')
    result('the format parses, every series after its HELP and TYPE', None)
except (ValueError, UnicodeDecodeError, IndexError) as e:
    result('the format parses, every series after its HELP and TYPE', e)
    sys.exit(1)

bad = [n for n in order if not n.startswith('gatewayd_')]
result('every name has the gatewayd_ prefix', bad and ', '.join(bad))
bad = [n for n in order if (fams[n][0] == 'counter') !=
       n.endswith('_total')]
result('counters and only counters end in _total', bad and ', '.join(bad))
bad = [n for n in order if not fams[n][1].strip()]
result('every HELP says something', bad and ', '.join(bad))

series = {n: fams[n][2] for n in order}
dup = [n for n in order
       if len({tuple(sorted(l.items())) for l, _ in series[n]}) !=
       len(series[n])]
result('no series twice', dup and ', '.join(dup))

comp = [n for n in order if n.startswith('gatewayd_component_') and
        n not in ('gatewayd_component_alias',
                  'gatewayd_component_connected_since_seconds')]
want = ['irc.example.org', 'xmpp.example.net', TRICKY]
bad = [n for n in comp
       if sorted(l.get('component') for l, _ in series[n]) != sorted(want)]
result('one series a component, the names decoded as they were',
       bad and '%s: %r' % (bad[0], [l for l, _ in series[bad[0]]]))
aliases = sorted((l['component'], l['alias'])
                 for l, _ in series.get('gatewayd_component_alias', []))
result('one series an alias, labelled component and alias',
       aliases != sorted([('irc.example.org', 'chat.example.org'),
                          ('irc.example.org', 'muc.example.org'),
                          (TRICKY, 'alias.' + TRICKY)]) and repr(aliases))
since = series.get('gatewayd_component_connected_since_seconds', [])
result('connected since: only for the connected ones',
       sorted(l['component'] for l, _ in since) !=
       sorted(['irc.example.org', TRICKY]) and repr(since))
lis = [n for n in order if n.startswith('gatewayd_listener_')]
bad = [n for n in lis
       if sorted((l['address'], l['port']) for l, _ in series[n]) !=
       [('127.0.0.1', '5347'), ('::1', '5348')]]
result('one series a listener, labelled address and port',
       ', '.join(bad) if lis else 'no listener family')
UP = [('irc.example.org', 'xmpp'), ('xmpp.example.net', 'prosody-2'),
      (TRICKY, 'up.' + TRICKY)]
ups = [n for n in order if n.startswith('gatewayd_upstream_')]
one = [n for n in ups if n not in ('gatewayd_upstream_held_stanzas',
                                   'gatewayd_upstream_held_bytes',
                                   'gatewayd_upstream_state_since_seconds')]
bad = [n for n in one
       if sorted((l['component'], l['upstream']) for l, _ in series[n]) !=
       sorted(UP) or any(len(l) != 2 for l, _ in series[n])]
result('one series an uplink, labelled component and upstream',
       ', '.join(bad) if len(one) == 2 else 'families %r' % ups)
held = {}
for n in ('gatewayd_upstream_held_stanzas', 'gatewayd_upstream_held_bytes'):
    for l, v in series.get(n, []):
        held[(n[18:], l['component'], l['upstream'], l['direction'])] = v
want = {}
for (c, u), (ds, db, us, ub) in zip(UP, [(0, 0, 0, 0), (3, 612, 7, 1400),
                                         (0, 0, 0, 0)]):
    want.update({('held_stanzas', c, u, 'down'): ds,
                 ('held_bytes', c, u, 'down'): db,
                 ('held_stanzas', c, u, 'up'): us,
                 ('held_bytes', c, u, 'up'): ub})
result('held stanzas and bytes, one series an uplink and direction',
       held != want and repr(sorted(set(held.items()) ^
                                    set(want.items())))[:300])
up = {(l['component'], l['upstream']): v
      for l, v in series.get('gatewayd_upstream_up', [])}
since = {(l['component'], l['upstream']): v for l, v in
         series.get('gatewayd_upstream_state_since_seconds', [])}
rec = {(l['component'], l['upstream']): v for l, v in
       series.get('gatewayd_upstream_reconnects_total', [])}
result('uplinks: up, since (when there is a time) and reconnects',
       (up != dict(zip(UP, [1, 0, 0])) or
        since != dict(zip(UP[:2], [1700000000, 1700003600])) or
        rec != dict(zip(UP, [2, 5, 0]))) and repr((up, since, rec)))
b = {l['condition']: v for l, v in series.get('gatewayd_bounces_total', [])}
result('bounces by condition, the rest as other',
       b != {'jid-malformed': 1, 'remote-server-not-found': 2,
             'remote-server-timeout': 3, 'other': 4} and repr(b))
values = {n: series[n][0][1] for n in order if len(series[n]) == 1 and
          not series[n][0][0]}
expect = {'gatewayd_uptime_seconds': 93784,
          'gatewayd_start_time_seconds': 1700000000,
          'gatewayd_connections': 5,
          'gatewayd_stanzas_received_total': 1000,
          'gatewayd_sent_bytes_total': 654321,
          'gatewayd_auth_failures_total': 7}
bad = {k: values.get(k) for k in expect if values.get(k) != expect[k]}
result('values from the summary', bad and repr(bad))

try:
    eorder, efams = parse(d + '/empty.prom')
    problem = eorder != order and 'other families without components'
except (ValueError, UnicodeDecodeError, IndexError) as e:
    problem = e
result('no component, listener or uplink: the same families, fewer series',
       problem)

try:
    doc = open(manpage).read()
    named = set(re.findall(r'gatewayd_[a-z_]+[a-z]', doc))
    problem = None
    if named - set(order):
        problem = 'in the manual only: ' + ', '.join(sorted(named -
                                                            set(order)))
    elif set(order) - named:
        problem = 'not in the manual: ' + ', '.join(sorted(set(order) -
                                                           named))
except OSError as e:
    problem = e
result('the names are those gatewayctl.8 lists', problem)
sys.exit(1 if failed else 0)
PY
finish
