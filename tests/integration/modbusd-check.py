#!/usr/bin/env python3
"""modbusd-check.py - batsim-modbusd against the real batsimd, with Debian's
python3-pymodbus as the client (run by tests/integration/modbusd.sh).

Usage: modbusd-check.py PHASE PORT HTTP_PORT CONTROL_SOCKET POINTS_CSV [PORT2]
PHASE: "live" (discovery, chain, values, writes, exceptions, faults,
concurrency) or "stale" (the writer is stopped or hung).
Prints "ok - ..." / "not ok - ..." lines; exit status 1 when one failed.
"""
import csv
import json
import socket
import struct
import sys
import threading
import time
import urllib.request

from pymodbus.client import ModbusTcpClient

PHASE, PORT, HPORT, CTL, POINTS = sys.argv[1:6]
PORT2 = int(sys.argv[6]) if len(sys.argv) > 6 else None
PORT, HPORT = int(PORT), int(HPORT)
BASE = 40000
failed = 0


def ok(cond, what, detail=""):
    global failed
    if cond:
        print("ok - " + what)
    else:
        failed += 1
        print("not ok - " + what + (": " + str(detail) if detail else ""))


def http(path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (HPORT, path),
                                timeout=10) as r:
        return json.load(r)


def control(obj):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(CTL)
    s.sendall((json.dumps(obj) + "\n").encode())
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    return json.loads(buf)


def poll(fn, seconds=10):
    end = time.monotonic() + seconds
    while True:
        try:
            if fn():
                return True
        except Exception:
            pass
        if time.monotonic() > end:
            return False
        time.sleep(0.1)


# ---- the model table, read independently of the daemon's generator ----
models = {}
with open(POINTS, newline="") as f:
    for row in csv.DictReader(f):
        m = models.setdefault(int(row["model"]), {"groups": [], "points": {}})
        if not m["groups"] or m["groups"][-1]["name"] != row["group"]:
            m["groups"].append({"name": row["group"], "count": row["count"],
                                "len": 0, "points": {}})
        g = m["groups"][-1]
        g["len"] = max(g["len"], int(row["offset"]) + int(row["size"]))
        g["points"][row["point"]] = row
for m in models.values():
    m["fixed"] = sum(g["len"] for g in m["groups"] if g["count"] == "1")
    rep = [g for g in m["groups"] if g["count"] != "1"]
    m["rep"] = rep[0]["len"] if rep else 0
    m["top"] = m["groups"][0]["points"]
    m["reppts"] = rep[0]["points"] if rep else {}


def client(timeout=5):
    c = ModbusTcpClient("127.0.0.1", port=PORT, timeout=timeout, retries=0)
    c.connect()
    return c


def read(c, addr, n, unit=1):
    out = []
    while n > 0:
        k = min(n, 125)
        r = c.read_holding_registers(addr, k, slave=unit)
        if r.isError():
            raise RuntimeError("read %d+%d unit %d: %s" % (addr, k, unit, r))
        out += r.registers
        addr += k
        n -= k
    return out


def exc_code(r):
    return getattr(r, "exception_code", None)


def chain(c, unit):
    """[(model, start address, L)] from the marker to the end."""
    out = []
    a = BASE + 2
    while True:
        mid, length = read(c, a, 2, unit)
        if mid == 0xFFFF:
            out.append((mid, a, length))
            return out
        out.append((mid, a, length))
        a += 2 + length
        if len(out) > 64:
            raise RuntimeError("no end marker")


def sval(regs, model, name, rep_base=None, sf=None):
    """Value of a point from a model's registers (regs[0] = ID)."""
    p = models[model]["reppts" if rep_base is not None else "top"][name]
    o = int(p["offset"]) + (rep_base or 0)
    size, typ = int(p["size"]), p["type"]
    raw = 0
    for k in range(size):
        raw = raw << 16 | regs[o + k]
    if typ in ("int16", "sunssf") and raw >= 0x8000:
        raw -= 0x10000
    if typ == "int32" and raw >= 0x80000000:
        raw -= 1 << 32
    if sf is None:
        return raw
    return raw * 10.0 ** sf


def sf_of(regs, model, name):
    return sval(regs, model, name)


