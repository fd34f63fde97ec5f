/* format.js: Number and time formatting (no "-0", one precision per quantity). */

/* ---------- helpers ---------- */

export function num(v) {
  return typeof v === 'number' && isFinite(v) ? v : null;
}
/* An extreme is {"value","module","cell"}; accept a bare number too. */
export function ext(x) {
  if (x && typeof x === 'object') return num(x.value);
  return num(x);
}
export function fmt(v, digits) {
  if (v === null || v === undefined || !isFinite(v)) return '—';
  const t = Number(v).toFixed(digits);
  return /^-0(\.0*)?$/.test(t) ? t.slice(1) : t; /* no "-0.0" */
}
export function fmtPower(w) {
  if (num(w) === null) return '—';
  const a = Math.abs(w);
  if (a >= 1e6) return (w / 1e6).toFixed(2) + ' MW';
  if (a >= 1e3) return (w / 1e3).toFixed(1) + ' kW';
  return w.toFixed(0) + ' W';
}
export function fmtEnergy(wh) {
  if (num(wh) === null) return '—';
  const a = Math.abs(wh);
  if (a >= 1e6) return (wh / 1e6).toFixed(2) + ' MWh';
  if (a >= 1e3) return (wh / 1e3).toFixed(1) + ' kWh';
  return wh.toFixed(0) + ' Wh';
}
export function fmtDuration(s) {
  if (num(s) === null) return '—';
  s = Math.max(0, s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
  const mm = String(m).padStart(2, '0'), ss = String(sec).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${m}:${ss}`;
}
