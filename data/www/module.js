/* module.js: The selected module: cell chart, table, limits. */
import { $, el, footLog, getJSON } from './dom.js';
import { fmt, niceAxis, num } from './format.js';
import { S, TIER_RANK } from './state.js';
import { markServerStale } from './stream.js';

/* ---------- module detail ---------- */

export async function loadModule() {
  const { rack, module } = S.sel;
  try {
    const j = await getJSON(`rack/${rack}/module/${module}`);
    if (j.rack === S.sel.rack && j.module === S.sel.module &&
        (!S.moduleData || !(j.tick < S.moduleData.tick))) {
      S.moduleData = j;
      renderModule();
    }
  } catch (e) {
    if (e.status === 503) markServerStale(e);
    else footLog(e.message);
  }
}

export function onModule(j) {
  if (!j || j.rack !== S.sel.rack || j.module !== S.sel.module) return;
  if (S.moduleData && typeof j.tick === 'number' && j.tick < S.moduleData.tick) return;
  S.moduleData = j;
  renderModule();
}

/* Cells that raised an alarm of this kind in this module, from the rack's
 * alarm list (the BMS's own limits, so no thresholds are duplicated here). */
export function moduleAlarmCells() {
  const out = new Map(); /* cell -> worst tier */
  const s = S.summary;
  if (!s) return out;
  for (const a of S.alarmList) {
    if (a.rack !== S.sel.rack || !a.active || a.module !== S.sel.module || typeof a.cell !== 'number') continue;
    if (!/^cell_/.test(a.kind)) continue;
    const prev = out.get(a.cell);
    if (!prev || TIER_RANK[a.tier] > TIER_RANK[prev]) out.set(a.cell, a.tier);
  }
  return out;
}

export function barColours(cells) {
  const lim = limits();
  const alarmCells = moduleAlarmCells();
  let iMin = -1, iMax = -1;
  cells.forEach((c, i) => {
    if (num(c.voltage) === null) return;
    if (iMin < 0 || c.voltage < cells[iMin].voltage) iMin = i;
    if (iMax < 0 || c.voltage > cells[iMax].voltage) iMax = i;
  });
  return cells.map((c, i) => {
    const tier = alarmCells.get(i);
    if (tier === 'alarm' || tier === 'protection') return LIMIT_COLOUR[2];
    if (tier === 'warning') return LIMIT_COLOUR[1];
    const st = cellLimitState(c, lim);
    if (st.v) return LIMIT_COLOUR[st.v];
    if (cells.length > 1 && i === iMin && iMin !== iMax) return '#9d7cff';
    if (cells.length > 1 && i === iMax && iMin !== iMax) return '#7ee0d0';
    return '#5aa9e6';
  });
}
/* Temperature points: orange, or amber/red and larger near/beyond a limit. */
export function tempPointStyle(cells) {
  const lim = limits();
  const st = cells.map((c) => cellLimitState(c, lim).t);
  return {
    colour: st.map((t) => (t ? LIMIT_COLOUR[t] : '#ff9f43')),
    radius: st.map((t) => (t ? 5 : 2)),
  };
}

export const LIMIT_COLOUR = [null, '#e3b341', '#f85149']; /* near, beyond */
export const TIER_VALUES = (o) => {
  const w = num(o && o.warning), a = num(o && o.alarm), p = num(o && o.protection);
  return w === null && a === null && p === null ? null : { warning: w, alarm: a, protection: p };
};

/* Cell limits from summary.limits (batsim-httpd's configuration, which
 * says whether its chemistry is the writer's): the chemistry's voltage
 * window and the BMS tiers.  null when absent or for another chemistry,
 * since wrong limits would mark healthy cells. */
export function limits() {
  const src = (S.summary && S.summary.limits) || (S.info && S.info.limits) || null;
  if (!src || src.matches_writer === false) return null;
  const vmin = num(src.cell_voltage_min !== undefined ? src.cell_voltage_min : src.v_min);
  const vmax = num(src.cell_voltage_max !== undefined ? src.cell_voltage_max : src.v_max);
  const out = {
    vmin: vmin !== null && vmax !== null && vmax > vmin ? vmin : null,
    vmax: vmin !== null && vmax !== null && vmax > vmin ? vmax : null,
    ov: TIER_VALUES(src.cell_ov), uv: TIER_VALUES(src.cell_uv),
    ot: TIER_VALUES(src.cell_ot), ut: TIER_VALUES(src.cell_ut),
  };
  return out.vmin !== null || out.ov || out.uv || out.ot || out.ut ? out : null;
}

