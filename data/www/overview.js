/* overview.js: the site overview, a heatmap on one canvas (not one DOM
 * element per module, so that a million-cell site draws as fast as a
 * small one).
 *
 * Data: the overview event (GET /overview, /updates?view=overview; built
 * by src/httpd/overview.c): per-module means of SoC, cell voltage and
 * temperature as quantised typed arrays (rack-major), the racks' contactor
 * state, worst alarm tier and faults.
 *
 * Layout: one column per rack, module 0 at the BOTTOM of its column (as
 * modules are numbered in a rack, from the floor up), racks left to
 * right, wrapping into bands below when they do not fit 3 px each; a
 * header strip on top
 * of each column is coloured by the rack's worst alarm (red/amber, grey
 * when only latched) and says OPEN (striped) for an open contactor, with
 * text only where it fits the column.  Colour scale: absolute by default
 * (SoC 0-100 %, voltage and temperature over the configured cell limits)
 * with the BMS alarm bands in amber (warning) and red (alarm), or
 * relative (the range present now) on request. */
import { $, el, setText } from './dom.js';
import { fmt, num } from './format.js';
import { METRICS, S } from './state.js';
import { select } from './app.js';

const HEAD_H = 30;        /* rack header strip, CSS px (wide columns) */
const HEAD_H_NARROW = 6;  /* a colour strip only */
const MAX_ROW_H = 26, MAX_H = 640;

/* ---------- decoding ---------- */

function b64bytes(s) {
  const bin = atob(s || '');
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
/* {"step","offset","bytes","data"} -> Float32Array (NaN = no value) */
function dequant(q, n) {
  const out = new Float32Array(n).fill(NaN);
  if (!q || typeof q.data !== 'string') return out;
  const b = b64bytes(q.data), w = q.bytes === 2 ? 2 : 1, none = w === 2 ? 65535 : 255;
  const step = +q.step, off = +q.offset;
  for (let i = 0; i < n && i * w < b.length; i++) {
    const c = w === 2 ? b[2 * i] | (b[2 * i + 1] << 8) : b[i];
    if (c !== none) out[i] = off + c * step;
  }
  return out;
}

/* The overview's module and rack parts, decoded into S.ov. */
export function decodeOverview(o) {
  const t = o.topology || {};
  const racks = t.racks || 0, mpr = t.modules_per_rack || 0, n = racks * mpr;
  const m = o.modules || {}, rk = o.racks || {};
  const open = new Set(Array.isArray(rk.open) ? rk.open : []);
  const faults = new Map();
  for (const f of Array.isArray(rk.faults) ? rk.faults : []) faults.set(f.rack, f.faults);
  S.ov = {
    racks, mpr, n,
    soc: dequant(m.soc, n), voltage: dequant(m.voltage, n), temperature: dequant(m.temperature, n),
    alarm: b64bytes(m.alarm),
    tier: typeof rk.tier === 'string' ? rk.tier : '',
    open, faults,
  };
}
export function moduleValue(metric, r, m) {
  const ov = S.ov;
  if (!ov || r >= ov.racks || m >= ov.mpr) return null;
  return num(ov[metric][r * ov.mpr + m]);
}
function moduleAlarm(r, m) {
  const i = r * S.ov.mpr + m;
  return (S.ov.alarm[i >> 3] >> (i & 7)) & 1;
}
/* mean of a rack's module values (equal cells per module) */
export function rackMean(metric, r) {
  const ov = S.ov;
  if (!ov) return null;
  let s = 0, k = 0;
  for (let m = 0; m < ov.mpr; m++) {
    const v = ov[metric][r * ov.mpr + m];
    if (!isNaN(v)) { s += v; k++; }
  }
  return k ? s / k : null;
}

/* ---------- colour scale ---------- */

/* a perceptual sequential ramp (dark blue -> teal -> green -> yellow) */
const RAMP = [[48, 18, 120], [33, 102, 172], [32, 160, 160], [70, 190, 90], [190, 210, 50], [250, 230, 90]];
function ramp(x) {
  x = Math.min(1, Math.max(0, x)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x)), f = x - i;
  return RAMP[i].map((c, k) => Math.round(c + (RAMP[i + 1][k] - c) * f));
}
const BAND_RGB = { warning: [227, 179, 65], alarm: [248, 81, 73] };

