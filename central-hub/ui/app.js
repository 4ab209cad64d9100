// Mắt Thần operator console (served at /app.js; the page's CSP allows no inline script).
const $ = (id) => document.getElementById(id);
const tz = 'Asia/Ho_Chi_Minh';
const fmt = (ts) => new Date(ts).toLocaleString('vi-VN', { timeZone: tz });
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const CLASS_VI = { motorcycle: 'xe máy', car: 'ô tô', truck: 'xe tải', bus: 'xe buýt', bicycle: 'xe đạp', person: 'người' };
const RULE_VI = { red_light: 'vượt đèn đỏ', wrong_way: 'đi ngược chiều', forbidden_zone: 'đi vào khu vực cấm', illegal_parking: 'dừng, đỗ trái phép', speeding: 'quá tốc độ', no_helmet: 'không đội mũ bảo hiểm', too_many_riders: 'chở quá số người' };
const ALERT_VI = { loitering: 'lảng vảng', crowding: 'tụ tập đông người', intrusion: 'xâm nhập', abandoned_object: 'vật bị bỏ lại', running: 'chạy', dispersal: 'giải tán đột ngột', wrong_direction: 'đi sai hướng', stopped_in_box: 'dừng trong ô cấm dừng' };
const COLOR_VI = { red: 'đỏ', white: 'trắng', black: 'đen', blue: 'xanh dương', green: 'xanh lá', yellow: 'vàng', grey: 'xám', silver: 'bạc', orange: 'cam', brown: 'nâu', pink: 'hồng', purple: 'tím' };

// The token lives in this page's memory only: nothing a script could read survives the tab,
// and there is no stored credential for another page of the origin to take.
let TOKEN = null;
function token() { return TOKEN; }
async function api(path) {
  const r = await fetch(path, { headers: { Authorization: 'Bearer ' + token() } });
  if (r.status === 401) { showLogin(); throw new Error('Mã truy cập không hợp lệ / invalid token'); }
  if (!r.ok) { const e = await r.json().catch(() => ({})); throw new Error(e.error || r.statusText); }
  return r;
}
function showLogin() { $('login').classList.remove('hidden'); $('token').focus(); }
// Which tabs each role may use (the API refuses the rest anyway).
const TABS = { operator: ['search', 'watch'], traffic: ['junctions'], admin: ['search', 'junctions', 'watch'] };
const ROLE_VI = { operator: 'điều tra viên', traffic: 'trung tâm giao thông', admin: 'quản trị' };
// The token is checked by the hub before it is kept: a wrong one never "logs in".
$('login-form').onsubmit = async (ev) => {
  ev.preventDefault();
  const t = $('token').value.trim();
  $('login-error').textContent = '';
  const r = await fetch('/api/whoami', { headers: { Authorization: 'Bearer ' + t } });
  if (!r.ok) {
    $('token').value = '';
    const e = await r.json().catch(() => ({}));
    $('login-error').textContent = r.status === 429
      ? 'Quá nhiều lần đăng nhập sai, vui lòng đợi / too many failed attempts, wait: ' + (e.error || '')
      : 'Mã truy cập không đúng hoặc đã hết hạn / wrong or expired token';
    return;
  }
  const me = await r.json();
  TOKEN = t; $('token').value = '';
  $('login').classList.add('hidden');
  $('who').textContent = me.name + ' (' + (ROLE_VI[me.role] || me.role) + ')';
  $('logout').classList.remove('hidden');
  const allowed = TABS[me.role] || [];
  for (const name of ['search', 'junctions', 'watch']) $('tab-' + name).classList.toggle('hidden', !allowed.includes(name));
  if (allowed.length) tab(allowed[0]);
  if (allowed.includes('search')) loadCameras();
};
$('logout').onclick = () => {
  TOKEN = null; $('who').textContent = ''; $('logout').classList.add('hidden');
  $('results').innerHTML = ''; $('detail').classList.add('hidden');
  showLogin();
};
if (!token()) showLogin();

