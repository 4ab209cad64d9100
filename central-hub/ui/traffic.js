// The traffic centre: a schematic city map of every camera and junction (from the hub's
// configured positions, no map tiles), the latest state per camera and junction with the plan
// in force drawn beside the recommendation, and a day of history as charts (uPlot, vendored):
// counts per class, flow and queue per approach, cycles, and the 15-minute forecast against
// what then happened. Refreshes itself while open.
/* global $, t, name, api, esc, fmt, onLang, uPlot, current */
/* exported loadJunctions, stopJunctions */
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
const REFRESH_MS = 30000;
let refresher = null;
let latest = null;
let charted = null;
let plots = [];

// A plan as a bar: each phase's green in its colour, clearances grey, all scaled to `span`.
function planBar(label, cycle, phases, span) {
  const seg = (w, cls, text, title) => `<span class="${cls}" style="width:${(100 * w) / span}%" title="${esc(title)}">${esc(text)}</span>`;
  const parts = phases.map((p, i) => seg(p.green_s, 'g' + (i % 4), `${p.phase} ${Math.round(p.green_s)}`, `${p.phase}: ${p.green_s.toFixed(0)} s`)
    + seg(p.yellow_s + p.all_red_s, 'clr', '', `${p.phase}: Y + AR ${(p.yellow_s + p.all_red_s).toFixed(0)} s`));
  return `<div class="plan-label">${esc(label)}: ${esc(t('cycle'))} ${Math.round(cycle)} s</div><div class="plan" role="img" aria-label="${esc(label)} ${Math.round(cycle)} s">${parts.join('')}</div>`;
}

function recommendation(r, w) {
  if (!r) return '—';
  const b = r.body;
  const span = Math.max(b.cycle_s, b.in_force ? b.in_force.cycle_s : 0);
  let out = b.in_force ? planBar(t('in_force'), b.in_force.cycle_s, b.in_force.phases, span) : `<div class="small">${esc(t('unknown_plan'))}</div>`;
  out += planBar(t('recommended'), b.cycle_s, b.phases, span);
  const phases = b.phases.map((p) => `${esc(p.phase)} ${Math.round(p.green_s)} s`).join(', ');
  out += `<div class="small rec-text">${esc(t('cycle'))} ${Math.round(b.cycle_s)} s: ${phases}; ${esc(t('delay', b.delay_current_s.toFixed(0), b.delay_expected_s.toFixed(0)))}`
    + ` (${esc(b.mode)}, Y ${b.y_total.toFixed(2)}${b.oversaturated ? ', ' + esc(t('oversaturated')) : ''})</div>`;
  if (w) out += `<div><b>${esc(t('warning', w.body.approach, w.body.horizon_min, w.body.forecast_degree.toFixed(2)))}</b></div>`;
  if ((b.decisions || []).length) out += decisions(b.decisions);
  return out;
}

// The greens the junction's controller asked for live in that interval (newest first), each
// with what it was decided from; a late one was not sent and the controller ran its own plan.
function decisions(ds) {
  const rows = ds.slice(-8).reverse().map((d) => `<tr><td>${esc(fmt(d.at))}</td><td>${esc(d.phase)}</td>`
    + `<td>${d.green_s.toFixed(1)} s</td><td>${esc(t(d.answered ? 'd_sent' : 'd_late'))}</td>`
    + `<td>${d.inputs.map((i) => esc(t('d_input', i.approach, i.queue_pcu.toFixed(1), Math.round(i.flow_pcu_h)))).join('<br>')}</td></tr>`);
  const head = ['d_at', 'd_phase', 'd_green', 'd_status', 'd_inputs'].map((k) => `<th>${esc(t(k))}</th>`).join('');
  return `<details class="decisions"><summary>${esc(t('decisions', ds.length))}</summary>`
    + `<table class="small"><thead><tr>${head}</tr></thead><tbody>${rows.join('')}</tbody></table></details>`;
}