/* Alarm thresholds of a metric from summary.limits, for the bands:
 * {low: {warning, alarm}, high: {warning, alarm}} (nulls when unknown). */
function bands_(metric) {
  const L = S.summary && S.summary.limits;
  if (!L || L.matches_writer === false) return null;
  const pick = (o) => (o ? { warning: num(o.warning), alarm: num(o.alarm) } : null);
  if (metric === 'soc') return { low: pick(L.soc_low), high: pick(L.soc_high) };
  if (metric === 'voltage') return { low: pick(L.cell_uv), high: pick(L.cell_ov) };
  return { low: pick(L.cell_ut), high: pick(L.cell_ot) };
}
/* [lo, hi] of the colour ramp */
function domain(metric) {
  if (S.scale === 'absolute') {
    const L = (S.summary && S.summary.limits) || {};
    if (metric === 'soc') return [0, 100];
    if (metric === 'voltage' && num(L.cell_voltage_min) !== null && num(L.cell_voltage_max) > L.cell_voltage_min)
      return [L.cell_voltage_min, L.cell_voltage_max];
    if (metric === 'temperature') return [-20, 60];
  }
  const a = S.ov ? S.ov[metric] : null;
  let lo = Infinity, hi = -Infinity;
  if (a) for (let i = 0; i < a.length; i++) { const v = a[i]; if (v < lo) lo = v; if (v > hi) hi = v; }
  if (!isFinite(lo)) return null;
  const minSpan = metric === 'soc' ? 2 : metric === 'temperature' ? 1 : 0.01;
  if (hi - lo < minSpan) { const mid = (hi + lo) / 2; lo = mid - minSpan / 2; hi = mid + minSpan / 2; }
  return [lo, hi];
}
function bandOf(v, b) {
  if (!b) return null;
  const { low, high } = b;
  if (low && low.alarm !== null && v <= low.alarm) return 'alarm';
  if (high && high.alarm !== null && v >= high.alarm) return 'alarm';
  if (low && low.warning !== null && v <= low.warning) return 'warning';
  if (high && high.warning !== null && v >= high.warning) return 'warning';
  return null;
}
function rgbOf(v, dom, b) {
  const band = bandOf(v, b);
  if (band) return BAND_RGB[band];
  return ramp((v - dom[0]) / (dom[1] - dom[0]));
}
const css = (c) => `rgb(${c[0]},${c[1]},${c[2]})`;

function renderLegend(dom, b) {
  const lg = $('legend');
  const md = METRICS[S.metric];
  if (!dom) { lg.replaceChildren(); return; }
  const stops = [];
  for (let i = 0; i <= 40; i++) {
    const v = dom[0] + (dom[1] - dom[0]) * i / 40;
    stops.push(`${css(rgbOf(v, dom, b))} ${(i * 2.5).toFixed(1)}%`);
  }
  const parts = [];
  if (b) {
    const t = [];
    if (b.low && b.low.alarm !== null) t.push(`≤ ${fmt(b.low.alarm, md.digits)} alarm`);
    if (b.low && b.low.warning !== null) t.push(`≤ ${fmt(b.low.warning, md.digits)} warning`);
    if (b.high && b.high.warning !== null) t.push(`≥ ${fmt(b.high.warning, md.digits)} warning`);
    if (b.high && b.high.alarm !== null) t.push(`≥ ${fmt(b.high.alarm, md.digits)} alarm`);
    if (t.length) parts.push(el('span', { class: 'bands', text: `bands: ${t.join(', ')} ${md.unit}` }));
  }
  lg.replaceChildren(
    el('span', { text: fmt(dom[0], md.digits) }),
    el('span', { class: 'bar', style: `background: linear-gradient(90deg, ${stops.join(',')})` }),
    el('span', { text: `${fmt(dom[1], md.digits)} ${md.unit}` }),
    el('span', { class: 'muted', text: S.scale === 'absolute' ? 'absolute' : 'relative (range now)' }),
    ...parts);
}

