#!/usr/bin/env python3
"""Many concurrent Server-Sent Events clients against batsim-httpd (a load
script, not a test).

Usage: sse-clients.py [--procs P] [--addrs A] HOST PORT CLIENTS SECONDS [QUERY]

Opens CLIENTS connections to /updates?QUERY (default
"view=summary&rack=0&module=0") at once, reads events for SECONDS, and
prints: clients connected, clients that received events, events per
client (min / median / max), and the publish-to-receive latency of
summary events (receive wall clock minus the snapshot's wall_time_ns;
p50 / p99 / max).  The first summary of each stream is not counted: it is
the snapshot published before the stream began (sent at once), so its
"latency" is the snapshot's age, up to a publish period.  Exit status 0
when every client received at least one event, 1 otherwise.  SIGUSR1 ends every stream early (as soon as it has
received an event) and prints the figures as usual (tests/bench/soak.sh
uses it).

--procs P: P client processes (default 1), CLIENTS shared among them, so
that the clients are not one Python thread's worth of CPU.
--addrs A: spread the connections over A source addresses 127.0.0.2 ..
(default 1: the kernel's choice), so that 10,000 connections do not run
out of ephemeral ports of one address pair.  HOST must be a loopback
address then.  The file descriptor limit is raised to the hard limit.
"""
import argparse
import asyncio
import multiprocessing
import os
import resource
import signal
import statistics
import sys
import time

WALL = b'"wall_time_ns":'


async def client(args, stats, idx, addr):
    kw = {}
    if addr:
        kw["local_addr"] = (addr, 0)
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(args.host, args.port, **kw), timeout=60)
    except (OSError, asyncio.TimeoutError) as e:
        stats["errors"].append(str(e) or type(e).__name__)
        return
    stats["connected"] += 1
    # HTTP/1.0: the stream comes as it is, not chunked (less to parse).
    writer.write(("GET /updates?%s HTTP/1.0\r\nHost: %s\r\n"
                  "Accept: text/event-stream\r\n\r\n"
                  % (args.query, args.host)).encode())
    events = 0
    deadline = time.monotonic() + args.seconds
    buf = b""
    in_body = False
    first = True
    try:
        await writer.drain()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                chunk = await asyncio.wait_for(reader.read(65536),
                                               timeout=left)
            except asyncio.TimeoutError:
                break
            if not chunk:
                break
            now_ns = time.time_ns()
            buf += chunk
            if not in_body:
                if b"\r\n\r\n" not in buf:
                    continue
                head, buf = buf.split(b"\r\n\r\n", 1)
                if not head.startswith(b"HTTP/1."):
                    stats["errors"].append(head[:80].decode("latin-1"))
                    break
                if b" 200 " not in head.split(b"\r\n")[0]:
                    stats["errors"].append(
                        head.split(b"\r\n")[0].decode("latin-1"))
                    break
                in_body = True
            # Whole events only (an event ends with a blank line); the
            # rest waits for the next read.
            end = buf.rfind(b"\n\n")
            if end < 0:
                continue
            block, buf = buf[:end + 2], buf[end + 2:]
            events += block.count(b"\nevent: ") + block.startswith(b"event: ")
            # Only the timestamp of each summary: parsing every summary
            # would make this client, not the server, the bottleneck.
            k = block.find(b'data: {"tick"')
            while k >= 0:
                w = block.find(WALL, k)
                e = block.find(b",", w)
                if w < 0 or e < 0:
                    stats["bad"] += 1
                    break
                if not first:
                    stats["latency_ms"].append(
                        (now_ns - int(block[w + 15:e])) / 1e6)
                first = False
                k = block.find(b'data: {"tick"', e)
            if stats["stop"] and events:
                break
    except OSError as e:
        stats["errors"].append(str(e))
    finally:
        writer.close()
    stats["events"][idx] = events


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 64:
        print("warning: file descriptor limit %d is below %d clients"
              % (soft, n), file=sys.stderr)


async def run_share(args, first, count):
    raise_nofile(count)
    stats = {"connected": 0, "errors": [], "events": [0] * count, "bad": 0,
             "latency_ms": [], "stop": False}
    asyncio.get_running_loop().add_signal_handler(
        signal.SIGUSR1, lambda: stats.__setitem__("stop", True))
    addrs = [None]
    if args.addrs > 1:
        addrs = ["127.0.0.%d" % (2 + i) for i in range(min(args.addrs, 250))]
    await asyncio.gather(*(client(args, stats, i,
                                  addrs[(first + i) % len(addrs)])
                           for i in range(count)))
    return stats


def child(args, first, count, q):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    st = asyncio.run(run_share(args, first, count))
    q.put(st)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--procs", type=int, default=1)
    ap.add_argument("--addrs", type=int, default=1)
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("clients", type=int)
    ap.add_argument("seconds", type=float)
    ap.add_argument("query", nargs="?", default="view=summary&rack=0&module=0")
    args = ap.parse_args()
    n = args.clients
    t0 = time.monotonic()
    if args.procs <= 1:
        parts = [asyncio.run(run_share(args, 0, n))]
    else:
        q = multiprocessing.Queue()
        procs, first = [], 0
        for p in range(args.procs):
            cnt = n // args.procs + (1 if p < n % args.procs else 0)
            pr = multiprocessing.Process(target=child,
                                         args=(args, first, cnt, q))
            pr.start()
            procs.append(pr)
            first += cnt
        signal.signal(signal.SIGUSR1,
                      lambda s, f: [os.kill(pr.pid, signal.SIGUSR1)
                                    for pr in procs])
        parts = [q.get() for _ in procs]
        for pr in procs:
            pr.join()
    wall = time.monotonic() - t0
    ev = [e for st in parts for e in st["events"]]
    errors = [e for st in parts for e in st["errors"]]
    lat = sorted(x for st in parts for x in st["latency_ms"])
    got = sum(1 for e in ev if e > 0)
    print("clients: %d, connected: %d, received events: %d, errors: %d, "
          "unparsable events: %d"
          % (n, sum(st["connected"] for st in parts), got, len(errors),
             sum(st["bad"] for st in parts)))
    if errors:
        print("first error:", errors[0])
    print("events per client in %.1f s: min %d, median %d, max %d"
          % (wall, min(ev), statistics.median(ev), max(ev)))
    if lat:
        print("summary latency ms (publish to receive): p50 %.1f, p99 %.1f, "
              "max %.1f over %d events"
              % (lat[len(lat) // 2], lat[int(len(lat) * 0.99)], lat[-1],
                 len(lat)))
    return 0 if got == n else 1


if __name__ == "__main__":
    sys.exit(main())