async function loadJunctions() {
  $('junction-error').textContent = '';
  if (!refresher) refresher = setInterval(() => { if (current === 'junctions') loadJunctions(); }, REFRESH_MS);
  try {
    latest = await (await api('/api/junctions')).json();
    drawJunctions();
    if (charted) loadHistory(charted[0], charted[1]);
  } catch (e) { $('junction-error').textContent = e.message; }
}
function stopJunctions() { if (refresher) clearInterval(refresher); refresher = null; }

function drawJunctions() {
  if (!latest) return;
  const body = $('junctions').querySelector('tbody');
  body.innerHTML = '';
  for (const c of latest.cameras) {
    const k = c.counts && c.counts.body;
    const lines = k ? k.lines.map((l) => `${esc(l.line)} ${esc(name('class', l.class))}: ${l.in}/${l.out}`).join('<br>') : '';
    const tr = document.createElement('tr');
    tr.innerHTML = `<td>${esc(c.camera)}</td><td>${esc(c.status ? name('state', c.status.body.state) : '')}</td>
      <td>${k ? esc(fmt(k.interval_start)) + ' – ' + esc(fmt(k.interval_end)) : ''}</td><td>${lines}</td>
      <td>${recommendation(c.recommendation, c.warning)}</td>
      <td><button class="chart-btn">${esc(t('charts'))}</button></td>`;
    tr.querySelector('.chart-btn').onclick = () => loadHistory(c.site, c.camera);
    body.appendChild(tr);
  }
  $('refreshed').textContent = new Date().toLocaleTimeString('vi-VN', { timeZone: 'Asia/Ho_Chi_Minh' });
  drawMap();
}
onLang(drawJunctions);

// Each configured camera or junction as a dot where it stands, coloured by its state.
function state(c) {
  if (!c) return ['#9aa5b1', 'no data'];
  const r = c.recommendation && c.recommendation.body;
  if (r) {
    if (r.oversaturated || c.warning) return ['#b42318', t('oversaturated')];
    return r.y_total >= 0.7 ? ['#b54708', 'Y ' + r.y_total.toFixed(2)] : ['#2f8132', 'Y ' + r.y_total.toFixed(2)];
  }
  if (c.status && c.status.body.state !== 'online') return ['#9aa5b1', name('state', c.status.body.state)];
  return ['#2f8132', c.status ? name('state', c.status.body.state) : ''];
}
function drawMap() {
  const svg = $('city-map');
  const pos = latest.positions || [];
  if (!pos.length) { svg.innerHTML = `<text x="20" y="30">${esc(t('map_none'))}</text>`; return; }
  const W = 720, H = 320, pad = 40;
  const lats = pos.map((p) => p.lat), lons = pos.map((p) => p.lon);
  const k = Math.cos((((Math.min(...lats) + Math.max(...lats)) / 2) * Math.PI) / 180);
  const spanX = (Math.max(...lons) - Math.min(...lons)) * k || 1e-3, spanY = Math.max(...lats) - Math.min(...lats) || 1e-3;
  const s = Math.min((W - 2 * pad) / spanX, (H - 2 * pad) / spanY);
  const x = (p) => pad + ((p.lon - Math.min(...lons)) * k * s) + (W - 2 * pad - spanX * s) / 2;
  const y = (p) => H - pad - (p.lat - Math.min(...lats)) * s - (H - 2 * pad - spanY * s) / 2;
  svg.innerHTML = pos.map((p) => {
    const c = latest.cameras.find((x) => x.site === p.site && x.camera === p.id);
    const [colour, what] = state(c);
    const label = `${p.id}: ${what}`;
    return `<g class="node" tabindex="0" role="button" aria-label="${esc(label)}" data-id="${esc(p.id)}" data-site="${esc(p.site)}">
      <title>${esc(label)}</title><circle cx="${x(p).toFixed(1)}" cy="${y(p).toFixed(1)}" r="9" fill="${colour}" stroke="#102a43"></circle>
      <text x="${(x(p) + 12).toFixed(1)}" y="${(y(p) + 4).toFixed(1)}">${esc(p.id)}</text></g>`;
  }).join('');
  svg.querySelectorAll('.node').forEach((g) => {
    const open = () => loadHistory(g.dataset.site, g.dataset.id);
    g.onclick = open;
    g.onkeydown = (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); open(); } };
  });
}