/* ---------- geometry and drawing ---------- */

/* Racks are laid out left to right in bands: as many racks per band as
 * fit MIN_COL_W px each, further bands below (a 2,048-rack site wraps
 * into several bands instead of squeezing racks below a pixel). */
const MIN_COL_W = 3, BAND_GAP = 6, LABEL_H = 12;

let geo = null;    /* layout in CSS px, see layout() */
let pixels = null; /* offscreen canvas: one pixel per module, bands stacked */

function layout() {
  const cv = $('heatmap'), ov = S.ov;
  if (!cv || !ov || !ov.racks || !ov.mpr) return null;
  const w = Math.max(100, cv.parentElement.clientWidth);
  let rpb = Math.min(ov.racks, Math.max(1, Math.floor(w / MIN_COL_W)));
  if (rpb < ov.racks && rpb >= 32) rpb -= rpb % 16; /* rows start at round rack numbers */
  const bands = Math.ceil(ov.racks / rpb);
  const colW = w / rpb;
  const wide = colW >= 22;
  const headH = wide ? HEAD_H : HEAD_H_NARROW;
  const labelH = wide ? 0 : LABEL_H; /* rack numbers under a narrow band */
  const extra = headH + labelH + BAND_GAP;
  let rowH = Math.min(MAX_ROW_H, Math.floor((MAX_H / bands - extra) / ov.mpr));
  if (rowH < 1) rowH = Math.max(0.25, (MAX_H / bands - extra) / ov.mpr);
  const gridH = rowH * ov.mpr;
  const bandH = headH + gridH + labelH + BAND_GAP;
  const h = Math.ceil(bands * bandH - BAND_GAP);
  const dpr = window.devicePixelRatio || 1;
  if (cv.width !== Math.round(w * dpr) || cv.height !== Math.round(h * dpr)) {
    cv.width = Math.round(w * dpr);
    cv.height = Math.round(h * dpr);
    cv.style.height = h + 'px';
  }
  return { w, h, colW, rowH, headH, gridH, labelH, bandH, rpb, bands, wide, racks: ov.racks, mpr: ov.mpr, dpr };
}
/* left edge of rack r's column, and the top of its band */
const rackX = (r) => (r % geo.rpb) * geo.colW;
const bandY = (r) => Math.floor(r / geo.rpb) * geo.bandH;
/* top of module m of rack r (module 0 at the bottom) */
const moduleY = (r, m) => bandY(r) + geo.headH + (geo.mpr - 1 - m) * geo.rowH;

/* the text candidates that fit width w, longest first */
function fit(ctx, cands, w) {
  for (const c of cands) if (c && ctx.measureText(c).width <= w) return c;
  return '';
}

const TIER_RGB = ['#2b3440', '#6e7681', '#e3b341', '#f85149', '#ff2d95'];

