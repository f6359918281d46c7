"""What the lab's own apps (reference Flask-SocketIO, aiohttp, Node) log about a session, one line each:
the words a check reads in the server's `log` events, and a fault may wait on."""
from __future__ import annotations

import re

# both ends of a root-namespace session, and the opt-in heartbeat (`tick_ms`) every client of `/` gets
CONNECT = re.compile(r"\bconnect sid=(?P<sid>\S+) eio_sid=(?P<eio>\S+) namespace=/ ")
DISCONNECT = re.compile(r"\bdisconnect sid=(?P<sid>\S+) namespace=/ reason=(?P<reason>.+?)\s*$")
TICK = re.compile(r"\btick n=(?P<n>\d+)\b")
# the opt-in room emits (`room_tick_ms`) to the room `news`: the number, the process (a restarted one counts
# from 1 again) and the room's members (socket sids) at that moment
ROOM_TICK = re.compile(r"\broom_tick n=(?P<n>\d+) boot=(?P<boot>\S+) room=(?P<room>\S+) members=(?P<members>\S*)")
# one line per `tally` event received (too-many-packets: what arrived against what the client sent)
TALLY = re.compile(r"\btally sid=(?P<sid>\S+) n=(?P<n>\S+)")
# the line an app logs once it is up, with the settings it applied
APP_READY = re.compile(r"\bapp ready .*\bping_interval=(?P<interval>[0-9.]+)s ping_timeout=(?P<timeout>[0-9.]+)s")
