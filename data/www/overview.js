/* overview.js: The site overview: racks x modules. */
import { $, el } from './dom.js';
import { fmt, num } from './format.js';
import { KIND_LABEL, METRICS, S, TIER_RANK } from './state.js';

/* ---------- overview grid ---------- */

export const tiles = [];   /* [rack][module] -> button */
export const rackEls = []; /* [rack] -> {box, ct, badge, soc} */

export function buildGrid() {
  const g = $('grid');
  g.replaceChildren();
  tiles.length = 0;
  rackEls.length = 0;
  const t = S.topo;
  const compact = t.racks > 40 || t.modules_per_rack > 24;
  g.classList.toggle('compact', compact);
  g.classList.toggle('roomy', t.racks <= 24 && t.modules_per_rack <= 16);
  g.style.setProperty('--rackw', compact ? '2.9rem' : '3.6rem');
  /* few racks: let the columns grow, but not into very wide tiles */
  g.style.setProperty('--rackmax', t.racks <= 12 ? '7rem' : '1fr');
  for (let r = 0; r < t.racks; r++) {
    const badge = el('span', { class: 'ab', hidden: '' });
    const ct = el('span', { class: 'ct' });
    const soc = el('span', { class: 'rsoc' });
    const head = el('div', { class: 'rack-h' }, el('span', { class: 'rn', text: 'R' + r }), badge);
    const sub = el('div', { class: 'rack-s' }, ct, soc);
    const box = el('div', { class: 'rack', role: 'group', 'aria-label': 'Rack ' + r }, head, sub);
    const row = [];
    for (let m = 0; m < t.modules_per_rack; m++) {
      const b = el('button', {
        type: 'button', class: 'tile nodata', tabindex: '-1',
        'data-rack': r, 'data-module': m, text: '…',
      });
      row.push(b);
      box.append(b);
    }
    tiles.push(row);
    rackEls.push({ box, ct, badge, soc });
    g.append(box);
  }
  markGridSelection();
  for (let r = 0; r < t.racks; r++) renderRackTiles(r);
}

export function markGridSelection() {
  for (let r = 0; r < tiles.length; r++) {
    rackEls[r].box.classList.toggle('sel', r === S.sel.rack);
    for (let m = 0; m < tiles[r].length; m++) {
      const on = r === S.sel.rack && m === S.sel.module;
      const b = tiles[r][m];
      b.classList.toggle('sel', on);
      b.tabIndex = on ? 0 : -1;
      if (on) b.setAttribute('aria-current', 'true');
      else b.removeAttribute('aria-current');
    }
  }
}

/* Colour scales on the range now present, so that outliers stand out
 * (the legend gives the numbers), with a minimum span so that noise does
 * not look like a fault: SoC and SoH red (low) to green, voltages and
 * temperatures blue (low) to red. */