export function drawHeatmap() {
  const ov = S.ov;
  const cv = $('heatmap');
  geo = layout();
  if (!geo) return;
  const { w, colW, rowH, headH, gridH, racks, mpr, dpr, rpb, bands } = geo;
  const ctx = cv.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, geo.h);
  const metric = S.metric, dom = domain(metric), b = S.scale === 'absolute' ? bands_(metric) : null;
  renderLegend(dom, b);
  /* the modules, one pixel each (band k in rows k*mpr...), scaled up
   * without smoothing */
  if (!pixels || pixels.width !== rpb || pixels.height !== bands * mpr) {
    pixels = document.createElement('canvas');
    pixels.width = rpb;
    pixels.height = bands * mpr;
  }
  const pctx = pixels.getContext('2d');
  const img = pctx.createImageData(rpb, bands * mpr);
  const a = ov[metric], px = new Uint32Array(img.data.buffer);
  /* one 32-bit pixel per module from a 1024-step ramp (little-endian
   * ABGR), the bands by comparison: no allocation per module */
  const abgr = (c) => (255 << 24 | c[2] << 16 | c[1] << 8 | c[0]) >>> 0;
  const NODATA = abgr([51, 51, 51]);
  const lut = new Uint32Array(1024);
  if (dom) for (let i = 0; i < 1024; i++) lut[i] = abgr(ramp(i / 1023));
  const lo = dom ? dom[0] : 0, k = dom ? 1023 / (dom[1] - dom[0]) : 0;
  const bw = BAND_RGB.warning && abgr(BAND_RGB.warning), ba = abgr(BAND_RGB.alarm);
  const L = b && b.low ? b.low : {}, H = b && b.high ? b.high : {};
  const la = num(L.alarm), lw = num(L.warning), ha = num(H.alarm), hw = num(H.warning);
  let coloured = 0;
  for (let r = 0; r < racks; r++) {
    const col = r % rpb, row0 = Math.floor(r / rpb) * mpr, base = r * mpr;
    for (let m = 0; m < mpr; m++) {
      const v = a[base + m];
      const p = (row0 + mpr - 1 - m) * rpb + col;
      if (v !== v || !dom) { px[p] = NODATA; continue; }
      coloured++;
      if ((la !== null && v <= la) || (ha !== null && v >= ha)) px[p] = ba;
      else if ((lw !== null && v <= lw) || (hw !== null && v >= hw)) px[p] = bw;
      else { const i = Math.round((v - lo) * k); px[p] = lut[i < 0 ? 0 : i > 1023 ? 1023 : i]; }
    }
  }
  pctx.putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  for (let k = 0; k < bands; k++) {
    const n = Math.min(rpb, racks - k * rpb);
    ctx.drawImage(pixels, 0, k * mpr, n, mpr, 0, k * geo.bandH + headH, n * colW, gridH);
  }
  /* gaps between racks and modules where there is room */
  ctx.fillStyle = '#11161c';
  if (colW >= 6) for (let r = 0; r < racks; r++) if (r % rpb) ctx.fillRect(Math.round(rackX(r)) - 1, bandY(r) + headH, colW >= 14 ? 2 : 1, gridH);
  if (rowH >= 8) for (let k = 0; k < bands; k++) for (let m = 1; m < mpr; m++) ctx.fillRect(0, k * geo.bandH + headH + Math.round(m * rowH), w, 1);
  /* modules with an active alarm: a red frame (a red block when small) */
  ctx.strokeStyle = '#f85149';
  ctx.fillStyle = '#f85149';
  ctx.lineWidth = 2;
  for (let r = 0; r < racks; r++) for (let m = 0; m < mpr; m++) {
    if (!moduleAlarm(r, m)) continue;
    const x = rackX(r), y = moduleY(r, m);
    if (colW >= 8 && rowH >= 6) ctx.strokeRect(x + 2, y + 2, colW - 4, rowH - 4);
    else ctx.fillRect(x, y, Math.max(1, colW), Math.max(1, rowH));
  }
  /* values as text in big tiles (small sites) */
  if (colW >= 40 && rowH >= 16 && dom) {
    ctx.font = `${Math.min(13, rowH - 4)}px system-ui, sans-serif`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    const md = METRICS[metric];
    for (let r = 0; r < racks; r++) for (let m = 0; m < mpr; m++) {
      const v = a[r * mpr + m];
      if (isNaN(v)) continue;
      const c = rgbOf(v, dom, b);
      ctx.fillStyle = c[0] * 0.3 + c[1] * 0.59 + c[2] * 0.11 > 140 ? '#0b0f14' : '#ffffff';
      ctx.fillText(fit(ctx, [fmt(v, md.digits), fmt(v, 0)], colW - 4), rackX(r) + colW / 2, moduleY(r, m) + rowH / 2);
    }
  }
  drawRackHeads(ctx);
  drawSelection(ctx);
  if (coloured && !S.bench.firstHeatmapMs) S.bench.firstHeatmapMs = performance.now();
  describe();
}

