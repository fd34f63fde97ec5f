#!/usr/bin/env python3
"""modbus-clients.py PORT [CLIENTS] [SECONDS] - Modbus TCP load on
batsim-modbusd: CLIENTS processes (default 16), each on its own
connection, read the whole 802 model of unit 1 (found by walking the
SunSpec chain from 40000) back to back for SECONDS (default 10).  Prints
reads per second over all clients and the latency percentiles measured
per request.  A benchmark, not a test: the figures go to
docs/PERFORMANCE.md.  Raw sockets (standard library only) so that the
client costs as little as possible.
"""
import multiprocessing as mp
import socket
import struct
import sys
import time

PORT = int(sys.argv[1])
CLIENTS = int(sys.argv[2]) if len(sys.argv) > 2 else 16
SECONDS = float(sys.argv[3]) if len(sys.argv) > 3 else 10.0


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        k = s.recv(n - len(buf))
        if not k:
            raise ConnectionError("closed")
        buf += k
    return buf


def read(s, tid, addr, qty):
    s.sendall(struct.pack(">HHHBBHH", tid & 0xFFFF, 0, 6, 1, 3, addr, qty))
    hdr = recv_exact(s, 7)
    length = struct.unpack(">H", hdr[4:6])[0]
    body = recv_exact(s, length - 1)
    if body[0] != 3:
        raise RuntimeError("exception %d" % body[1])
    return struct.unpack(">%dH" % (body[1] // 2), body[2:])


def find_802(s):
    a = 40002
    while True:
        mid, length = read(s, 1, a, 2)
        if mid == 802:
            return a, length + 2
        if mid == 0xFFFF:
            raise RuntimeError("no 802 model")
        a += 2 + length


def worker(start_at, q):
    s = socket.create_connection(("127.0.0.1", PORT))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    addr, n = find_802(s)
    lat = []
    while time.time() < start_at:
        time.sleep(0.001)
    end = start_at + SECONDS
    tid = 0
    while True:
        t0 = time.perf_counter()
        if t0 > 0 and time.time() >= end:
            break
        regs = read(s, tid, addr, n)
        lat.append(time.perf_counter() - t0)
        if regs[0] != 802:
            raise RuntimeError("bad block")
        tid += 1
    s.close()
    q.put(lat)


if __name__ == "__main__":
    q = mp.Queue()
    start_at = time.time() + 1.0
    ps = [mp.Process(target=worker, args=(start_at, q)) for _ in range(CLIENTS)]
    for p in ps:
        p.start()
    lats = []
    for _ in ps:
        lats += q.get()
    for p in ps:
        p.join()
    lats.sort()
    n = len(lats)

    def pct(p):
        return lats[min(n - 1, int(p * n))] * 1000

    print("clients %d, %.0f s, whole 802 model (64 registers) per read"
          % (CLIENTS, SECONDS))
    print("reads %d, %.0f reads/s" % (n, n / SECONDS))
    print("latency ms: p50 %.3f  p90 %.3f  p99 %.3f  max %.3f"
          % (pct(0.5), pct(0.9), pct(0.99), lats[-1] * 1000))
