// One event in the side panel: readable fields, snapshot, plate crop, the evidence gallery
// with zoom, the violation clip playing inline, signature status and the facts it covers,
// export, and the way on to tracing.
/* global $, t, name, api, esc, fmt, loadBlob, LANG, onLang, tab, trace, candidates, hitTitle, playRecording, hms */
/* exported openEvent, plateOf */
const plateOf = (e) => (e.body && (e.body.plate || (e.body.attributes && e.body.attributes.plate))) || null;

// The event's facts as a reader wants them; the raw JSON stays one click away.
function fields(e) {
  const b = e.body || {}, a = b.attributes || {};
  const rows = [
    ['k_kind', name('kind', e.kind)],
    ['k_time', fmt(e.ts)],
    ['k_where', e.site + ' · ' + e.camera],
    ['k_object', [name('class', b.class), b.track_id != null ? '#' + b.track_id : null].filter(Boolean).join(' ')],
    ['k_colour', name('color', a.color || b.color)],
    ['k_clothes', [a.upper_color, a.lower_color].filter(Boolean).map((c) => name('color', c)).join(' · ')],
    ['k_plate', plateOf(e)],
    ['k_line_zone', [b.line, b.zone].filter(Boolean).join(' · ')],
    ['k_direction', b.direction ? t('dir_' + b.direction) : null],
    ['k_rule', b.rule ? name('rule', b.rule) + (b.rule_id ? ' (' + b.rule_id + ')' : '') : null],
  ].filter(([, v]) => v != null && v !== '');
  return '<dl class="fields">' + rows.map(([k, v]) => `<dt>${esc(t(k))}</dt><dd>${esc(v)}</dd>`).join('') + '</dl>';
}

const figure = (sha, alt, caption, extra = '') => `<figure><img data-sha="${esc(sha)}" alt="${esc(alt)}" ${extra}><figcaption>${esc(caption)}</figcaption></figure>`;

// A violation's measured context, its clip and its images.
function violation(e) {
  if (e.kind !== 'violation') return '';
  const v = e.body, c = v.context || {};
  const rows = [];
  if (v.plate) rows.push(`${esc(t('k_plate'))}: <b id="plate">${esc(v.plate)}</b> (${(100 * (v.plate_score || 0)).toFixed(0)}%)`);
  if (c.signal) rows.push(esc(t('v_red', c.signal.phase, c.signal.into_red_s.toFixed(1), c.signal.yellow_s, c.signal.grace_s)));
  if (c.speed_kmh != null) rows.push(esc(t('v_speed', c.speed_kmh.toFixed(0), c.limit_kmh, c.tolerance_kmh, c.calibration || '')));
  if (c.dwell_s != null) rows.push(esc(t('v_dwell', c.dwell_s.toFixed(0))));
  if (c.distance_m != null) rows.push(esc(t('v_against', c.distance_m.toFixed(0))));
  if (c.label) rows.push(esc(t('v_classifier', c.label, c.votes, c.frames)));
  const imgs = (v.evidence || []).filter((a) => a.mime === 'image/jpeg')
    .map((a) => figure(a.sha256, a.name, a.name, 'style="max-width:320px"')).join('');
  // The clip plays inline; it is fetched with the token (a <video src> cannot send one).
  const clips = (v.evidence || []).filter((a) => a.mime === 'video/mp4')
    .map((a) => `<figure><video class="clip" data-sha="${esc(a.sha256)}" controls muted playsinline preload="metadata" style="max-width:100%;width:480px"></video><figcaption>${esc(a.name)}</figcaption></figure>`).join('');
  return `<p>${rows.join('<br>')}</p><div class="figs">${clips}${imgs}</div>`;
}

function signature(s) {
  const status = esc(t('sig_' + s.status));
  const problems = s.problems && s.problems.length ? ' — ' + esc(s.problems.join('; ')) : '';
  const covers = (s.covers || s.facts || []);
  const list = Array.isArray(covers) && covers.length
    ? `<br><span class="small">${esc(t('sig_covers'))}: ${esc(covers.join(', '))}</span>` : '';
  return `${esc(t('signature'))}: <b id="signature">${status}</b>${problems}${list}`;
}

