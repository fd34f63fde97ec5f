/* trends.js: trends from /history, continued from the overview events
 * (site power and SoC) and by polling /history (the selected rack: the
 * overview carries no per-rack records). */
import { $, footLog, getJSON } from './dom.js';
import { autoAxis, ext, fmtDuration, niceAxis, num } from './format.js';
import { S } from './state.js';
import { markServerStale } from './stream.js';

/* ---------- trends ---------- */

/* /history: {"interval_s","seconds","rack","samples":[{"time_s","power",
 * "soc",...,"rack":{"cell_voltage_min","cell_voltage_max",
 * "temperature_max",...}}]}.  A writer restart is told by the generation
 * (of each sample, or of the answer), not by the time: a slow site can
 * give two samples of the same time_s, which is no restart.  Only the
 * newest generation's samples are kept; samples that do not advance the
 * time are skipped, not taken for a restart.  From a server without
 * generations, time going backwards still marks a restart. */
export function historySamples(j) {
  let all = j && Array.isArray(j.samples) ? j.samples : [];
  const last = all[all.length - 1];
  if (last && last.generation !== undefined) {
    all = all.filter((p) => p.generation === last.generation);
  } else if (!(j && j.generation !== undefined)) {
    let i = all.length - 1;
    while (i > 0 && !(num(all[i - 1].time_s) > all[i].time_s)) i--;
    all = all.slice(Math.max(0, i));
  }
  const out = [];
  for (const p of all) {
    const x = num(p.time_s);
    if (x === null || (out.length && !(x > out[out.length - 1].time_s))) continue;
    out.push(p);
  }
  return out;
}
export function siteSample(time_s, site) {
  return { x: time_s, power: num(site.power), soc: num(site.soc) };
}
export function rackSample(time_s, rk) {
  return {
    x: time_s,
    vmin: ext(rk.cell_voltage_min), vmax: ext(rk.cell_voltage_max),
    tmax: ext(rk.temperature_max),
  };
}

let historySeq = 0;
export async function loadHistory() {
  const seq = ++historySeq;
  const rack = S.sel.rack;
  try {
    const j = await getJSON(`history?seconds=${S.trend.windowS}&rack=${rack}`);
    if (seq !== historySeq) return;
    const samples = historySamples(j);
    S.trend.site = samples.map((p) => siteSample(num(p.time_s), p)).filter((p) => p.x !== null);
    S.trend.rack = samples.filter((p) => p.rack && typeof p.rack === 'object')
      .map((p) => rackSample(num(p.time_s), p.rack)).filter((p) => p.x !== null);
    S.trend.rackId = rack;
  } catch (e) {
    if (seq !== historySeq) return;
    S.trend.site = [];
    S.trend.rack = [];
    S.trend.rackId = rack;
    if (e.status === 503) markServerStale(e);
    else footLog(e.message);
  }
  renderTrends(true);
}

export function appendTrend(s) {
  const t = num(s.time_s);
  if (t === null || s.stale) return;
  const last = S.trend.site[S.trend.site.length - 1];
  if (!last || t > last.x) S.trend.site.push(siteSample(t, s.site || {}));
  renderTrends(false);
}

/* The selected rack's trend: the newest /history samples, every 2 s. */
let rackPollAt = 0, rackPolling = false;
export async function pollRackTrend() {
  const now = Date.now();
  if (rackPolling || now - rackPollAt < 2000 || S.trend.rackId !== S.sel.rack) return;
  rackPollAt = now;
  rackPolling = true;
  const rack = S.sel.rack, seq = historySeq;
  try {
    const j = await getJSON(`history?seconds=30&rack=${rack}`);
    if (seq !== historySeq || rack !== S.trend.rackId) return;
    for (const p of historySamples(j)) {
      const lr = S.trend.rack[S.trend.rack.length - 1];
      if (p.rack && typeof p.rack === 'object' && (!lr || p.time_s > lr.x)) S.trend.rack.push(rackSample(p.time_s, p.rack));
    }
  } catch (e) {
    /* the next overview event polls again */
  } finally {
    rackPolling = false;
  }
}

