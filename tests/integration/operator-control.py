#!/usr/bin/env python3
"""The checks of tests/integration/operator-control.sh, in one python3
process (standard library only): the operator and Modbus control commands
through the real batsimd, their effect in the segment (bsd-peek), and the
same through batsimctl and batsim-httpd.  Every wait is a poll with a
generous limit; nothing asserts on timing.

usage: operator-control.py SOCKET SHM PEEK BATSIMCTL HTTP_PORT TOKEN
Prints "ok N - ..." / "not ok - ..." lines; exit status 0 when all pass.
"""
import json
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

SOCK, SHM, PEEK, CTL, PORT, TOKEN = sys.argv[1:7]
passed = failed = 0


def ok(cond, desc, detail=None):
    global passed, failed
    if cond:
        passed += 1
        print("ok %d - %s" % (passed, desc))
    else:
        failed += 1
        print("not ok - %s" % desc)
        if detail is not None:
            for line in str(detail).splitlines()[:20]:
                print("#   " + line)
    sys.stdout.flush()
    return cond


def requests(*lines):
    """Send requests on one connection; the parsed replies."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(20)
    s.connect(SOCK)
    f = s.makefile("rwb")
    out = []
    for line in lines:
        f.write((line if isinstance(line, str) else json.dumps(line)).encode() + b"\n")
        f.flush()
        out.append(json.loads(f.readline().decode()))
    s.close()
    return out


def req(r):
    return requests(r)[0]


def req_ok(r, desc, check=None):
    d = req(r)
    good = d.get("ok") is True and (check is None or check(d))
    ok(good, desc, json.dumps(d))
    return d


def req_err(r, pattern, desc):
    d = req(r)
    ok(d.get("ok") is False and re.search(pattern, d.get("error", "")),
       desc, json.dumps(d))
    return d


def peek():
    p = {}
    out = subprocess.run([PEEK, SHM], capture_output=True, text=True).stdout
    for line in out.splitlines():
        k, _, v = line.partition("=")
        try:
            p[k] = float(v)
        except ValueError:
            p[k] = v
    return p


def eventually(seconds, desc, fn):
    end = time.monotonic() + seconds
    p = {}
    while True:
        p = peek()
        try:
            if fn(p):
                return ok(True, desc)
        except KeyError:
            pass
        if time.monotonic() > end:
            return ok(False, desc, "\n".join("%s=%s" % kv for kv in sorted(p.items())))
        time.sleep(0.1)


def cli(*args):
    r = subprocess.run([CTL, "--socket", SOCK, "--name", SHM] + list(args),
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


def cli_expect(rc, desc, *args):
    got = cli(*args)
    ok(got[0] == rc, "batsimctl %s (exit %d)" % (desc, rc),
       "exit %d\n%s%s" % got)
    return got


def http(path, body=None, token=True, method=None):
    rq = urllib.request.Request("http://127.0.0.1:%s%s" % (PORT, path),
                                data=None if body is None else body.encode(),
                                method=method)
    if token:
        rq.add_header("Authorization", "Bearer " + TOKEN)
    try:
        with urllib.request.urlopen(rq, timeout=20) as r:
            return r.status, json.loads(r.read().decode())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode() or "null")


R = range(6)

# ---- the state reply and the segment at start ----
req_ok({"cmd": "state"}, "state: no reserve, no operator-open rack, no Modbus report or fault",
       lambda d: d["soc_reserve"] == {"min": 0, "max": 1} and d["operator_open"] == []
       and d["modbus"] == {"alive": False, "clients": 0, "requests": 0, "faults": []})
eventually(10, "segment: no reserve (0, 1), speed 50, not paused, Modbus not alive",
           lambda p: p["soc_reserve_min"] == 0 and p["soc_reserve_max"] == 1 and p["speed"] == 50
           and p["paused"] == 0 and p["mb_alive"] == 0 and p["mb_fault_bits"] == 0)
req_ok({"cmd": "pause"}, "pause")
eventually(10, "segment: paused = 1", lambda p: p["paused"] == 1)
req_ok({"cmd": "speed", "value": 20}, "speed 20")
eventually(10, "segment: speed = 20", lambda p: p["speed"] == 20)
req_ok({"cmd": "resume"}, "resume")
eventually(10, "segment: paused = 0", lambda p: p["paused"] == 0)

# ---- contactor ----
eventually(10, "every rack closed with charge and discharge limits",
           lambda p: p["racks_closed"] == 6 and all(
               p["rack%d_charge_limit_a" % r] > 0 and p["rack%d_discharge_limit_a" % r] > 0 for r in R))
req_ok({"cmd": "contactor", "action": "open", "rack": 1}, "contactor open rack 1")
eventually(10, "rack 1 open by the operator, limits 0; the others closed",
           lambda p: p["rack1_contactor"] == 0 and p["rack1_operator_open"] == 1
           and p["rack1_charge_limit_a"] == 0 and p["rack1_discharge_limit_a"] == 0
           and p["racks_closed"] == 5 and p["rack0_operator_open"] == 0)
req_ok({"cmd": "state"}, "state: operator_open [1]", lambda d: d["operator_open"] == [1])
req_ok({"cmd": "setpoint", "mode": "power", "value": 5000}, "discharge 5 kW")
eventually(10, "current through the closed racks only",
           lambda p: p["site_current_a"] > 0 and p["rack0_current_a"] > 0 and p["rack1_current_a"] == 0)
req_ok({"cmd": "contactor", "action": "close", "rack": 1}, "contactor close rack 1")
eventually(10, "rack 1 closed again, limits back",
           lambda p: p["rack1_contactor"] == 1 and p["rack1_operator_open"] == 0
           and p["rack1_discharge_limit_a"] > 0 and p["racks_closed"] == 6)
req_ok({"cmd": "contactor", "action": "open"}, "contactor open (every rack)")
eventually(10, "every rack open: no current", lambda p: p["racks_closed"] == 0 and p["site_current_a"] == 0)
req_ok({"cmd": "contactor", "action": "close"}, "contactor close (every rack)")
eventually(10, "every rack closed", lambda p: p["racks_closed"] == 6)
req_ok({"cmd": "setpoint", "mode": "power", "value": 0}, "idle")
req_err({"cmd": "contactor", "action": "open", "rack": 6}, "out of range", "contactor: rack out of range")
req_err({"cmd": "contactor", "action": "toggle"}, "open.*close", "contactor: bad action")
req_err({"cmd": "contactor", "action": "open", "module": 1}, "unknown field", "contactor: unknown field")
# an open fault: close is refused, for that rack and for every rack
req_ok({"cmd": "fault", "action": "inject", "type": "open", "rack": 2}, "open fault on rack 2")
req_ok({"cmd": "contactor", "action": "open", "rack": 3}, "contactor open rack 3")
req_err({"cmd": "contactor", "action": "close", "rack": 2},
        "rack 2 has an open fault: clear the open fault first", "close refused: open fault")
req_err({"cmd": "contactor", "action": "close"}, "clear the open fault first",
        "close of every rack refused too")
eventually(10, "the refused close changed nothing (rack 3 still operator-open)",
           lambda p: p["rack3_operator_open"] == 1 and p["rack2_contactor"] == 0)
req_ok({"cmd": "fault", "action": "clear", "type": "open", "rack": 2}, "clear the open fault")
req_ok({"cmd": "contactor", "action": "close"}, "close every rack now")
eventually(10, "all closed once the fault is cleared",
           lambda p: p["racks_closed"] == 6 and p["rack3_operator_open"] == 0)

# ---- SoC reserve ----
eventually(10, "rack SoC near 50 %", lambda p: all(0.4 < p["rack%d_soc" % r] < 0.6 for r in R))
base = peek()
req_ok({"cmd": "soc_reserve", "min": 0.7, "max": 1}, "soc_reserve min 70 %")
eventually(10, "below the minimum: discharge limit 0, charge limit kept",
           lambda p: all(p["rack%d_discharge_limit_a" % r] == 0 and p["rack%d_charge_limit_a" % r] > 0 for r in R)
           and abs(p["soc_reserve_min"] - 0.7) < 1e-6 and p["discharge_limit_a"] == 0)
req_ok({"cmd": "soc_reserve", "min": 0, "max": 0.3}, "soc_reserve max 30 %")
eventually(10, "above the maximum: charge limit 0, discharge limit kept",
           lambda p: all(p["rack%d_charge_limit_a" % r] == 0 and p["rack%d_discharge_limit_a" % r] > 0 for r in R)
           and abs(p["soc_reserve_max"] - 0.3) < 1e-6)
dis0 = base["rack0_discharge_limit_a"]
lo = base["rack0_soc"] - 0.005
req_ok({"cmd": "soc_reserve", "min": lo, "max": 1}, "soc_reserve min 0.5 % below rack 0's SoC")
eventually(10, "rack 0's discharge limit on the ramp: (soc - min) / 1 % of the full one",
           lambda p: abs(p["rack0_discharge_limit_a"] - dis0 * (p["rack0_soc"] - lo) / 0.01) < 0.02 * dis0
           and 0 < p["rack0_discharge_limit_a"] < dis0)
req_ok({"cmd": "state"}, "state: soc_reserve",
       lambda d: abs(d["soc_reserve"]["min"] - lo) < 1e-9 and d["soc_reserve"]["max"] == 1)
for body, what in (({"min": 0.5, "max": 0.5}, "min = max"), ({"min": -0.1, "max": 0.5}, "min < 0"),
                   ({"min": 0.1, "max": 1.5}, "max > 1")):
    body["cmd"] = "soc_reserve"
    req_err(body, r"need 0 <= min < max <= 1", "soc_reserve %s refused" % what)
req_err({"cmd": "soc_reserve", "min": 0.1}, 'needs "min" and "max"', "soc_reserve without max refused")
req_err({"cmd": "soc_reserve", "min": "10%", "max": 1}, "must be a number", "soc_reserve with a string refused")
req_ok({"cmd": "soc_reserve", "min": 0, "max": 1}, "soc_reserve back to none")
eventually(10, "no reserve: the full limits again",
           lambda p: abs(p["rack0_discharge_limit_a"] - dis0) < 1e-3 * dis0
           and p["soc_reserve_min"] == 0 and p["soc_reserve_max"] == 1)

# ---- Modbus protocol faults ----
MF = "modbus_fault"
req_ok({"cmd": "modbus_faults"}, "no protocol fault, revision 0",
       lambda d: d["revision"] == 0 and d["faults"] == [])
req_ok({"cmd": MF, "action": "set", "type": "delay", "ms": 250}, "set delay 250 ms")
req_ok({"cmd": "modbus_faults"}, "the delay is listed for the whole device with since_s",
       lambda d: d["revision"] == 1 and len(d["faults"]) == 1 and d["faults"][0]["type"] == "delay"
       and d["faults"][0]["unit"] == 0 and d["faults"][0]["ms"] == 250 and d["faults"][0]["since_s"] >= 0)
req_ok({"cmd": MF, "action": "set", "type": "delay", "unit": 0, "ms": 500}, "set delay 500 ms on unit 0")
req_ok({"cmd": "modbus_faults"}, "same type and unit: replaced",
       lambda d: d["revision"] == 2 and len(d["faults"]) == 1 and d["faults"][0]["ms"] == 500)
req_ok({"cmd": MF, "action": "set", "type": "delay", "unit": 3, "ms": 100}, "set delay on unit 3 (rack 1)")
req_ok({"cmd": MF, "action": "set", "type": "silence", "every": 3}, "set silence every 3rd")
req_ok({"cmd": MF, "action": "set", "type": "exception", "unit": 1, "points": ["704.WSet", "802.AlmRst"]},
       "set exception on two points")
req_ok({"cmd": MF, "action": "set", "type": "freeze", "what": "values"}, "set freeze values")
req_ok({"cmd": MF, "action": "set", "type": "drop", "unit": 2, "every": 1}, "set drop every request")


def one(d, t):
    return [f for f in d["faults"] if f["type"] == t][0]


req_ok({"cmd": "modbus_faults"}, "six faults with their parameters",
       lambda d: d["revision"] == 7 and len(d["faults"]) == 6
       and one(d, "exception")["points"] == ["704.WSet", "802.AlmRst"] and one(d, "exception")["unit"] == 1
       and one(d, "freeze")["what"] == "values" and one(d, "silence")["every"] == 3
       and one(d, "drop")["every"] == 1 and one(d, "drop")["unit"] == 2)
eventually(10, "segment: fault bits of all five types, revision 7",
           lambda p: p["mb_fault_bits"] == 31 and p["mb_fault_revision"] == 7)
req_ok({"cmd": "state"}, "state lists the protocol faults", lambda d: len(d["modbus"]["faults"]) == 6)
# a silence for a while carries its end and goes once over
req_ok({"cmd": MF, "action": "set", "type": "silence", "unit": 4, "seconds": 1}, "set silence for 1 s on unit 4")
req_ok({"cmd": "modbus_faults"}, "the silence carries seconds and until_wall_ns (CLOCK_REALTIME)",
       lambda d: [f for f in d["faults"] if f["type"] == "silence" and f["unit"] == 4][0]["seconds"] == 1
       and abs([f for f in d["faults"] if f["unit"] == 4][0]["until_wall_ns"] / 1e9 - time.time()) < 60)
end = time.monotonic() + 20
while True:
    d = req({"cmd": "modbus_faults"})
    gone = not any(f["unit"] == 4 for f in d["faults"]) and len(d["faults"]) == 6
    if gone or time.monotonic() > end:
        break
    time.sleep(0.1)
ok(gone, "the silence is dropped from the list once over", json.dumps(d))
eventually(10, "the revision grew when it went", lambda p: p["mb_fault_revision"] == 9)
for body, pat, what in (
        ({"type": "delay"}, 'delay needs "ms"', "delay without ms"),
        ({"type": "delay", "ms": 0}, '"ms" must be an integer from 1 to 60000', "delay 0 ms"),
        ({"type": "delay", "ms": 60001}, "from 1 to 60000", "delay over 60 s"),
        ({"type": "delay", "ms": 1.5}, "must be an integer", "delay 1.5 ms"),
        ({"type": "delay", "ms": 10, "every": 2}, 'takes "ms".*not "every"', "delay with every"),
        ({"type": "silence", "seconds": 5, "every": 2}, "one of", "silence with seconds and every"),
        ({"type": "silence", "every": 1}, "from 2 to", "silence every 1"),
        ({"type": "silence", "seconds": 3601}, "from 1 to 3600", "silence over an hour"),
        ({"type": "exception", "points": []}, 'needs "points"', "exception without points"),
        ({"type": "exception", "points": ["WSet"]}, "MODEL.POINT", "exception: a point without its model"),
        ({"type": "exception", "points": ["704." + "x" * 29]}, "at most 32", "exception: a name of 33 characters"),
        ({"type": "exception", "points": ["1.P%d" % i for i in range(17)]}, 'needs "points"', "exception: 17 points"),
        ({"type": "exception", "points": "704.WSet"}, 'needs "points"', "exception: points not a list"),
        ({"type": "freeze", "what": "some"}, '"values" or "all"', "freeze what some"),
        ({"type": "drop", "every": 0}, "from 1 to", "drop every 0"),
        ({"type": "crash"}, "delay, silence, exception, freeze or drop", "unknown type"),
        ({"type": "delay", "unit": 8, "ms": 5}, "from 0 to 7", "unit past the last rack"),
        ({"type": "delay", "ms": 5, "rack": 1}, 'unknown field "rack"', "unknown field")):
    body.update({"cmd": MF, "action": "set"})
    req_err(body, pat, "refused: " + what)
req_ok({"cmd": "modbus_fault", "action": "set", "type": "exception", "points": ["704." + "x" * 28]},
       "a name of exactly 32 characters is taken")
req_err({"cmd": MF, "action": "toggle", "type": "delay"}, '"set" or "clear"', "refused: bad action")
req_ok({"cmd": "modbus_fault", "action": "clear", "type": "exception", "unit": 0}, "clear it")
req_ok({"cmd": "modbus_faults"}, "refusals changed nothing but the revision of the set and clear",
       lambda d: d["revision"] == 11 and len(d["faults"]) == 6)
req_ok({"cmd": MF, "action": "clear", "type": "delay", "unit": 3}, "clear delay on unit 3: one cleared",
       lambda d: d["cleared"] == 1)
req_ok({"cmd": MF, "action": "clear", "type": "delay", "unit": 3}, "clear it again: none left",
       lambda d: d["cleared"] == 0)
req_ok({"cmd": MF, "action": "clear", "type": "delay"}, "clear delay on every unit: the device-wide one",
       lambda d: d["cleared"] == 1)
req_err({"cmd": MF, "action": "clear", "type": "boom"}, "unknown protocol fault type", "clear an unknown type")
req_err({"cmd": MF, "action": "clear", "type": "drop", "every": 1}, 'takes "type" and "unit" only',
        "clear with a parameter")
req_ok({"cmd": MF, "action": "clear", "type": "all"}, "clear all: the other four", lambda d: d["cleared"] == 4)
eventually(10, "segment: no fault bits", lambda p: p["mb_fault_bits"] == 0)
# the limit: 32 faults
params = {"delay": {"ms": 10}, "silence": {"every": 2}, "exception": {"points": ["704.WSet"]},
          "freeze": {"what": "all"}, "drop": {"every": 5}}
fill = [dict(cmd=MF, action="set", type=t, unit=u, **params[t]) for t in params for u in range(8)][:32]
rs = requests(*(fill + [{"cmd": MF, "action": "set", "type": "drop", "unit": 0, "every": 5},
                        {"cmd": MF, "action": "set", "type": "freeze", "unit": 7, "what": "all"},
                        {"cmd": MF, "action": "set", "type": "delay", "unit": 0, "ms": 20},
                        {"cmd": "modbus_faults"}]))
ok(all(r["ok"] for r in rs[:32]), "32 faults set")
ok(rs[32]["ok"] is False and "32 protocol faults are set" in rs[32]["error"], "a 33rd is refused", rs[32])
ok(rs[33]["ok"] and rs[34]["ok"] and len(rs[35]["faults"]) == 32
   and [f for f in rs[35]["faults"] if f["type"] == "delay" and f["unit"] == 0][0]["ms"] == 20,
   "replacing one still works when full", rs[33:])
req_ok({"cmd": MF, "action": "clear", "type": "all"}, "clear all 32", lambda d: d["cleared"] == 32)

# ---- modbus_report ----
req_ok({"cmd": "modbus_report", "clients": 2, "requests": 12345}, "report: 2 clients")
eventually(10, "segment: Modbus alive, 2 clients, 12345 requests",
           lambda p: p["mb_alive"] == 1 and p["mb_clients"] == 2 and p["mb_requests"] == 12345)
req_ok({"cmd": "state"}, "state: the report",
       lambda d: d["modbus"]["alive"] is True and d["modbus"]["clients"] == 2 and d["modbus"]["requests"] == 12345)
eventually(30, "no report for 3 s: not alive, the figures kept",
           lambda p: p["mb_alive"] == 0 and p["mb_clients"] == 2)
req_ok({"cmd": "state"}, "state: not alive", lambda d: d["modbus"]["alive"] is False)
req_err({"cmd": "modbus_report", "clients": -1, "requests": 0}, "integers >= 0", "report with negative clients")
req_err({"cmd": "modbus_report", "clients": 1}, "integers >= 0", "report without requests")

# ---- batsimctl ----
rc, out, err = cli_expect(0, "contactor open 4", "contactor", "open", "4")
ok(out.startswith("ok: contactor of rack 4 opened"), "batsimctl: confirmation", out)
eventually(10, "batsimctl: rack 4 operator-open", lambda p: p["rack4_operator_open"] == 1)
cli_expect(0, "contactor close 4", "contactor", "close", "4")
eventually(10, "batsimctl: rack 4 closed", lambda p: p["rack4_operator_open"] == 0 and p["rack4_contactor"] == 1)
cli_expect(1, "contactor sideways", "contactor", "sideways")
cli_expect(1, "contactor open x", "contactor", "open", "x")
cli_expect(6, "contactor open 7 (refused: out of range)", "contactor", "open", "7")
cli_expect(0, "soc-reserve 10% 90%", "soc-reserve", "10%", "90%")
eventually(10, "batsimctl: reserve 0.1-0.9 published",
           lambda p: abs(p["soc_reserve_min"] - 0.1) < 1e-6 and abs(p["soc_reserve_max"] - 0.9) < 1e-6)
cli_expect(1, "soc-reserve 90% 10%", "soc-reserve", "90%", "10%")
cli_expect(1, "soc-reserve 10%", "soc-reserve", "10%")
cli_expect(0, "modbus-fault set delay --ms 300 --unit 2", "modbus-fault", "set", "delay", "--ms", "300", "--unit", "2")
cli_expect(0, "modbus-fault set exception --points", "modbus-fault", "set", "exception",
           "--points", "704.WSet,802.SetOp")
rc, out, err = cli_expect(0, "modbus-fault list", "modbus-fault", "list")
ok(re.search(r"^delay +2 +ms=300 ", out, re.M), "list: the delay row", out)
ok(re.search(r"^exception +0 +points=704.WSet,802.SetOp ", out, re.M), "list: the exception row", out)
rc, out, err = cli_expect(0, "--json modbus-fault list", "--json", "modbus-fault", "list")
ok(len(json.loads(out)["faults"]) == 2, "list --json: the reply", out)
cli_expect(1, "modbus-fault set delay (no --ms)", "modbus-fault", "set", "delay")
cli_expect(1, "modbus-fault set silence --seconds 2 --every 3", "modbus-fault", "set", "silence",
           "--seconds", "2", "--every", "3")
cli_expect(1, "modbus-fault set freeze --what some", "modbus-fault", "set", "freeze", "--what", "some")
cli_expect(1, "modbus-fault clear delay --ms 3", "modbus-fault", "clear", "delay", "--ms", "3")
rc, out, err = cli_expect(6, "modbus-fault set exception --points WSet (refused)", "modbus-fault", "set",
                          "exception", "--points", "WSet")
ok(re.search("refused.*MODEL.POINT", err), "refusal: the daemon's message", err)
cli_expect(0, "modbus-fault set freeze --what all", "modbus-fault", "set", "freeze", "--what", "all")
req_ok({"cmd": "modbus_report", "clients": 1, "requests": 7}, "report: 1 client")
eventually(10, "report published", lambda p: p["mb_alive"] == 1 and p["mb_requests"] == 7)
rc, out, err = cli_expect(0, "status", "status")
ok(re.search(r"^modbus: +batsim-modbusd up, 1 client, 7 requests; faults: delay, exception, freeze$", out, re.M),
   "status: the Modbus line", out)
rc, out, err = cli_expect(0, "modbus-fault clear delay --unit 2", "modbus-fault", "clear", "delay", "--unit", "2")
ok(out.startswith("ok: Modbus fault delay cleared on unit 2 (1 cleared)"), "clear: confirmation", out)
cli_expect(0, "modbus-fault clear all", "modbus-fault", "clear", "all")
rc, out, err = cli_expect(0, "state", "state")
ok(re.search(r"^soc_reserve.min: 0.1$", out, re.M), "state: the reserve", out)
rc, out, err = cli_expect(0, "--json show summary", "--json", "show", "summary")
ok(json.loads(out)["soc_reserve"] == {"min": 10, "max": 90} and json.loads(out)["racks"][0]["operator_open"] is False,
   "show summary --json: soc_reserve in percent, operator_open", out)

# ---- HTTP ----
code, d = http("/control/contactor", '{"action":"open","rack":5}')
ok(code == 200, "POST /control/contactor (%d)" % code, d)
code, d = http("/control/contactor", '{"action":"open","rack":9}')
ok(code == 400 and "out of range" in d["error"], "POST /control/contactor: rack out of range (%d)" % code, d)
code, d = http("/control/soc_reserve", '{"min":0.05,"max":0.95}')
ok(code == 200, "POST /control/soc_reserve (%d)" % code, d)
code, d = http("/control/modbus_fault", '{"action":"set","type":"drop","unit":1,"every":4}')
ok(code == 200, "POST /control/modbus_fault (%d)" % code, d)
code, d = http("/control/modbus_faults")
ok(code == 200 and [f for f in d["faults"] if f["type"] == "drop"][0]["every"] == 4,
   "GET /control/modbus_faults: the list (%d)" % code, d)
code, d = http("/control/modbus_faults", "{}")
ok(code == 405, "POST /control/modbus_faults: 405 (%d)" % code, d)
code, d = http("/control/soc_reserve", method="POST")
ok(code == 400, "POST /control/soc_reserve without a body (%d)" % code, d)
code, d = http("/control/contactor", '{"action":"open"}', token=False)
ok(code == 401, "POST /control/contactor without the token (%d)" % code, d)
req_ok({"cmd": "modbus_report", "clients": 3, "requests": 99}, "report: 3 clients")
end = time.monotonic() + 10
while True:
    code, d = http("/summary", token=False)
    good = (code == 200 and d["racks"][5]["operator_open"] is True and d["racks"][5]["contactor"] == "open"
            and d["soc_reserve"] == {"min": 5, "max": 95} and d["modbus"]["alive"] is True
            and d["modbus"]["clients"] == 3 and d["modbus"]["faults"] == ["drop"])
    if good or time.monotonic() > end:
        break
    time.sleep(0.1)
ok(good, "/summary: operator_open, soc_reserve (percent), modbus alive, clients and faults", d)
code, d = http("/control/contactor", '{"action":"close","rack":5}')
ok(code == 200, "POST /control/contactor close (%d)" % code, d)
code, d = http("/control")
ok(code == 200 and d["operator_open"] == [] and d["soc_reserve"]["max"] == 0.95,
   "GET /control: the state additions", d)

# ---- a latched protection alarm refuses close (runaway on a cell of rack 0) ----
req_ok({"cmd": "speed", "value": 0}, "speed 0 (as fast as possible)")
req_ok({"cmd": "fault", "action": "inject", "type": "runaway", "rack": 0, "module": 0, "cell": 0, "value": 20},
       "runaway on rack 0")
eventually(120, "protection opens rack 0", lambda p: p["rack0_contactor"] == 0)
req_ok({"cmd": "speed", "value": 1}, "speed 1")
req_err({"cmd": "contactor", "action": "close", "rack": 0},
        "rack 0 has a latched protection alarm: reset the alarm first", "close refused: latched protection")
req_ok({"cmd": "contactor", "action": "close", "rack": 1}, "another rack closes all the same")

print("# %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