function chart(box, title, xs, series) {
  const fig = document.createElement('figure');
  fig.className = 'chart';
  fig.innerHTML = `<figcaption>${esc(title)}</figcaption>`;
  box.appendChild(fig);
  const opts = {
    width: Math.min(720, box.clientWidth || 720), height: 220,
    series: [{}].concat(series.map((s, i) => ({ label: s.label, stroke: s.stroke || PALETTE[i % PALETTE.length], width: 2, dash: s.dash, spanGaps: true }))),
    axes: [{}, {}],
  };
  // uPlot draws times in the browser's zone; operators read Vietnam time.
  opts.tzDate = (ts) => uPlot.tzDate(new Date(ts * 1000), 'Asia/Ho_Chi_Minh');
  plots.push(new uPlot(opts, [xs].concat(series.map((s) => s.values)), fig));
}
// Charts follow the window's width (a phone turned, a panel resized).
window.addEventListener('resize', () => {
  const w = Math.min(720, $('junction-charts').clientWidth || 720);
  for (const u of plots) if (u.width !== w) u.setSize({ width: w, height: 220 });
});

// What was forecast 5, 10 and 15 minutes ahead, each drawn at the time it was for (dashes
// longer the further ahead), beside what was then measured.
const HORIZONS = [[5, [2, 3]], [10, [6, 4]], [15, [12, 4]]];
function forecastSeries(recs, apps, secs) {
  const at = new Map();
  for (const r of recs) {
    const x = secs(r.ts);
    for (const a of r.approaches) at.set(x + '|actual|' + a.approach, a.flow_pcu_h);
    for (const f of r.forecasts || []) at.set((x + f.horizon_min * 60) + '|' + f.horizon_min + '|' + f.approach, f.flow_pcu_h);
  }
  const xs = [...new Set([...at.keys()].map((k) => Number(k.split('|')[0])))].sort((a, b) => a - b);
  const series = apps.flatMap((a, i) => [
    { label: t('s_actual', a), stroke: PALETTE[i % PALETTE.length], values: xs.map((x) => at.get(x + '|actual|' + a) ?? null) },
  ].concat(HORIZONS.map(([h, dash]) => (
    { label: t('s_forecast', a, h), stroke: PALETTE[i % PALETTE.length], dash, values: xs.map((x) => at.get(x + '|' + h + '|' + a) ?? null) }))));
  return [xs, series];
}