function tab(which) {
  for (const t of ['search', 'junctions', 'watch']) {
    $(t === 'junctions' ? 'junction-view' : t + '-view').classList.toggle('hidden', which !== t);
    $('tab-' + t).classList.toggle('active', which === t);
  }
  if (which === 'junctions') loadJunctions();
  if (which === 'watch') loadWatch();
}
$('tab-search').onclick = () => tab('search');
$('tab-junctions').onclick = () => tab('junctions');
$('tab-watch').onclick = () => tab('watch');

// The text box and the filters beside it, as one query string; "load more" pages on.
const PAGE = 30;
let shown = 0;
function searchParams() {
  const p = new URLSearchParams({ q: $('q').value, limit: PAGE, sort: $('f-sort').value });
  const cams = [...$('f-camera').selectedOptions].map((o) => o.value);
  if (cams.length) p.set('camera', cams.join(','));
  for (const [k, id] of [['class', 'f-class'], ['kind', 'f-kind'], ['plate', 'f-plate'], ['from', 'f-from'], ['to', 'f-to']]) {
    if ($(id).value.trim()) p.set(k, $(id).value.trim());
  }
  return p;
}
async function loadCameras() {
  try {
    const d = await (await api('/api/cameras')).json();
    $('f-camera').innerHTML = d.cameras.map((c) => `<option value="${esc(c.camera)}">${esc(c.camera)}</option>`).join('');
  } catch (e) { /* the list stays empty; the text box still names cameras */ }
}
$('more').onclick = () => runSearch(true);
$('search-form').onsubmit = (ev) => { ev.preventDefault(); runSearch(false); };
for (const id of ['f-class', 'f-kind', 'f-sort']) $(id).onchange = () => runSearch(false);

async function runSearch(more) {
  $('error').textContent = ''; $('detail').classList.add('hidden');
  if (!more) { $('results').innerHTML = ''; shown = 0; }
  try {
    const p = searchParams(); p.set('offset', shown);
    const r = await api('/api/search?' + p.toString());
    const data = await r.json();
    shown += data.results.length;
    $('more').classList.toggle('hidden', data.results.length < PAGE);
    const u = data.understood;
    const compass = (d) => ['Bắc / N', 'Đông Bắc / NE', 'Đông / E', 'Đông Nam / SE', 'Nam / S',
      'Tây Nam / SW', 'Tây / W', 'Tây Bắc / NW'][Math.round(d / 45) % 8];
    const parts = [];
    if (u.classes.length) parts.push('loại: ' + u.classes.map((c) => CLASS_VI[c] || c).join('/'));
    if (u.color) parts.push('màu: ' + (COLOR_VI[u.color] || u.color));
    if (u.upper_color) parts.push('áo: ' + (COLOR_VI[u.upper_color] || u.upper_color));
    if (u.lower_color) parts.push('quần: ' + (COLOR_VI[u.lower_color] || u.lower_color));
    if (u.plate) parts.push('biển số ' + (u.plate_at_start ? 'bắt đầu ' : 'chứa ') + u.plate);
    if (u.direction) parts.push('hướng: ' + (u.direction === 'in' ? 'vào' : 'ra'));
    if (u.violation) parts.push('vi phạm / violation: ' + (RULE_VI[u.violation] || u.violation));
    if (u.alert) parts.push('cảnh báo / alert: ' + (ALERT_VI[u.alert] || u.alert));
    if (u.cameras.length) parts.push('camera: ' + u.cameras.join(', '));
    if ((u.places || []).length) parts.push('nơi / place: ' + u.places.join(', '));
    if (u.heading_deg != null) parts.push('đi về hướng / heading: ' + compass(u.heading_deg));
    if (u.from) parts.push('thời gian: ' + fmt(u.from) + ' – ' + fmt(u.to));
    if ((u.clock || []).length) parts.push('giờ (mọi ngày): ' + u.clock.join(', '));
    for (const c of (u.corrected || [])) parts.push('"' + c.typed + '" → ' + c.read_as);
    for (const a of (u.ambiguous || [])) parts.push('"' + a.word + '" có thể là / could be: ' + a.readings.join(', '));
    if (u.words.length) parts.push('không hiểu / not understood: ' + u.words.join(' '));
    $('understood').textContent = u.nothing_understood
      ? 'Không hiểu câu tìm kiếm / nothing understood' + (parts.length ? ' — ' + parts.join(' · ') : '')
      : 'Hiểu là / understood: ' + (parts.join(' · ') || 'tất cả');
    if (!data.results.length && !more) { $('results').innerHTML = '<p>Không có kết quả / no results</p>'; return; }
    for (const h of data.results) {
      const card = document.createElement('div');
      card.className = 'card'; card.dataset.id = h.id;
      const title = [h.color ? (COLOR_VI[h.color] || h.color) : null, CLASS_VI[h.class] || h.class].filter(Boolean).join(' ');
      card.innerHTML = `<div class="thumb">${h.snapshot ? '<img alt="" style="max-height:90px;max-width:100%">' : esc(h.kind)}</div><h3>${esc(title)}</h3>
        <div class="meta">${esc(h.camera)} · ${esc(fmt(h.ts))}${h.plate ? ' · ' + esc(h.plate) : ''}</div>
        <div class="meta">${esc(h.caption)}</div><div class="why">${esc(h.reasons.join(' · '))}</div>`;
      card.onclick = () => openEvent(h.id);
      // Reachable and openable from the keyboard.
      card.tabIndex = 0; card.setAttribute('role', 'button');
      card.onkeydown = (k) => { if (k.key === 'Enter' || k.key === ' ') { k.preventDefault(); openEvent(h.id); } };
      $('results').appendChild(card);
      if (h.snapshot) {
        // Thumbnails need the token too, so they come through fetch rather than a plain <img src>.
        api('/api/evidence/' + h.snapshot).then((r) => r.blob()).then((b) => { card.querySelector('img').src = URL.createObjectURL(b); }).catch(() => {});
      }
    }
  } catch (e) { $('error').textContent = e.message; }
}

