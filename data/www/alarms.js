/* alarms.js: the alarms panel, one row per alarm.
 *
 * The segment keeps, per rack and alarm kind, one bit per tier (warning,
 * alarm, protection) and one location and time (the cell that first
 * raised the kind).  So one alarm is a (rack, kind): its row shows the
 * highest tier it reached (active first), and its history: each tier it
 * reached and whether that tier is still active or only latched. */
import { select } from './app.js';
import { $, el, setText } from './dom.js';
import { fmtDuration, num } from './format.js';
import { KIND_LABEL, S, TIER_RANK } from './state.js';

const TIERS = ['warning', 'alarm', 'protection'];

/* [{rack, kind, module, cell, time_s, tier (highest reached), activeTier
 * (highest active, '' if none), active, tiers: {tier: 'active'|'latched'}}] */
export function groupAlarms(list) {
  const by = new Map();
  for (const a of Array.isArray(list) ? list : []) {
    const key = a.rack + '/' + a.kind;
    let g = by.get(key);
    if (!g) {
      g = { rack: a.rack, kind: a.kind, module: a.module, cell: a.cell, time_s: a.time_s, tier: '', activeTier: '', active: false, tiers: {} };
      by.set(key, g);
    }
    g.tiers[a.tier] = a.active ? (a.latched ? 'active, latched' : 'active') : 'latched';
    if ((TIER_RANK[a.tier] || 0) > (TIER_RANK[g.tier] || 0)) g.tier = a.tier;
    if (a.active) {
      g.active = true;
      if ((TIER_RANK[a.tier] || 0) > (TIER_RANK[g.activeTier] || 0)) g.activeTier = a.tier;
    }
  }
  return [...by.values()];
}

export function renderAlarms() {
  const list = groupAlarms(S.alarmList);
  list.sort((a, b) => (b.active - a.active) || ((TIER_RANK[b.tier] || 0) - (TIER_RANK[a.tier] || 0)) ||
    ((num(b.time_s) || 0) - (num(a.time_s) || 0)) || (a.rack - b.rack));
  const rk = S.summary && S.summary.racks && !Array.isArray(S.summary.racks) ? S.summary.racks : {};
  const sig = JSON.stringify(list) + rk.alarms_total;
  if (sig === S.alarmSig) return;
  S.alarmSig = sig;
  const nAct = list.filter((a) => a.active).length;
  const more = num(rk.alarms_total) !== null && rk.alarms_total > S.alarmList.length;
  setText('alarm-count', `${nAct} active, ${list.length - nAct} latched only` +
    (more ? ` (the first ${list.length}; GET /summary lists them all)` : ''));
  $('alarms-empty').hidden = list.length > 0;
  $('alarm-table').hidden = list.length === 0;
  const tb = $('alarm-table').tBodies[0];
  tb.replaceChildren();
  for (const a of list) {
    const loc = [`rack ${a.rack}`], short = [`R${a.rack}`];
    if (typeof a.module === 'number') { loc.push(`module ${a.module}`); short.push(`M${a.module}`); }
    if (typeof a.cell === 'number') { loc.push(`cell ${a.cell}`); short.push(`C${a.cell}`); }
    const history = TIERS.filter((t) => a.tiers[t]).map((t) => `${t} ${a.tiers[t]}`).join(' → ');
    const go = el('button', {
      type: 'button', class: 'linkish', text: short.join(' '),
      title: `Show ${loc.join(' · ')}`, 'aria-label': `${loc.join(', ')}: show this module`,
      onclick: () => select(a.rack, typeof a.module === 'number' ? a.module : S.sel.module),
    });
    tb.append(el('tr', { class: a.active ? 'active' : 'inactive', 'data-rack': a.rack, 'data-kind': a.kind },
      el('td', null, el('span', { class: 'sev ' + a.tier, text: a.tier })),
      el('td', { text: KIND_LABEL[a.kind] || a.kind }),
      el('td', { text: history }),
      el('td', null, go),
      el('td', { text: num(a.time_s) === null ? '—' : fmtDuration(a.time_s) })));
  }
}
