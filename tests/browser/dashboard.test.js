/*
 * tests/browser/dashboard.test.js - the dashboard (data/www) in headless
 * Debian Chromium, driven by playwright-core, against the real daemons:
 * batsim-init creates a private segment, batsimd simulates a small site,
 * batsim-httpd serves it on an ephemeral loopback port.
 *
 * Checks (issue 5): the page loads with no console errors, no failed
 * requests and no request leaving the origin; the grid shows racks x
 * modules on a canvas heatmap; clicking a module selects it, the URL keeps it
 * across a reload, and the chart shows that module's cells with the values
 * the REST API returns for the same tick; values change between updates;
 * one EventSource per page; controls without a valid token show the
 * server's error, with it a setpoint change reaches the site power; a
 * fault injected from the page reaches the rack; the alarm list matches
 * the API; the stale banner appears when batsimd is stopped (SIGTERM) and
 * goes when it is back.  Screenshots go to $BROWSER_ARTIFACTS.
 *
 * Output is TAP-like ("ok N - ...", "not ok N - ..."); exit 0 when every
 * check passed, 1 otherwise.  Environment (set by run.sh): BUILDDIR,
 * SRCDIR, CHROMIUM, BROWSER_ARTIFACTS; BROWSER_WRITER=testwriter runs
 * tests/testwriter/bs-testwriter instead of batsimd (no control socket:
 * the control checks then expect the error path only).
 */
'use strict';

const { chromium } = require('playwright-core');
const assert = require('assert');
const cp = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const BUILDDIR = process.env.BUILDDIR;
const SRCDIR = process.env.SRCDIR;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = process.env.BROWSER_ARTIFACTS || path.join(__dirname, 'artifacts');
const WRITER = process.env.BROWSER_WRITER || 'batsimd';

const RACKS = 6, MODULES = 8, CELLS = 32;
/* The large site (issue 13): 262,144 cells by default (512 racks of 16
 * modules of 32 cells), BENCH_CELLS=1048576 for the benchmark (that site
 * only); BROWSER_LARGE=0 skips it. */
const BENCH_CELLS = parseInt(process.env.BENCH_CELLS || '0', 10) || 0;
const LARGE_CELLS = BENCH_CELLS || (process.env.BROWSER_LARGE === '0' ? 0 : 262144);
const LARGE_MODULES = 16;
const TOKEN = 'browser-test-' + process.pid + '-' + Math.random().toString(36).slice(2);
const SETPOINT0_W = 20000, SETPOINT1_KW = 30;