function drawRackHeads(ctx) {
  const { colW, headH, racks, gridH, wide, rpb } = geo, ov = S.ov;
  ctx.textBaseline = 'alphabetic';
  for (let r = 0; r < racks; r++) {
    const x = rackX(r), y0 = bandY(r), tier = +ov.tier[r] || 0, open = ov.open.has(r);
    ctx.fillStyle = TIER_RGB[tier];
    ctx.fillRect(x + (colW >= 6 ? 1 : 0), y0, Math.max(1, colW - (colW >= 6 ? 2 : 0)), headH - 2);
    if (open) { /* striped red: the contactor is open */
      ctx.save();
      ctx.beginPath();
      ctx.rect(x, y0, Math.max(1, colW), headH - 2);
      ctx.clip();
      ctx.strokeStyle = '#f85149';
      ctx.lineWidth = 2;
      for (let k = -headH; k < colW + headH; k += 6) { ctx.beginPath(); ctx.moveTo(x + k, y0 + headH); ctx.lineTo(x + k + headH, y0); ctx.stroke(); }
      ctx.restore();
    }
    if (!wide) continue;
    /* two short lines that fit the column: "R3 A" / "OPEN 52%" */
    ctx.font = 'bold 11px system-ui, sans-serif';
    ctx.textAlign = 'center';
    ctx.fillStyle = tier >= 2 ? '#0b0f14' : '#e6edf3';
    const soc = rackMean('soc', r);
    const badge = tier >= 2 ? ' ' + 'WAP'[tier - 2] : tier === 1 ? ' L' : '';
    ctx.fillText(fit(ctx, [`R${r}${badge}`, `R${r}`, String(r)], colW - 4), x + colW / 2, y0 + 12);
    ctx.font = '10px system-ui, sans-serif';
    const socT = soc === null ? '' : fmt(soc, 0) + '%';
    ctx.fillText(fit(ctx, open ? [`OPEN ${socT}`, 'OPEN', 'O'] : [`closed ${socT}`, socT, ''], colW - 4), x + colW / 2, y0 + 25);
  }
  if (!wide) {
    /* rack numbers under each narrow band, as many as fit */
    ctx.font = '10px system-ui, sans-serif';
    ctx.fillStyle = '#93a1b0';
    ctx.textAlign = 'left';
    const every = Math.max(1, Math.ceil(ctx.measureText('R0000').width / colW));
    const step = [1, 2, 4, 5, 8, 10, 16, 20, 32, 50, 64, 100, 128, 200, 256, 500, 512, 1000].find((s) => s >= every && rpb % s === 0) ||
      [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000].find((s) => s >= every) || every;
    for (let r = 0; r < racks; r += step) {
      if (rackX(r) + ctx.measureText(String(r)).width > geo.w) continue;
      ctx.fillText(String(r), rackX(r), bandY(r) + headH + gridH + 10);
    }
  }
}

function drawSelection(ctx) {
  const { colW, rowH } = geo;
  const box = (r, m, colour, dash) => {
    const x = rackX(r), y = moduleY(r, m);
    ctx.setLineDash(dash);
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2;
    const pad = Math.min(colW, rowH) < 6 ? 3 : 0; /* visible even when a module is 1 px */
    ctx.strokeRect(x - pad + 1, y - pad + 1, Math.max(2, colW + 2 * pad - 2), Math.max(2, rowH + 2 * pad - 2));
    ctx.setLineDash([]);
  };
  if (S.cursor && (S.cursor.rack !== S.sel.rack || S.cursor.module !== S.sel.module)) box(S.cursor.rack, S.cursor.module, '#ffffff', [3, 2]);
  if (S.ov && S.sel.rack < S.ov.racks && S.sel.module < S.ov.mpr) box(S.sel.rack, S.sel.module, '#4cb3ff', []);
}

