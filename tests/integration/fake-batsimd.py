#!/usr/bin/env python3
"""A fake batsimd control socket for testing batsimctl (tests only).

Usage: fake-batsimd.py SOCKET LOG MODE

Listens on the UNIX stream socket SOCKET, appends every request line it
receives to LOG, and answers one JSON line per request as MODE says:

  normal   {"ok": true}; "alarms" and "state" get canned lists; a request
           whose "value" is 666 gets {"ok": false, "error": ...}
  silent   never answers (batsimctl must time out)
  garbage  answers a line that is not JSON
  close    closes the connection without answering

Exits after 60 s in any case, so a test that dies cannot leave it behind.
"""
import json
import os
import signal
import socket
import sys

ALARMS = [
    {"rack": 3, "kind": "cell_ov", "tier": "warning", "active": True,
     "latched": True, "module": 2, "cell": 7, "time_s": 12.5},
    {"rack": 0, "kind": "t_spread", "tier": "protection", "active": False,
     "latched": True, "module": 0, "cell": 1, "time_s": 99.0},
]
FAULTS = [
    {"type": "short", "rack": 3, "module": 2, "cell": 7, "value": 0.5},
    {"type": "cooling", "rack": 1, "value": 0.1},
]


def reply_for(req):
    if not isinstance(req, dict) or "cmd" not in req:
        return {"ok": False, "error": "request is not an object with cmd"}
    if req.get("value") == 666:
        return {"ok": False, "error": "value 666 is out of range: use 0-1"}
    if req["cmd"] == "alarms":
        return {"ok": True, "alarms": ALARMS}
    if req["cmd"] == "state":
        return {"ok": True, "mode": "power", "setpoint": 0,
                "ambient_c": 25, "profile": {"name": "none"},
                "faults": FAULTS, "tick": 1, "time_s": 0.1,
                "backend": "cpu"}
    return {"ok": True}


def main():
    path, log, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    signal.alarm(600)  # a safety net, not a time limit: loaded CI machines are slow
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(path):
        os.unlink(path)
    srv.bind(path)
    srv.listen(8)
    while True:
        conn, _ = srv.accept()
        with conn:
            buf = b""
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    with open(log, "ab") as f:
                        f.write(line + b"\n")
                    if mode == "silent":
                        continue
                    if mode == "close":
                        conn.close()
                        break
                    if mode == "garbage":
                        conn.sendall(b"this is not json\n")
                        continue
                    try:
                        req = json.loads(line)
                    except ValueError:
                        req = None
                    conn.sendall(json.dumps(reply_for(req)).encode()
                                 + b"\n")
                if conn.fileno() < 0:
                    break


if __name__ == "__main__":
    main()
