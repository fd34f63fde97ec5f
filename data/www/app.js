/*
 * batsim dashboard (served by batsim-httpd from data/www).
 *
 * Data flow: one EventSource on /updates carries both the `summary` events
 * (site and rack aggregates) and the `module` events of the selected module;
 * changing the selection reopens that one stream with the new rack/module.
 * The stream asks for `modules=1`, so every summary event also carries the
 * per-module aggregates that colour the overview grid (one cached JSON per
 * tick on the server, instead of one request per rack).  Trends start
 * from /history and are continued from the summary events.  Controls POST
 * to /control/... with the token kept in sessionStorage.
 *
 * Everything is same-origin and relative to the page, so the dashboard also
 * works behind a reverse proxy under a path prefix.  No build step.
 */
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);

  /* ---------- constants ---------- */

  const TIER_RANK = { protection: 3, alarm: 2, warning: 1 };
  const KIND_LABEL = {
    cell_ov: 'Cell over-voltage',
    cell_uv: 'Cell under-voltage',
    cell_ot: 'Cell over-temperature',
    cell_ut: 'Cell under-temperature',
    v_spread: 'Cell voltage spread',
    t_spread: 'Temperature spread',
    soc_high: 'SoC high',
    soc_low: 'SoC low',
  };
  const METRICS = {
    soc: { label: 'SoC', unit: '%', digits: 1, get: (m) => num(m.soc) },
    vmax: { label: 'Max cell voltage', unit: 'V', digits: 3, get: (m) => ext(m.cell_voltage_max) },
    vmin: { label: 'Min cell voltage', unit: 'V', digits: 3, get: (m) => ext(m.cell_voltage_min) },
    tmax: { label: 'Max temperature', unit: '°C', digits: 1, get: (m) => ext(m.temperature_max) },
    /* lowest cell SoH of the module (absent from an older simulator) */
    soh: { label: 'Min SoH', unit: '%', digits: 1, get: (m) => ext(m.soh_min) },
  };
  const TOKEN_KEY = 'batsim.token';

  /* ---------- state ---------- */

  const S = {
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

  /* ---------- helpers ---------- */

  function num(v) {
    return typeof v === 'number' && isFinite(v) ? v : null;
  }
  /* An extreme is {"value","module","cell"}; accept a bare number too. */
  function ext(x) {
    if (x && typeof x === 'object') return num(x.value);
    return num(x);
  }
  function fmt(v, digits) {
    if (v === null || v === undefined || !isFinite(v)) return '—';
    const t = Number(v).toFixed(digits);
    return /^-0(\.0*)?$/.test(t) ? t.slice(1) : t; /* no "-0.0" */
  }
  function fmtPower(w) {
    if (num(w) === null) return '—';
    const a = Math.abs(w);
    if (a >= 1e6) return (w / 1e6).toFixed(2) + ' MW';
    if (a >= 1e3) return (w / 1e3).toFixed(1) + ' kW';
    return w.toFixed(0) + ' W';
  }
  function fmtEnergy(wh) {
    if (num(wh) === null) return '—';
    const a = Math.abs(wh);
    if (a >= 1e6) return (wh / 1e6).toFixed(2) + ' MWh';
    if (a >= 1e3) return (wh / 1e3).toFixed(1) + ' kWh';
    return wh.toFixed(0) + ' Wh';
  }
  function fmtDuration(s) {
    if (num(s) === null) return '—';
    s = Math.max(0, s);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
    const mm = String(m).padStart(2, '0'), ss = String(sec).padStart(2, '0');
    return h > 0 ? `${h}:${mm}:${ss}` : `${m}:${ss}`;
  }
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    if (attrs) for (const k in attrs) {
      if (k === 'class') e.className = attrs[k];
      else if (k === 'text') e.textContent = attrs[k];
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), attrs[k]);
      else e.setAttribute(k, attrs[k]);
    }
    for (const k of kids) if (k !== null && k !== undefined) e.append(k);
    return e;
  }
  function setText(id, text, cls) {
    const e = $(id);
    if (e.textContent !== text) e.textContent = text;
    if (cls !== undefined) e.className = cls;
  }
  function footLog(text) {
    const e = $('foot-log');
    e.textContent = text ? new Date().toLocaleTimeString() + ' ' + text : '';
  }

  /* GET a JSON document; throws an Error whose message is the server's
   * {"error"} text with the status, so callers can show it. */
  async function getJSON(path) {
    let r;
    try {
      r = await fetch(path, { cache: 'no-store', headers: { Accept: 'application/json' } });
    } catch (e) {
      throw new Error(`cannot reach batsim-httpd (${e.message}): is it running?`);
    }
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (!r.ok) {
      const err = new Error(`${path}: ${body && body.error ? body.error : r.statusText} (HTTP ${r.status})`);
      err.status = r.status;
      err.body = body;
      throw err;
    }
    return body;
  }

  /* ---------- selection and URL ---------- */

  function readHash() {
    const p = new URLSearchParams(location.hash.replace(/^#/, ''));
    const r = parseInt(p.get('rack'), 10), m = parseInt(p.get('module'), 10);
    if (r >= 0) S.sel.rack = r;
    if (m >= 0) S.sel.module = m;
    if (METRICS[p.get('metric')]) S.metric = p.get('metric');
  }
  function writeHash() {
    const h = `#rack=${S.sel.rack}&module=${S.sel.module}&metric=${S.metric}`;
    if (location.hash !== h) history.replaceState(null, '', h);
  }
  function clampSel() {
    if (!S.topo) return;
    S.sel.rack = Math.min(Math.max(0, S.sel.rack), S.topo.racks - 1);
    S.sel.module = Math.min(Math.max(0, S.sel.module), S.topo.modules_per_rack - 1);
  }

  /* Select a module: grid, selectors, URL, stream, detail and trends follow. */
  function select(rack, module, opts) {
    const changedRack = rack !== S.sel.rack;
    const changed = changedRack || module !== S.sel.module;
    S.sel.rack = rack;
    S.sel.module = module;
    clampSel();
    writeHash();
    syncSelectors();
    markGridSelection();
    if (!changed && !(opts && opts.force)) return;
    S.moduleData = null;
    renderModule();
    loadModule();
    openStream();
    if (changedRack || (opts && opts.force)) loadHistory();
  }

  /* ---------- topology-dependent UI ---------- */

  function setTopology(t) {
    const same = S.topo && S.topo.racks === t.racks && S.topo.modules_per_rack === t.modules_per_rack &&
      S.topo.cells_per_module === t.cells_per_module;
    if (same) return;
    S.topo = t;
    S.modAgg = [];
    clampSel();
    const rs = $('sel-rack'), ms = $('sel-module');
    rs.replaceChildren();
    ms.replaceChildren();
    for (let r = 0; r < t.racks; r++) rs.append(el('option', { value: r, text: r }));
    for (let m = 0; m < t.modules_per_rack; m++) ms.append(el('option', { value: m, text: m }));
    const f = $('f-fault');
    f.rack.max = t.racks - 1;
    f.module.max = t.modules_per_rack - 1;
    f.cell.max = t.cells_per_module - 1;
    setText('foot-topo', `${t.racks} racks × ${t.modules_per_rack} modules × ${t.cells_per_module} cells` +
      (S.info && S.info.chemistry ? ` · ${S.info.chemistry}` : ''));
    buildGrid();
    syncSelectors();
    writeHash();
  }

  function syncSelectors() {
    $('sel-rack').value = String(S.sel.rack);
    $('sel-module').value = String(S.sel.module);
    setText('h-module', `Module ${S.sel.module} of rack ${S.sel.rack}`);
    setText('h-rack-trend', `Rack ${S.sel.rack}: min/max cell voltage and max temperature`);
  }

  /* ---------- overview grid ---------- */

  const tiles = [];   /* [rack][module] -> button */
  const rackEls = []; /* [rack] -> {box, ct, badge, soc} */

  function buildGrid() {
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

  function markGridSelection() {
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
  function domain(metric) {
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
  function colour(metric, v, dom) {
    let x = (v - dom[0]) / (dom[1] - dom[0]);
    x = Math.min(1, Math.max(0, x));
    /* SoC: red (0) -> amber -> green (1); others: blue (0) -> teal -> amber -> red (1) */
    const good = metric === 'soc' || metric === 'soh'; /* high is good */
    const hue = good ? 120 * x : 220 - 220 * x;
    const light = good ? 42 + 8 * Math.sin(Math.PI * x) : 48;
    return { bg: `hsl(${hue.toFixed(0)} 70% ${light.toFixed(0)}%)`, dark: hue > 200 || hue < 12 };
  }
  let gridDomain = null;
  function renderLegend() {
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
  function renderAllTiles() {
    gridDomain = domain(S.metric);
    renderLegend();
    for (let r = 0; r < tiles.length; r++) renderRackTiles(r);
  }
  function renderRackTiles(r) {
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
  function renderRackHeaders() {
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

  function gridKeys(ev) {
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

  /* ---------- header, banner, staleness ---------- */

  function isStale() {
    if (S.serverStale) return true;
    if (!S.lastNewAt) return false;
    return Date.now() - S.lastNewAt > staleAfterMs();
  }
  function staleAfterMs() {
    return Math.max(3000, 6 * S.periodMs);
  }

  function renderHeader() {
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
    /* counted from the racks' alarm lists, like the alarm table (the
     * site record counts racks per tier) */
    let nAct = 0, nLat = 0, worst = 0;
    for (const rk of Array.isArray(s.racks) ? s.racks : []) {
      for (const a of Array.isArray(rk.alarms) ? rk.alarms : []) {
        if (a.active) { nAct++; worst = Math.max(worst, TIER_RANK[a.tier] || 0); } else nLat++;
      }
    }
    setText('k-alarms', `${nAct} active` + (nLat ? `, ${nLat} latched` : ''),
      worst >= 2 ? 'bad' : worst === 1 ? 'warn' : '');
    setText('k-tick', String(s.tick));
    setText('k-time', fmtDuration(num(s.time_s)));
    const backend = s.backend || (S.info && S.info.backend);
    setText('k-backend', backend || '—');
    renderModbus(s.modbus);
    const p = $('k-power');
    p.title = `+ discharge, − charge; energy out ${fmtEnergy(num(site.energy_out_wh))}, in ${fmtEnergy(num(site.energy_in_wh))}`;
  }

  /* batsim-modbusd as batsimd publishes it (/summary "modbus"): off when
   * it has not reported for 3 s, else its client count, and the protocol
   * faults a test engineer has set (they make the device misbehave). */
  function renderModbus(m) {
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

  function renderAge() {
    if (!S.lastNewAt) { setText('k-age', '—'); return; }
    const age = (Date.now() - S.lastNewAt) / 1000;
    const stale = isStale();
    setText('k-age', age < 10 ? age.toFixed(1) + ' s' : fmtDuration(age), stale ? 'bad' : age > 2 * S.periodMs / 1000 + 0.5 ? 'warn' : '');
    renderBanner();
  }

  function renderBanner() {
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

  /* ---------- summary ---------- */

  function onSummary(s) {
    if (!s || typeof s !== 'object') return;
    const gen = s.generation !== undefined ? s.generation : null;
    if (gen !== null && S.generation !== null && gen !== S.generation) {
      /* the writer restarted: time and ticks start again */
      S.lastTick = -1;
      if (S.moduleData) S.moduleData.tick = -1;
      S.trend.site = [];
      S.trend.rack = [];
      refreshInfo();
      setTimeout(loadHistory, 100);
    } else if (typeof s.tick === 'number' && s.tick < S.lastTick) {
      return; /* older than what we show (a REST answer racing the stream) */
    }
    S.generation = gen;
    const wasStale = S.serverStale;
    S.serverStale = !!s.stale;
    if (S.serverStale && !wasStale) refreshInfo();
    if (typeof s.tick === 'number' && s.tick > S.lastTick) {
      if (!s.stale) S.lastNewAt = Date.now();
      S.lastTick = s.tick;
    }
    if (!S.serverStale) S.staleReason = '';
    S.summary = s;
    const t = s.topology || {};
    setTopology({
      racks: t.racks || (Array.isArray(s.racks) ? s.racks.length : 0),
      modules_per_rack: t.modules_per_rack || (S.topo ? S.topo.modules_per_rack : 1),
      cells_per_module: t.cells_per_module || (S.topo ? S.topo.cells_per_module : 1),
    });
    /* a summary that carries module aggregates spares the grid polling */
    let withModules = false;
    if (Array.isArray(s.racks)) {
      for (const rk of s.racks) {
        if (Array.isArray(rk.modules)) {
          S.modAgg[rk.rack] = rk.modules;
          withModules = true;
        }
      }
    }
    if (withModules) renderAllTiles();
    renderHeader();
    renderRackHeaders();
    renderAlarms();
    renderAge();
    appendTrend(s);
    prefillForms();
    if (wasStale && !S.serverStale) loadModule();
  }

  /* ---------- module detail ---------- */

  async function loadModule() {
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

  function onModule(j) {
    if (!j || j.rack !== S.sel.rack || j.module !== S.sel.module) return;
    if (S.moduleData && typeof j.tick === 'number' && j.tick < S.moduleData.tick) return;
    S.moduleData = j;
    renderModule();
  }

  /* Cells that raised an alarm of this kind in this module, from the rack's
   * alarm list (the BMS's own limits, so no thresholds are duplicated here). */
  function moduleAlarmCells() {
    const out = new Map(); /* cell -> worst tier */
    const s = S.summary;
    if (!s || !Array.isArray(s.racks)) return out;
    const rk = s.racks.find((x) => x.rack === S.sel.rack);
    if (!rk || !Array.isArray(rk.alarms)) return out;
    for (const a of rk.alarms) {
      if (!a.active || a.module !== S.sel.module || typeof a.cell !== 'number') continue;
      if (!/^cell_/.test(a.kind)) continue;
      const prev = out.get(a.cell);
      if (!prev || TIER_RANK[a.tier] > TIER_RANK[prev]) out.set(a.cell, a.tier);
    }
    return out;
  }

  function barColours(cells) {
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
  function tempPointStyle(cells) {
    const lim = limits();
    const st = cells.map((c) => cellLimitState(c, lim).t);
    return {
      colour: st.map((t) => (t ? LIMIT_COLOUR[t] : '#ff9f43')),
      radius: st.map((t) => (t ? 5 : 2)),
    };
  }

  const LIMIT_COLOUR = [null, '#e3b341', '#f85149']; /* near, beyond */
  const TIER_VALUES = (o) => {
    const w = num(o && o.warning), a = num(o && o.alarm), p = num(o && o.protection);
    return w === null && a === null && p === null ? null : { warning: w, alarm: a, protection: p };
  };

  /* Cell limits from summary.limits (batsim-httpd's configuration, which
   * says whether its chemistry is the writer's): the chemistry's voltage
   * window and the BMS tiers.  null when absent or for another chemistry,
   * since wrong limits would mark healthy cells. */
  function limits() {
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
  function cellLimitState(c, lim) {
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
  function renderLimitsNote() {
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

  function renderModule() {
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
  }

  function renderCellChart(cells) {
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
      ch.options.scales.yV.min = Math.floor((lo - pad) * 100) / 100;
      ch.options.scales.yV.max = Math.ceil((hi + pad) * 100) / 100;
    }
    const ts = temps.filter((v) => v !== null);
    if (ts.length) {
      const lo = Math.min(...ts), hi = Math.max(...ts);
      const pad = Math.max(1, (hi - lo) * 0.25);
      ch.options.scales.yT.min = Math.floor(lo - pad);
      ch.options.scales.yT.max = Math.ceil(hi + pad);
    }
    /* SoC on its own axis, zoomed to the cells' spread (at least 5 points
     * of percent) so that cell-to-cell differences show */
    const ss = socs.filter((v) => v !== null);
    if (ss.length) {
      const lo = Math.min(...ss), hi = Math.max(...ss);
      const pad = Math.max(2.5 - (hi - lo) / 2, (hi - lo) * 0.2);
      ch.options.scales.yS.min = Math.max(0, Math.floor(lo - pad));
      ch.options.scales.yS.max = Math.min(100, Math.ceil(hi + pad));
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

  function renderCellTable(cells) {
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

  /* ---------- trends ---------- */

  /* /history: {"interval_s","seconds","rack","samples":[{"time_s","power",
   * "soc",...,"rack":{"cell_voltage_min","cell_voltage_max",
   * "temperature_max",...}}]}.  Only the newest run of increasing time_s
   * is kept, in case the ring still holds samples of a previous writer. */
  function historySamples(j) {
    const all = j && Array.isArray(j.samples) ? j.samples : [];
    let i = all.length - 1;
    while (i > 0 && num(all[i - 1].time_s) !== null && all[i - 1].time_s < all[i].time_s) i--;
    return all.slice(Math.max(0, i));
  }
  function siteSample(time_s, site) {
    return { x: time_s, power: num(site.power), soc: num(site.soc) };
  }
  function rackSample(time_s, rk) {
    return {
      x: time_s,
      vmin: ext(rk.cell_voltage_min), vmax: ext(rk.cell_voltage_max),
      tmax: ext(rk.temperature_max),
    };
  }

  let historySeq = 0;
  async function loadHistory() {
    const seq = ++historySeq;
    const rack = S.sel.rack;
    try {
      const j = await getJSON(`history?seconds=${S.trend.windowS}&rack=${rack}`);
      if (seq !== historySeq) return;
      const samples = historySamples(j);
      S.trend.site = samples.map((p) => siteSample(num(p.time_s), p)).filter((p) => p.x !== null);
      S.trend.rack = samples.filter((p) => p.rack && typeof p.rack === 'object')
        .map((p) => rackSample(num(p.time_s), p.rack)).filter((p) => p.x !== null);
      S.trend.rackId = rack;
    } catch (e) {
      if (seq !== historySeq) return;
      S.trend.site = [];
      S.trend.rack = [];
      S.trend.rackId = rack;
      if (e.status === 503) markServerStale(e);
      else footLog(e.message);
    }
    renderTrends(true);
  }

  function appendTrend(s) {
    const t = num(s.time_s);
    if (t === null || s.stale) return;
    const last = S.trend.site[S.trend.site.length - 1];
    if (!last || t > last.x) S.trend.site.push(siteSample(t, s.site || {}));
    if (S.trend.rackId === S.sel.rack && Array.isArray(s.racks)) {
      const rk = s.racks.find((x) => x.rack === S.sel.rack);
      const lr = S.trend.rack[S.trend.rack.length - 1];
      if (rk && (!lr || t > lr.x)) S.trend.rack.push(rackSample(t, rk));
    }
    renderTrends(false);
  }

  let trendDrawnAt = 0;
  function renderTrends(force) {
    if (!window.Chart) return;
    const now = Date.now();
    if (!force && now - trendDrawnAt < 1000) return; /* redraw at most once a second */
    trendDrawnAt = now;
    const trim = (arr) => {
      if (!arr.length) return arr;
      const cut = arr[arr.length - 1].x - S.trend.windowS;
      let i = 0;
      while (i < arr.length && arr[i].x < cut) i++;
      if (i) arr.splice(0, i);
      return arr;
    };
    const site = trim(S.trend.site), rack = trim(S.trend.rack);
    const axisX = { type: 'linear', ticks: { color: '#93a1b0', maxRotation: 0, precision: 0, callback: (v) => fmtDuration(v) }, grid: { color: '#26323e' }, title: { display: true, text: 'simulated time', color: '#93a1b0' } };
    const common = {
      animation: false, maintainAspectRatio: false, parsing: false, normalized: true,
      interaction: { mode: 'nearest', axis: 'x', intersect: false },
      plugins: { legend: { labels: { color: '#c9d4df', boxWidth: 12 } }, tooltip: { callbacks: { title: (it) => it.length ? 't = ' + fmtDuration(it[0].parsed.x) : '' } } },
      elements: { point: { radius: 0 }, line: { borderWidth: 1.5 } },
    };
    const pts = (arr, k, f) => arr.map((p) => ({ x: p.x, y: p[k] === null ? null : f ? f(p[k]) : p[k] }));
    const powerUnit = site.some((p) => p.power !== null && Math.abs(p.power) >= 1e6) ? 1e6 : 1e3;
    const pu = powerUnit === 1e6 ? 'MW' : 'kW';
    if (!S.charts.site) {
      S.charts.site = new Chart($('site-trend'), {
        type: 'line',
        data: { datasets: [
          { label: 'Power', data: [], yAxisID: 'yP', borderColor: '#4cb3ff', backgroundColor: '#4cb3ff' },
          { label: 'SoC (%)', data: [], yAxisID: 'yS', borderColor: '#3fb950', backgroundColor: '#3fb950' },
        ] },
        options: Object.assign({}, common, { scales: {
          x: axisX,
          yP: { position: 'left', title: { display: true, text: 'kW', color: '#4cb3ff' }, ticks: { color: '#4cb3ff' }, grid: { color: '#26323e' } },
          yS: { position: 'right', title: { display: true, text: 'SoC %', color: '#3fb950' }, ticks: { color: '#3fb950' }, grid: { drawOnChartArea: false } },
        } }),
      });
      S.charts.rack = new Chart($('rack-trend'), {
        type: 'line',
        data: { datasets: [
          { label: 'Max cell V', data: [], yAxisID: 'yV', borderColor: '#7ee0d0', backgroundColor: '#7ee0d0' },
          { label: 'Min cell V', data: [], yAxisID: 'yV', borderColor: '#9d7cff', backgroundColor: '#9d7cff' },
          { label: 'Max temp. (°C)', data: [], yAxisID: 'yT', borderColor: '#ff9f43', backgroundColor: '#ff9f43' },
        ] },
        options: Object.assign({}, common, { scales: {
          x: Object.assign({}, axisX),
          yV: { position: 'left', title: { display: true, text: 'V', color: '#93a1b0' }, ticks: { color: '#93a1b0' }, grid: { color: '#26323e' } },
          yT: { position: 'right', title: { display: true, text: '°C', color: '#ff9f43' }, ticks: { color: '#ff9f43' }, grid: { drawOnChartArea: false } },
        } }),
      });
    }
    /* keep a minimum span on each value axis, so that sensor noise and
     * float rounding do not fill the chart as if they were real swings */
    const span = (axis, arrs, key, minSpan) => {
      let lo = Infinity, hi = -Infinity;
      for (const arr of arrs) for (const p of arr) {
        const v = p[key];
        if (v === null) continue;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      if (!isFinite(lo) || hi - lo >= minSpan) { delete axis.min; delete axis.max; return; }
      const mid = (lo + hi) / 2;
      axis.min = mid - minSpan / 2;
      axis.max = mid + minSpan / 2;
    };
    const sc = S.charts.site;
    sc.data.datasets[0].label = `Power (${pu}, + discharge)`;
    sc.options.scales.yP.title.text = pu;
    sc.data.datasets[0].data = pts(site, 'power', (w) => w / powerUnit);
    sc.data.datasets[1].data = pts(site, 'soc');
    const rc = S.charts.rack;
    rc.data.datasets[0].data = pts(rack, 'vmax');
    rc.data.datasets[1].data = pts(rack, 'vmin');
    rc.data.datasets[2].data = pts(rack, 'tmax');
    {
      const vs = rack.flatMap((p) => [p.vmin, p.vmax]).filter((v) => v !== null);
      span(rc.options.scales.yV, [vs.map((v) => ({ v }))], 'v', 0.05);
    }
    span(rc.options.scales.yT, [rack], 'tmax', 2);
    span(sc.options.scales.yS, [site], 'soc', 1);
    const pw = sc.data.datasets[0].data;
    span(sc.options.scales.yP, [pw], 'y', Math.max(1, 0.05 * pw.reduce((m, p) => Math.max(m, Math.abs(p.y || 0)), 0)));
    sc.update('none');
    rc.update('none');
  }

  /* ---------- alarms ---------- */

  function renderAlarms() {
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

  /* ---------- controls ---------- */

  function getToken() {
    try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; }
  }
  function setToken(t) {
    try {
      if (t) sessionStorage.setItem(TOKEN_KEY, t);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch (e) { /* storage disabled: ask each time */ }
    renderTokenState();
  }
  function renderTokenState() {
    const has = !!getToken();
    setText('token-state', has ? 'token set for this tab' : 'controls ask for the token once');
    $('token-forget').hidden = !has;
  }
  function askToken() {
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

  function showMsg(msgEl, ok, text) {
    msgEl.className = 'msg ' + (ok ? 'ok' : 'err');
    msgEl.textContent = text;
  }

  /* POST /control/<path> with the token; resolves to true on success and
   * shows the server's answer (or error) in msgEl. */
  async function control(path, body, msgEl, okText) {
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

  async function refreshControlState() {
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
  function renderControlState() {
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
  function prefillForms() {
    if (formsPrefilled || !S.summary) return;
    formsPrefilled = true;
    const site = S.summary.site || {};
    const f = $('f-setpoint');
    const mode = site.mode === 'current' || site.mode === 1 ? 'current' : 'power';
    f.mode.value = mode;
    if (num(site.setpoint) !== null && f.value.value === '') f.value.value = mode === 'power' ? +(site.setpoint / 1000).toFixed(3) : +site.setpoint.toFixed(3);
    const a = $('f-ambient');
    if (num(site.ambient) !== null && a.value.value === '') a.value.value = +site.ambient.toFixed(1);
    faultFromSelection();
  }
  function faultFromSelection() {
    const f = $('f-fault');
    f.rack.value = S.sel.rack;
    f.module.value = S.sel.module;
    if (f.cell.value === '') f.cell.value = 0;
  }
  function faultTypeChanged() {
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

  function intField(input, what) {
    const v = input.value.trim();
    if (!/^\d+$/.test(v)) throw new Error(`${what} must be a whole number (0 or more).`);
    const n = parseInt(v, 10);
    if (input.max !== '' && n > +input.max) throw new Error(`${what} ${n} is out of range: 0 to ${input.max}.`);
    return n;
  }
  function numField(input, what) {
    const v = parseFloat(input.value);
    if (!isFinite(v)) throw new Error(`${what} must be a number.`);
    return v;
  }

  function wireControls() {
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

  /* ---------- the event stream ---------- */

  function markServerStale(err) {
    const b = err && err.body;
    if (b && (b.stale || err.status === 503)) {
      S.serverStale = true;
      S.staleReason = b.error || '';
      renderAge();
    }
  }

  function openStream() {
    clearTimeout(S.esTimer);
    if (S.es) S.es.close();
    const q = new URLSearchParams({ view: 'summary', modules: 1, rack: S.sel.rack, module: S.sel.module });
    const es = new EventSource('updates?' + q.toString());
    S.es = es;
    S.esState = S.summary ? 'reconnecting' : 'connecting';
    es.addEventListener('open', () => {
      if (S.es !== es) return;
      S.esState = 'live';
      S.esRetryMs = 1000;
      S.connError = '';
      renderAge();
    });
    es.addEventListener('summary', (e) => {
      if (S.es !== es) return;
      try { onSummary(JSON.parse(e.data)); } catch (x) { footLog('bad summary event: ' + x.message); }
    });
    es.addEventListener('module', (e) => {
      if (S.es !== es) return;
      try { onModule(JSON.parse(e.data)); } catch (x) { footLog('bad module event: ' + x.message); }
    });
    /* the server may announce staleness on the stream itself */
    es.addEventListener('stale', (e) => {
      if (S.es !== es) return;
      let j = {};
      try { j = JSON.parse(e.data); } catch (x) { j = {}; }
      S.serverStale = true;
      S.staleReason = j.error || j.reason || '';
      renderAge();
    });
    es.addEventListener('error', (e) => {
      if (S.es !== es) return;
      if (typeof e.data === 'string') {
        /* an "event: error" from the server, {"error","status"}: e.g. the
         * selected module no longer exists after a topology change */
        let j = {};
        try { j = JSON.parse(e.data); } catch (x) { j = {}; }
        footLog('live stream: ' + (j.error || e.data));
        if (j.status === 404) {
          es.close();
          refreshTopology().then(() => select(S.sel.rack, S.sel.module, { force: true }));
        }
        return;
      }
      if (es.readyState === EventSource.CLOSED) {
        /* the server answered without a stream (e.g. 503): the browser
         * gives up, so retry ourselves, backing off to 15 s */
        S.esState = 'reconnecting';
        S.connError = 'Cannot open the live stream from batsim-httpd; retrying…';
        checkHealth();
        /* re-read the topology first: after a restart the segment may
         * have fewer racks or modules, and the server refuses (404) a
         * selection out of range each time */
        S.esTimer = setTimeout(() => {
          refreshTopology().then(() => select(S.sel.rack, S.sel.module, { force: true }));
        }, S.esRetryMs);
        S.esRetryMs = Math.min(15000, S.esRetryMs * 2);
      } else {
        S.esState = 'reconnecting'; /* EventSource retries by itself */
      }
      renderAge();
    });
  }

  /* /healthz: backend, chemistry, publish period, and the stale reason. */
  async function refreshInfo() {
    try {
      /* {"status":"ok","segment","writer":{"state","backend","chemistry",
       * "tick_period_ms",...}} */
      const h = await getJSON('healthz');
      const j = h.writer || h;
      S.info = j;
      const tp = num(j.tick_period_ms);
      if (tp) S.periodMs = Math.max(500, tp);
      if (S.topo) setText('foot-topo', `${S.topo.racks} racks × ${S.topo.modules_per_rack} modules × ${S.topo.cells_per_module} cells` + (j.chemistry ? ` · ${j.chemistry}` : ''));
      renderHeader();
    } catch (e) {
      if (e.body) {
        if (e.body.writer) S.info = e.body.writer;
        if (e.status === 503) markServerStale(e);
      } else {
        footLog(e.message);
      }
    }
  }
  async function checkHealth() {
    await refreshInfo();
  }
  /* Re-read the topology (after the server said the selection is out of
   * range) and clamp the selection to it. */
  async function refreshTopology() {
    try {
      onSummary(await getJSON('summary?modules=1'));
    } catch (e) {
      if (e.status === 503) markServerStale(e);
    }
    clampSel();
  }

  /* ---------- start ---------- */

  function start() {
    readHash();
    syncSelectors();
    wireControls();
    $('metric').value = S.metric;
    $('metric').addEventListener('change', (e) => {
      S.metric = e.target.value;
      writeHash();
      renderAllTiles();
    });
    $('grid').addEventListener('click', (e) => {
      const b = e.target.closest('.tile');
      if (b) select(+b.dataset.rack, +b.dataset.module);
    });
    $('grid').addEventListener('keydown', gridKeys);
    $('sel-rack').addEventListener('change', (e) => select(+e.target.value, S.sel.module));
    $('sel-module').addEventListener('change', (e) => select(S.sel.rack, +e.target.value));
    $('prev-mod').addEventListener('click', () => stepModule(-1));
    $('next-mod').addEventListener('click', () => stepModule(1));
    $('cell-details').addEventListener('toggle', () => renderCellTable(S.moduleData && S.moduleData.cells || []));
    $('trend-window').addEventListener('change', (e) => { S.trend.windowS = +e.target.value; loadHistory(); });
    S.trend.windowS = +$('trend-window').value;
    window.addEventListener('hashchange', () => {
      const before = Object.assign({}, S.sel), metric = S.metric;
      readHash();
      clampSel();
      if (S.metric !== metric) { $('metric').value = S.metric; renderAllTiles(); }
      const r = S.sel.rack, m = S.sel.module;
      S.sel = before;
      select(r, m);
    });
    document.addEventListener('visibilitychange', () => { if (!document.hidden) loadModule(); });
    if (!window.Chart) footLog('Chart.js did not load (vendor/chart.js/chart.min.js): install libjs-chart.js; charts are off.');

    renderModule();
    refreshInfo();
    /* the topology first, so that a selection from the URL is clamped
     * before the stream is opened with it */
    getJSON('summary?modules=1').then(onSummary, (e) => {
      if (e.status === 503) markServerStale(e);
      else { S.connError = e.message; renderBanner(); }
    }).then(() => {
      clampSel();
      writeHash();
      syncSelectors();
      markGridSelection();
      loadModule();
      loadHistory();
      openStream();
    });
    refreshControlState();
    setInterval(renderAge, 500);
    setInterval(() => { if (getToken()) refreshControlState(); }, 15000);
    setInterval(() => { if (isStale()) refreshInfo(); }, 5000);
  }

  function stepModule(d) {
    if (!S.topo) return;
    let r = S.sel.rack, m = S.sel.module + d;
    if (m < 0) { r--; m = S.topo.modules_per_rack - 1; }
    if (m >= S.topo.modules_per_rack) { r++; m = 0; }
    if (r < 0 || r >= S.topo.racks) return;
    select(r, m);
  }

  /* exposed for the browser tests and for debugging from the console */
  window.batsimDashboard = { state: S, select };

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
