// Forensic cases (vụ việc): open one from a folder on the hub's disk or a list of URLs, add
// uploads, follow each case's progress (videos done, hours of video analysed, rate, time
// left), and play a case's video from the moment an event points at.
/* global $, t, api, esc, fmt */
/* exported loadCases, stopCases, playRecording, hms */
let casesTimer = null;
let shownCase = null;
// 83.4 → "00:01:23"
const hms = (s) => new Date(Math.max(0, s) * 1000).toISOString().slice(11, 19);

function progressCells(p) {
  const pct = p.videos ? Math.round((100 * (p.done + p.failed)) / p.videos) : 0;
  const rate = p.rate != null ? `${p.rate.toFixed(1)}×` : '—';
  const eta = p.eta_s != null ? hms(p.eta_s) : '—';
  return `<td><progress max="100" value="${pct}" aria-label="${pct}%"></progress> ${p.done}/${p.videos}`
    + `${p.failed ? ` <span class="error">(${p.failed} ${esc(t('case_failed'))})</span>` : ''}</td>`
    + `<td>${(p.processed_s / 3600).toFixed(2)} h</td><td>${rate}</td><td>${eta}</td>`;
}

async function loadCases() {
  stopCases();
  await refreshCases();
  // Progress moves while the tab is open; it stops when the operator leaves it.
  casesTimer = setInterval(refreshCases, 3000);
}
function stopCases() { if (casesTimer) clearInterval(casesTimer); casesTimer = null; }

async function refreshCases() {
  try {
    const d = await (await api('/api/cases')).json();
    const body = $('cases').querySelector('tbody');
    body.innerHTML = '';
    if (!d.cases.length) body.innerHTML = `<tr><td colspan="6">${esc(t('no_cases'))}</td></tr>`;
    for (const c of d.cases) {
      const tr = document.createElement('tr');
      tr.dataset.id = c.case.id;
      tr.innerHTML = `<td><button class="link">${esc(c.case.name)}</button></td><td>${esc(fmt(c.case.recorded_at))}</td>${progressCells(c.progress)}`;
      tr.querySelector('button').onclick = () => showCase(c.case.id);
      body.appendChild(tr);
    }
    if (shownCase != null) await showCase(shownCase);
  } catch (e) { $('cases-error').textContent = e.message; }
}

async function showCase(id) {
  shownCase = id;
  const d = await (await api('/api/cases/' + id)).json();
  $('case-title').textContent = `${d.case.name} · ${t('case_recorded')} ${fmt(d.case.recorded_at)}`;
  $('case-upload-row').classList.remove('hidden');
  const body = $('case-videos').querySelector('tbody');
  body.innerHTML = '';
  for (const v of d.videos) {
    const pct = v.duration_s ? Math.min(100, Math.round((100 * v.processed_s) / v.duration_s)) : 0;
    const tr = document.createElement('tr');
    tr.innerHTML = `<td>${esc(v.name)}</td><td>${esc(t('job_' + v.state))}</td>`
      + `<td><progress max="100" value="${v.state === 'done' ? 100 : pct}"></progress></td>`
      + `<td>${v.duration_s != null ? hms(v.duration_s) : '—'}</td><td>${v.events}</td><td class="error">${esc(v.error || '')}</td>`;
    body.appendChild(tr);
  }
}

$('case-form').onsubmit = async (ev) => {
  ev.preventDefault();
  $('cases-error').textContent = '';
  const urls = $('case-urls').value.split(/\s+/).filter(Boolean);
  const when = $('case-recorded').value;
  const body = { name: $('case-name').value, urls };
  if ($('case-folder').value) body.folder = $('case-folder').value;
  // The form's time is Ho Chi Minh City's wall clock.
  if (when) body.recorded_at = when + ':00+07:00';
  try {
    const r = await (await api('/api/cases', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })).json();
    shownCase = r.id;
    $('case-done').textContent = t('case_opened', r.videos);
    await refreshCases();
  } catch (e) { $('cases-error').textContent = e.message; }
};

// Uploads go one at a time, each streamed to the hub and queued as it lands.
$('case-files').onchange = async () => {
  const files = [...$('case-files').files];
  for (const [i, f] of files.entries()) {
    $('case-done').textContent = `${t('uploading')} ${i + 1}/${files.length}: ${f.name}`;
    try {
      await api(`/api/cases/${shownCase}/videos?name=${encodeURIComponent(f.name)}`, { method: 'POST', body: f });
    } catch (e) { $('cases-error').textContent = `${f.name}: ${e.message}`; }
  }
  $('case-done').textContent = t('uploaded', files.length);
  $('case-files').value = '';
  refreshCases();
};

// The video an event was seen in, fetched with the token (a <video src> cannot send one) and
// started at the event's offset.
async function playRecording(rec, video, label) {
  try {
    const c = await (await api('/api/cases/' + rec.case)).json();
    const v = c.videos.find((x) => x.id === rec.video);
    label.textContent = `${c.case.name} · ${v ? v.name : rec.video} · ${hms(rec.offset_ms / 1000)}`;
    const blob = await (await api(`/api/cases/${rec.case}/videos/${rec.video}/file`)).blob();
    video.onloadedmetadata = () => { video.currentTime = rec.offset_ms / 1000; };
    video.src = URL.createObjectURL(blob);
    video.dataset.offset = String(rec.offset_ms / 1000);
    video.classList.remove('hidden');
  } catch (e) { label.textContent = e.message; }
}