const T0 = Date.now();
let nTest = 0, nFail = 0;
function note(...a) { console.log(`# [${((Date.now() - T0) / 1000).toFixed(1)} s]`, ...a); }
function ok(cond, what, detail) {
  nTest++;
  if (cond) console.log(`ok ${nTest} - ${what}`);
  else { nFail++; console.log(`not ok ${nTest} - ${what}` + (detail ? `\n#   ${String(detail).replace(/\n/g, '\n#   ')}` : '')); }
  return cond;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFor(fn, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) { last = e; }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}` + (last instanceof Error ? `: ${last.message}` : ''));
    await sleep(100);
  }
}
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

/* ---------- the daemons ---------- */

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'batsim-browser-'));
const shmName = `/batsim-browser-${process.pid}`;
const conf = path.join(tmp, 'batsim.conf');
const confHttpd = path.join(tmp, 'httpd.conf');
const OT_WARN_C = 10, OT_ALARM_C = 12; /* the cells are at about 25 degC */
const tokenFile = path.join(tmp, 'token');
const procs = {};

function bin(rel) {
  const p = path.join(BUILDDIR, rel);
  if (!fs.existsSync(p)) throw new Error(`${p} not found: build it first (make), or run this test through make check`);
  return p;
}
function startProc(name, file, args) {
  const out = fs.openSync(path.join(tmp, name + '.log'), 'a');
  const p = cp.spawn(file, args, { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  p.exitInfo = null;
  p.on('exit', (code, sig) => { p.exitInfo = { code, sig }; });
  procs[name] = p;
  return p;
}
async function stopProc(name) {
  const p = procs[name];
  if (!p || p.exitInfo) return p && p.exitInfo;
  p.kill('SIGTERM');
  const end = Date.now() + 5000;
  while (!p.exitInfo && Date.now() < end) await sleep(50);
  if (!p.exitInfo) { p.kill('SIGKILL'); await sleep(100); }
  return p.exitInfo;
}
function logTail(name, n) {
  try {
    const lines = fs.readFileSync(path.join(tmp, name + '.log'), 'utf8').trimEnd().split('\n');
    return lines.slice(-n).join('\n');
  } catch (e) { return '(no log)'; }
}
function startWriter() {
  if (WRITER === 'testwriter') {
    return startProc('writer', bin('tests/testwriter/bs-testwriter'),
      ['--name', shmName, '--topology', `${RACKS}x${MODULES}x${CELLS}`, '--period-ms', '200', '--create']);
  }
  return startProc('writer', bin('src/batsimd/batsimd'), ['--config', conf]);
}

/* One command to batsimd's control socket (docs/control-protocol.md):
 * its reply. */
function control(cmd) {
  return new Promise((resolve, reject) => {
    const s = net.connect(path.join(tmp, 'batsimd.sock'));
    let buf = '';
    s.setEncoding('utf8');
    s.setTimeout(5000, () => { s.destroy(); reject(new Error(`no reply to ${JSON.stringify(cmd)}`)); });
    s.on('connect', () => s.write(JSON.stringify(cmd) + '\n'));
    s.on('data', (d) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i < 0) return;
      s.end();
      try { resolve(JSON.parse(buf.slice(0, i))); } catch (e) { reject(e); }
    });
    s.on('error', reject);
  });
}

let base;
async function getJSON(p, opts) {
  const r = await fetch(base + p, opts);
  const j = await r.json().catch(() => null);
  return { status: r.status, body: j };
}

async function setup() {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  fs.writeFileSync(tokenFile, TOKEN + '\n', { mode: 0o600 });
  fs.writeFileSync(conf, [
    '# written by tests/browser/dashboard.test.js',
    `shm_name = ${shmName}`,
    `racks = ${RACKS}`,
    `modules_per_rack = ${MODULES}`,
    `cells_per_module = ${CELLS}`,
    'publish_period_ms = 200',
    'backend = cpu',
    'threads = 1',
    'mode = power',
    `setpoint_w = ${SETPOINT0_W}`,
    `control_socket = ${path.join(tmp, 'batsimd.sock')}`,
    `http_listen = 127.0.0.1:${port}`,
    `http_www = ${path.join(SRCDIR, 'data', 'www')}`,
    'http_chartjs = /usr/share/javascript/chart.js',
    `http_token_file = ${tokenFile}`,
    'http_stale_ms = 1500',
    '',
  ].join('\n'));
  if (WRITER !== 'testwriter') {
    const r = cp.spawnSync(bin('src/init/batsim-init'), ['--config', conf], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`batsim-init --config ${conf} failed (${r.status}): ${r.stderr}`);
  }
  startWriter();
  /* The server's own configuration: the same file plus over-temperature
   * thresholds below the cells' temperature, so that the limits it
   * publishes (and the page marks) differ from the simulator's BMS, which
   * raises no alarm. */
  fs.writeFileSync(confHttpd, fs.readFileSync(conf, 'utf8') + `bms_cell_ot_c = ${OT_WARN_C}, ${OT_ALARM_C}, 90\n`);
  startProc('httpd', bin('src/httpd/batsim-httpd'), ['--config', confHttpd]);
  await waitFor(async () => {
    for (const n of ['writer', 'httpd']) if (procs[n].exitInfo) throw new Error(`${n} exited (${JSON.stringify(procs[n].exitInfo)}):\n${logTail(n, 20)}`);
    const r = await getJSON('/healthz').catch(() => null);
    return r && r.status === 200;
  }, 20000, 'GET /healthz to answer 200');
  note(`daemons up: ${base}, segment ${shmName}, writer ${WRITER}`);
}

async function teardown() {
  await stopProc('httpd');
  await stopProc('writer');
  await stopProc('httpd-large');
  await stopProc('writer-large');
  if (largeConf && fs.existsSync(largeConf)) {
    try { cp.spawnSync(path.join(BUILDDIR, 'src/init/batsim-init'), ['--config', largeConf, '--remove'], { stdio: 'ignore' }); } catch (e) { /* best effort */ }
  }
  if (WRITER !== 'testwriter' && fs.existsSync(conf)) {
    try { cp.spawnSync(path.join(BUILDDIR, 'src/init/batsim-init'), ['--config', conf, '--remove'], { stdio: 'ignore' }); } catch (e) { /* best effort */ }
  }
  try { fs.rmSync(path.join('/dev/shm', shmName.slice(1)), { force: true }); } catch (e) { /* gone */ }
}

/* ---------- the large site (issue 13: a million cells) ---------- */

let largeConf = null;

/* Its own daemons: batsim-init, batsimd and batsim-httpd on a site of
 * LARGE_CELLS cells; prints the figures of docs/PERFORMANCE.md
 * ("Dashboard"): bytes per overview event, time to the first coloured
 * heatmap, click-to-chart time.  Asserts only what works, not speed. */
async function runLarge(ctx) {
  const cpm = 32, racks = Math.max(1, Math.round(LARGE_CELLS / (cpm * LARGE_MODULES)));
  const cells = racks * LARGE_MODULES * cpm;
  const port = await freePort();
  const lbase = `http://127.0.0.1:${port}`;
  largeConf = path.join(tmp, 'large.conf');
  fs.writeFileSync(largeConf, [
    '# written by tests/browser/dashboard.test.js (large site)',
    `shm_name = ${shmName}-large`,
    `racks = ${racks}`,
    `modules_per_rack = ${LARGE_MODULES}`,
    `cells_per_module = ${cpm}`,
    'publish_period_ms = 1000',
    'backend = cpu',
    'threads = 1',
    'mode = power',
    `setpoint_w = ${cells * 3}`,
    `control_socket = ${path.join(tmp, 'large.sock')}`,
    `http_listen = 127.0.0.1:${port}`,
    `http_www = ${path.join(SRCDIR, 'data', 'www')}`,
    'http_chartjs = /usr/share/javascript/chart.js',
    /* a writer of a big site may lag its publish period on a loaded
     * machine: stale only after a minute, so the page measures itself */
    'http_stale_ms = 60000',
    '',
  ].join('\n'));
  const r = cp.spawnSync(bin('src/init/batsim-init'), ['--config', largeConf], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`batsim-init --config ${largeConf} failed (${r.status}): ${r.stderr}`);
  startProc('writer-large', bin('src/batsimd/batsimd'), ['--config', largeConf]);
  startProc('httpd-large', bin('src/httpd/batsim-httpd'), ['--config', largeConf]);
  await waitFor(async () => {
    for (const n of ['writer-large', 'httpd-large']) if (procs[n].exitInfo) throw new Error(`${n} exited (${JSON.stringify(procs[n].exitInfo)}):\n${logTail(n, 20)}`);
    const g = await fetch(lbase + '/overview').catch(() => null);
    return g && g.status === 200;
  }, 120000, 'GET /overview of the large site to answer 200');
  note(`large site up: ${racks} racks x ${LARGE_MODULES} modules x ${cpm} cells = ${cells} cells, ${lbase}`);

  const ovText = await (await fetch(lbase + '/overview')).text();
  const ovBytes = Buffer.byteLength(ovText);
  const ov = JSON.parse(ovText);
  ok(ov.modules && ov.modules.count === racks * LARGE_MODULES && ov.topology.cells === cells, `GET /overview describes the ${cells}-cell site`, JSON.stringify(ov.topology));
  ok(ovBytes <= 256 * 1024, `the overview of ${cells} cells is at most 256 KB`, `${ovBytes} bytes`);
  const sumBytes = Buffer.byteLength(await (await fetch(lbase + '/summary?modules=1')).text());

  /* the reference in the same run: the small site's page (48 modules),
   * so that what the large site adds shows apart from the machine */
  let refFirst = null;
  {
    const p0 = await ctx.newPage();
    await p0.setViewportSize({ width: 1440, height: 1000 });
    await p0.goto(base + '/');
    refFirst = await waitFor(() => p0.evaluate(() => window.batsimDashboard && window.batsimDashboard.state.bench.firstHeatmapMs), 60000, 'the small site\'s first heatmap').catch(() => null);
    await p0.close();
  }

  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 503/.test(m.text())) errors.push(m.text()); });
  /* 503: the writer of a big site can be slower than its publish period
   * under load (no consistent snapshot, or a late heartbeat): counted and
   * printed, the page retries */
  const s503 = [];
  page.on('response', (r) => { if (r.status() === 503) s503.push(r.url().replace(lbase, '')); });
  const S = (expr, arg) => page.evaluate(expr, arg);
  await page.setViewportSize({ width: 1440, height: 1000 });
  await page.goto(lbase + '/');
  await waitFor(() => S(() => window.batsimDashboard && window.batsimDashboard.state.bench.firstHeatmapMs), 60000, 'the first coloured heatmap of the large site');
  const first = await S(() => window.batsimDashboard.state.bench.firstHeatmapMs);
  const frac = await S(canvasColours);
  ok(frac > 0.3, 'large site: the heatmap canvas is mostly coloured pixels', `${(100 * frac).toFixed(0)} % coloured`);
  const shape = await S(() => { const o = window.batsimDashboard.state.ov; return { racks: o.racks, mpr: o.mpr, nan: o.soc.filter((v) => isNaN(v)).length }; });
  ok(shape.racks === racks && shape.mpr === LARGE_MODULES && shape.nan === 0, 'large site: a value for every module', JSON.stringify(shape));
  /* an overview event as the stream delivers it */
  await waitFor(() => S(() => window.batsimDashboard.state.bench.overviewBytes), 30000, 'an overview event on the stream').catch(() => 0);
  const evBytes = await S(() => window.batsimDashboard.state.bench.overviewBytes || 0);

  /* a click on a module far from the default selection loads its chart */
  const R = racks - 3, M = LARGE_MODULES - 2;
  const pt = await S(([r, m]) => window.batsimDashboard.modulePoint(r, m), [R, M]);
  await page.click('#heatmap', { position: pt });
  const shown = await waitFor(() => S(() => {
    const st = window.batsimDashboard.state, ch = window.Chart && Chart.getChart('cell-chart');
    return st.bench.chartAt && st.moduleData && ch && { rack: st.moduleData.rack, module: st.moduleData.module, bars: ch.data.labels.length, head: document.getElementById('h-module').textContent, ms: st.bench.chartAt - st.bench.clickAt };
  }), 30000, 'the clicked module\'s chart').catch((e) => ({ error: e.message }));
  ok(shown.rack === R && shown.module === M && shown.bars === cpm && shown.head === `Module ${M} of rack ${R}`,
    `large site: a click on the heatmap shows that module's chart (rack ${R} module ${M})`, JSON.stringify(shown));
  ok(errors.length === 0, 'large site: no page errors', errors.join('\n'));
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(ARTIFACTS, BENCH_CELLS ? 'bench.png' : 'large.png'), fullPage: true });
  /* the figures (measured, not asserted: they depend on the machine) */
  const cpus = os.cpus();
  note(`FIGURES ${cells} cells (${racks} x ${LARGE_MODULES} x ${cpm}), ${cpus.length} x ${cpus[0] ? cpus[0].model : '?'}, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}:`);
  note(`  overview event: ${ovBytes} bytes (GET /overview), ${evBytes} bytes (an SSE event's data); /summary?modules=1 of the same site: ${sumBytes} bytes`);
  const b = await S(() => window.batsimDashboard.state.bench);
  note(`  first coloured heatmap: ${first.toFixed(0)} ms after navigation start (first overview received at ${(b.firstOverviewMs || 0).toFixed(0)} ms, its decoding and drawing took ${(b.firstDrawMs || 0).toFixed(0)} ms)`);
  note(`  reference, same run: the ${RACKS * MODULES}-module site's first coloured heatmap ${refFirst === null ? '?' : refFirst.toFixed(0) + ' ms'}`);
  if (s503.length) note(`  503 answers during the run (writer late under load): ${s503.join(', ')}`);
  note(`  click to chart: ${shown.ms === undefined ? '?' : shown.ms.toFixed(0)} ms`);
  await page.close();
}

