/*
 * batsim dashboard (served by batsim-httpd from data/www): the entry
 * module.  ES modules, served as they are (no build step, no bundler):
 *
 *   app.js       selection, URL, topology, start-up (this file)
 *   state.js     the shared state S and constants
 *   format.js    number and time formatting
 *   dom.js       DOM and fetch helpers
 *   stream.js    the event stream (/updates), summaries, /healthz
 *   header.js    site figures in the header, data age, stale banner
 *   overview.js  the site overview (racks x modules)
 *   module.js    the selected module: cell chart, table, limits
 *   trends.js    trends from /history, continued by the stream
 *   alarms.js    the alarms panel
 *   controls.js  controls: POST /control/... with the token
 *
 * Data flow: one EventSource on /updates?view=overview carries both the
 * `overview` events (site figures, rack states and per-module means as
 * compact arrays: src/httpd/overview.c) and the `module` events of the
 * selected module; changing the selection reopens that one stream with the
 * new rack/module, and the module's chart is loaded on demand
 * (/rack/R/module/M).  Trends start from /history and are continued from
 * the overview events (site) and /history (the selected rack).
 * Controls POST to /control/... with the token kept in sessionStorage.
 *
 * Everything is same-origin and relative to the page, so the dashboard also
 * works behind a reverse proxy under a path prefix.  Chart.js (Debian's
 * libjs-chart.js) is a classic script loaded before this module.
 */
import { getToken, refreshControlState, wireControls } from './controls.js';
import { $, el, footLog, getJSON, setText } from './dom.js';
import { isStale, renderAge, renderBanner } from './header.js';
import { loadModule, renderCellTable, renderModule } from './module.js';
import { drawHeatmap, modulePoint, wireOverview } from './overview.js';
import { METRICS, S } from './state.js';
import { markServerStale, onOverview, openStream, refreshInfo } from './stream.js';
import { loadHistory } from './trends.js';

/* ---------- selection and URL ---------- */

