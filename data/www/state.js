/* state.js: The dashboard's shared state and constants. */

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
/* Heatmap quantities: per-module means from the overview (overview.c). */
export const METRICS = {
  soc: { label: 'Mean SoC', unit: '%', digits: 1 },
  voltage: { label: 'Mean cell voltage', unit: 'V', digits: 3 },
  temperature: { label: 'Mean temperature', unit: '°C', digits: 1 },
};
export const TOKEN_KEY = 'batsim.token';


/* ---------- state ---------- */

export const S = {
  siteName: '',
  topo: null,           /* {racks, modules_per_rack, cells_per_module} */
  generation: null,
  summary: null,
  lastTick: -1,
  lastNewAt: 0,         /* Date.now() when the tick last advanced (or a paused tick was republished) */
  lastWall: 0,          /* wall_time_ns of the newest publication shown */
  periodMs: 500,        /* expected time between summary events */
  serverStale: false,
  staleReason: '',
  sel: { rack: 0, module: 0 },
  metric: 'soc',
  scale: 'absolute',    /* heatmap colour scale: absolute (with bands) or relative */
  ov: null,             /* decoded overview: per-module Float32Arrays, racks */
  alarmList: [],        /* alarms of the last overview, each with its rack */
  bench: {},            /* timings read by the browser test */
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
