/* header.js: The header: site figures, data age, stale banner. */
import { $, setText } from './dom.js';
import { fmt, fmtDuration, fmtEnergy, fmtPower, num } from './format.js';
import { S, TIER_RANK } from './state.js';
import { groupAlarms } from './alarms.js';

/* ---------- header, banner, staleness ---------- */

export function isStale() {
  if (S.serverStale) return true;
  if (!S.lastNewAt) return false;
  return Date.now() - S.lastNewAt > staleAfterMs();
}
export function staleAfterMs() {
  return Math.max(3000, 6 * S.periodMs);
}

export function renderHeader() {
  const s = S.summary;
  if (!s) return;
  const site = s.site || {};
  setText('k-power', fmtPower(num(site.power)));
  setText('k-current', fmt(num(site.current), 1) + ' A');
  setText('k-voltage', fmt(num(site.voltage), 1) + ' V');
  setText('k-soc', fmt(num(site.soc), 1) + ' %');
  /* state of health (absent from a writer that does not publish it) */
  const soh = num(site.soh), sohMin = site.soh_min ? num(site.soh_min.value) : null;
  setText('k-soh', soh === null ? '—' : fmt(soh, 1) + ' %' + (sohMin === null ? '' : ` (${fmt(sohMin, 1)})`));
  const kSoh = document.getElementById('k-soh');
  if (kSoh && site.soh_min) {
    kSoh.title = `state of health, mean (lowest cell: rack ${site.soh_min.rack}, module ${site.soh_min.module}, cell ${site.soh_min.cell}); ` +
      `${fmt(num(site.equivalent_cycles), 1)} equivalent full cycles`;
  }
  const mode = site.mode === 'current' || site.mode === 1 ? 'current' : 'power';
  setText('k-setpoint', num(site.setpoint) === null ? '—' :
    (mode === 'current' ? fmt(site.setpoint, 1) + ' A' : fmtPower(site.setpoint)) +
    (site.profile && site.profile !== 'none' ? ` (${site.profile})` : ''));
  setText('k-ambient', num(site.ambient) === null ? '—' : fmt(site.ambient, 1) + ' °C');
  /* one per alarm (rack and kind, at its highest tier), like the alarm
   * table; the overview lists at most 200 (tier, kind) entries and counts
   * the rest */
  const rk = s.racks && !Array.isArray(s.racks) ? s.racks : {};
  const groups = groupAlarms(S.alarmList);
  let nAct = 0, nLat = 0, worst = 0;
  for (const g of groups) {
    if (g.active) { nAct++; worst = Math.max(worst, TIER_RANK[g.activeTier] || 0); } else nLat++;
  }
  const more = num(rk.alarms_total) !== null && rk.alarms_total > S.alarmList.length;
  setText('k-alarms', `${nAct}${more ? '+' : ''} active` + (nLat ? `, ${nLat} latched` : ''),
    worst >= 2 ? 'bad' : worst === 1 ? 'warn' : '');
  renderClock(site);
  renderSiteName(s.site_name);
  setText('k-tick', String(s.tick));
  setText('k-time', fmtDuration(num(s.time_s)));
  const backend = s.backend || (S.info && S.info.backend);
  setText('k-backend', backend || '—');
  renderModbus(s.modbus);
  const p = $('k-power');
  p.title = `+ discharge, − charge; energy out ${fmtEnergy(num(site.energy_out_wh))}, in ${fmtEnergy(num(site.energy_in_wh))}`;
}

/* The simulated clock: paused or running, and its speed (site.paused,
 * site.speed; absent from an older batsim-httpd). */
function renderClock(site) {
  const e = $('k-run');
  if (typeof site.paused !== 'boolean' && num(site.speed) === null) { setText('k-run', '—', ''); return; }
  const sp = num(site.speed);
  const speed = sp === null ? '' : sp === 0 ? ' · max speed' : ` · ×${+sp.toPrecision(4)}`;
  setText('k-run', (site.paused ? 'PAUSED' : 'running') + speed, site.paused ? 'warn' : '');
  e.title = site.paused ? 'the simulated clock is paused (Controls: Resume)' :
    sp === 0 ? 'running as fast as the machine allows' : `running at ${sp} simulated seconds per second`;
}

/* The site's name (summary.site_name, from batsim.conf) in the header and
 * the tab title, so that several sites' tabs can be told apart. */
function renderSiteName(name) {
  const n = typeof name === 'string' ? name : '';
  if (n === S.siteName) return;
  S.siteName = n;
  setText('site-name', n);
  document.title = n ? `${n} · batsim dashboard` : 'batsim dashboard';
}

/* batsim-modbusd as batsimd publishes it (/summary "modbus"): off when
 * it has not reported for 3 s, else its client count, and the protocol
 * faults a test engineer has set (they make the device misbehave). */
export function renderModbus(m) {
  if (!m || typeof m !== 'object') { setText('k-modbus', '—'); return; }
  const faults = Array.isArray(m.faults) ? m.faults : [];
  let text = !m.alive ? 'off' : m.clients > 0 ?
    `${m.clients} client${m.clients === 1 ? '' : 's'}` : 'no client';
  if (faults.length) text += ` · faults: ${faults.join(', ')}`;
  setText('k-modbus', text, faults.length ? 'warn' : '');
  $('k-modbus').title = !m.alive ? 'batsim-modbusd is not running (no report to batsimd for 3 s)' :
    `batsim-modbusd: ${m.clients} Modbus client(s) connected, ${m.requests} requests served` +
    (faults.length ? `; protocol faults active: ${faults.join(', ')} (batsimctl modbus-fault list)` : '');
}

export function renderAge() {
  if (!S.lastNewAt) { setText('k-age', '—'); return; }
  const age = (Date.now() - S.lastNewAt) / 1000;
  const stale = isStale();
  setText('k-age', age < 10 ? age.toFixed(1) + ' s' : fmtDuration(age), stale ? 'bad' : age > 2 * S.periodMs / 1000 + 0.5 ? 'warn' : '');
  renderBanner();
}

export function renderBanner() {
  const b = $('banner');
  let text = '';
  if (S.serverStale) {
    let why = S.staleReason || 'the simulator is not publishing (batsimd stopped?)';
    if (!/[.!?]$/.test(why)) why += '.';
    text = `STALE DATA: ${why} Values below are the last ones received, not live.`;
  } else if (S.lastNewAt && isStale()) {
    text = `NO NEW DATA for ${fmtDuration((Date.now() - S.lastNewAt) / 1000)}: the simulator or batsim-httpd is not updating. Values below are not live.`;
  } else if (!S.summary && S.connError) {
    text = S.connError;
  }
  b.hidden = !text;
  if (b.textContent !== text) b.textContent = text;
  document.body.classList.toggle('is-stale', !!text);
  const c = $('conn');
  const state = text ? (S.summary ? 'stale' : 'down') : (S.esState || 'connecting');
  if (c.dataset.state !== state) {
    c.dataset.state = state;
    c.textContent = { live: 'live', stale: 'stale', down: 'no data', connecting: 'connecting…', reconnecting: 'reconnecting…' }[state];
  }
}