export function domain(metric) {
  const minSpan = metric === 'soc' ? 10 : metric === 'tmax' ? 4 : metric === 'soh' ? 2 : 0.05;
  let lo = Infinity, hi = -Infinity;
  for (const mods of S.modAgg) if (mods) for (const m of mods) {
    const v = METRICS[metric].get(m);
    if (v === null) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!isFinite(lo)) return null;
  if (hi - lo < minSpan) {
    const mid = (hi + lo) / 2;
    lo = mid - minSpan / 2;
    hi = mid + minSpan / 2;
  }
  return [lo, hi];
}
export function colour(metric, v, dom) {
  let x = (v - dom[0]) / (dom[1] - dom[0]);
  x = Math.min(1, Math.max(0, x));
  /* SoC: red (0) -> amber -> green (1); others: blue (0) -> teal -> amber -> red (1) */
  const good = metric === 'soc' || metric === 'soh'; /* high is good */
  const hue = good ? 120 * x : 220 - 220 * x;
  const light = good ? 42 + 8 * Math.sin(Math.PI * x) : 48;
  return { bg: `hsl(${hue.toFixed(0)} 70% ${light.toFixed(0)}%)`, dark: hue > 200 || hue < 12 };
}
let gridDomain = null;
export function renderLegend() {
  const lg = $('legend');
  const md = METRICS[S.metric];
  if (!gridDomain) { lg.replaceChildren(); return; }
  const stops = [];
  for (let i = 0; i <= 4; i++) stops.push(colour(S.metric, gridDomain[0] + (gridDomain[1] - gridDomain[0]) * i / 4, gridDomain).bg);
  lg.replaceChildren(
    el('span', { text: fmt(gridDomain[0], md.digits) }),
    el('span', { class: 'bar', style: `background: linear-gradient(90deg, ${stops.join(',')})` }),
    el('span', { text: `${fmt(gridDomain[1], md.digits)} ${md.unit}` }));
}
export function renderAllTiles() {
  gridDomain = domain(S.metric);
  renderLegend();
  for (let r = 0; r < tiles.length; r++) renderRackTiles(r);
}
export function renderRackTiles(r) {
  const mods = S.modAgg[r];
  const md = METRICS[S.metric];
  const row = tiles[r];
  if (!row) return;
  for (let m = 0; m < row.length; m++) {
    const b = row[m];
    const agg = mods && mods[m];
    const v = agg ? md.get(agg) : null;
    const alarms = agg && Array.isArray(agg.alarms) ? agg.alarms : [];
    let text, label;
    if (v === null || !gridDomain) {
      text = '…';
      label = `Rack ${r} module ${m}: no data yet`;
      b.classList.add('nodata');
      b.style.background = '';
      b.classList.remove('dark');
    } else {
      text = fmt(v, md.digits) + (alarms.length ? '!' : '');
      const c = colour(S.metric, v, gridDomain);
      b.classList.remove('nodata');
      b.style.background = c.bg;
      b.classList.toggle('dark', c.dark);
      label = `Rack ${r} module ${m}: ${md.label} ${fmt(v, md.digits)} ${md.unit}` +
        (alarms.length ? `; alarms: ${alarms.map((a) => a.tier + ' ' + (KIND_LABEL[a.kind] || a.kind)).join(', ')}` : '');
    }
    b.classList.toggle('alarm', alarms.length > 0);
    if (b.textContent !== text) b.textContent = text;
    if (b.title !== label) {
      b.title = label;
      b.setAttribute('aria-label', label);
    }
  }
}
export function renderRackHeaders() {
  const s = S.summary;
  if (!s || !Array.isArray(s.racks)) return;
  for (const rk of s.racks) {
    const e = rackEls[rk.rack];
    if (!e) continue;
    const open = rk.contactor !== 'closed' && rk.contactor !== 1 && rk.contactor !== true;
    e.box.classList.toggle('open', open);
    e.ct.textContent = open ? 'OPEN' : 'closed';
    e.ct.className = 'ct ' + (open ? 'open' : 'closed');
    e.soc.textContent = num(rk.soc) !== null ? rk.soc.toFixed(0) + '%' : '';
    const al = Array.isArray(rk.alarms) ? rk.alarms : [];
    const active = al.filter((a) => a.active);
    const worst = (list) => list.reduce((w, a) => (TIER_RANK[a.tier] || 0) > (TIER_RANK[w] || 0) ? a.tier : w, '');
    if (active.length) {
      const w = worst(active);
      e.badge.hidden = false;
      e.badge.className = 'ab ' + w;
      e.badge.textContent = w[0].toUpperCase() + active.length;
    } else if (al.length) {
      e.badge.hidden = false;
      e.badge.className = 'ab latched';
      e.badge.textContent = 'L' + al.length;
    } else {
      e.badge.hidden = true;
    }
    const faults = Array.isArray(rk.faults) && rk.faults.length ? `; faults: ${rk.faults.join(', ')}` : '';
    const sohT = num(rk.soh) === null ? '' : `SoH ${fmt(num(rk.soh), 1)} %; `;
    const t = `Rack ${rk.rack}: contactor ${open ? 'OPEN' : 'closed'}; SoC ${fmt(num(rk.soc), 1)} %; ${sohT}` +
      `${active.length} active, ${al.length} active or latched alarms${faults}`;
    e.box.title = t;
    e.box.setAttribute('aria-label', t);
  }
}

export function gridKeys(ev) {
  const b = ev.target.closest('.tile');
  if (!b || !S.topo) return;
  let r = +b.dataset.rack, m = +b.dataset.module;
  switch (ev.key) {
    case 'ArrowUp': m--; break;
    case 'ArrowDown': m++; break;
    case 'ArrowLeft': r--; break;
    case 'ArrowRight': r++; break;
    case 'Home': m = 0; break;
    case 'End': m = S.topo.modules_per_rack - 1; break;
    case 'PageUp': r -= 10; break;
    case 'PageDown': r += 10; break;
    default: return;
  }
  ev.preventDefault();
  r = Math.min(Math.max(0, r), S.topo.racks - 1);
  m = Math.min(Math.max(0, m), S.topo.modules_per_rack - 1);
  for (const row of tiles) for (const t of row) t.tabIndex = -1;
  tiles[r][m].tabIndex = 0;
  tiles[r][m].focus();
}