/* How close a cell is to its limits: v and t are 0 (inside), 1 (past a
 * warning threshold, or within 5 % of the voltage window's edge when no
 * tiers are known) or 2 (past an alarm threshold or outside the
 * window); why lists the reasons in words. */
export function cellLimitState(c, lim) {
  const r = { v: 0, t: 0, why: [] };
  if (!lim) return r;
  const v = num(c.voltage), t = num(c.temperature);
  const flag = (key, level, text) => {
    if (level > r[key]) r[key] = level;
    r.why.push(text);
  };
  /* above (dir 1) or below (dir -1) a tier set */
  const past = (x, tiers, dir) => {
    if (x === null || !tiers) return 0;
    if (tiers.alarm !== null && dir * (x - tiers.alarm) >= 0) return 2;
    if (tiers.warning !== null && dir * (x - tiers.warning) >= 0) return 1;
    return 0;
  };
  if (v !== null) {
    if (lim.vmax !== null && v > lim.vmax) flag('v', 2, `voltage above the ${fmt(lim.vmax, 3)} V maximum`);
    else if (lim.vmin !== null && v < lim.vmin) flag('v', 2, `voltage below the ${fmt(lim.vmin, 3)} V minimum`);
    const hi = past(v, lim.ov, 1), lo = past(v, lim.uv, -1);
    if (hi) flag('v', hi, `voltage past the over-voltage ${hi === 2 ? 'alarm' : 'warning'} (${fmt(hi === 2 ? lim.ov.alarm : lim.ov.warning, 3)} V)`);
    if (lo) flag('v', lo, `voltage past the under-voltage ${lo === 2 ? 'alarm' : 'warning'} (${fmt(lo === 2 ? lim.uv.alarm : lim.uv.warning, 3)} V)`);
    if (!r.v && !lim.ov && !lim.uv && lim.vmin !== null) {
      const margin = 0.05 * (lim.vmax - lim.vmin);
      if (v > lim.vmax - margin || v < lim.vmin + margin) flag('v', 1, 'voltage near the edge of the cell window');
    }
  }
  if (t !== null) {
    const hi = past(t, lim.ot, 1), lo = past(t, lim.ut, -1);
    if (hi) flag('t', hi, `temperature past the over-temperature ${hi === 2 ? 'alarm' : 'warning'} (${fmt(hi === 2 ? lim.ot.alarm : lim.ot.warning, 1)} °C)`);
    if (lo) flag('t', lo, `temperature past the under-temperature ${lo === 2 ? 'alarm' : 'warning'} (${fmt(lo === 2 ? lim.ut.alarm : lim.ut.warning, 1)} °C)`);
  }
  return r;
}

/* Where the marked limits come from, or why none are marked. */
export function renderLimitsNote() {
  const src = S.summary && S.summary.limits;
  const lim = limits();
  let text = '';
  if (src && src.matches_writer === false) {
    text = `No limits marked: batsim-httpd's configuration is for ${src.chemistry || '?'}, ` +
      `the simulator runs ${src.writer_chemistry || 'another chemistry'} (set the same chemistry in both batsim.conf files).`;
  } else if (lim) {
    const tv = (o, d, u) => (o ? `${fmt(o.warning, d)}/${fmt(o.alarm, d)} ${u}` : '–');
    text = `Limits from batsim-httpd's configuration${src && src.chemistry ? ' (' + src.chemistry + ')' : ''}: ` +
      `cell ${fmt(lim.vmin, 2)}–${fmt(lim.vmax, 2)} V; warning/alarm over ${tv(lim.ov, 2, 'V')}, under ${tv(lim.uv, 2, 'V')}, ` +
      `over ${tv(lim.ot, 1, '°C')}, under ${tv(lim.ut, 1, '°C')}.`;
  }
  const n = $('limits-note');
  if (n.textContent !== text) n.textContent = text;
}

