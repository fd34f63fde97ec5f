#!/bin/sh
# GET /overview and SSE /updates?view=overview (src/httpd/overview.c, the
# dashboard's compact site overview) against the test writer: the shape,
# the per-module means decoded from their quantised base64 arrays equal
# /summary?modules=1's of the same tick within half a step, the alarm bit
# set and rack tiers, the SSE view, and the 400 for an unknown view.
# Run by `make check` (exit 0 pass, 77 skip, else fail).

. "${abs_top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/harness.sh"
HD=$b/src/httpd/batsim-httpd
TW=$b/tests/testwriter/bs-testwriter
need "$HD" "$TW"
command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 77; }
need_python

N=/bs-test-overview-$$
wpid= hpid=
at_exit_kill wpid hpid
at_exit_remove $N

echo "http_stale_ms = 600000" >"$tmp/conf"
# one snapshot a minute: /overview and /summary answer the same tick
"$TW" --name "$N" --topology 7x5x4 --period-ms 60000 --create 2>"$tmp/w.log" &
wpid=$!
"$HD" --listen 127.0.0.1:0 --name "$N" --config "$tmp/conf" \
	--www "$s/data/www" 2>"$tmp/h.log" &
hpid=$!
wait_port "$tmp/h.log"
poll 10 status_is 200 /overview || { notok "/overview never answered 200"; show "$tmp/h.log" "$tmp/body"; }

get "$(url /overview)"
status 200 "GET /overview"
header '^content-type: application/json' "/overview content type"
cp "$tmp/body" "$tmp/ov.json"
json '"racks" in d and not isinstance(d["racks"], list) and d["racks"]["count"] == 7 and len(d["racks"]["tier"]) == 7' \
	"/overview: racks as compact lists, one tier digit per rack"
json 'd["modules"]["count"] == 35 and d["modules"]["order"] == "rack-major" and all(k in d["modules"] for k in ("soc", "voltage", "temperature", "alarm"))' \
	"/overview: 35 modules, rack-major, soc/voltage/temperature/alarm"
json 'all(k in d for k in ("site", "topology", "tick", "generation", "limits")) and "soc_low" in d["limits"]' \
	"/overview: the summary's site fields and the limits with the SoC bands"
get "$(url '/summary?modules=1')"
status 200 "GET /summary?modules=1"
cp "$tmp/body" "$tmp/sum.json"
cat >"$tmp/cmp.py" <<'PYEOF'
import base64, json, math, sys
ov = json.load(open(sys.argv[1])); su = json.load(open(sys.argv[2]))
assert ov["tick"] == su["tick"], ("ticks differ", ov["tick"], su["tick"])
mpr = su["topology"]["modules_per_rack"]
def dec(q, n):
    b = base64.b64decode(q["data"]); w = q["bytes"]; none = 255 if w == 1 else 65535
    assert len(b) == n * w, ("length", len(b), n * w)
    out = []
    for i in range(n):
        c = b[i] if w == 1 else b[2 * i] | b[2 * i + 1] << 8
        out.append(None if c == none else q["offset"] + c * q["step"])
    return out
n = ov["modules"]["count"]
got = {k: dec(ov["modules"][k], n) for k in ("soc", "voltage", "temperature")}
bits = base64.b64decode(ov["modules"]["alarm"])
assert len(bits) == (n + 7) // 8
bad = []
for rk in su["racks"]:
    for m in rk["modules"]:
        i = rk["rack"] * mpr + m["module"]
        for k, ref in (("soc", m["soc"]), ("voltage", m["cell_voltage_mean"]), ("temperature", m["temperature_mean"])):
            step = ov["modules"][k]["step"]
            if got[k][i] is None or abs(got[k][i] - ref) > step / 2 + 1e-9:
                bad.append((rk["rack"], m["module"], k, got[k][i], ref))
        if bool(bits[i >> 3] >> (i & 7) & 1) != bool(m["alarms"]):
            bad.append((rk["rack"], m["module"], "alarm bit"))
    tier = int(ov["racks"]["tier"][rk["rack"]])
    act = [a for a in rk["alarms"] if a["active"]]
    want = max([2 + ("warning", "alarm", "protection").index(a["tier"]) for a in act], default=1 if rk["alarms"] else 0)
    if tier != want:
        bad.append((rk["rack"], "tier", tier, want))
    if (rk["contactor"] == "open") != (rk["rack"] in ov["racks"]["open"]):
        bad.append((rk["rack"], "contactor"))
assert not bad, bad[:5]
PYEOF
if "$PY" "$tmp/cmp.py" "$tmp/ov.json" "$tmp/sum.json" >"$tmp/cmp.out" 2>&1; then
	ok "every module's means, alarm bit, rack tier and contactor = /summary?modules=1 (same tick, within half a step)"
else
	notok "overview vs /summary?modules=1"; show "$tmp/cmp.out"
fi
# the size: a few bytes per module, not the summary's hundreds
osz=$(wc -c <"$tmp/ov.json") ssz=$(wc -c <"$tmp/sum.json")
[ "$osz" -lt "$ssz" ] && ok "/overview ($osz bytes) is smaller than /summary?modules=1 ($ssz bytes)" ||
	notok "/overview $osz bytes, /summary?modules=1 $ssz bytes"

# ---- SSE ----
curl -sN --max-time 2 "$(url '/updates?view=overview&rack=1&module=2')" >"$tmp/sse" 2>/dev/null
has "$tmp/sse" "^event: overview$" "SSE view=overview: an overview event"
has "$tmp/sse" "^event: module$" "SSE view=overview with rack and module: a module event too"
if [ -n "$PY" ]; then
	sed -n '/^event: overview$/{n;s/^data: //p;q}' "$tmp/sse" >"$tmp/ev.json"
	json 'd["modules"]["count"] == 35 and d["tick"] == json.load(open(sys.argv[1].replace("ev.json", "ov.json")))["tick"]' \
		"the SSE overview event is the /overview JSON of the same tick" "$tmp/ev.json"
fi
get "$(url '/updates?view=bogus')"
status 400 "SSE view=bogus"
json '"view=overview" in d["error"]' "the 400 names the views"

finish
