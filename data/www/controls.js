/* controls.js: Controls: POST /control/... with the token. */
import { $, el, setText } from './dom.js';
import { fmt, fmtPower, num } from './format.js';
import { S, TOKEN_KEY } from './state.js';

/* ---------- controls ---------- */

export function getToken() {
  try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; }
}
export function setToken(t) {
  try {
    if (t) sessionStorage.setItem(TOKEN_KEY, t);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch (e) { /* storage disabled: ask each time */ }
  renderTokenState();
}
export function renderTokenState() {
  const has = !!getToken();
  setText('token-state', has ? 'token set for this tab' : 'controls ask for the token once');
  $('token-forget').hidden = !has;
}
export function askToken() {
  const d = $('token-dialog');
  const input = $('token-input');
  input.value = '';
  return new Promise((resolve) => {
    const done = () => {
      d.removeEventListener('close', done);
      const t = d.returnValue === 'ok' ? input.value.trim() : '';
      if (t) setToken(t);
      resolve(t);
    };
    d.addEventListener('close', done);
    d.returnValue = '';
    d.showModal();
    input.focus();
  });
}

export function showMsg(msgEl, ok, text) {
  msgEl.className = 'msg ' + (ok ? 'ok' : 'err');
  msgEl.textContent = text;
}

/* POST /control/<path> with the token; resolves to true on success and
 * shows the server's answer (or error) in msgEl. */
export async function control(path, body, msgEl, okText, opts404) {
  let tok = getToken();
  if (!tok) tok = await askToken();
  if (!tok) {
    showMsg(msgEl, false, 'No token given: controls need the token from batsim-httpd\'s token file.');
    return false;
  }
  showMsg(msgEl, true, 'sending…');
  let r, j = null;
  try {
    r = await fetch('control/' + path, {
      method: 'POST',
      cache: 'no-store',
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + tok },
      body: JSON.stringify(body),
    });
  } catch (e) {
    showMsg(msgEl, false, `Cannot reach batsim-httpd (${e.message}); nothing was changed.`);
    return false;
  }
  try { j = await r.json(); } catch (e) { j = null; }
  if (r.status === 404 && opts404) {
    showMsg(msgEl, false, opts404);
    return false;
  }
  if (!r.ok || (j && j.ok === false)) {
    const why = j && j.error ? j.error : r.statusText || 'request failed';
    let hint = '';
    if (r.status === 401) {
      setToken('');
      hint = ' The token was rejected and forgotten; the next control action asks again.';
    }
    showMsg(msgEl, false, `Refused (HTTP ${r.status}): ${why}.${hint}`);
    return false;
  }
  showMsg(msgEl, true, okText || 'Done.');
  refreshControlState();
  return true;
}

export async function refreshControlState() {
  const tok = getToken();
  if (!tok) return;
  try {
    const r = await fetch('control', { cache: 'no-store', headers: { Authorization: 'Bearer ' + tok } });
    const j = await r.json().catch(() => null);
    if (!r.ok || !j) return;
    S.controlState = j;
    renderControlState();
  } catch (e) { /* shown by the next control action */ }
}
export function renderControlState() {
  const j = S.controlState;
  if (!j) return;
  const parts = [];
  if (j.mode) parts.push(`mode ${j.mode}` + (num(j.setpoint) !== null ? ` at ${j.mode === 'current' ? fmt(j.setpoint, 1) + ' A' : fmtPower(j.setpoint)}` : ''));
  if (num(j.ambient_c) !== null) parts.push(`ambient ${fmt(j.ambient_c, 1)} °C`);
  if (j.profile) parts.push(`profile ${typeof j.profile === 'object' ? j.profile.name || 'none' : j.profile}`);
  setText('ctl-state', 'Simulator: ' + parts.join(', '));
  const fl = $('faults-list');
  const faults = Array.isArray(j.faults) ? j.faults : [];
  if (!faults.length) { fl.replaceChildren(el('p', { class: 'muted', text: 'No faults injected.' })); return; }
  const ul = el('ul');
  for (const f of faults) {
    const loc = [`rack ${f.rack}`];
    if (typeof f.module === 'number') loc.push(`module ${f.module}`);
    if (typeof f.cell === 'number') loc.push(`cell ${f.cell}`);
    const clear = el('button', {
      type: 'button', text: 'clear', 'data-needs-token': '',
      onclick: () => {
        const body = { action: 'clear', type: f.type, rack: f.rack };
        if (typeof f.module === 'number') body.module = f.module;
        if (typeof f.cell === 'number') body.cell = f.cell;
        if (f.quantity) body.quantity = f.quantity;
        control('fault', body, $('f-fault').querySelector('.msg'), `Cleared ${f.type} at ${loc.join(' · ')}.`);
      },
    });
    ul.append(el('li', null, `${f.type} at ${loc.join(' · ')}` + (num(f.value) !== null ? ` (value ${f.value})` : '') + ' ', clear));
  }
  fl.replaceChildren(el('h3', { text: 'Injected faults' }), ul);
}