export function renderModule() {
  const j = S.moduleData;
  const cells = j && Array.isArray(j.cells) ? j.cells : [];
  const stats = $('mod-stats');
  if (!j) {
    stats.textContent = 'Loading…';
  } else {
    const vs = cells.map((c) => num(c.voltage)).filter((v) => v !== null);
    const ts = cells.map((c) => num(c.temperature)).filter((v) => v !== null);
    const socs = cells.map((c) => num(c.soc)).filter((v) => v !== null);
    const sum = (a) => a.reduce((x, y) => x + y, 0);
    const vmin = Math.min(...vs), vmax = Math.max(...vs);
    stats.replaceChildren(
      el('span', null, 'String ', el('b', { text: fmt(sum(vs), 1) + ' V' })),
      el('span', null, 'Current ', el('b', { text: fmt(cells.length ? num(cells[0].current) : null, 1) + ' A' })),
      el('span', null, 'Cell V ', el('b', { text: `${fmt(vmin, 3)} – ${fmt(vmax, 3)}` }), ` (Δ ${fmt((vmax - vmin) * 1000, 0)} mV)`),
      el('span', null, 'Temp. ', el('b', { text: `${fmt(Math.min(...ts), 1)} – ${fmt(Math.max(...ts), 1)} °C` })),
      el('span', null, 'SoC ', el('b', { text: fmt(socs.length ? sum(socs) / socs.length : null, 1) + ' %' })),
      el('span', { class: 'muted', text: `tick ${j.tick}` }));
  }
  renderCellChart(cells);
  renderCellTable(cells);
  renderLimitsNote();
  /* click on the heatmap -> this module's chart drawn (browser test) */
  if (j && S.bench.clickAt && !S.bench.chartAt && j.rack === S.sel.rack && j.module === S.sel.module && window.Chart)
    S.bench.chartAt = performance.now();
}