let openId = null;
async function openEvent(id) {
  openId = id;
  try {
    const d = await (await api('/api/events/' + id)).json();
    const e = d.event, b = e.body || {};
    const ev = d.evidence.map((x) => `<li>${esc(x.sha256)} ${x.present ? '' : '(' + esc(t('not_received')) + ')'}</li>`).join('') || `<li>${esc(t('none'))}</li>`;
    const title = hitTitle({ class: b.class, color: (b.attributes && b.attributes.color) || b.color, kind: e.kind });
    const what = name('kind', e.kind) + (b.rule ? ': ' + name('rule', b.rule) : '');
    const heading = [what, title, b.track_id != null ? '#' + b.track_id : null, e.camera, fmt(e.ts)].filter(Boolean).join(' · ');
    $('detail').innerHTML = `<h2 id="detail-caption">${esc(heading)}</h2>
      ${LANG === 'en' ? `<p class="small" id="detail-hub-caption">${esc(d.caption)}</p>` : ''}
      <p>${signature(d.signature)}</p>
      ${d.hold ? `<p id="hold">${esc(t('on_hold'))}: ${esc(d.hold.reason)} (${esc(d.hold.by)}, ${fmt(d.hold.since)})</p>` : ''}
      ${violation(e)}
      ${e.recording ? `<p>${esc(t('recording'))}: <span id="recording-label">${esc(t('tab_cases'))} ${e.recording.case} · video ${e.recording.video} · ${hms(e.recording.offset_ms / 1000)}</span>
        <button id="play-recording">${esc(t('play_at'))}</button></p>
        <video id="recording-video" class="hidden" controls muted playsinline style="max-width:100%;width:480px"></video>` : ''}
      ${b.snapshot ? figure(b.snapshot, t('snapshot'), t('snapshot'), 'style="max-width:320px"') : ''}
      ${b.plate_image ? figure(b.plate_image, t('plate_read'), t('plate_read'), 'id="plate-image" style="width:320px;image-rendering:pixelated"') : ''}
      <p class="small">${esc(t('zoom_hint'))}</p>
      <p>${esc(t('evidence'))}:</p><ul>${ev}</ul>
      <button class="primary" id="export">${esc(t('export'))}</button> <span id="export-done" class="small"></span>
      ${plateOf(e) ? `<button id="trace-this">${esc(t('trace_this'))}</button>` : ''}
      <button id="candidates-this">${esc(t('candidates_this'))}</button>
      ${fields(e)}
      <details><summary>${esc(t('raw'))}</summary><pre>${esc(JSON.stringify(e, null, 2))}</pre></details>`;
    $('detail').classList.remove('hidden');
    // Beside the list on a wide screen (already in view: the list stays put), below it on a phone.
    $('detail').scrollIntoView({ block: matchMedia('(min-width: 1000px)').matches ? 'nearest' : 'start' });
    document.querySelectorAll('#detail [data-sha]').forEach((el) => loadBlob(el.dataset.sha, el));
    document.querySelectorAll('#detail figure img').forEach((img) => {
      img.tabIndex = 0;
      img.onclick = () => zoom(img);
      img.onkeydown = (k) => { if (k.key === 'Enter') zoom(img); };
    });
    $('candidates-this').onclick = () => { tab('watch'); candidates(id); };
    if (plateOf(e)) $('trace-this').onclick = () => { tab('watch'); $('trace-plate').value = plateOf(e); trace(plateOf(e)); };
    $('export').onclick = () => exportCase(id);
    if (e.recording) $('play-recording').onclick = () => playRecording(e.recording, $('recording-video'), $('recording-label'));
  } catch (err) { $('error').textContent = err.message; }
}
onLang(() => { if (openId && !$('detail').classList.contains('hidden')) openEvent(openId); });

// The case as a zip (verifiable offline with `matthan-evidence verify`), saved by the browser.
async function exportCase(id) {
  try {
    const blob = await (await api('/api/events/' + id + '/export')).blob();
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob); a.download = 'incident-' + id + '.zip'; a.click();
    $('export-done').textContent = `${t('exported')}: ${Math.round(blob.size / 1024)} KiB`;
    $('export-done').dataset.bytes = String(blob.size);
  } catch (err) { $('error').textContent = err.message; }
}

// The zoom dialog: the image at its own size, then larger or smaller in steps.
let scale = 1;
function zoom(img) {
  const z = $('zoom-img');
  z.src = img.src; z.alt = img.alt;
  scale = Math.max(1, Math.min(4, Math.floor(640 / Math.max(1, img.naturalWidth))));
  z.style.width = img.naturalWidth * scale + 'px';
  z.style.imageRendering = 'pixelated';
  $('zoom').showModal();
}
function rescale(f) {
  const z = $('zoom-img');
  scale = Math.max(0.25, Math.min(16, scale * f));
  z.style.width = z.naturalWidth * scale + 'px';
}
$('zoom-in').onclick = () => rescale(2);
$('zoom-out').onclick = () => rescale(0.5);
$('zoom-close').onclick = () => $('zoom').close();