export function readHash() {
  const p = new URLSearchParams(location.hash.replace(/^#/, ''));
  const r = parseInt(p.get('rack'), 10), m = parseInt(p.get('module'), 10);
  if (r >= 0) S.sel.rack = r;
  if (m >= 0) S.sel.module = m;
  if (METRICS[p.get('metric')]) S.metric = p.get('metric');
  if (p.get('scale') === 'relative' || p.get('scale') === 'absolute') S.scale = p.get('scale');
}
export function writeHash() {
  const h = `#rack=${S.sel.rack}&module=${S.sel.module}&metric=${S.metric}` + (S.scale === 'relative' ? '&scale=relative' : '');
  if (location.hash !== h) history.replaceState(null, '', h);
}
export function clampSel() {
  if (!S.topo) return;
  S.sel.rack = Math.min(Math.max(0, S.sel.rack), S.topo.racks - 1);
  S.sel.module = Math.min(Math.max(0, S.sel.module), S.topo.modules_per_rack - 1);
}

/* Select a module: grid, selectors, URL, stream, detail and trends follow. */
export function select(rack, module, opts) {
  const changedRack = rack !== S.sel.rack;
  const changed = changedRack || module !== S.sel.module;
  S.sel.rack = rack;
  S.sel.module = module;
  clampSel();
  writeHash();
  syncSelectors();
  drawHeatmap();
  if (!changed && !(opts && opts.force)) return;
  S.moduleData = null;
  renderModule();
  loadModule();
  openStream();
  if (changedRack || (opts && opts.force)) loadHistory();
}

/* ---------- topology-dependent UI ---------- */

export function setTopology(t) {
  const same = S.topo && S.topo.racks === t.racks && S.topo.modules_per_rack === t.modules_per_rack &&
    S.topo.cells_per_module === t.cells_per_module;
  if (same) return;
  S.topo = t;
  clampSel();
  const rs = $('sel-rack'), ms = $('sel-module');
  rs.replaceChildren();
  ms.replaceChildren();
  for (let r = 0; r < t.racks; r++) rs.append(el('option', { value: r, text: r }));
  for (let m = 0; m < t.modules_per_rack; m++) ms.append(el('option', { value: m, text: m }));
  const f = $('f-fault');
  f.rack.max = t.racks - 1;
  f.module.max = t.modules_per_rack - 1;
  f.cell.max = t.cells_per_module - 1;
  setText('foot-topo', `${t.racks} racks × ${t.modules_per_rack} modules × ${t.cells_per_module} cells` +
    (S.info && S.info.chemistry ? ` · ${S.info.chemistry}` : ''));
  syncSelectors();
  writeHash();
}

export function syncSelectors() {
  $('sel-rack').value = String(S.sel.rack);
  $('sel-module').value = String(S.sel.module);
  setText('h-module', `Module ${S.sel.module} of rack ${S.sel.rack}`);
  setText('h-rack-trend', `Rack ${S.sel.rack}: min/max cell voltage and max temperature`);
}


/* ---------- start ---------- */

export function start() {
  readHash();
  syncSelectors();
  wireControls();
  $('metric').value = S.metric;
  $('scale').value = S.scale;
  $('metric').addEventListener('change', (e) => {
    S.metric = e.target.value;
    writeHash();
    drawHeatmap();
  });
  $('scale').addEventListener('change', (e) => {
    S.scale = e.target.value;
    writeHash();
    drawHeatmap();
  });
  wireOverview();
  $('sel-rack').addEventListener('change', (e) => select(+e.target.value, S.sel.module));
  $('sel-module').addEventListener('change', (e) => select(S.sel.rack, +e.target.value));
  $('prev-mod').addEventListener('click', () => stepModule(-1));
  $('next-mod').addEventListener('click', () => stepModule(1));
  $('cell-details').addEventListener('toggle', () => renderCellTable(S.moduleData && S.moduleData.cells || []));
  $('trend-window').addEventListener('change', (e) => { S.trend.windowS = +e.target.value; loadHistory(); });
  S.trend.windowS = +$('trend-window').value;
  window.addEventListener('hashchange', () => {
    const before = Object.assign({}, S.sel), metric = S.metric, scale = S.scale;
    readHash();
    clampSel();
    if (S.metric !== metric || S.scale !== scale) { $('metric').value = S.metric; $('scale').value = S.scale; drawHeatmap(); }
    const r = S.sel.rack, m = S.sel.module;
    S.sel = before;
    select(r, m);
  });
  document.addEventListener('visibilitychange', () => { if (!document.hidden) loadModule(); });
  if (!window.Chart) footLog('Chart.js did not load (vendor/chart.js/chart.min.js): install libjs-chart.js; charts are off.');

  renderModule();
  refreshInfo();
  /* the topology first, so that a selection from the URL is clamped
   * before the stream is opened with it */
  /* early.js started this fetch before the modules and Chart.js loaded */
  const early = window.batsimEarly && window.batsimEarly.overview;
  if (window.batsimEarly) window.batsimEarly.overview = null; /* once */
  getJSON('overview', early).then(onOverview, (e) => {
    if (e.status === 503) markServerStale(e);
    else { S.connError = e.message; renderBanner(); }
  }).then(() => {
    clampSel();
    writeHash();
    syncSelectors();
    drawHeatmap();
    loadModule();
    loadHistory();
    openStream();
  });
  refreshControlState();
  setInterval(renderAge, 500);
  setInterval(() => { if (getToken()) refreshControlState(); }, 15000);
  setInterval(() => { if (isStale()) refreshInfo(); }, 5000);
}

export function stepModule(d) {
  if (!S.topo) return;
  let r = S.sel.rack, m = S.sel.module + d;
  if (m < 0) { r--; m = S.topo.modules_per_rack - 1; }
  if (m >= S.topo.modules_per_rack) { r++; m = 0; }
  if (r < 0 || r >= S.topo.racks) return;
  select(r, m);
}

/* exposed for the browser tests and for debugging from the console */
window.batsimDashboard = { state: S, select, modulePoint };

start();