/* what a screen reader and the tooltip say */
function describeModule(r, m) {
  const md = METRICS[S.metric];
  const v = moduleValue(S.metric, r, m);
  const parts = [`Rack ${r} module ${m}`];
  if (v === null) parts.push('no data yet');
  else {
    parts.push(`${md.label} ${fmt(v, md.digits)} ${md.unit}`);
    for (const k of Object.keys(METRICS)) {
      if (k === S.metric) continue;
      const x = moduleValue(k, r, m);
      if (x !== null) parts.push(`${METRICS[k].label.replace(/^Mean /, 'mean ')} ${fmt(x, METRICS[k].digits)} ${METRICS[k].unit}`);
    }
  }
  if (S.ov && moduleAlarm(r, m)) parts.push('active alarm');
  if (S.ov && S.ov.open.has(r)) parts.push('rack contactor OPEN');
  const f = S.ov && S.ov.faults.get(r);
  if (f && f.length) parts.push(`rack faults: ${f.join(', ')}`);
  return parts.join('; ');
}
function describe() {
  const c = S.cursor || S.sel;
  setText('ov-status', describeModule(c.rack, c.module));
}

/* ---------- input ---------- */

function hit(ev) {
  if (!geo) return null;
  const rect = $('heatmap').getBoundingClientRect();
  const x = ev.clientX - rect.left, y = ev.clientY - rect.top;
  if (x < 0 || x >= geo.w || y < 0) return null;
  const band = Math.floor(y / geo.bandH), yb = y - band * geo.bandH;
  const r = band * geo.rpb + Math.min(geo.rpb - 1, Math.floor(x / geo.colW));
  if (band >= geo.bands || r >= geo.racks || yb >= geo.headH + geo.gridH) return null;
  if (yb < geo.headH) return { rack: r, module: S.sel.module };
  const m = geo.mpr - 1 - Math.min(geo.mpr - 1, Math.floor((yb - geo.headH) / geo.rowH));
  return { rack: r, module: m };
}
/* where module (r, m) is drawn, in CSS px from the canvas's top left */
export function modulePoint(r, m) {
  if (!geo) return null;
  return { x: rackX(r) + geo.colW / 2, y: moduleY(r, m) + geo.rowH / 2 };
}

function onKey(ev) {
  if (!S.topo) return;
  const c = S.cursor || { rack: S.sel.rack, module: S.sel.module };
  let r = c.rack, m = c.module;
  switch (ev.key) {
    case 'ArrowUp': m++; break;   /* module 0 is at the bottom */
    case 'ArrowDown': m--; break;
    case 'ArrowLeft': r--; break;
    case 'ArrowRight': r++; break;
    case 'Home': m = 0; break;
    case 'End': m = S.topo.modules_per_rack - 1; break;
    case 'PageUp': r -= 10; break;
    case 'PageDown': r += 10; break;
    case 'Enter': case ' ':
      ev.preventDefault();
      S.cursor = null;
      select(r, m);
      return;
    default: return;
  }
  ev.preventDefault();
  S.cursor = {
    rack: Math.min(Math.max(0, r), S.topo.racks - 1),
    module: Math.min(Math.max(0, m), S.topo.modules_per_rack - 1),
  };
  drawHeatmap();
}

export function wireOverview() {
  const cv = $('heatmap');
  cv.addEventListener('click', (ev) => {
    const h = hit(ev);
    if (!h) return;
    S.bench.clickAt = performance.now();
    S.bench.chartAt = 0;
    S.cursor = null;
    select(h.rack, h.module);
  });
  cv.addEventListener('mousemove', (ev) => {
    const h = hit(ev);
    const t = h ? describeModule(h.rack, h.module) : '';
    if (cv.title !== t) cv.title = t;
  });
  cv.addEventListener('keydown', onKey);
  cv.addEventListener('blur', () => { if (S.cursor) { S.cursor = null; drawHeatmap(); } });
  let pending = 0;
  window.addEventListener('resize', () => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(drawHeatmap);
  });
}

/* a new overview arrived: draw it (events come at most once per stream
 * interval, and a draw of 32,768 modules takes a few ms) */
export function scheduleHeatmap() {
  drawHeatmap();
}
