/* stream.js: the event stream (/updates?view=overview: overview events,
 * plus module events of the selected module), /overview, /healthz. */
import { renderAlarms } from './alarms.js';
import { clampSel, select, setTopology } from './app.js';
import { prefillForms } from './controls.js';
import { footLog, getJSON, setText } from './dom.js';
import { num } from './format.js';
import { renderAge, renderHeader } from './header.js';
import { loadModule, onModule } from './module.js';
import { decodeOverview, scheduleHeatmap } from './overview.js';
import { S } from './state.js';
import { appendTrend, loadHistory, pollRackTrend } from './trends.js';

/* ---------- overview ---------- */

/* The overview (overview.c): the /summary fields without per-rack
 * records, "racks" as compact lists, "modules" as quantised arrays. */
export function onOverview(s) {
  if (!s || typeof s !== 'object') return;
  const gen = s.generation !== undefined ? s.generation : null;
  if (gen !== null && S.generation !== null && gen !== S.generation) {
    /* the writer restarted: time and ticks start again */
    S.lastTick = -1;
    if (S.moduleData) S.moduleData.tick = -1;
    S.trend.site = [];
    S.trend.rack = [];
    refreshInfo();
    setTimeout(loadHistory, 100);
  } else if (typeof s.tick === 'number' && s.tick < S.lastTick) {
    return; /* older than what we show (a REST answer racing the stream) */
  }
  S.generation = gen;
  const wasStale = S.serverStale;
  S.serverStale = !!s.stale;
  if (S.serverStale && !wasStale) refreshInfo();
  /* new data: a new tick or, while paused, a new publication of the same
     tick (the writer still beats; its operator state may have changed) */
  const newPub = typeof s.wall_time_ns === 'number' && s.wall_time_ns !== S.lastWall;
  if (typeof s.tick === 'number' && (s.tick > S.lastTick || (s.tick === S.lastTick && newPub))) {
    if (!s.stale) S.lastNewAt = Date.now();
    S.lastTick = s.tick;
  }
  if (newPub) S.lastWall = s.wall_time_ns;
  if (!S.serverStale) S.staleReason = '';
  S.summary = s;
  const t = s.topology || {};
  setTopology({
    racks: t.racks || 0,
    modules_per_rack: t.modules_per_rack || (S.topo ? S.topo.modules_per_rack : 1),
    cells_per_module: t.cells_per_module || (S.topo ? S.topo.cells_per_module : 1),
  });
  const t0 = performance.now();
  if (!S.bench.firstOverviewMs) S.bench.firstOverviewMs = t0;
  decodeOverview(s);
  S.alarmList = s.racks && Array.isArray(s.racks.alarms) ? s.racks.alarms : [];
  scheduleHeatmap();
  if (!S.bench.firstDrawMs && S.bench.firstHeatmapMs) S.bench.firstDrawMs = performance.now() - t0;
  renderHeader();
  renderAlarms();
  renderAge();
  appendTrend(s);
  pollRackTrend();
  prefillForms();
  if (wasStale && !S.serverStale) loadModule();
}


/* ---------- the event stream ---------- */

export function markServerStale(err) {
  const b = err && err.body;
  if (b && (b.stale || err.status === 503)) {
    S.serverStale = true;
    S.staleReason = b.error || '';
    renderAge();
  }
}

export function openStream() {
  clearTimeout(S.esTimer);
  if (S.es) S.es.close();
  const q = new URLSearchParams({ view: 'overview', rack: S.sel.rack, module: S.sel.module });
  const es = new EventSource('updates?' + q.toString());
  S.es = es;
  S.esState = S.summary ? 'reconnecting' : 'connecting';
  es.addEventListener('open', () => {
    if (S.es !== es) return;
    S.esState = 'live';
    S.esRetryMs = 1000;
    S.connError = '';
    renderAge();
  });
  es.addEventListener('overview', (e) => {
    if (S.es !== es) return;
    S.bench.overviewBytes = e.data.length;
    try { onOverview(JSON.parse(e.data)); } catch (x) { footLog('bad overview event: ' + x.message); }
  });
  es.addEventListener('module', (e) => {
    if (S.es !== es) return;
    try { onModule(JSON.parse(e.data)); } catch (x) { footLog('bad module event: ' + x.message); }
  });
  /* the server may announce staleness on the stream itself */
  es.addEventListener('stale', (e) => {
    if (S.es !== es) return;
    let j = {};
    try { j = JSON.parse(e.data); } catch (x) { j = {}; }
    S.serverStale = true;
    S.staleReason = j.error || j.reason || '';
    renderAge();
  });
  es.addEventListener('error', (e) => {
    if (S.es !== es) return;
    if (typeof e.data === 'string') {
      /* an "event: error" from the server, {"error","status"}: e.g. the
       * selected module no longer exists after a topology change */
      let j = {};
      try { j = JSON.parse(e.data); } catch (x) { j = {}; }
      footLog('live stream: ' + (j.error || e.data));
      if (j.status === 404) {
        es.close();
        refreshTopology().then(() => select(S.sel.rack, S.sel.module, { force: true }));
      }
      return;
    }
    if (es.readyState === EventSource.CLOSED) {
      /* the server answered without a stream (e.g. 503): the browser
       * gives up, so retry ourselves, backing off to 15 s */
      S.esState = 'reconnecting';
      S.connError = 'Cannot open the live stream from batsim-httpd; retrying…';
      checkHealth();
      /* re-read the topology first: after a restart the segment may
       * have fewer racks or modules, and the server refuses (404) a
       * selection out of range each time */
      S.esTimer = setTimeout(() => {
        refreshTopology().then(() => select(S.sel.rack, S.sel.module, { force: true }));
      }, S.esRetryMs);
      S.esRetryMs = Math.min(15000, S.esRetryMs * 2);
    } else {
      S.esState = 'reconnecting'; /* EventSource retries by itself */
    }
    renderAge();
  });
}

/* /healthz: backend, chemistry, publish period, and the stale reason. */
export async function refreshInfo() {
  try {
    /* {"status":"ok","segment","writer":{"state","backend","chemistry",
     * "tick_period_ms",...}} */
    const h = await getJSON('healthz');
    const j = h.writer || h;
    S.info = j;
    const tp = num(j.tick_period_ms);
    if (tp) S.periodMs = Math.max(500, tp);
    if (S.topo) setText('foot-topo', `${S.topo.racks} racks × ${S.topo.modules_per_rack} modules × ${S.topo.cells_per_module} cells` + (j.chemistry ? ` · ${j.chemistry}` : ''));
    renderHeader();
  } catch (e) {
    if (e.body) {
      if (e.body.writer) S.info = e.body.writer;
      if (e.status === 503) markServerStale(e);
    } else {
      footLog(e.message);
    }
  }
}
export async function checkHealth() {
  await refreshInfo();
}
/* Re-read the topology (after the server said the selection is out of
 * range) and clamp the selection to it. */
export async function refreshTopology() {
  try {
    onOverview(await getJSON('overview'));
  } catch (e) {
    if (e.status === 503) markServerStale(e);
  }
  clampSel();
}
