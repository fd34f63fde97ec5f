/* state.js: The dashboard's shared state and constants. */
import { ext, num } from './format.js';

/* ---------- constants ---------- */

export const TIER_RANK = { protection: 3, alarm: 2, warning: 1 };
export const KIND_LABEL = {
  cell_ov: 'Cell over-voltage',
  cell_uv: 'Cell under-voltage',
  cell_ot: 'Cell over-temperature',
  cell_ut: 'Cell under-temperature',
  v_spread: 'Cell voltage spread',
  t_spread: 'Temperature spread',
  soc_high: 'SoC high',
  soc_low: 'SoC low',
};
export const METRICS = {
  soc: { label: 'SoC', unit: '%', digits: 1, get: (m) => num(m.soc) },
  vmax: { label: 'Max cell voltage', unit: 'V', digits: 3, get: (m) => ext(m.cell_voltage_max) },
  vmin: { label: 'Min cell voltage', unit: 'V', digits: 3, get: (m) => ext(m.cell_voltage_min) },
  tmax: { label: 'Max temperature', unit: '°C', digits: 1, get: (m) => ext(m.temperature_max) },
  /* lowest cell SoH of the module (absent from an older simulator) */
  soh: { label: 'Min SoH', unit: '%', digits: 1, get: (m) => ext(m.soh_min) },
};
export const TOKEN_KEY = 'batsim.token';


/* ---------- state ---------- */

export const S = {
  topo: null,           /* {racks, modules_per_rack, cells_per_module} */
  generation: null,
  summary: null,
  lastTick: -1,
  lastNewAt: 0,         /* Date.now() when the tick last advanced */
  periodMs: 500,        /* expected time between summary events */
  serverStale: false,
  staleReason: '',
  sel: { rack: 0, module: 0 },
  metric: 'soc',
  modAgg: [],           /* [rack] -> array of module aggregates */
  moduleData: null,
  es: null,
  esRetryMs: 1000,
  esTimer: 0,
  info: null,           /* /healthz answer */
  charts: {},
  trend: { site: [], rack: [], rackId: -1, windowS: 600 },
  alarmSig: '',
  controlState: null,
};
