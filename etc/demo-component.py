"""
A component for the demonstration of make run, on slixmpp (Debian:
python3-slixmpp): it connects to gatewayd as DOMAIN with SECRET, prints
every message it receives, and sends each line typed on its standard
input to TO as a message.

    /usr/bin/python3 etc/demo-component.py DOMAIN SECRET [TO|-] [PORT]

With TO and a message given as the environment's DEMO_SEND, it sends that
one message once authenticated and stays to print what comes back.
"""

import asyncio
import os
import sys

from slixmpp.componentxmpp import ComponentXMPP


class Demo(ComponentXMPP):
    def __init__(self, domain, secret, to, port):
        super().__init__(domain, secret, '127.0.0.1', port)
        self.to = to
        self.add_event_handler('session_start', self.started)
        self.add_event_handler('message', self.received)
        self.add_event_handler('disconnected', self.gone)

    def started(self, _):
        print('%s: authenticated' % self.boundjid.bare, flush=True)
        text = os.environ.get('DEMO_SEND')
        if self.to and text:
            self.say(text)
        if self.to and sys.stdin.isatty():
            self.loop.add_reader(sys.stdin, self.line)

    def say(self, text):
        self.send_message(mto=self.to, mfrom=self.boundjid.bare,
                          mbody=text, mtype='chat')
        print('%s -> %s: %s' % (self.boundjid.bare, self.to, text),
              flush=True)

    def line(self):
        text = sys.stdin.readline()
        if not text:
            self.loop.remove_reader(sys.stdin)
            self.disconnect()
        elif text.strip():
            self.say(text.strip())

    def received(self, msg):
        print('%s <- %s: %s' % (self.boundjid.bare, msg['from'],
                                msg['body']), flush=True)
        if msg['body'].startswith('ping'):
            msg.reply('pong, from %s' % self.boundjid.bare).send()

    def gone(self, _):
        print('%s: disconnected' % self.boundjid.bare, flush=True)
        self.loop.stop()


def main():
    if len(sys.argv) < 3:
        sys.exit('usage: demo-component.py DOMAIN SECRET [TO] [PORT]')
    domain, secret = sys.argv[1], sys.argv[2]
    to = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] != '-' else None
    port = int(sys.argv[4]) if len(sys.argv) > 4 else 5347
    demo = Demo(domain, secret, to, port)
    demo.connect()
    asyncio.get_event_loop().run_forever()


if __name__ == '__main__':
    main()