async function openEvent(id) {
  try {
    const d = await (await api('/api/events/' + id)).json();
    const ev = d.evidence.map((x) => `<li>${esc(x.sha256)} ${x.present ? '' : '(chưa nhận / not received)'}</li>`).join('') || '<li>không có / none</li>';
    const SIG_VI = {
      unsigned: 'Chưa ký / not signed',
      verified: 'Đã xác thực chữ ký / signature verified',
      untrusted_key: 'Chữ ký đúng nhưng khoá chưa được tin cậy / valid, key not trusted',
      incomplete: 'Chưa nhận đủ bằng chứng / evidence incomplete',
      invalid: 'CHỮ KÝ KHÔNG HỢP LỆ / INVALID',
    };
    const sig = esc(SIG_VI[d.signature.status] || d.signature.status)
      + (d.signature.problems && d.signature.problems.length ? ' — ' + esc(d.signature.problems.join('; ')) : '');
    $('detail').innerHTML = `<h2 id="detail-caption">${esc(d.caption)}</h2>
      <p>Chữ ký / signature: <b id="signature">${sig}</b></p>
      ${d.hold ? `<p id="hold">Đang lưu giữ theo hồ sơ / on legal hold: ${esc(d.hold.reason)} (${esc(d.hold.by)}, ${fmt(d.hold.since)})</p>` : ''}
      ${violation(d.event)}
      ${d.event.body && d.event.body.snapshot ? `<figure><img data-sha="${esc(d.event.body.snapshot)}" alt="ảnh chụp / snapshot" style="max-width:320px"><figcaption>Ảnh chụp đối tượng / snapshot</figcaption></figure>` : ''}
      ${d.event.body && d.event.body.plate_image ? `<figure><img id="plate-image" data-sha="${esc(d.event.body.plate_image)}" alt="biển số / plate" style="width:320px;image-rendering:pixelated"><figcaption>Biển số đọc được / plate as read</figcaption></figure>` : ''}
      <p>Bằng chứng / evidence:</p><ul>${ev}</ul>
      <button class="primary" id="export">Xuất hồ sơ / Export (.zip)</button>
      ${plateOf(d.event) ? '<button id="trace-this">Truy vết biển số / Trace this plate</button>' : ''}
      <button id="candidates-this">Có thể là xe này ở camera lân cận / Possible sightings nearby</button>
      ${fields(d.event)}
      <details><summary>Dữ liệu gốc / raw event (JSON)</summary><pre>${esc(JSON.stringify(d.event, null, 2))}</pre></details>`;
    $('detail').classList.remove('hidden');
    $('detail').scrollIntoView({ block: 'start' });
    document.querySelectorAll('#detail [data-sha]').forEach((el) => {
      api('/api/evidence/' + el.dataset.sha).then((r) => r.blob()).then((b) => { el.src = URL.createObjectURL(b); }).catch(() => {});
    });
    $('candidates-this').onclick = () => { tab('watch'); candidates(id); };
    if (plateOf(d.event)) {
      $('trace-this').onclick = () => { tab('watch'); $('trace-plate').value = plateOf(d.event); trace(plateOf(d.event)); };
    }
    $('export').onclick = async () => {
      const blob = await (await api('/api/events/' + id + '/export')).blob();
      const a = document.createElement('a');
      a.href = URL.createObjectURL(blob); a.download = 'incident-' + id + '.zip'; a.click();
    };
  } catch (e) { $('error').textContent = e.message; }
}

