#!/usr/bin/env python3
"""Many concurrent Server-Sent Events clients against batsim-httpd (a load
script, not a test).

Usage: sse-clients.py HOST PORT CLIENTS SECONDS [QUERY]

Opens CLIENTS connections to /updates?QUERY (default
"view=summary&rack=0&module=0") at once, reads events for SECONDS, and
prints: clients connected, clients that received events, events per
client (min / median / max), and the publish-to-receive latency of
summary events (receive wall clock minus the snapshot's wall_time_ns;
p50 / p99 / max).  Exit status 0 when every client received at least one
event, 1 otherwise.  SIGUSR1 ends every stream early (as soon as it has
received an event) and prints the figures as usual (tests/bench/soak.sh uses it).
"""
import asyncio
import resource
import signal
import statistics
import sys
import time


async def client(host, port, query, seconds, stats, idx):
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), timeout=30)
    except (OSError, asyncio.TimeoutError) as e:
        stats["errors"].append(str(e))
        return
    stats["connected"] += 1
    writer.write(("GET /updates?%s HTTP/1.1\r\nHost: %s\r\n"
                  "Accept: text/event-stream\r\n\r\n" % (query, host)).encode())
    await writer.drain()
    events = 0
    deadline = time.monotonic() + seconds
    raw = b""       # bytes as received (HTTP/1.1 chunked)
    body = b""      # de-chunked stream
    in_body = False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                chunk = await asyncio.wait_for(reader.read(65536), timeout=left)
            except asyncio.TimeoutError:
                break
            if not chunk:
                break
            now_ns = time.time_ns()
            raw += chunk
            if not in_body:
                if b"\r\n\r\n" not in raw:
                    continue
                head, raw = raw.split(b"\r\n\r\n", 1)
                if not head.startswith(b"HTTP/1.1 200"):
                    stats["errors"].append(head.split(b"\r\n")[0].decode())
                    break
                in_body = True
            # De-chunk: SIZE CRLF DATA CRLF ...
            while True:
                crlf = raw.find(b"\r\n")
                if crlf < 0:
                    break
                size = int(raw[:crlf].split(b";")[0], 16)
                if len(raw) < crlf + 2 + size + 2:
                    break
                body += raw[crlf + 2:crlf + 2 + size]
                raw = raw[crlf + 2 + size + 2:]
            while b"\n\n" in body:
                block, body = body.split(b"\n\n", 1)
                for line in block.split(b"\n"):
                    if line.startswith(b"data: {\"tick\""):
                        # Only the timestamp: parsing every 13 KB summary
                        # would make this client, not the server, the
                        # bottleneck.  A cheap sanity check of the end.
                        k = line.find(b'"wall_time_ns":')
                        e = line.find(b",", k)
                        if k < 0 or e < 0 or not line.endswith(b"}"):
                            stats["bad"] += 1
                            continue
                        stats["latency_ms"].append(
                            (now_ns - int(line[k + 15:e])) / 1e6)
                    if line.startswith(b"event: "):
                        events += 1
            if stats["stop"] and events:
                break
    finally:
        writer.close()
    stats["events"][idx] = events


async def main():
    if len(sys.argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    host, port = sys.argv[1], int(sys.argv[2])
    n, seconds = int(sys.argv[3]), float(sys.argv[4])
    query = sys.argv[5] if len(sys.argv) > 5 else "view=summary&rack=0&module=0"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 256), hard))
    stats = {"connected": 0, "errors": [], "events": [0] * n, "bad": 0,
             "latency_ms": [], "stop": False}
    asyncio.get_running_loop().add_signal_handler(
        signal.SIGUSR1, lambda: stats.__setitem__("stop", True))
    t0 = time.monotonic()
    await asyncio.gather(*(client(host, port, query, seconds, stats, i)
                           for i in range(n)))
    wall = time.monotonic() - t0
    ev = stats["events"]
    got = sum(1 for e in ev if e > 0)
    print("clients: %d, connected: %d, received events: %d, errors: %d, "
          "unparsable events: %d"
          % (n, stats["connected"], got, len(stats["errors"]), stats["bad"]))
    if stats["errors"]:
        print("first error:", stats["errors"][0])
    print("events per client in %.1f s: min %d, median %d, max %d"
          % (wall, min(ev), statistics.median(ev), max(ev)))
    lat = sorted(stats["latency_ms"])
    if lat:
        print("summary latency ms (publish to receive): p50 %.1f, p99 %.1f, "
              "max %.1f over %d events"
              % (lat[len(lat) // 2], lat[int(len(lat) * 0.99)], lat[-1],
                 len(lat)))
    return 0 if got == n else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
