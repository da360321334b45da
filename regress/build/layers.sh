#!/bin/sh
# The engine's layers, as the linker sees them (nm on the objects of the
# build): no module cycle among the engine's objects, each layer using
# only those below it, expat called only from the stream layer and the
# bounce builder, nothing under authd/ using a symbol defined under
# gatewayd/, and the engine nothing defined under authd/.
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1
O=${OBJ:-obj}

if ! command -v nm >/dev/null 2>&1; then
	skip "layers: nm not installed"
	finish
fi
for f in outq inbuf conn conn_admit listener splice stream_text xmlmem stream \
    stream_xml bounce hold router router_grace control uplink engine \
    engine_auth engine_uplink; do
	if [ ! -f "$O/gatewayd/$f.o" ]; then
		notok "layers: $O/gatewayd/$f.o missing"
		finish
	fi
done

/usr/bin/python3 - "$O" <<'PY'
import subprocess, sys, os

obj = sys.argv[1]
def syms(path, flag):
    out = subprocess.run(['nm', flag, path], capture_output=True,
                         text=True, check=True).stdout
    return {l.split()[-1] for l in out.splitlines() if l.strip()}

def defined(path):
    out = subprocess.run(['nm', '--defined-only', '-g', path],
                         capture_output=True, text=True, check=True).stdout
    return {l.split()[-1] for l in out.splitlines() if l.strip()}

engine = ['outq', 'inbuf', 'conn', 'listener', 'splice', 'stream_text',
          'xmlmem', 'stream', 'bounce', 'hold', 'router', 'control', 'uplink',
          'engine']
# A module is one object, or a few that share a private header.
parts = {m: [m] for m in engine}
parts['conn'] = ['conn', 'conn_admit']
parts['router'] = ['router', 'router_grace']
parts['engine'] = ['engine', 'engine_auth', 'engine_uplink']
parts['stream'] = ['stream', 'stream_xml']
objs = {m: [os.path.join(obj, 'gatewayd', o + '.o') for o in parts[m]]
        for m in engine}
undef = {m: set().union(*(syms(p, '-u') for p in ps))
         for m, ps in objs.items()}
defs = {m: set().union(*(defined(p) for p in ps)) for m, ps in objs.items()}
for m in engine:
    undef[m] -= defs[m]
uses = {m: {n for n in engine if n != m and undef[m] & defs[n]}
        for m in engine}
failed = 0

def result(name, problem):
    global failed
    if problem:
        failed += 1
        print('not ok - layers: %s: %s' % (name, problem))
    else:
        print('ok - layers: %s' % name)

# Each layer may use only what lies below it.
allowed = {
    'outq': set(), 'inbuf': set(), 'conn': {'outq', 'inbuf'},
    'listener': {'conn'}, 'splice': set(),
    'stream_text': set(), 'xmlmem': set(),
    'stream': {'splice', 'stream_text', 'xmlmem'},
    'bounce': set(), 'hold': {'outq'},
    'router': {'conn', 'bounce', 'hold', 'outq'},
    'control': {'conn', 'listener', 'router', 'uplink', 'xmlmem'},
    'uplink': set(),
    'engine': {'conn', 'listener', 'stream', 'stream_text', 'router',
               'control', 'uplink'},
}
for m in engine:
    extra = uses[m] - allowed[m]
    objname = ' and '.join(o + '.o' for o in parts[m])
    if allowed[m]:
        name = '%s use%s only %s' % (objname, '' if len(parts[m]) > 1
                                     else 's', ', '.join(sorted(allowed[m])))
    else:
        name = '%s use%s no other engine object' % (
            objname, '' if len(parts[m]) > 1 else 's')
    result(name, extra and 'it uses %s' % ', '.join(sorted(extra)))

def cycle():
    state = {}
    def visit(m, path):
        state[m] = 1
        for n in sorted(uses[m]):
            if state.get(n) == 1:
                return path + [m, n]
            if n not in state:
                c = visit(n, path + [m])
                if c:
                    return c
        state[m] = 2
        return None
    for m in engine:
        if m not in state:
            c = visit(m, [])
            if c:
                return c
    return None
c = cycle()
result('no module cycle among the engine objects',
       c and 'cycle %s' % ' -> '.join(c))

xml = {m for m in engine if any(s.startswith('XML_') for s in undef[m])}
result('expat is called only from the stream layer and bounce.o',
       xml - {'stream', 'bounce'} and
       'also from %s' % ', '.join(sorted(xml - {'stream', 'bounce'})))

# The objects of the sources there are (not what an older build left).
def objects(d):
    return [os.path.join(obj, d, f[:-2] + '.o') for f in os.listdir(d)
            if f.endswith('.c')]

gw_defs = defined(os.path.join(obj, 'parse.o'))
for p in objects('gatewayd'):
    gw_defs |= defined(p)
authd_objs = objects('authd')
authd_undef = set()
authd_defs = set()
for p in authd_objs:
    authd_undef |= syms(p, '-u')
    authd_defs |= defined(p)
bad = authd_undef & gw_defs
result('nothing under authd/ uses a symbol defined under gatewayd/',
       bad and ', '.join(sorted(bad)))
bad = set()
for m in engine:
    bad |= undef[m] & authd_defs
result('the engine uses no symbol defined under authd/',
       bad and ', '.join(sorted(bad)))
sys.exit(1 if failed else 0)
PY