// The event's facts as a reader wants them, Vietnamese first; the raw JSON stays one click away.
const KIND_VI = { track: 'đối tượng / track', crossing: 'qua vạch / crossing', zone: 'vùng / zone', violation: 'vi phạm / violation', alert: 'cảnh báo / alert', counts: 'đếm / counts' };
function fields(e) {
  const b = e.body || {}, a = b.attributes || {};
  const rows = [
    ['Loại sự kiện / kind', KIND_VI[e.kind] || e.kind],
    ['Thời điểm / time', fmt(e.ts)],
    ['Địa điểm · camera / site · camera', e.site + ' · ' + e.camera],
    ['Đối tượng / object', [CLASS_VI[b.class] || b.class, b.track_id != null ? '#' + b.track_id : null].filter(Boolean).join(' ')],
    ['Màu / colour', COLOR_VI[a.color || b.color] || a.color || b.color],
    ['Áo · quần / top · bottom', [a.upper_color, a.lower_color].filter(Boolean).map((c) => COLOR_VI[c] || c).join(' · ')],
    ['Biển số / plate', plateOf(e)],
    ['Vạch · vùng / line · zone', [b.line, b.zone].filter(Boolean).join(' · ')],
    ['Hướng / direction', b.direction],
    ['Quy tắc / rule', b.rule ? b.rule + (b.rule_id ? ' (' + b.rule_id + ')' : '') : null],
  ].filter(([, v]) => v != null && v !== '');
  return '<dl class="fields">' + rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('') + '</dl>';
}

const plateOf = (e) => (e.body && (e.body.plate || (e.body.attributes && e.body.attributes.plate))) || null;

