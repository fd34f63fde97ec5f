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
/* Power in kW (one decimal) or MW (two): the same precision at rest as
 * in use ("0.0 kW" beside "0.0 A"), never "-0". */
export function fmtPower(w) {
  if (num(w) === null) return '—';
  if (Math.abs(w) >= 1e6) return fmt(w / 1e6, 2) + ' MW';
  return fmt(w / 1e3, 1) + ' kW';
}
export function fmtEnergy(wh) {
  if (num(wh) === null) return '—';
  if (Math.abs(wh) >= 1e6) return fmt(wh / 1e6, 2) + ' MWh';
  return fmt(wh / 1e3, 1) + ' kWh';
}
/* A tick step of 1, 2 or 5 times a power of ten that cuts [lo, hi] into
 * at most n steps, and the range widened to whole steps. */
export function niceRange(lo, hi, n) {
  if (!(hi > lo)) { const d = Math.abs(lo) * 0.01 || 1; lo -= d; hi += d; }
  const raw = (hi - lo) / (n || 5);
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((k) => k * p).find((s) => s >= raw * (1 - 1e-9));
  const min = Math.floor(lo / step + 1e-9) * step, max = Math.ceil(hi / step - 1e-9) * step;
  return { min: +min.toPrecision(12), max: +max.toPrecision(12), step: +step.toPrecision(12) };
}
/* Set a Chart.js linear axis to [lo, hi] widened to nice round ticks. */
export function niceAxis(axis, lo, hi, n) {
  const r = niceRange(lo, hi, n);
  axis.min = r.min;
  axis.max = r.max;
  axis.ticks = Object.assign(axis.ticks || {}, { stepSize: r.step });
}
/* Let Chart.js choose (it picks nice steps itself). */
export function autoAxis(axis) {
  delete axis.min;
  delete axis.max;
  if (axis.ticks) delete axis.ticks.stepSize;
}
export function fmtDuration(s) {
  if (num(s) === null) return '—';
  s = Math.max(0, s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
  const mm = String(m).padStart(2, '0'), ss = String(sec).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${m}:${ss}`;
}