// Turning movements (entry → exit) of a camera that counts them: totals with speeds, the peak
// hour and its factor, 15-minute bins as a chart, and the CSV planners take away.
async function loadMovements(box, site, id, secs) {
  const q = '/api/junctions/movements?site=' + encodeURIComponent(site) + '&camera=' + encodeURIComponent(id);
  const r = (await (await api(q)).json()).report;
  if (!r.rows.length) return;
  const label = (m) => m.from + ' → ' + (m.to ?? '?');
  const moves = [...new Set(r.rows.map(label))].sort();
  const bins = [...new Set(r.rows.map((w) => w.start))].sort();
  chart(box, t('ch_movements', id), bins.map(secs), moves.map((m) => (
    { label: m, values: bins.map((b) => r.rows.filter((w) => w.start === b && label(w) === m).reduce((s, w) => s + w.count, 0)) })));
  const fig = document.createElement('figure');
  fig.id = 'movements';
  const speeds = (m) => r.rows.filter((w) => label(w) === m && w.mean_kmh != null);
  const rows = moves.map((m) => {
    const s = speeds(m);
    const mean = s.length ? (s.reduce((a, w) => a + w.mean_kmh * w.count, 0) / s.reduce((a, w) => a + w.count, 0)).toFixed(1) : '';
    const p85 = s.length ? Math.max(...s.map((w) => w.p85_kmh)).toFixed(1) : '';
    return `<tr><td>${esc(m)}</td><td>${r.totals[m.replace(' → ', '→')] ?? 0}</td><td>${mean}</td><td>${p85}</td></tr>`;
  }).join('');
  const p = r.peak_hour;
  const peak = p ? t('peak_hour', new Date(p.start).toLocaleTimeString(LANG, { timeZone: 'Asia/Ho_Chi_Minh', hour: '2-digit', minute: '2-digit' }),
    p.volume, p.phf.toFixed(2)) + (p.complete ? '' : ' ' + t('peak_partial')) : '';
  fig.innerHTML = `<figcaption>${esc(t('tm_title', id))}</figcaption><p class="peak">${esc(peak)}</p>`
    + `<table><thead><tr><th>${t('col_movement')}</th><th>${t('col_vehicles')}</th><th>${t('col_mean_kmh')}</th><th>${t('col_p85_kmh')}</th></tr></thead><tbody>${rows}</tbody></table>`
    + `<button type="button" class="csv">${t('csv')}</button>`;
  fig.querySelector('.csv').onclick = async () => {
    const blob = await (await api(q + '&format=csv')).blob();
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = 'movements-' + site + '-' + id + '.csv';
    a.click();
    URL.revokeObjectURL(a.href);
  };
  box.appendChild(fig);
}

// A day of one camera's counts per class, or of one junction's recommendations.
async function loadHistory(site, id) {
  charted = [site, id];
  const box = $('junction-charts');
  try {
    const d = await (await api('/api/junctions/history?site=' + encodeURIComponent(site) + '&id=' + encodeURIComponent(id))).json();
    for (const u of plots) u.destroy();
    plots = [];
    box.innerHTML = '';
    const t0 = performance.now();
    const secs = (ts) => Date.parse(ts) / 1000;
    if (d.counts.length) {
      const classes = [...new Set(d.counts.flatMap((c) => Object.keys(c.classes)))];
      chart(box, t('ch_counts', id), d.counts.map((c) => secs(c.end)),
        classes.map((k) => ({ label: name('class', k), values: d.counts.map((c) => c.classes[k] || 0) })));
      await loadMovements(box, site, id, secs);
    }
    const recs = d.recommendations;
    if (recs.length) {
      const xs = recs.map((r) => secs(r.ts));
      const apps = [...new Set(recs.flatMap((r) => r.approaches.map((a) => a.approach)))];
      const per = (key) => apps.map((a) => ({ label: a, values: recs.map((r) => (r.approaches.find((x) => x.approach === a) || {})[key] ?? null) }));
      chart(box, t('ch_flow', id), xs, per('flow_pcu_h'));
      chart(box, t('ch_queue', id), xs, per('queue_veh'));
      chart(box, t('ch_cycle', id), xs, [
        { label: t('s_recommended'), values: recs.map((r) => r.cycle_s) },
        { label: t('s_in_force'), dash: [6, 4], values: recs.map((r) => (r.in_force ? r.in_force.cycle_s : null)) },
      ]);
      if (recs.some((r) => (r.forecasts || []).length)) {
        const [fx, fs] = forecastSeries(recs, apps, secs);
        chart(box, t('ch_forecast', id), fx, fs);
      }
    }
    if (!d.counts.length && !recs.length) box.textContent = t('no_history');
    box.dataset.renderMs = String(Math.round(performance.now() - t0));
  } catch (e) { $('junction-error').textContent = e.message; }
}