// A violation's measured context and its images, Vietnamese first.
function violation(e) {
  if (e.kind !== 'violation') return '';
  const v = e.body, c = v.context || {};
  const rows = [];
  if (v.plate) rows.push(`Biển số / plate: <b id="plate">${esc(v.plate)}</b> (${(100 * (v.plate_score || 0)).toFixed(0)}%)`);
  if (c.signal) rows.push(`Pha ${esc(c.signal.phase)}: vượt vạch ${c.signal.into_red_s.toFixed(1)} s sau khi đèn đỏ (vàng ${c.signal.yellow_s} s, ân hạn ${c.signal.grace_s} s)`);
  if (c.speed_kmh != null) rows.push(`Tốc độ / speed ${c.speed_kmh.toFixed(0)} km/h, giới hạn ${c.limit_kmh} (+${c.tolerance_kmh}) — hiệu chuẩn ${esc(c.calibration || '')}`);
  if (c.dwell_s != null) rows.push(`Dừng / stopped ${c.dwell_s.toFixed(0)} s`);
  if (c.distance_m != null) rows.push(`Ngược chiều / against the flow ${c.distance_m.toFixed(0)} m`);
  if (c.label) rows.push(`Phân loại / classifier: ${esc(c.label)} ${c.votes}/${c.frames} khung hình`);
  const imgs = (v.evidence || []).filter((a) => a.mime === 'image/jpeg')
    .map((a) => `<figure><img data-sha="${esc(a.sha256)}" alt="${esc(a.name)}" style="max-width:320px"><figcaption>${esc(a.name)}</figcaption></figure>`).join('');
  // The clip plays inline; it is fetched with the token (a <video src> cannot send one).
  const clips = (v.evidence || []).filter((a) => a.mime === 'video/mp4')
    .map((a) => `<figure><video class="clip" data-sha="${esc(a.sha256)}" controls muted playsinline preload="metadata" style="max-width:100%;width:480px"></video><figcaption>${esc(a.name)}</figcaption></figure>`).join('');
  return `<p>${rows.join('<br>')}</p><div class="figs">${clips}${imgs}</div>`;
}

// "Chu kỳ 72 s: ns 30 s, ew 32 s; trễ TB 24 → 18 s/xe" plus a forecast warning, Vietnamese first.
function recommendation(r, w) {
  if (!r) return '—';
  const b = r.body;
  const phases = b.phases.map((p) => `${esc(p.phase)} ${Math.round(p.green_s)} s`).join(', ');
  let out = `Chu kỳ ${Math.round(b.cycle_s)} s: ${phases}<br>trễ TB ${b.delay_current_s.toFixed(0)} → ${b.delay_expected_s.toFixed(0)} s/xe`
    + ` (${esc(b.mode)}, Y ${b.y_total.toFixed(2)}${b.oversaturated ? ', quá tải / oversaturated' : ''})`;
  if (w) {
    const x = w.body;
    out += `<br><b>Cảnh báo ùn tắc</b>: ${esc(x.approach)} sau ${x.horizon_min} phút, mức bão hoà ${x.forecast_degree.toFixed(2)}`;
  }
  return out;
}

async function loadJunctions() {
  $('junction-error').textContent = '';
  try {
    const d = await (await api('/api/junctions')).json();
    const body = $('junctions').querySelector('tbody');
    body.innerHTML = '';
    for (const c of d.cameras) {
      const k = c.counts && c.counts.body;
      const lines = k ? k.lines.map((l) => `${esc(l.line)} ${esc(CLASS_VI[l.class] || l.class)}: ${l.in}/${l.out}`).join('<br>') : '';
      const tr = document.createElement('tr');
      tr.innerHTML = `<td>${esc(c.camera)}</td><td>${esc(c.status ? c.status.body.state : '')}</td>
        <td>${k ? esc(fmt(k.interval_start)) + ' – ' + esc(fmt(k.interval_end)) : ''}</td><td>${lines}</td>
        <td>${recommendation(c.recommendation, c.warning)}</td>
        <td><button class="chart-btn">Biểu đồ / Charts</button></td>`;
      tr.querySelector('.chart-btn').onclick = () => loadHistory(c.site, c.camera);
      body.appendChild(tr);
    }
  } catch (e) { $('junction-error').textContent = e.message; }
}