let formsPrefilled = false;
export function prefillForms() {
  if (formsPrefilled || !S.summary) return;
  formsPrefilled = true;
  const site = S.summary.site || {};
  const f = $('f-setpoint');
  const mode = site.mode === 'current' || site.mode === 1 ? 'current' : 'power';
  f.mode.value = mode;
  if (num(site.setpoint) !== null && f.value.value === '') f.value.value = mode === 'power' ? +(site.setpoint / 1000).toFixed(3) : +site.setpoint.toFixed(3);
  const a = $('f-ambient');
  if (num(site.ambient) !== null && a.value.value === '') a.value.value = +site.ambient.toFixed(1);
  if (num(site.speed) !== null) $('f-clock').speed.value = +site.speed.toPrecision(6);
  faultFromSelection();
}
export function faultFromSelection() {
  const f = $('f-fault');
  f.rack.value = S.sel.rack;
  f.module.value = S.sel.module;
  if (f.cell.value === '') f.cell.value = 0;
}
export function faultTypeChanged() {
  const f = $('f-fault');
  const o = f.type.selectedOptions[0];
  const cellLoc = o.dataset.loc === 'cell';
  for (const l of f.querySelectorAll('.cell-loc')) l.hidden = !cellLoc;
  const sensor = /^sensor_/.test(f.type.value);
  for (const l of f.querySelectorAll('.sensor-only')) l.hidden = !sensor;
  const needsValue = o.dataset.unit !== 'none' && o.dataset.unit !== 'ignored';
  f.querySelector('.val').hidden = !needsValue;
  f.value.value = o.dataset.def;
  $('fault-unit').textContent = needsValue ? 'value: ' + o.dataset.unit : '';
}

export function intField(input, what) {
  const v = input.value.trim();
  if (!/^\d+$/.test(v)) throw new Error(`${what} must be a whole number (0 or more).`);
  const n = parseInt(v, 10);
  if (input.max !== '' && n > +input.max) throw new Error(`${what} ${n} is out of range: 0 to ${input.max}.`);
  return n;
}
export function numField(input, what) {
  const v = parseFloat(input.value);
  if (!isFinite(v)) throw new Error(`${what} must be a number.`);
  return v;
}