let trendDrawnAt = 0;
export function renderTrends(force) {
  if (!window.Chart) return;
  const now = Date.now();
  if (!force && now - trendDrawnAt < 1000) return; /* redraw at most once a second */
  trendDrawnAt = now;
  const trim = (arr) => {
    if (!arr.length) return arr;
    const cut = arr[arr.length - 1].x - S.trend.windowS;
    let i = 0;
    while (i < arr.length && arr[i].x < cut) i++;
    if (i) arr.splice(0, i);
    return arr;
  };
  const site = trim(S.trend.site), rack = trim(S.trend.rack);
  const axisX = () => ({ type: 'linear', ticks: { color: '#93a1b0', maxRotation: 0, precision: 0, callback: (v) => fmtDuration(v) }, grid: { color: '#26323e' }, title: { display: true, text: 'simulated time', color: '#93a1b0' } });
  const common = {
    animation: false, maintainAspectRatio: false, parsing: false, normalized: true,
    interaction: { mode: 'nearest', axis: 'x', intersect: false },
    plugins: { legend: { labels: { color: '#c9d4df', boxWidth: 12 } }, tooltip: { callbacks: { title: (it) => it.length ? 't = ' + fmtDuration(it[0].parsed.x) : '' } } },
    elements: { point: { radius: 0 }, line: { borderWidth: 1.5 } },
  };
  const pts = (arr, k, f) => arr.map((p) => ({ x: p.x, y: p[k] === null ? null : f ? f(p[k]) : p[k] }));
  const powerUnit = site.some((p) => p.power !== null && Math.abs(p.power) >= 1e6) ? 1e6 : 1e3;
  const pu = powerUnit === 1e6 ? 'MW' : 'kW';
  if (!S.charts.site) {
    S.charts.site = new Chart($('site-trend'), {
      type: 'line',
      data: { datasets: [
        { label: 'Power', data: [], yAxisID: 'yP', borderColor: '#4cb3ff', backgroundColor: '#4cb3ff' },
        { label: 'SoC (%)', data: [], yAxisID: 'yS', borderColor: '#3fb950', backgroundColor: '#3fb950' },
      ] },
      options: Object.assign({}, common, { scales: {
        x: axisX(),
        yP: { position: 'left', title: { display: true, text: 'kW', color: '#4cb3ff' }, ticks: { color: '#4cb3ff' }, grid: { color: '#26323e' } },
        yS: { position: 'right', title: { display: true, text: 'SoC %', color: '#3fb950' }, ticks: { color: '#3fb950' }, grid: { drawOnChartArea: false } },
      } }),
    });
    S.charts.rack = new Chart($('rack-trend'), {
      type: 'line',
      data: { datasets: [
        { label: 'Max cell V', data: [], yAxisID: 'yV', borderColor: '#7ee0d0', backgroundColor: '#7ee0d0' },
        { label: 'Min cell V', data: [], yAxisID: 'yV', borderColor: '#9d7cff', backgroundColor: '#9d7cff' },
        { label: 'Max temp. (°C)', data: [], yAxisID: 'yT', borderColor: '#ff9f43', backgroundColor: '#ff9f43' },
      ] },
      options: Object.assign({}, common, { scales: {
        x: axisX(),
        yV: { position: 'left', title: { display: true, text: 'V', color: '#93a1b0' }, ticks: { color: '#93a1b0' }, grid: { color: '#26323e' } },
        yT: { position: 'right', title: { display: true, text: '°C', color: '#ff9f43' }, ticks: { color: '#ff9f43' }, grid: { drawOnChartArea: false } },
      } }),
    });
  }
  /* keep a minimum span on each value axis, so that sensor noise and
   * float rounding do not fill the chart as if they were real swings */
  const span = (axis, arrs, key, minSpan) => {
    let lo = Infinity, hi = -Infinity;
    for (const arr of arrs) for (const p of arr) {
      const v = p[key];
      if (v === null) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (!isFinite(lo)) { autoAxis(axis); return; }
    if (hi - lo < minSpan) { const mid = (lo + hi) / 2; lo = mid - minSpan / 2; hi = mid + minSpan / 2; }
    niceAxis(axis, lo, hi, 5); /* round ticks: 3.20, 3.25, 3.30 */
  };
  /* time ticks at round steps of simulated time (10 s, 1 min, 5 min...) */
  const timeAxis = (axis, arr) => {
    if (arr.length < 2) { delete axis.ticks.stepSize; return; }
    const raw = (arr[arr.length - 1].x - arr[0].x) / 6;
    axis.ticks.stepSize = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400]
      .find((s) => s >= raw) || Math.ceil(raw / 86400) * 86400;
  };
  const sc = S.charts.site;
  timeAxis(sc.options.scales.x, site);
  sc.data.datasets[0].label = `Power (${pu}, + discharge)`;
  sc.options.scales.yP.title.text = pu;
  sc.data.datasets[0].data = pts(site, 'power', (w) => w / powerUnit);
  sc.data.datasets[1].data = pts(site, 'soc');
  const rc = S.charts.rack;
  timeAxis(rc.options.scales.x, rack);
  rc.data.datasets[0].data = pts(rack, 'vmax');
  rc.data.datasets[1].data = pts(rack, 'vmin');
  rc.data.datasets[2].data = pts(rack, 'tmax');
  {
    const vs = rack.flatMap((p) => [p.vmin, p.vmax]).filter((v) => v !== null);
    span(rc.options.scales.yV, [vs.map((v) => ({ v }))], 'v', 0.05);
  }
  span(rc.options.scales.yT, [rack], 'tmax', 2);
  span(sc.options.scales.yS, [site], 'soc', 1);
  const pw = sc.data.datasets[0].data;
  span(sc.options.scales.yP, [pw], 'y', Math.max(1, 0.05 * pw.reduce((m, p) => Math.max(m, Math.abs(p.y || 0)), 0)));
  sc.update('none');
  rc.update('none');
}