// A day of one camera's counts per class, or one junction's recommendations (flow and queue
// per approach, cycle), as charts (uPlot, vendored: /vendor/uplot.js).
async function loadHistory(site, id) {
  const box = $('junction-charts');
  box.innerHTML = '';
  try {
    const d = await (await api('/api/junctions/history?site=' + encodeURIComponent(site) + '&id=' + encodeURIComponent(id))).json();
    const t0 = performance.now();
    const secs = (ts) => Date.parse(ts) / 1000;
    const chart = (title, xs, series) => {
      const fig = document.createElement('figure');
      fig.className = 'chart';
      fig.innerHTML = `<figcaption>${esc(title)}</figcaption>`;
      box.appendChild(fig);
      const opts = {
        width: Math.min(720, box.clientWidth || 720), height: 220,
        series: [{}].concat(series.map((s, i) => ({ label: s.label, stroke: PALETTE[i % PALETTE.length], width: 2 }))),
        axes: [{}, {}],
      };
      // uPlot draws times in the browser's zone; operators read Vietnam time.
      opts.tzDate = (ts) => uPlot.tzDate(new Date(ts * 1000), 'Asia/Ho_Chi_Minh');
      new uPlot(opts, [xs].concat(series.map((s) => s.values)), fig);
    };
    if (d.counts.length) {
      const classes = [...new Set(d.counts.flatMap((c) => Object.keys(c.classes)))];
      chart(`${id}: lượt qua vạch theo loại xe / crossings per class`, d.counts.map((c) => secs(c.end)),
        classes.map((k) => ({ label: CLASS_VI[k] || k, values: d.counts.map((c) => c.classes[k] || 0) })));
    }
    if (d.recommendations.length) {
      const xs = d.recommendations.map((r) => secs(r.ts));
      const apps = [...new Set(d.recommendations.flatMap((r) => r.approaches.map((a) => a.approach)))];
      const per = (key) => apps.map((a) => ({ label: a, values: d.recommendations.map((r) => (r.approaches.find((x) => x.approach === a) || {})[key] ?? null) }));
      chart(`${id}: lưu lượng / flow (PCU/h)`, xs, per('flow_pcu_h'));
      chart(`${id}: hàng chờ / queue (xe / vehicles)`, xs, per('queue_veh'));
      chart(`${id}: chu kỳ khuyến nghị / recommended cycle (s)`, xs, [{ label: 'chu kỳ / cycle', values: d.recommendations.map((r) => r.cycle_s) }]);
    }
    if (!d.counts.length && !d.recommendations.length) box.textContent = 'Chưa có dữ liệu 24 giờ / no data in the last 24 h';
    box.dataset.renderMs = String(Math.round(performance.now() - t0));
  } catch (e) { $('junction-error').textContent = e.message; }
}
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

// Watch list and tracing (truy vết): a plate's sightings oldest first, hops no car could drive
// flagged; listed plates, and hits as they arrive on the stream.
const MATCH_VI = { exact: 'chính xác / exact', partial: 'một phần / partial', 'look-alike': 'ký tự dễ nhầm / OCR look-alike' };
async function trace(plate) {
  $('watch-error').textContent = '';
  const body = $('trace').querySelector('tbody');
  body.innerHTML = '';
  try {
    const d = await (await api('/api/trace?plate=' + encodeURIComponent(plate))).json();
    if (!d.sightings.length) body.innerHTML = '<tr><td colspan="5">Không thấy / not seen</td></tr>';
    for (const s of d.sightings) {
      const h = s.hop;
      const hop = !h ? '' : h.unknown ? esc(h.from) : `${esc(h.from)}: ${h.km} km / ${h.seconds} s (${h.kmh} km/h)`
        + (h.impossible ? ' <b>KHÔNG THỂ / IMPOSSIBLE</b>' : '');
      const tr = document.createElement('tr');
      tr.innerHTML = `<td>${esc(fmt(s.ts))}</td><td>${esc(s.camera)}</td><td>${esc(s.plate)}</td><td>${esc(MATCH_VI[s.match] || s.match)}</td><td>${hop}</td>`;
      body.appendChild(tr);
    }
  } catch (e) { $('watch-error').textContent = e.message; }
}
// Without a plate: passes at nearby cameras that could be the same vehicle, ranked, each
// marked as a candidate with its reasons (an operator confirms by looking).
async function candidates(id) {
  $('watch-error').textContent = '';
  const body = $('trace').querySelector('tbody');
  body.innerHTML = '';
  try {
    const d = await (await api('/api/trace/candidates?event=' + encodeURIComponent(id))).json();
    if (!d.candidates.length) body.innerHTML = `<tr><td colspan="5">Không có ứng viên / no candidates${d.note ? ' — ' + esc(d.note) : ''}</td></tr>`;
    for (const c of d.candidates) {
      const tr = document.createElement('tr');
      tr.innerHTML = `<td>${esc(fmt(c.ts))}</td><td>${esc(c.camera)}</td><td>${esc(c.plate || '—')}</td>`
        + `<td>ứng viên / candidate (${c.score})</td><td>${esc(c.reasons.join('; '))}</td>`;
      body.appendChild(tr);
    }
  } catch (e) { $('watch-error').textContent = e.message; }
}
$('trace-form').onsubmit = (ev) => { ev.preventDefault(); trace($('trace-plate').value); };