export function wireControls() {
  $('f-setpoint').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = ev.target, msg = f.querySelector('.msg');
    try {
      const mode = f.mode.value;
      const v = numField(f.value, 'Setpoint');
      const value = mode === 'power' ? v * 1000 : v;
      control('setpoint', { mode, value }, msg, `Setpoint ${mode === 'power' ? fmtPower(value) : value + ' A'} applied.`);
    } catch (e) { showMsg(msg, false, e.message); }
  });
  $('f-profile').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = ev.target, msg = f.querySelector('.msg');
    const body = { name: f.name.value };
    try {
      if (body.name === 'csv') {
        if (!f.path.value.trim()) throw new Error('A CSV profile needs the path of a time_s,power_w file on the server.');
        body.path = f.path.value.trim();
        body.loop = f.loop.checked;
        body.scale = numField(f.scale, 'Scale');
      }
      control('profile', body, msg, `Profile ${body.name} applied.`);
    } catch (e) { showMsg(msg, false, e.message); }
  });
  const prof = $('f-profile').name;
  const csvToggle = () => { for (const l of $('f-profile').querySelectorAll('.csv-only')) l.hidden = prof.value !== 'csv'; };
  prof.addEventListener('change', csvToggle);
  csvToggle();
  $('f-ambient').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = ev.target, msg = f.querySelector('.msg');
    try {
      const value = numField(f.value, 'Ambient temperature');
      control('ambient', { value }, msg, `Ambient ${value} °C applied.`);
    } catch (e) { showMsg(msg, false, e.message); }
  });
  $('f-fault').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = ev.target, msg = f.querySelector('.msg');
    const action = ev.submitter && ev.submitter.value === 'clear' ? 'clear' : 'inject';
    const o = f.type.selectedOptions[0];
    try {
      const body = { action, type: f.type.value, rack: intField(f.rack, 'Rack') };
      if (o.dataset.loc === 'cell') {
        body.module = intField(f.module, 'Module');
        body.cell = intField(f.cell, 'Cell');
      }
      if (/^sensor_/.test(body.type)) body.quantity = f.quantity.value;
      if (action === 'inject' && !f.querySelector('.val').hidden) body.value = numField(f.value, 'Value');
      const where = `rack ${body.rack}` + (body.cell !== undefined ? ` · module ${body.module} · cell ${body.cell}` : '');
      control('fault', body, msg, `${action === 'inject' ? 'Injected' : 'Cleared'} ${body.type} at ${where}.`);
    } catch (e) { showMsg(msg, false, e.message); }
  });
  /* the simulated clock: POST /control/pause, /control/resume,
   * /control/speed {"speed"}; a batsim-httpd without them answers 404 */
  const clockMsg = $('f-clock').querySelector('.msg');
  const old = (what) => `This batsim-httpd has no /control/${what} (it is older than this dashboard): use batsimctl, or update batsim-httpd.`;
  $('clock-pause').addEventListener('click', () => control('pause', {}, clockMsg, 'Simulated clock paused.', old('pause')));
  $('clock-resume').addEventListener('click', () => control('resume', {}, clockMsg, 'Simulated clock resumed.', old('resume')));
  $('f-clock').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = ev.target;
    try {
      const speed = numField(f.speed, 'Speed');
      if (speed < 0) throw new Error('Speed must be 0 (as fast as possible) or more.');
      control('speed', { speed }, clockMsg, speed === 0 ? 'Speed: as fast as possible.' : `Speed ×${speed} applied.`, old('speed'));
    } catch (e) { showMsg(clockMsg, false, e.message); }
  });
  $('f-fault').type.addEventListener('change', faultTypeChanged);
  faultTypeChanged();
  /* no location: every fault of the site (with "rack" batsimd would
   * clear only that rack's) */
  $('fault-clear-all').addEventListener('click', () => {
    control('fault', { action: 'clear', type: 'all' }, $('f-fault').querySelector('.msg'), 'All faults cleared.');
  });
  $('fault-here').addEventListener('click', faultFromSelection);
  $('reset-all').addEventListener('click', () => control('alarms/reset', {}, $('alarms-msg'), 'Latched alarms reset (those whose condition still holds stay active).'));
  $('reset-rack').addEventListener('click', () => control('alarms/reset', { rack: S.sel.rack }, $('alarms-msg'), `Latched alarms of rack ${S.sel.rack} reset.`));
  $('token-forget').addEventListener('click', () => { setToken(''); S.controlState = null; });
  renderTokenState();
}