def model_regs(c, ch, model, unit=1, which=0):
    hits = [(a, length) for (m, a, length) in ch if m == model]
    a, length = hits[which]
    return read(c, a, length + 2, unit), a


def close(a, b, tol):
    return abs(a - b) <= tol


def wr(c, addr, vals, unit=1):
    return c.write_registers(addr, vals, slave=unit)


def u32(v):
    v &= 0xFFFFFFFF
    return [v >> 16, v & 0xFFFF]


def live():
    c = client()
    # discovery
    ok(read(c, BASE, 2) == [0x5375, 0x6E53], 'discovery: "SunS" at 40000')
    for a in (0, 50000):
        r = c.read_holding_registers(a, 2, slave=1)
        ok(r.isError() and exc_code(r) == 2,
           "discovery: no map at %d, exception 02 at once" % a, r)

    summary = http("/summary")
    topo = summary["topology"]
    R, M, C = topo["racks"], topo["modules_per_rack"], topo["cells_per_module"]

    # the model chain of the site unit and of a rack unit
    ch = chain(c, 1)
    ids = [m for (m, a, length) in ch]
    ok(ids == [1, 701, 702, 704, 713, 802, 803, 124, 0xFFFF],
       "unit 1 model chain", ids)
    lengths_ok = True
    for (m, a, length) in ch:
        if m == 0xFFFF:
            lengths_ok &= length == 0
        elif m == 803:
            nstr = read(c, a + 2, 1)[0]
            lengths_ok &= nstr == R and \
                length == models[m]["fixed"] - 2 + nstr * models[m]["rep"]
        else:
            lengths_ok &= length == models[m]["fixed"] - 2
    ok(lengths_ok, "unit 1 model lengths as in points.csv (803: NStr = %d)" % R,
       ch)
    ch2 = chain(c, 3)
    ids2 = [m for (m, a, length) in ch2]
    ok(ids2 == [1, 804] + [805] * M + [0xFFFF], "unit 3 (rack 1) model chain",
       ids2)
    l804 = [length for (m, a, length) in ch2 if m == 804][0]
    l805 = [length for (m, a, length) in ch2 if m == 805]
    ok(l804 == models[804]["fixed"] - 2 + M * models[804]["rep"] and
       all(x == models[805]["fixed"] - 2 + C * models[805]["rep"] for x in l805),
       "804 and 805 lengths as in points.csv (NMod %d, NCell %d)" % (M, C))
    r1, _ = model_regs(c, ch, 1)
    mn = bytes(sum(([v >> 8, v & 255] for v in r1[2:18]), [])).rstrip(b"\0")
    ok(mn == b"batsim", "1: Mn is batsim", mn)
    r = c.read_holding_registers(BASE, 2, slave=2 + R)
    ok(r.isError() and exc_code(r) == 0x0B,
       "unit past the last rack: exception 0B", r)

    # ---- values against the REST API, engine paused (one tick) ----
    ok(control({"cmd": "setpoint", "mode": "power", "value": 3000})["ok"],
       "setpoint 3 kW through the control socket")
    ok(poll(lambda: http("/summary")["site"]["power"] > 100),
       "the site discharges")
    ok(control({"cmd": "pause"})["ok"], "engine paused")

    def settled():
        # simulated time stands still once the pause is published
        t1 = http("/summary")["time_s"]
        time.sleep(0.5)
        return http("/summary")["time_s"] == t1
    ok(poll(settled), "paused: the published snapshot stands still")
    s = http("/summary")
    b802, _ = model_regs(c, ch, 802)
    site = s["site"]
    v = lambda n, sfn: sval(b802, 802, n, sf=sf_of(b802, 802, sfn))
    ok(close(v("SoC", "SoC_SF"), site["soc"], 0.006), "802 SoC = /summary soc",
       (v("SoC", "SoC_SF"), site["soc"]))
    vsf = sf_of(b802, 802, "V_SF")
    ok(close(v("V", "V_SF"), site["voltage"], 0.51 * 10 ** vsf),
       "802 V = /summary voltage", (v("V", "V_SF"), site["voltage"]))
    asf = sf_of(b802, 802, "A_SF")
    ok(close(v("A", "A_SF"), site["current"], 0.51 * 10 ** asf),
       "802 A = /summary current", (v("A", "A_SF"), site["current"]))
    wsf = sf_of(b802, 802, "W_SF")
    ok(close(v("W", "W_SF"), site["power"], 0.51 * 10 ** wsf) and
       site["power"] > 100, "802 W = /summary power (discharging)",
       (v("W", "W_SF"), site["power"]))
    cmax = v("CellVMax", "CellV_SF")
    cmin = v("CellVMin", "CellV_SF")
    ok(close(cmax, site["cell_voltage_max"], 0.0006) and
       close(cmin, site["cell_voltage_min"], 0.0006),
       "802 CellVMax/CellVMin = /summary", (cmax, cmin, site))
    smax = sval(b802, 802, "CellVMaxStr") - 1
    mmax = sval(b802, 802, "CellVMaxMod") - 1
    rk = s["racks"][smax]["cell_voltage_max"]
    ok(rk["value"] == site["cell_voltage_max"] and rk["module"] == mmax,
       "802 CellVMaxStr/Mod locate the highest cell", (smax, mmax, rk))
    smin = sval(b802, 802, "CellVMinStr") - 1
    mmin = sval(b802, 802, "CellVMinMod") - 1
    rk = s["racks"][smin]["cell_voltage_min"]
    ok(rk["value"] == site["cell_voltage_min"] and rk["module"] == mmin,
       "802 CellVMinStr/Mod locate the lowest cell", (smin, mmin, rk))
    ok(close(v("ADisChaMax", "AMax_SF"), site["discharge_limit"],
             0.51 * 10 ** sf_of(b802, 802, "AMax_SF")) and
       close(v("AChaMax", "AMax_SF"), site["charge_limit"],
             0.51 * 10 ** sf_of(b802, 802, "AMax_SF")),
       "802 AChaMax/ADisChaMax = derated limits")
    ok(sval(b802, 802, "State") == 3 and sval(b802, 802, "Typ") == 4 and
       sval(b802, 802, "ChaSt") == 3, "802 State CONNECTED, Typ LI, ChaSt "
       "DISCHARGING", (sval(b802, 802, "State"), sval(b802, 802, "ChaSt")))
    ok(sval(b802, 802, "SoH") == 0xFFFF and sval(b802, 802, "NCyc") ==
       0xFFFFFFFF, "unimplemented points hold the not-implemented value")
    # 803 strings
    b803, _ = model_regs(c, ch, 803)
    fx = models[803]["fixed"]
    rp = models[803]["rep"]
    good = True
    for k in range(R):
        base = fx + k * rp
        q = s["racks"][k]
        good &= close(sval(b803, 803, "StrSoC", base, sf_of(b803, 803, "SoC_SF")),
                      q["soc"], 0.006)
        good &= close(sval(b803, 803, "StrA", base, sf_of(b803, 803, "A_SF")),
                      q["current"], 0.51 * 10 ** sf_of(b803, 803, "A_SF"))
        good &= close(sval(b803, 803, "StrCellVMax", base,
                           sf_of(b803, 803, "CellV_SF")),
                      q["cell_voltage_max"]["value"], 0.0006)
        good &= sval(b803, 803, "StrCellVMaxMod", base) - 1 == \
            q["cell_voltage_max"]["module"]
        good &= sval(b803, 803, "StrSt", base) == 3
    ok(good, "803: each string = its rack in /summary")
    # rack unit 3 = rack 1: 804 and 805 against /rack/1
    rk = http("/rack/1")
    b804, _ = model_regs(c, ch2, 804, unit=3)
    ok(sval(b804, 804, "Idx") == 2 and sval(b804, 804, "NMod") == M,
       "804 Idx and NMod")
    ok(close(sval(b804, 804, "SoC", sf=sf_of(b804, 804, "SoC_SF")), rk["soc"],
             0.006) and
       close(sval(b804, 804, "V", sf=sf_of(b804, 804, "V_SF")), rk["voltage"],
             0.51 * 10 ** sf_of(b804, 804, "V_SF")) and
       close(sval(b804, 804, "A", sf=sf_of(b804, 804, "A_SF")), rk["current"],
             0.51 * 10 ** sf_of(b804, 804, "A_SF")),
       "804 SoC, V, A = /rack/1")
    good = True
    for m in range(M):
        base = models[804]["fixed"] + m * models[804]["rep"]
        md = rk["modules"][m]
        good &= close(sval(b804, 804, "ModCellVMax", base,
                           sf_of(b804, 804, "CellV_SF")),
                      md["cell_voltage_max"]["value"], 0.0006)
        good &= sval(b804, 804, "ModCellVMaxCell", base) - 1 == \
            md["cell_voltage_max"]["cell"]
        good &= sval(b804, 804, "ModCellVMinCell", base) - 1 == \
            md["cell_voltage_min"]["cell"]
    ok(good, "804 module groups = /rack/1 modules (values and cell locators)")
    good = True
    for m in range(M):
        b805, _ = model_regs(c, ch2, 805, unit=3, which=m)
        md = rk["modules"][m]
        good &= sval(b805, 805, "StrIdx") == 2 and sval(b805, 805, "ModIdx") == m + 1
        good &= close(sval(b805, 805, "V", sf=sf_of(b805, 805, "V_SF")),
                      md["voltage"], 0.51 * 10 ** sf_of(b805, 805, "V_SF"))
        for cc in range(C):
            base = models[805]["fixed"] + cc * models[805]["rep"]
            good &= close(sval(b805, 805, "CellV", base,
                               sf_of(b805, 805, "CellV_SF")),
                          md["cells"][cc]["voltage"], 0.0006)
            good &= close(sval(b805, 805, "CellTmp", base,
                               sf_of(b805, 805, "Tmp_SF")),
                          md["cells"][cc]["temperature"], 0.051)
    ok(good, "805 per module and per cell = /rack/1 cells")
    ok(control({"cmd": "resume"})["ok"], "engine resumed")

    # heartbeat
    hb0 = read(c, [a for (m, a, _) in ch if m == 802][0] + 18, 1)[0]
    ok(poll(lambda: read(c, [a for (m, a, _) in ch if m == 802][0] + 18, 1)[0]
            != hb0, 5), "802 Hb increments")

    # ---- writes ----
    a704 = [a for (m, a, _) in ch if m == 704][0]
    a802 = [a for (m, a, _) in ch if m == 802][0]
    a803 = [a for (m, a, _) in ch if m == 803][0]
    a124 = [a for (m, a, _) in ch if m == 124][0]
    P = lambda mdl, n: int(models[mdl]["top"][n]["offset"])

    def setpoint_is(w, tol=0.6):
        return abs(http("/summary")["site"]["setpoint"] - w) <= tol

    r = wr(c, a704 + P(704, "WSetEna"), [1, 1] + u32(-4000))
    ok(not r.isError(), "704 WSetEna, WSetMod, WSet in one write", r)
    ok(poll(lambda: setpoint_is(-4000)), "704 WSet -4000 W: setpoint in /summary")
    b704 = read(c, a704, 2 + 65)
    ok(sval(b704, 704, "WSet") == -4000 and sval(b704, 704, "WSetEna") == 1,
       "704 WSet reads back")
    b702, _ = model_regs(c, ch, 702)
    wmax = sval(b702, 702, "WMaxRtg", sf=sf_of(b702, 702, "W_SF"))
    pctsf = sval(b704, 704, "WSetPct_SF")
    r = wr(c, a704 + P(704, "WSetMod"), [0])
    r2 = wr(c, a704 + P(704, "WSetPct"), [round(2.0 / 10 ** pctsf)])
    ok(not r.isError() and not r2.isError(), "704 WSetMod W_MAX_PCT, WSetPct 2 %")
    ok(poll(lambda: setpoint_is(0.02 * wmax, 0.01 * wmax)),
       "704 WSetPct: setpoint 2 % of WMaxRtg", (wmax, http("/summary")["site"]["setpoint"]))
    r = wr(c, a704 + P(704, "WSetEna"), [0])
    ok(not r.isError() and poll(lambda: setpoint_is(0)),
       "704 WSetEna 0: setpoint 0")

    # the reversion timer
    r = wr(c, a704 + P(704, "WSetRvrt"), u32(-1500))
    r2 = wr(c, a704 + P(704, "WSetEnaRvrt"), [1])
    r3 = wr(c, a704 + P(704, "WSetEna"), [1, 1] + u32(2500))
    r4 = wr(c, a704 + P(704, "WSetRvrtTms"), u32(2))
    ok(not (r.isError() or r2.isError() or r3.isError() or r4.isError()),
       "704 WSetRvrt -1500, WSetEnaRvrt 1, WSetRvrtTms 2 s, WSet 2500")
    ok(poll(lambda: setpoint_is(2500), 2) or setpoint_is(-1500),
       "704 setpoint 2500 W before the timeout")
    ok(poll(lambda: setpoint_is(-1500), 10),
       "reversion: no new setpoint within WSetRvrtTms -> WSetRvrt in /summary")
    b704 = read(c, a704, 2 + 65)
    ok(sval(b704, 704, "WSet") == -1500 and sval(b704, 704, "WSetRvrtRem") == 0,
       "reversion visible: WSet = WSetRvrt, WSetRvrtRem 0",
       (sval(b704, 704, "WSet"), sval(b704, 704, "WSetRvrtRem")))
    wr(c, a704 + P(704, "WSetRvrtTms"), u32(0))
    wr(c, a704 + P(704, "WSetEna"), [0])
    ok(poll(lambda: setpoint_is(0)), "setpoint 0 before 124")

    # 124: a discharge window below zero forces charging
    b124 = read(c, a124, 2 + 24)
    wcmax = sval(b124, 124, "WChaMax", sf=sf_of(b124, 124, "WChaMax_SF"))
    rsf = sval(b124, 124, "InOutWRte_SF")
    r = wr(c, a124 + P(124, "OutWRte"), [(-round(1.0 / 10 ** rsf)) & 0xFFFF])
    r2 = wr(c, a124 + P(124, "StorCtl_Mod"), [2])
    ok(not r.isError() and not r2.isError(), "124 OutWRte -1 %, StorCtl_Mod DISCHARGE")
    ok(poll(lambda: setpoint_is(-0.01 * wcmax, 0.002 * wcmax + 1)),
       "124: setpoint clamped to -1 % of WChaMax (charging)",
       (wcmax, http("/summary")["site"]["setpoint"]))
    wr(c, a124 + P(124, "StorCtl_Mod"), [0])
    control({"cmd": "setpoint", "mode": "power", "value": 0})

    # 802
    r = wr(c, a802 + P(802, "SocRsvMax"), [9000, 2000])
    ok(not r.isError(), "802 SocRsvMax 90 %, SoCRsvMin 20 %", r)
    ok(poll(lambda: http("/summary")["soc_reserve"] == {"min": 20, "max": 90}),
       "SoC reserve window in /summary", http("/summary").get("soc_reserve"))
    r = wr(c, a802 + P(802, "SoCRsvMin"), [9500])
    ok(r.isError() and exc_code(r) == 3, "802 SoCRsvMin above SocRsvMax: 03", r)
    wr(c, a802 + P(802, "SocRsvMax"), [10000, 0])
    r = wr(c, a802 + P(802, "CtrlHb"), [1234])
    ok(not r.isError() and read(c, a802 + P(802, "CtrlHb"), 1)[0] == 1234,
       "802 CtrlHb written and read back")
    r = wr(c, a802 + P(802, "SetOp"), [2])
    ok(not r.isError() and poll(lambda: http("/summary")["site"]["racks_closed"] == 0),
       "802 SetOp DISCONNECT: every rack open")
    ok(poll(lambda: read(c, a802 + P(802, "State"), 1)[0] == 1),
       "802 State DISCONNECTED")
    r = wr(c, a802 + P(802, "SetOp"), [1])
    ok(not r.isError() and poll(lambda: http("/summary")["site"]["racks_closed"] == R),
       "802 SetOp CONNECT: every rack closed")
    # AlmRst: latch an alarm with a sensor offset, clear it, reset
    control({"cmd": "fault", "action": "inject", "type": "sensor_offset",
             "rack": 0, "module": 0, "cell": 0, "value": 1.5,
             "quantity": "voltage"})
    ok(poll(lambda: sum(http("/summary")["site"]["alarms"]["latched"].values()) > 0),
       "a latched alarm (sensor offset)")
    ok(poll(lambda: read(c, a802 + P(802, "Evt1"), 2) != [0, 0]),
       "802 Evt1 shows the alarm")
    control({"cmd": "fault", "action": "clear", "type": "all"})
    ok(poll(lambda: sum(http("/summary")["site"]["alarms"]["active"].values()) == 0),
       "fault cleared: no active alarm")
    r = wr(c, a802 + P(802, "AlmRst"), [1])
    ok(not r.isError() and
       poll(lambda: sum(http("/summary")["site"]["alarms"]["latched"].values()) == 0),
       "802 AlmRst resets the latched alarms", http("/summary")["site"]["alarms"])
    # 803 string contactor (rack 1 = string 2)
    sb = a803 + models[803]["fixed"] + 1 * models[803]["rep"]
    offc = int(models[803]["reppts"]["StrSetCon"]["offset"])
    offe = int(models[803]["reppts"]["StrSetEna"]["offset"])
    r = wr(c, sb + offc, [2])
    ok(not r.isError() and poll(lambda: http("/summary")["racks"][1]["contactor"] == "open"),
       "803 StrSetCon DISCONNECT opens rack 1")
    ok(http("/summary")["racks"][1]["operator_open"] is True and
       http("/summary")["racks"][0]["contactor"] == "closed",
       "rack 1 operator-open, rack 0 untouched")
    r = wr(c, sb + offc, [1])
    ok(not r.isError() and poll(lambda: http("/summary")["racks"][1]["contactor"] == "closed"),
       "803 StrSetCon CONNECT closes rack 1")
    r = wr(c, sb + offe, [2])
    ok(not r.isError() and poll(lambda: http("/summary")["racks"][1]["contactor"] == "open"),
       "803 StrSetEna DISABLE opens rack 1")
    r = wr(c, sb + offe, [1])
    ok(not r.isError() and poll(lambda: http("/summary")["racks"][1]["contactor"] == "closed"),
       "803 StrSetEna ENABLE closes rack 1")
    a804 = [a for (m, a, _) in ch2 if m == 804][0]
    r = wr(c, a804 + P(804, "SetCon"), [2], unit=3)
    ok(not r.isError() and poll(lambda: http("/summary")["racks"][1]["contactor"] == "open"),
       "804 SetCon DISCONNECT on unit 3 opens rack 1")
    r = wr(c, a804 + P(804, "SetCon"), [1], unit=3)
    ok(not r.isError() and poll(lambda: http("/summary")["racks"][1]["contactor"] == "closed"),
       "804 SetCon CONNECT closes it")

    # ---- exceptions ----
    r = wr(c, a802 + P(802, "SoC"), [5000])
    ok(r.isError() and exc_code(r) == 2, "write to read-only 802 SoC: 02", r)
    r = c.write_register(a704 + P(704, "WSet"), 7, slave=1)
    ok(r.isError() and exc_code(r) == 2, "write to half of 704 WSet: 02", r)
    r = wr(c, a704 + P(704, "WSet") + 1, [7, 0])
    ok(r.isError() and exc_code(r) == 2, "write across a point boundary: 02", r)
    r = wr(c, a704 + P(704, "VarSet"), u32(5))
    ok(r.isError() and exc_code(r) == 2, "write to a point batsim does not take: 02", r)
    r = wr(c, a704 + P(704, "WSetEna"), [5])
    ok(r.isError() and exc_code(r) == 3, "WSetEna 5: 03", r)
    r = wr(c, a802 + P(802, "SetOp"), [7])
    ok(r.isError() and exc_code(r) == 3, "SetOp 7: 03", r)
    r = c.read_coils(0, 1, slave=1)
    ok(r.isError() and exc_code(r) == 1, "function 01 (read coils): 01", r)
    r = c.read_holding_registers(BASE + 560, 125, slave=1) if False else \
        c.read_holding_registers(65530, 10, slave=1)
    ok(r.isError() and exc_code(r) == 2, "read past the end of the map: 02", r)
    if PORT2:
        c2 = ModbusTcpClient("127.0.0.1", port=PORT2, timeout=5, retries=0)
        c2.connect()
        ok(read(c2, BASE, 2) == [0x5375, 0x6E53], "read-only instance reads")
        r = c2.write_registers(a704 + P(704, "WSetEna"), [1], slave=1)
        ok(r.isError() and exc_code(r) == 1,
           "writes off (modbus_writes = no): 01", r)
        c2.close()
        # that instance: modbus_max_connections = 2, modbus_idle_s = 3
        req = struct.pack(">HHHBBHH", 1, 0, 6, 1, 3, BASE, 2)

        def answered(sock):
            sock.sendall(req)
            try:
                return len(sock.recv(100)) == 13
            except OSError:
                return False
        socks = [socket.create_connection(("127.0.0.1", PORT2), timeout=10)
                 for _ in range(2)]
        ok(all(answered(x) for x in socks), "two clients served")
        third = socket.create_connection(("127.0.0.1", PORT2), timeout=10)
        ok(not answered(third), "a third client over modbus_max_connections "
           "is closed unanswered")
        third.close()
        socks[0].settimeout(30)
        ok(socks[0].recv(100) == b"", "an idle client is closed "
           "(modbus_idle_s)")
        for x in socks:
            x.close()

    # ---- protocol faults ----
    def published():
        # batsim-modbusd re-reads the list at a request whose snapshot
        # carries a new revision: wait until the segment shows it
        rev = control({"cmd": "modbus_faults"})["revision"]
        ok(poll(lambda: http("/summary")["modbus"]["fault_revision"] >= rev),
           "fault list revision %d published" % rev)

    def fault(**kw):
        kw.update({"cmd": "modbus_fault", "action": "set"})
        rep = control(kw)
        ok(rep.get("ok"), "modbus_fault set %s" % kw.get("type"), rep)
        published()

    def clear():
        rep = control({"cmd": "modbus_fault", "action": "clear", "type": "all"})
        ok(rep.get("ok"), "modbus_fault clear all", rep)
        ok(poll(lambda: http("/summary")["modbus"]["faults"] == [], 5),
           "/summary: no fault")
        published()

    def fault_in_force(name):
        return poll(lambda: name in http("/summary")["modbus"]["faults"], 5)

    def answers(timeout, unit=1):
        cl = ModbusTcpClient("127.0.0.1", port=PORT, timeout=timeout, retries=0)
        cl.connect()
        try:
            r = cl.read_holding_registers(BASE, 2, slave=unit)
            return not r.isError()
        except Exception:
            return False
        finally:
            cl.close()

    fault(type="delay", ms=1500)
    ok(fault_in_force("delay"), "/summary lists the delay fault")
    ok(not answers(0.3), "delay 1500 ms: no answer within 0.3 s")
    ok(answers(10), "delay: the answer comes")
    clear()
    fault(type="delay", ms=1500, unit=3)
    ok(answers(10, 1) and not answers(0.3, 3) and answers(10, 3),
       "delay on unit 3 only")
    clear()
    fault(type="silence", seconds=600)
    ok(not answers(1), "silence: no answer")
    clear()
    ok(answers(5), "silence cleared: answers again")
    fault(type="silence", every=2)
    cl = ModbusTcpClient("127.0.0.1", port=PORT, timeout=1, retries=0)
    cl.connect()
    res = []
    for i in range(4):
        try:
            res.append(not cl.read_holding_registers(BASE, 2, slave=1).isError())
        except Exception:
            res.append(False)
        if not res[-1]:
            cl.close()
            cl = ModbusTcpClient("127.0.0.1", port=PORT, timeout=1, retries=0)
            cl.connect()
    cl.close()
    ok(res.count(False) == 2 and res.count(True) == 2,
       "silence every 2nd request: 2 of 4 answered", res)
    clear()
    fault(type="exception", points=["704.WSet", "802.AlmRst"])
    r = wr(c, a704 + P(704, "WSet"), u32(100))
    ok(r.isError() and exc_code(r) == 2, "exception fault: write to 704.WSet gets 02", r)
    r = wr(c, a704 + P(704, "WSetMod"), [1])
    ok(not r.isError(), "exception fault: 704.WSetMod still accepted", r)
    clear()
    r = wr(c, a704 + P(704, "WSet"), u32(100))
    ok(not r.isError(), "exception fault cleared: 704.WSet accepted", r)
    control({"cmd": "setpoint", "mode": "power", "value": 10000})
    a701 = [a for (m, a, _) in ch if m == 701][0]
    inj = lambda: sval(read(c, a701, 2 + 40), 701, "TotWhInj")
    fault(type="freeze", what="values")
    f1 = read(c, a802, 64)
    w1 = inj()
    hbo = P(802, "Hb")
    ok(poll(lambda: read(c, a802 + hbo, 1)[0] != f1[hbo], 5),
       "freeze values: Hb stays live")
    ok(poll(lambda: http("/summary")["site"]["energy_out_wh"] >= w1 + 3, 20),
       "the site discharged 3 Wh more meanwhile")
    f2 = read(c, a802, 64)
    ok([x for i, x in enumerate(f1) if i != hbo] ==
       [x for i, x in enumerate(f2) if i != hbo] and inj() == w1,
       "freeze values: 802 and 701 TotWhInj do not move", (w1, inj()))
    clear()
    fault(type="freeze", what="all")
    f1 = read(c, a802, 64)
    t0 = http("/summary")["wall_time_ns"]
    ok(poll(lambda: http("/summary")["wall_time_ns"] > t0 + 2.2e9),
       "batsimd published for 2 s more")
    ok(read(c, a802, 64) == f1, "freeze all: Hb frozen too")
    clear()
    control({"cmd": "setpoint", "mode": "power", "value": 0})
    fault(type="drop", every=1)
    s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    s.sendall(struct.pack(">HHHBBHH", 1, 0, 6, 1, 3, BASE, 2))
    ok(s.recv(100) == b"", "drop: the connection is closed instead of an answer")
    s.close()
    clear()

    # ---- malformed frames, two concurrent clients ----
    s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    s.sendall(struct.pack(">HHHBBHH", 1, 7, 6, 1, 3, BASE, 2))
    ok(s.recv(100) == b"", "protocol id 7: connection closed")
    s.close()
    s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    s.sendall(struct.pack(">HHHBB", 9, 0, 5, 1, 0x41) + b"xyz")
    rsp = s.recv(100)
    ok(rsp[7:9] == b"\xc1\x01", "unknown function 0x41 with data: 01", rsp)
    s.sendall(struct.pack(">HHHBBHH", 10, 0, 6, 1, 3, BASE, 2))
    rsp = s.recv(100)
    ok(rsp[9:13] == b"SunS", "same connection still framed after it", rsp)
    s.close()
    errors = []

    def worker():
        cl = client()
        for i in range(50):
            try:
                if read(cl, BASE, 2) != [0x5375, 0x6E53]:
                    errors.append("bad")
                read(cl, a802, 66)
            except Exception as e:
                errors.append(str(e))
        cl.close()

    ts = [threading.Thread(target=worker) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    ok(not errors, "two concurrent clients: 200 reads, all answered", errors[:3])
    ok(poll(lambda: http("/summary")["modbus"]["alive"] is True and
            http("/summary")["modbus"]["requests"] > 100, 5),
       "modbus_report: /summary shows the daemon alive and its requests")
    c.close()


def stale():
    c = client()
    ok(read(c, BASE, 2) == [0x5375, 0x6E53], "stale writer: the map still reads")
    ch = chain(c, 1)
    b802, a802 = model_regs(c, ch, 802)
    ok(sval(b802, 802, "State") == 99, "stale writer: 802 State FAULT",
       sval(b802, 802, "State"))
    ok(sval(b802, 802, "Evt1") & 1, "stale writer: Evt1 COMMUNICATION_ERROR")
    a704 = [a for (m, a, _) in ch if m == 704][0]
    r = c.write_registers(a704 + int(models[704]["top"]["WSetEna"]["offset"]),
                          [0], slave=1)
    ok(r.isError() and exc_code(r) == 4, "stale writer: writes get 04", r)
    c.close()


def absent():
    c = client()
    r = c.read_holding_registers(BASE, 2, slave=1)
    ok(r.isError() and exc_code(r) == 4, "no segment: exception 04", r)
    c.close()


{"live": live, "stale": stale, "absent": absent}[PHASE]()
sys.exit(1 if failed else 0)