function hitRow(h, first) {
  const tr = document.createElement('tr');
  tr.innerHTML = `<td>${esc(fmt(h.ts))}</td><td>${esc(h.camera)}</td><td>${esc(h.listed)}</td>
    <td>${esc(h.read)}${h.exact ? '' : ' (ký tự dễ nhầm / look-alike)'}</td><td>${esc(h.reason)}</td>`;
  const body = $('hits').querySelector('tbody');
  if (first) body.prepend(tr); else body.appendChild(tr);
}

async function loadWatch() {
  $('watch-error').textContent = '';
  try {
    const d = await (await api('/api/watchlist')).json();
    const body = $('watch').querySelector('tbody');
    body.innerHTML = '';
    for (const w of d.entries) {
      const tr = document.createElement('tr');
      tr.innerHTML = `<td>${esc(w.plate)}</td><td>${esc(w.reason)}</td><td>${esc(w.added_by)}</td><td>${esc(fmt(w.expires))}</td><td><button>Bỏ / Remove</button></td>`;
      tr.querySelector('button').onclick = async () => {
        await fetch('/api/watchlist/' + w.id, { method: 'DELETE', headers: { Authorization: 'Bearer ' + token() } });
        loadWatch();
      };
      body.appendChild(tr);
    }
    const hits = await (await api('/api/watchlist/hits?limit=50')).json();
    $('hits').querySelector('tbody').innerHTML = '';
    for (const h of hits.hits) hitRow(h, false);
    listen();
  } catch (e) { $('watch-error').textContent = e.message; }
}

$('watch-form').onsubmit = async (ev) => {
  ev.preventDefault();
  const r = await fetch('/api/watchlist', {
    method: 'POST',
    headers: { Authorization: 'Bearer ' + token(), 'Content-Type': 'application/json' },
    body: JSON.stringify({ plate: $('watch-plate').value, reason: $('watch-reason').value, days: Number($('watch-days').value) }),
  });
  if (!r.ok) { const e = await r.json().catch(() => ({})); $('watch-error').textContent = e.error || r.statusText; return; }
  $('watch-plate').value = ''; $('watch-reason').value = '';
  loadWatch();
};

// The stream needs the token, so it is read through fetch (EventSource cannot send headers).
let listening = false;
async function listen() {
  if (listening) return;
  listening = true;
  try {
    const r = await api('/api/watchlist/stream');
    const reader = r.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl); buf = buf.slice(nl + 1);
        if (!line.startsWith('data:')) continue;
        const h = JSON.parse(line.slice(5));
        hitRow(h, true);
        $('hit-banner').textContent = `PHÁT HIỆN / HIT: ${h.listed} tại ${h.camera} ${fmt(h.ts)} — ${h.reason}`;
      }
    }
  } catch (e) { $('watch-error').textContent = e.message; }
  listening = false;
}
