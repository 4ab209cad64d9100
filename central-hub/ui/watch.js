// Tracing (truy vết) and the watch list: a plate's sightings oldest first with hops no vehicle
// could drive flagged; candidates without a plate, each marked as such; listed plates; hits as
// they arrive on the server-sent stream.
/* global $, t, api, esc, fmt, token, onLang */
/* exported trace, candidates, loadWatch */
let traced = null;
async function trace(plate) {
  traced = ['plate', plate];
  $('watch-error').textContent = '';
  const body = $('trace').querySelector('tbody');
  try {
    const d = await (await api('/api/trace?plate=' + encodeURIComponent(plate))).json();
    body.innerHTML = '';
    if (!d.sightings.length) body.innerHTML = `<tr><td colspan="5">${esc(t('not_seen'))}</td></tr>`;
    for (const s of d.sightings) {
      const h = s.hop;
      const hop = !h ? '' : h.unknown ? esc(h.from) : `${esc(h.from)}: ${h.km} km / ${h.seconds} s (${h.kmh} km/h)`
        + (h.impossible ? ` <b>${esc(t('impossible'))}</b>` : '');
      const tr = document.createElement('tr');
      tr.innerHTML = `<td>${esc(fmt(s.ts))}</td><td>${esc(s.camera)}</td><td>${esc(s.plate)}</td><td>${esc(t('match_' + s.match))}</td><td>${hop}</td>`;
      body.appendChild(tr);
    }
  } catch (e) { $('watch-error').textContent = e.message; }
}
// Without a plate: passes at nearby cameras that could be the same vehicle, ranked, each
// marked as a candidate with its reasons (an operator confirms by looking).
async function candidates(id) {
  traced = ['event', id];
  $('watch-error').textContent = '';
  const body = $('trace').querySelector('tbody');
  try {
    const d = await (await api('/api/trace/candidates?event=' + encodeURIComponent(id))).json();
    body.innerHTML = '';
    if (!d.candidates.length) body.innerHTML = `<tr><td colspan="5">${esc(t('no_candidates'))}${d.note ? ' — ' + esc(d.note) : ''}</td></tr>`;
    for (const c of d.candidates) {
      const tr = document.createElement('tr');
      tr.innerHTML = `<td>${esc(fmt(c.ts))}</td><td>${esc(c.camera)}</td><td>${esc(c.plate || '—')}</td>`
        + `<td>${esc(t('candidate'))} (${c.score})</td><td>${esc(c.reasons.join('; '))}</td>`;
      body.appendChild(tr);
    }
  } catch (e) { $('watch-error').textContent = e.message; }
}
$('trace-form').onsubmit = (ev) => { ev.preventDefault(); trace($('trace-plate').value); };

// Hits arrive from two places, the list fetched on opening and the live stream, in either
// order: a fetch answered before a hit was stored must not wipe the row the stream just added.
// So both merge into one map (a pass is one listed plate on one event) and the table is drawn
// from it, newest first.
const hitsSeen = new Map();
const hitKey = (h) => h.entry_id + '/' + h.event_id;
function addHit(h) { hitsSeen.set(hitKey(h), h); }
function drawHits() {
  const body = $('hits').querySelector('tbody');
  body.innerHTML = '';
  const all = [...hitsSeen.values()].sort((a, b) => (a.ts < b.ts ? 1 : a.ts > b.ts ? -1 : 0));
  // A console stays open for days: keep only the rows shown, as the fetch asks for.
  for (const old of all.slice(50)) hitsSeen.delete(hitKey(old));
  for (const h of all.slice(0, 50)) {
    const tr = document.createElement('tr');
    tr.innerHTML = `<td>${esc(fmt(h.ts))}</td><td>${esc(h.camera)}</td><td>${esc(h.listed)}</td>
      <td>${esc(h.read)}${h.exact ? '' : ' (' + esc(t('look_alike')) + ')'}</td><td>${esc(h.reason)}</td>`;
    body.appendChild(tr);
  }
}

async function loadWatch() {
  $('watch-error').textContent = '';
  try {
    const d = await (await api('/api/watchlist')).json();
    const body = $('watch').querySelector('tbody');
    body.innerHTML = '';
    for (const w of d.entries) {
      const tr = document.createElement('tr');
      tr.innerHTML = `<td>${esc(w.plate)}</td><td>${esc(w.reason)}</td><td>${esc(w.added_by)}</td><td>${esc(fmt(w.expires))}</td><td><button>${esc(t('remove'))}</button></td>`;
      tr.querySelector('button').setAttribute('aria-label', t('remove') + ' ' + w.plate);
      tr.querySelector('button').onclick = async () => {
        try { await api('/api/watchlist/' + w.id, { method: 'DELETE' }); } catch (e) { $('watch-error').textContent = e.message; }
        loadWatch();
      };
      body.appendChild(tr);
    }
    const hits = await (await api('/api/watchlist/hits?limit=50')).json();
    for (const h of hits.hits) addHit(h);
    drawHits();
    listen();
  } catch (e) { $('watch-error').textContent = e.message; }
}
onLang(() => {
  if (!token() || $('watch-view').classList.contains('hidden')) return;
  loadWatch();
  if (traced) (traced[0] === 'plate' ? trace : candidates)(traced[1]);
});

$('watch-form').onsubmit = async (ev) => {
  ev.preventDefault();
  $('watch-error').textContent = '';
  try {
    await api('/api/watchlist', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ plate: $('watch-plate').value, reason: $('watch-reason').value, days: Number($('watch-days').value) }),
    });
    $('watch-plate').value = ''; $('watch-reason').value = '';
    loadWatch();
  } catch (e) { $('watch-error').textContent = e.message; }
};

// The stream needs the token, so it is read through fetch (EventSource cannot send headers).
let listening = false;
async function listen() {
  if (listening) return;
  listening = true;
  try {
    const r = await api('/api/watchlist/stream');
    // The hub subscribes before it answers, so from here no new hit can be missed.
    $('hits').dataset.live = 'yes';
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
        addHit(h);
        drawHits();
        $('hit-banner').textContent = t('hit_banner', h.listed, h.camera, fmt(h.ts), h.reason);
      }
    }
  } catch (e) { $('watch-error').textContent = e.message; }
  $('hits').dataset.live = 'no';
  listening = false;
}
