/* alarms.js: The alarms panel. */
import { select } from './app.js';
import { $, el, setText } from './dom.js';
import { fmtDuration, num } from './format.js';
import { KIND_LABEL, S, TIER_RANK } from './state.js';

/* ---------- alarms ---------- */

export function renderAlarms() {
  const s = S.summary;
  const list = [];
  if (s && Array.isArray(s.racks)) for (const rk of s.racks) {
    if (Array.isArray(rk.alarms)) for (const a of rk.alarms) list.push(Object.assign({ rack: rk.rack }, a));
  }
  list.sort((a, b) => (b.active - a.active) || ((TIER_RANK[b.tier] || 0) - (TIER_RANK[a.tier] || 0)) ||
    ((num(b.time_s) || 0) - (num(a.time_s) || 0)) || (a.rack - b.rack));
  const sig = JSON.stringify(list);
  if (sig === S.alarmSig) return;
  S.alarmSig = sig;
  const nAct = list.filter((a) => a.active).length;
  setText('alarm-count', `${nAct} active, ${list.length - nAct} latched only`);
  $('alarms-empty').hidden = list.length > 0;
  $('alarm-table').hidden = list.length === 0;
  const tb = $('alarm-table').tBodies[0];
  tb.replaceChildren();
  for (const a of list) {
    const loc = [`rack ${a.rack}`], short = [`R${a.rack}`];
    if (typeof a.module === 'number') { loc.push(`module ${a.module}`); short.push(`M${a.module}`); }
    if (typeof a.cell === 'number') { loc.push(`cell ${a.cell}`); short.push(`C${a.cell}`); }
    const state = a.active ? (a.latched ? 'active, latched' : 'active') : 'latched (cleared)';
    const go = el('button', {
      type: 'button', class: 'linkish', text: short.join(' '),
      title: `Show ${loc.join(' · ')}`, 'aria-label': `${loc.join(', ')}: show this module`,
      onclick: () => select(a.rack, typeof a.module === 'number' ? a.module : S.sel.module),
    });
    tb.append(el('tr', { class: a.active ? 'active' : 'inactive' },
      el('td', null, el('span', { class: 'sev ' + a.tier, text: a.tier })),
      el('td', { text: KIND_LABEL[a.kind] || a.kind }),
      el('td', { text: state }),
      el('td', null, go),
      el('td', { text: num(a.time_s) === null ? '—' : fmtDuration(a.time_s) })));
  }
}