/* ---------- the page ---------- */

async function main() {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await setup();

  const userData = fs.mkdtempSync(path.join(os.tmpdir(), 'batsim-chromium-'));
  const ctx = await chromium.launchPersistentContext(userData, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 1000 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    if (!BENCH_CELLS) await runPage(ctx);
    if (LARGE_CELLS) await runLarge(ctx);
  } finally {
    await ctx.close().catch(() => {});
    fs.rmSync(userData, { recursive: true, force: true });
  }
}

/* In the page: the share of the heatmap canvas's pixels that are
 * coloured (not grey: grey is "no data" and the background). */
function canvasColours() {
  const cv = document.getElementById('heatmap');
  if (!cv || !cv.width || !cv.height) return 0;
  const d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
  let coloured = 0, all = 0;
  for (let i = 0; i < d.length; i += 4 * 3) {
    all++;
    const r = d[i], g = d[i + 1], b = d[i + 2];
    if (d[i + 3] && Math.max(r, g, b) - Math.min(r, g, b) > 24) coloured++;
  }
  return all ? coloured / all : 0;
}

async function runPage(ctx) {
  const page = ctx.pages()[0] || await ctx.newPage();
  let phase = 'load';
  const consoleErrors = [], pageErrors = [], failed = [], badStatus = [], foreign = [];
  const streams = { started: [], ended: 0 };
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push({ phase, text: m.text() }); });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  const requested = [];
  page.on('request', (r) => {
    const u = r.url();
    requested.push(u);
    if (!u.startsWith(base + '/')) foreign.push(u);
    if (u.includes('/updates')) streams.started.push(u);
  });
  page.on('requestfailed', (r) => {
    const u = r.url(), why = r.failure() ? r.failure().errorText : '?';
    if (u.includes('/updates')) { streams.ended++; if (why === 'net::ERR_ABORTED') return; }
    failed.push({ phase, text: `${u}: ${why}` });
  });
  page.on('requestfinished', (r) => { if (r.url().includes('/updates')) streams.ended++; });
  page.on('response', (r) => { if (r.status() >= 400) badStatus.push({ phase, text: `${r.status()} ${r.url()}` }); });
  const S = (expr, arg) => page.evaluate(expr, arg);

  /* 1. load */
  await page.goto(base + '/');
  await waitFor(() => S(() => window.batsimDashboard && window.batsimDashboard.state.bench.firstHeatmapMs), 15000, 'the first coloured heatmap');
  const ovShape = await S(() => { const o = window.batsimDashboard.state.ov; return { racks: o.racks, mpr: o.mpr, n: o.soc.length, nan: o.soc.filter((v) => isNaN(v)).length }; });
  ok(ovShape.racks === RACKS && ovShape.mpr === MODULES && ovShape.n === RACKS * MODULES && ovShape.nan === 0,
    `the overview carries a value for each of the ${RACKS} x ${MODULES} modules`, JSON.stringify(ovShape));
  const frac = await S(canvasColours);
  ok(frac > 0.3, 'the heatmap canvas is mostly coloured pixels', `${(100 * frac).toFixed(0)} % coloured`);
  ok(await S(() => document.querySelectorAll('#overview button, #overview .tile').length) === 0, 'the overview is one canvas, no DOM tile per module');
  await waitFor(() => S(() => window.Chart && Chart.getChart('site-trend') && Chart.getChart('cell-chart')), 10000, 'charts');
  const hdr = await S(() => ({ power: document.getElementById('k-power').textContent, tick: document.getElementById('k-tick').textContent, backend: document.getElementById('k-backend').textContent, conn: document.getElementById('conn').dataset.state }));
  ok(/\d/.test(hdr.power) && /^\d+$/.test(hdr.tick) && hdr.backend !== '—', 'header shows power, tick and backend', JSON.stringify(hdr));
  await waitFor(() => S(() => document.getElementById('conn').dataset.state === 'live'), 10000, 'the stream to be live');
  ok(await S(() => document.getElementById('banner').hidden), 'no stale banner while live');
  await sleep(1500); /* a few stream events and one grid pass */
  ok(pageErrors.length === 0, 'no page (JavaScript) errors on load', pageErrors.join('\n'));
  ok(consoleErrors.length === 0, 'no console errors on load', consoleErrors.map((e) => e.text).join('\n'));
  ok(failed.length === 0 && badStatus.length === 0, 'no failed requests on load', failed.concat(badStatus).map((e) => e.text).join('\n'));
  ok(foreign.length === 0, 'no request leaves the origin', foreign.join('\n'));
  /* the heatmap comes from the overview stream, not from one request per
   * rack */
  ok(requested.filter((u) => /\/rack\/\d+(\?|$)/.test(u)).length === 0, 'the heatmap polls no /rack/R', requested.filter((u) => /\/rack\/\d+(\?|$)/.test(u)).slice(0, 3).join('\n'));
  ok(streams.started.length > 0 && /[?&]view=overview/.test(streams.started[0]), 'the stream asks for the overview view', streams.started.join('\n'));
  /* honest numbers: no "-0" anywhere in the header, power and current at
   * one decimal each */
  const hdrText = await S(() => [...document.querySelectorAll('.kpis dd')].map((d) => d.textContent));
  ok(hdrText.every((x) => !/(^|[^\d.])-0(\.0+)?(\s|$)/.test(x)) && /^-?\d+\.\d (kW|MW)$|^-?\d+\.\d\d MW$/.test(hdrText[0]) && /^-?\d+\.\d A$/.test(hdrText[1]),
    'header: no "-0", power and current each with its fixed precision', hdrText.slice(0, 3).join(' | '));
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(ARTIFACTS, 'overview.png'), fullPage: true });

  /* 1b. the Modbus indicator: batsim-modbusd's reports (sent here as it
   * sends them, on batsimd's control socket) and the protocol faults set */
  if (WRITER !== 'testwriter') {
    phase = 'modbus';
    ok(await S(() => document.getElementById('k-modbus').textContent) === 'off',
      'Modbus: off while no batsim-modbusd reports', await S(() => document.getElementById('k-modbus').textContent));
    const sock = path.join(tmp, 'batsimd.sock');
    const send = (obj) => new Promise((resolve, reject) => {
      const c = net.connect(sock, () => c.write(JSON.stringify(obj) + '\n'));
      c.on('data', (d) => { c.end(); resolve(JSON.parse(d.toString())); });
      c.on('error', reject);
    });
    const set = await send({ cmd: 'modbus_fault', action: 'set', type: 'delay', ms: 500 });
    ok(set.ok === true, 'Modbus: a delay fault set on batsimd', JSON.stringify(set));
    /* report every 0.5 s, as batsim-modbusd does once a second: alive
     * however slowly the page catches up */
    const reporter = setInterval(() => send({ cmd: 'modbus_report', clients: 2, requests: 10 }).catch(() => {}), 500);
    try {
      const shown = await waitFor(() => S(() => {
        const e = document.getElementById('k-modbus');
        return /^2 clients · faults: delay$/.test(e.textContent) && e.className === 'warn' && e.textContent;
      }), 10000, 'the Modbus indicator to show 2 clients and the delay fault').catch(() => false);
      ok(!!shown, 'Modbus: the client count and the active protocol fault, marked', await S(() => document.getElementById('k-modbus').textContent));
      await page.locator('header.top').screenshot({ path: path.join(ARTIFACTS, 'modbus.png') });
    } finally {
      clearInterval(reporter);
    }
    const cleared = await send({ cmd: 'modbus_fault', action: 'clear', type: 'all' });
    ok(cleared.ok === true && cleared.cleared === 1, 'Modbus: the fault cleared', JSON.stringify(cleared));
    const off = await waitFor(() => S(() => document.getElementById('k-modbus').textContent === 'off'), 15000,
      'the Modbus indicator to go off once reports stop').catch(() => false);
    ok(!!off, 'Modbus: off again 3 s after the last report', await S(() => document.getElementById('k-modbus').textContent));
  }

  /* 2. select a module by clicking it on the heatmap */
  phase = 'select';
  const R = 2, M = 3;
  const pt = await S(([r, m]) => window.batsimDashboard.modulePoint(r, m), [R, M]);
  await page.click('#heatmap', { position: pt });
  ok((await page.evaluate(() => location.hash)).includes(`rack=${R}&module=${M}`), 'a click on the heatmap selects that module, and the URL keeps it');
  ok(await S(() => document.getElementById('sel-rack').value) === String(R) &&
     await S(() => document.getElementById('sel-module').value) === String(M), 'the rack and module selectors follow the grid');
  await page.click('#cell-details summary');
  await waitFor(() => S(() => { const d = window.batsimDashboard.state.moduleData; return d && d.rack === 2 && d.module === 3; }), 5000, 'module data of the selection');
  /* The chart and the cell table are compared with the REST answer of
   * the same tick.  With the simulator running, a new tick comes every
   * 200 ms, and the page draws it when its event arrives: the REST answer,
   * the chart and the table (drawn once the details are open) could each
   * show another tick.  So the simulated clock is paused first (batsimd
   * goes on publishing the same tick): the page settles on the tick the
   * REST API answers, with the table drawn, and nothing moves while they
   * are read; the clock resumes after the comparison. */
  let paused = false;
  if (WRITER !== 'testwriter') {
    const r = await control({ cmd: 'pause' });
    paused = ok(r && r.ok === true, 'the simulated clock pauses for the comparison', JSON.stringify(r));
  }
  let matched = null;
  for (let i = 0; i < 200 && !matched; i++) {
    const rest = (await getJSON(`/rack/${R}/module/${M}`)).body;
    const shown = await S(() => {
      const ch = Chart.getChart('cell-chart');
      const st = window.batsimDashboard.state;
      const rows = [...document.querySelectorAll('#cell-table tbody tr')].map((tr) => [...tr.cells].map((c) => c.textContent));
      return { tick: st.moduleData.tick, rack: st.moduleData.rack, module: st.moduleData.module, labels: ch.data.labels.length, v: ch.data.datasets[0].data, t: ch.data.datasets[1].data, soc: ch.data.datasets[2].data, rows };
    });
    /* paused: wait for the page to show the REST tick with its table */
    if (rest && shown.tick === rest.tick && (!paused || shown.rows.length === CELLS)) matched = { rest, shown };
    else await sleep(70);
  }
  if (ok(!!matched, 'the page showed a tick that the REST API also answered')) {
    const { rest, shown } = matched;
    ok(shown.labels === CELLS && rest.cells.length === CELLS, `the chart shows the module's ${CELLS} cells`, `${shown.labels} bars, ${rest.cells.length} cells`);
    const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
    ok(same(shown.v, rest.cells.map((c) => c.voltage)), 'chart voltages = REST /rack/2/module/3 voltages (same tick)', `${shown.v.slice(0, 4)} vs ${rest.cells.slice(0, 4).map((c) => c.voltage)}`);
    ok(same(shown.t, rest.cells.map((c) => c.temperature)), 'chart temperatures = REST temperatures');
    ok(same(shown.soc, rest.cells.map((c) => c.soc)), 'chart SoC = REST soc (percent)');
    ok(shown.rows.length === CELLS && shown.rows[5][1] === rest.cells[5].voltage.toFixed(4) &&
       shown.rows[5][5] === (rest.cells[5].resistance * 1000).toFixed(4), 'the cell table shows the same values', JSON.stringify(shown.rows[5]));
  }
  /* the overview's per-module means (quantised to 0.1 %, 1 mV, 0.1 degC)
   * against /summary?modules=1 of the same tick, for every module */
  let ovCmp = null;
  for (let i = 0; i < 100 && !ovCmp; i++) {
    const sum = (await getJSON('/summary?modules=1')).body;
    const got = await S(() => { const st = window.batsimDashboard.state; return { tick: st.summary.tick, soc: [...st.ov.soc], v: [...st.ov.voltage], t: [...st.ov.temperature] }; });
    if (sum && got.tick === sum.tick) ovCmp = { sum, got };
    else await sleep(100);
  }
  if (ok(!!ovCmp, 'the page showed an overview of a tick that /summary also answered')) {
    const { sum, got } = ovCmp, bad = [];
    sum.racks.forEach((rk) => rk.modules.forEach((m) => {
      const i = rk.rack * MODULES + m.module;
      if (Math.abs(got.soc[i] - m.soc) > 0.0501 || Math.abs(got.v[i] - m.cell_voltage_mean) > 0.000501 || Math.abs(got.t[i] - m.temperature_mean) > 0.0501)
        bad.push(`${rk.rack}/${m.module}: soc ${got.soc[i]} vs ${m.soc}, V ${got.v[i]} vs ${m.cell_voltage_mean}, T ${got.t[i]} vs ${m.temperature_mean}`);
    }));
    ok(bad.length === 0, 'every module\'s mean SoC, voltage and temperature on the heatmap = /summary?modules=1 within its rounding', bad.slice(0, 4).join('\n'));
  }
  if (paused) {
    const r = await control({ cmd: 'resume' });
    ok(r && r.ok === true, 'the simulated clock resumes', JSON.stringify(r));
  }
  /* limits: the server's configuration puts the over-temperature alarm
   * below the cells' temperature, so every temperature point and table
   * cell is marked; the voltages are inside the default limits */
  if (WRITER !== 'testwriter') {
    const lim = await S(() => {
      const ch = Chart.getChart('cell-chart'), ds = ch.data.datasets;
      return {
        note: document.getElementById('limits-note').textContent,
        limits: window.batsimDashboard.state.summary.limits,
        radius: ds[1].pointRadius, colour: ds[1].pointBackgroundColor,
        tempCls: [...document.querySelectorAll('#cell-table tbody tr')].map((tr) => tr.cells[3].className),
        voltCls: [...document.querySelectorAll('#cell-table tbody tr')].map((tr) => tr.cells[1].className),
        temps: ds[1].data,
      };
    });
    ok(lim.limits && lim.limits.matches_writer === true && lim.limits.cell_ot.alarm === OT_ALARM_C,
      'summary.limits come from the server\'s configuration', JSON.stringify(lim.limits));
    ok(/Limits from batsim-httpd's configuration/.test(lim.note) && lim.note.includes(`${OT_WARN_C.toFixed(1)}/${OT_ALARM_C.toFixed(1)} °C`),
      'the page says where the limits come from', lim.note);
    ok(lim.temps.every((t) => t > OT_ALARM_C) && Array.isArray(lim.radius) && lim.radius.every((r) => r === 5) &&
       lim.colour.every((c) => c === '#f85149'), 'temperatures past the alarm threshold are large red points', JSON.stringify(lim.colour.slice(0, 3)));
    ok(lim.tempCls.length === CELLS && lim.tempCls.every((c) => c === 'lim-out') && lim.voltCls.every((c) => c === ''),
      'the cell table marks the temperatures, not the voltages', JSON.stringify({ t: lim.tempCls.slice(0, 3), v: lim.voltCls.slice(0, 3) }));
  }
  /* the tooltip lists every field of the hovered cell */
  const box = await page.locator('#cell-chart').boundingBox();
  const area = await S(() => { const a = Chart.getChart('cell-chart').chartArea; return { left: a.left, right: a.right, top: a.top, bottom: a.bottom }; });
  await page.mouse.move(box.x + area.left + (area.right - area.left) * (7.5 / CELLS), box.y + (area.top + area.bottom) / 2);
  const tip = await waitFor(() => S(() => { const t = Chart.getChart('cell-chart').tooltip; return t.opacity > 0 && t.body && t.body.length ? { title: t.title, lines: t.body.flatMap((b) => b.lines) } : null; }), 3000, 'the chart tooltip');
  ok(/cell 7/.test(tip.title.join(' ')) && ['voltage', 'current', 'temperature', 'soc', 'resistance'].every((f) => tip.lines.some((l) => l.startsWith(f))),
    'hovering a bar shows every field of the cell', JSON.stringify(tip));
  if (WRITER !== 'testwriter') {
    ok(tip.lines.some((l) => l.startsWith('temperature past the over-temperature alarm')), 'the tooltip says which limit the cell is past', JSON.stringify(tip.lines));
  }

  /* nice round tick steps on the chart axes (issue 12: not 3.33, 3.32...) */
  const ticks = await S(() => {
    const out = {};
    for (const id of ['cell-chart', 'site-trend', 'rack-trend']) {
      const ch = Chart.getChart(id);
      for (const [k, sc] of Object.entries(ch.scales)) if (k !== 'x' && sc.ticks.length > 2) out[`${id}.${k}`] = sc.ticks.map((x) => x.value);
    }
    return out;
  });
  const niceBad = Object.entries(ticks).filter(([, v]) => {
    const steps = v.slice(1).map((x, i) => x - v[i]);
    const s = steps[0], p = Math.pow(10, Math.floor(Math.log10(s))), m = s / p;
    return !steps.every((d) => Math.abs(d - s) < 1e-9 * Math.max(1, Math.abs(s))) || ![1, 2, 2.5, 5, 10].some((k) => Math.abs(m - k) < 1e-6);
  });
  ok(Object.keys(ticks).length >= 3 && niceBad.length === 0, 'value axes tick at equal steps of 1, 2, 2.5 or 5 x a power of ten', JSON.stringify(niceBad.length ? niceBad : ticks));
  /* trends: a restart is told by the generation, not by the time (a slow
   * site repeats a time_s; that is no restart) */
  const hs = await S(async () => {
    const { historySamples } = await import('./trends.js');
    const s = (t, g) => (g === undefined ? { time_s: t } : { time_s: t, generation: g });
    return {
      sameTime: historySamples({ samples: [s(1), s(2), s(2), s(3)] }).map((p) => p.time_s),
      byGen: historySamples({ samples: [s(5, 1), s(6, 1), s(1, 2), s(2, 2), s(2, 2), s(3, 2)] }).map((p) => p.time_s),
      sameGenBack: historySamples({ generation: 7, samples: [s(1, 7), s(2, 7), s(3, 7)] }).map((p) => p.time_s),
    };
  });
  ok(JSON.stringify(hs) === JSON.stringify({ sameTime: [1, 2, 3], byGen: [1, 2, 3], sameGenBack: [1, 2, 3] }),
    'trend history: a repeated time keeps the samples, a new generation starts them again', JSON.stringify(hs));
  /* the cooling fault's hint gives the engine's range (0, 10] */
  await page.selectOption('#f-fault select[name=type]', 'cooling');
  ok(/\(0, 10\]/.test(await page.textContent('#fault-unit')), 'the cooling fault hint says the engine\'s range (0, 10]', await page.textContent('#fault-unit'));
  await page.selectOption('#f-fault select[name=type]', 'short');

  /* 3. values change between two updates */
  const before = await S(() => ({ tick: window.batsimDashboard.state.moduleData.tick, d: Chart.getChart('cell-chart').data.datasets.map((x) => x.data.slice()), htick: document.getElementById('k-tick').textContent }));
  await waitFor(() => S((t) => window.batsimDashboard.state.moduleData.tick > t, before.tick), 5000, 'a newer module event');
  await sleep(600);
  const after = await S(() => ({ tick: window.batsimDashboard.state.moduleData.tick, d: Chart.getChart('cell-chart').data.datasets.map((x) => x.data.slice()), htick: document.getElementById('k-tick').textContent }));
  ok(after.tick > before.tick && after.htick !== before.htick, 'the header tick advances', `${before.htick} -> ${after.htick}`);
  ok(JSON.stringify(after.d) !== JSON.stringify(before.d), 'the chart values change between two updates');

  /* one EventSource: the old stream was closed when the selection changed */
  const open = streams.started.length - streams.ended;
  ok(open === 1, 'exactly one /updates stream is open', `${streams.started.length} started, ${streams.ended} ended`);
  ok(/[?&]rack=2&module=3/.test(streams.started[streams.started.length - 1]) && /view=overview/.test(streams.started[streams.started.length - 1]),
    'the stream carries the overview and the selected module', streams.started.join('\n'));
  await page.locator('#module').screenshot({ path: path.join(ARTIFACTS, 'module.png') });

  /* a reload keeps the selection */
  await page.reload();
  await waitFor(() => S(() => { const s = window.batsimDashboard && window.batsimDashboard.state; return s && s.moduleData && s.moduleData.rack === 2 && s.moduleData.module === 3; }), 10000, 'the selection after a reload');
  ok(await S(() => { const s = window.batsimDashboard.state.sel; return s.rack === 2 && s.module === 3 && document.getElementById('ov-status').textContent.startsWith('Rack 2 module 3'); }), 'after a reload the same module is selected');

  /* keyboard: arrow keys move along the heatmap (module 0 at the bottom:
   * up is the next module), Enter selects */
  await page.focus('#heatmap');
  await page.keyboard.press('ArrowUp');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('Enter');
  await waitFor(() => S(() => location.hash.includes('rack=3&module=4')), 3000, 'keyboard selection of rack 3 module 4');
  ok(true, 'the heatmap is keyboard navigable (arrows + Enter; up = next module)');

  /* 4. controls: the error path without a valid token, then with it */
  phase = 'controls';
  const f = '#f-setpoint';
  await page.selectOption(`${f} select[name=mode]`, 'power');
  await page.fill(`${f} input[name=value]`, String(SETPOINT1_KW));
  await page.click(`${f} button[type=submit]`);
  await page.waitForSelector('#token-dialog[open]');
  await page.click('#token-dialog button[value=cancel]');
  await waitFor(() => S(() => document.querySelector('#f-setpoint .msg.err')), 3000, 'the no-token message');
  ok(/token/i.test(await page.textContent(`${f} .msg`)), 'cancelling the token prompt says that controls need the token', await page.textContent(`${f} .msg`));

  await page.click(`${f} button[type=submit]`);
  await page.waitForSelector('#token-dialog[open]');
  await page.fill('#token-input', 'not-the-token');
  await page.click('#token-ok');
  await waitFor(() => S(() => /HTTP/.test(document.querySelector('#f-setpoint .msg').textContent)), 5000, 'the server refusal');
  const refusal = await page.textContent(`${f} .msg`);
  ok(/HTTP 40[13]/.test(refusal) && await S(() => document.querySelector('#f-setpoint .msg').classList.contains('err')), 'a wrong token shows the server\'s error', refusal);
  ok(await S(() => sessionStorage.getItem('batsim.token')) === null, 'a rejected token is forgotten');
  if (WRITER !== 'testwriter') {
    const sp0 = (await getJSON('/summary')).body.site.setpoint;
    ok(sp0 === SETPOINT0_W, 'the refused request changed nothing', `setpoint ${sp0}`);
  }

  await page.click(`${f} button[type=submit]`);
  await page.waitForSelector('#token-dialog[open]');
  await page.fill('#token-input', TOKEN);
  await page.press('#token-input', 'Enter'); /* Enter submits the token (not Cancel) */
  if (WRITER === 'testwriter') {
    await waitFor(() => S(() => /HTTP/.test(document.querySelector('#f-setpoint .msg').textContent)), 5000, 'the error without batsimd');
    ok(await S(() => document.querySelector('#f-setpoint .msg').classList.contains('err')), 'without batsimd the control error is shown', await page.textContent(`${f} .msg`));
  } else {
    await waitFor(() => S(() => document.querySelector('#f-setpoint .msg.ok') && /applied/.test(document.querySelector('#f-setpoint .msg').textContent)), 5000, 'the setpoint to be accepted');
    ok(true, 'with the token the setpoint is accepted', await page.textContent(`${f} .msg`));
    ok(await S(() => sessionStorage.getItem('batsim.token')) !== null, 'the token is kept for the session');
    const want = SETPOINT1_KW * 1000;
    let site = null;
    try {
      site = await waitFor(async () => { const s = (await getJSON('/summary')).body.site; return s.setpoint === want && Math.abs(s.power - want) < 0.02 * want ? s : null; }, 15000, 'the site power to follow the setpoint');
    } catch (e) { note(e.message); }
    ok(!!site, `the site power follows the new setpoint (${SETPOINT1_KW} kW)`, site ? '' : JSON.stringify((await getJSON('/summary')).body.site));
    await waitFor(() => S(() => /^30\.\d kW$/.test(document.getElementById('k-power').textContent)), 5000, 'the header power').catch(() => {});
    ok(/^3\d\.\d kW$|^29\.\d kW$/.test(await page.textContent('#k-power')), 'the header shows the new site power', await page.textContent('#k-power'));

    /* the simulated clock from the page: POST /control/pause and resume;
     * a batsim-httpd without them (404) gets a message that says so */
    await page.click('#clock-pause');
    const pmsg = await waitFor(() => S(() => { const m = document.querySelector('#f-clock .msg'); return m && /paused|has no \/control/.test(m.textContent) && { text: m.textContent, cls: m.className }; }), 5000, 'the pause answer').catch((e) => ({ text: e.message, cls: '' }));
    if (/has no \/control\/pause/.test(pmsg.text)) {
      ok(/err/.test(pmsg.cls), 'pause on a batsim-httpd without /control/pause: the page says so (404 handled)', pmsg.text);
    } else {
      ok(/ok/.test(pmsg.cls), 'pause from the page is accepted', pmsg.text);
      const p = await waitFor(async () => (await getJSON('/summary')).body.site.paused === true, 5000, 'site.paused').catch(() => false);
      const hdrP = await waitFor(() => S(() => /PAUSED/.test(document.getElementById('k-run').textContent)), 5000, 'the header to say PAUSED').catch(() => false);
      ok(p && hdrP, '/summary and the header say paused', await page.textContent('#k-run'));
      /* paused is not stale: the writer republishes the same tick, and the
       * page counts each publication as new data (no NO NEW DATA banner) */
      const seen = await S(() => window.batsimDashboard.state.lastNewAt);
      const fresh = await waitFor(() => S((t) => window.batsimDashboard.state.lastNewAt > t && window.batsimDashboard.state.summary.site.paused === true, seen), 10000, 'a republished paused tick').catch(() => false);
      ok(fresh, 'while paused, republications of the same tick count as new data (the stale banner stays away)');
      await page.click('#clock-resume');
      const r = await waitFor(async () => (await getJSON('/summary')).body.site.paused === false, 5000, 'site.paused false').catch(() => false);
      ok(r, 'resume from the page runs the clock again');
    }

    /* fault injection from the page: open rack 1's contactor */
    await page.selectOption('#f-fault select[name=type]', 'open');
    await page.fill('#f-fault input[name=rack]', '1');
    await page.click('#f-fault button[value=inject]');
    await waitFor(() => S(() => document.querySelector('#f-fault .msg.ok') && /Injected/.test(document.querySelector('#f-fault .msg').textContent)), 5000, 'the fault to be accepted')
      .catch(async (e) => { note(e.message, await page.textContent('#f-fault .msg')); });
    const opened = await waitFor(() => S(() => { const o = window.batsimDashboard.state.ov; return o.open.has(1) && !o.open.has(0); }), 10000, 'rack 1 to show OPEN').catch(() => false);
    const rack1 = (await getJSON('/summary')).body.racks[1];
    ok(opened && rack1.contactor === 'open', 'an injected open-circuit fault shows rack 1 OPEN, as the API says', `contactor ${rack1.contactor}`);
    /* a sensor offset that the BMS sees as an over-voltage */
    await page.selectOption('#f-fault select[name=type]', 'sensor_offset');
    await page.fill('#f-fault input[name=rack]', '0');
    await page.fill('#f-fault input[name=module]', '1');
    await page.fill('#f-fault input[name=cell]', '5');
    await page.selectOption('#f-fault select[name=quantity]', 'voltage');
    await page.fill('#f-fault input[name=value]', '0.5');
    await page.click('#f-fault button[value=inject]');
    await waitFor(() => S(() => document.querySelectorAll('#alarm-table tbody tr').length > 0), 10000, 'an alarm row').catch(() => note('no alarm was raised within 10 s'));
    await sleep(700);
    const sum = (await getJSON('/summary')).body;
    /* one row per alarm (rack, kind), not one per tier: its highest tier
     * and every tier it reached in its history */
    const rank = { warning: 1, alarm: 2, protection: 3 };
    const wantAl = new Map();
    for (const rk of sum.racks) for (const a of rk.alarms) {
      const k = `${rk.rack}/${a.kind}`, w = wantAl.get(k) || { top: '', tiers: [] };
      w.tiers.push(a.tier);
      if ((rank[a.tier] || 0) > (rank[w.top] || 0)) w.top = a.tier;
      wantAl.set(k, w);
    }
    const tiersApi = sum.racks.reduce((n, r) => n + r.alarms.length, 0);
    const shown = await S(() => [...document.querySelectorAll('#alarm-table tbody tr')].map((tr) => ({ k: `${tr.dataset.rack}/${tr.dataset.kind}`, sev: tr.cells[0].textContent, hist: tr.cells[2].textContent })));
    ok(shown.length === wantAl.size && shown.length > 0, 'the alarm list has one row per alarm (rack and kind) of the API, not one per tier',
      `${shown.length} rows, ${wantAl.size} alarms (${tiersApi} tier entries) in /summary`);
    ok(shown.every((r) => wantAl.has(r.k) && wantAl.get(r.k).top === r.sev && wantAl.get(r.k).tiers.every((x) => r.hist.includes(x))),
      'each alarm row shows its highest tier and the tiers of its history', JSON.stringify(shown) + ' vs ' + JSON.stringify([...wantAl]));
    await page.locator('#alarms').screenshot({ path: path.join(ARTIFACTS, 'alarms.png') });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(ARTIFACTS, 'controls.png'), fullPage: true });
    await page.click('#fault-clear-all');
    await waitFor(() => S(() => /cleared/i.test(document.querySelector('#f-fault .msg').textContent)), 5000, 'faults cleared')
      .then(() => ok(true, 'clear all faults is accepted'), (e) => ok(false, 'clear all faults is accepted', e.message));
    const closed = await waitFor(async () => (await getJSON('/summary')).body.racks[1].contactor === 'closed', 10000, 'rack 1 to close').catch(() => false);
    ok(closed, 'clearing all faults closes rack 1 again');
    await page.click('#reset-all');
    await waitFor(() => S(() => document.querySelector('#alarms-msg.ok') && /reset/i.test(document.querySelector('#alarms-msg').textContent)), 5000, 'alarm reset')
      .then(() => ok(true, 'alarm reset is accepted'), (e) => ok(false, 'alarm reset is accepted', `${e.message}: ${'' + 'see alarms-msg'}`));
  }
  /* the refusals above are HTTP errors that Chromium logs; without batsimd
   * the control proxy answers 503 */
  const expected = WRITER === 'testwriter' ? /status of (401|404|503)/ : /status of (401|404)/; /* 404: /control/pause on a server without it */
  ok(consoleErrors.filter((e) => e.phase !== 'controls' || !expected.test(e.text)).length === 0,
    'no console errors besides the expected refusal', consoleErrors.map((e) => `${e.phase}: ${e.text}`).join('\n'));

  /* 5. stale: stop the writer, then start it again */
  phase = 'stale';
  const ex = await stopProc('writer');
  note(`writer stopped: ${JSON.stringify(ex)}`);
  let shown = false;
  try {
    shown = await waitFor(() => S(() => !document.getElementById('banner').hidden && document.getElementById('banner').textContent), 10000, 'the stale banner');
  } catch (e) { note(e.message); }
  ok(!!shown && /STALE|NO NEW DATA/.test(shown), 'the stale banner appears when the writer is stopped', shown);
  ok(await S(() => document.getElementById('conn').dataset.state) === 'stale', 'the connection badge says stale');
  ok(await S(() => { const r = document.getElementById('banner').getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight && r.height > 0; }),
    'the banner is in sight even when the page is scrolled');
  await page.screenshot({ path: path.join(ARTIFACTS, 'stale.png') });
  const tickStale = await page.textContent('#k-tick');
  startWriter();
  let gone = false;
  try {
    gone = await waitFor(() => S(() => document.getElementById('banner').hidden), 20000, 'the banner to go');
  } catch (e) { note(e.message, logTail('writer', 10)); }
  ok(gone, 'the banner goes when the writer is back');
  await sleep(1200);
  ok(await page.textContent('#k-tick') !== tickStale, 'live values again after the restart');
  ok(failed.filter((e) => e.phase !== 'stale').length === 0, 'no failed requests outside the stale period', failed.map((e) => `${e.phase}: ${e.text}`).join('\n'));
  ok(pageErrors.length === 0, 'no page (JavaScript) errors at all', pageErrors.join('\n'));

  /* phone width */
  await page.setViewportSize({ width: 390, height: 844 });
  await sleep(500);
  const overflow = await S(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  ok(overflow <= 1, 'no horizontal scrolling at phone width (390 px)', `${overflow} px too wide`);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(ARTIFACTS, 'phone.png'), fullPage: true });

  /* batsim-httpd restarted on a segment recreated with fewer racks while
   * the page shows the last rack: the page follows the new topology
   * (the server answers 404 to the old selection). */
  if (WRITER !== 'testwriter') {
    phase = 'topology';
    await page.setViewportSize({ width: 1400, height: 1000 });
    await page.evaluate(([r, m]) => window.batsimDashboard.select(r, m), [RACKS - 1, MODULES - 1]);
    await sleep(500);
    await stopProc('httpd');
    await stopProc('writer');
    for (const f of [conf, confHttpd]) fs.writeFileSync(f, fs.readFileSync(f, 'utf8').replace(/^racks = \d+$/m, 'racks = 2'));
    const r = cp.spawnSync(bin('src/init/batsim-init'), ['--config', conf, '--force'], { encoding: 'utf8' });
    ok(r.status === 0, 'segment recreated with 2 racks', r.stderr);
    startWriter();
    startProc('httpd', bin('src/httpd/batsim-httpd'), ['--config', confHttpd]);
    const back = await waitFor(() => S(() => {
      const st = window.batsimDashboard.state;
      return st.topo && st.topo.racks === 2 && st.sel.rack === 1 && st.esState === 'live' &&
        document.getElementById('banner').hidden;
    }), 30000, 'the page to follow the new topology').catch((e) => { note(e.message, logTail('httpd', 10)); return false; });
    ok(back, 'after an httpd restart on a smaller site the page reconnects with the selection clamped to it',
      await S(() => JSON.stringify({ topo: window.batsimDashboard.state.topo, sel: window.batsimDashboard.state.sel, es: window.batsimDashboard.state.esState })));
  }
}

(async () => {
  let rc = 0;
  try {
    await main();
  } catch (e) {
    nFail++;
    console.log(`not ok ${++nTest} - ${e.message.split('\n')[0]}`);
    console.log('# ' + (e.stack || e.message).replace(/\n/g, '\n# '));
    for (const n of Object.keys(procs)) console.log(`# ---- ${n} log\n# ` + logTail(n, 15).replace(/\n/g, '\n# '));
  } finally {
    await teardown();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  console.log(`1..${nTest}`);
  console.log(`# ${nTest - nFail} passed, ${nFail} failed; screenshots in ${ARTIFACTS}`);
  rc = nFail ? 1 : 0;
  process.exit(rc);
})();