export function renderCellChart(cells) {
  if (!window.Chart) return;
  const labels = cells.map((_, i) => String(i));
  const volts = cells.map((c) => num(c.voltage));
  const temps = cells.map((c) => num(c.temperature));
  const socs = cells.map((c) => num(c.soc));
  let ch = S.charts.cells;
  if (!ch) {
    ch = S.charts.cells = new Chart($('cell-chart'), {
      data: {
        labels,
        datasets: [
          { type: 'bar', label: 'Voltage (V)', data: volts, yAxisID: 'yV', backgroundColor: barColours(cells), order: 3 },
          { type: 'line', label: 'Temperature (°C)', data: temps, yAxisID: 'yT', borderColor: '#ff9f43', backgroundColor: '#ff9f43', pointBackgroundColor: tempPointStyle(cells).colour, pointBorderColor: tempPointStyle(cells).colour, pointRadius: tempPointStyle(cells).radius, borderWidth: 2, order: 1 },
          { type: 'line', label: 'SoC (%)', data: socs, yAxisID: 'yS', borderColor: '#e6edf3', backgroundColor: '#e6edf3', borderDash: [4, 3], pointRadius: 0, borderWidth: 1.5, order: 2 },
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        interaction: { mode: 'index', intersect: false },
        plugins: {
          legend: { labels: { color: '#c9d4df', boxWidth: 12 } },
          tooltip: {
            filter: (item) => item.datasetIndex === 0,
            callbacks: {
              title: (items) => items.length ? `Rack ${S.sel.rack} · module ${S.sel.module} · cell ${items[0].dataIndex}` : '',
              label: (item) => {
                const c = (S.moduleData && S.moduleData.cells || [])[item.dataIndex] || {};
                return [
                  `voltage ${fmt(num(c.voltage), 4)} V`,
                  `current ${fmt(num(c.current), 2)} A`,
                  `temperature ${fmt(num(c.temperature), 2)} °C`,
                  `soc ${fmt(num(c.soc), 2)} %`,
                  `resistance ${fmt(num(c.resistance) === null ? null : c.resistance * 1000, 4)} mΩ`,
                ].concat(num(c.soh) === null ? [] : [`SoH ${fmt(num(c.soh), 2)} %`, `hysteresis ${fmt(num(c.hysteresis), 2)}`])
                  .concat(cellLimitState(c, limits()).why);
              },
            },
          },
        },
        scales: {
          x: { title: { display: true, text: 'cell', color: '#93a1b0' }, ticks: { color: '#93a1b0', autoSkip: true, maxRotation: 0 }, grid: { color: '#26323e' } },
          yV: { position: 'left', title: { display: true, text: 'V', color: '#93a1b0' }, ticks: { color: '#93a1b0' }, grid: { color: '#26323e' } },
          yT: { position: 'right', title: { display: true, text: '°C', color: '#ff9f43' }, ticks: { color: '#ff9f43' }, grid: { drawOnChartArea: false } },
          yS: { position: 'right', min: 0, max: 100, title: { display: true, text: 'SoC %', color: '#c9d4df' }, ticks: { color: '#c9d4df' }, grid: { drawOnChartArea: false } },
        },
      },
    });
  }
  const vs = volts.filter((v) => v !== null);
  if (vs.length) {
    const lo = Math.min(...vs), hi = Math.max(...vs);
    const pad = Math.max(0.01, (hi - lo) * 0.25);
    niceAxis(ch.options.scales.yV, lo - pad, hi + pad, 6);
  }
  const ts = temps.filter((v) => v !== null);
  if (ts.length) {
    const lo = Math.min(...ts), hi = Math.max(...ts);
    const pad = Math.max(1, (hi - lo) * 0.25);
    niceAxis(ch.options.scales.yT, lo - pad, hi + pad, 6);
  }
  /* SoC on its own axis, zoomed to the cells' spread (at least 5 points
   * of percent) so that cell-to-cell differences show */
  const ss = socs.filter((v) => v !== null);
  if (ss.length) {
    const lo = Math.min(...ss), hi = Math.max(...ss);
    const pad = Math.max(2.5 - (hi - lo) / 2, (hi - lo) * 0.2);
    niceAxis(ch.options.scales.yS, Math.max(0, lo - pad), Math.min(100, hi + pad), 6);
  }
  ch.data.labels = labels;
  ch.data.datasets[0].data = volts;
  ch.data.datasets[0].backgroundColor = barColours(cells);
  ch.data.datasets[1].data = temps;
  const tp = tempPointStyle(cells);
  ch.data.datasets[1].pointBackgroundColor = tp.colour;
  ch.data.datasets[1].pointBorderColor = tp.colour;
  ch.data.datasets[1].pointRadius = tp.radius;
  ch.data.datasets[2].data = socs;
  ch.update('none');
}

export function renderCellTable(cells) {
  const tb = $('cell-table').tBodies[0];
  if (!$('cell-details').open) { tb.dataset.dirty = '1'; return; }
  const lim = limits();
  let iMin = -1, iMax = -1;
  cells.forEach((c, i) => {
    if (iMin < 0 || c.voltage < cells[iMin].voltage) iMin = i;
    if (iMax < 0 || c.voltage > cells[iMax].voltage) iMax = i;
  });
  while (tb.rows.length > cells.length) tb.deleteRow(-1);
  while (tb.rows.length < cells.length) {
    const tr = tb.insertRow();
    for (let k = 0; k < 6; k++) tr.insertCell();
  }
  cells.forEach((c, i) => {
    const tr = tb.rows[i];
    tr.className = i === iMin ? 'vmin' : i === iMax ? 'vmax' : '';
    const st = cellLimitState(c, lim);
    const mark = (lvl) => (lvl === 2 ? ' ‼' : lvl === 1 ? ' !' : '');
    const vals = [String(i), fmt(num(c.voltage), 4) + mark(st.v), fmt(num(c.current), 2), fmt(num(c.temperature), 2) + mark(st.t),
      fmt(num(c.soc), 2), fmt(num(c.resistance) === null ? null : c.resistance * 1000, 4)];
    vals.forEach((v, k) => { if (tr.cells[k].textContent !== v) tr.cells[k].textContent = v; });
    const cls = (lvl) => (lvl === 2 ? 'lim-out' : lvl === 1 ? 'lim-near' : '');
    tr.cells[1].className = cls(st.v);
    tr.cells[3].className = cls(st.t);
    const why = st.why.join('; ');
    if (tr.title !== why) tr.title = why;
  });
  tb.dataset.dirty = '';
}
