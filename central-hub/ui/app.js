// Mắt Thần operator console: session, tabs, search and the review timeline (served at
// /ui/app.js; the page's CSP allows no inline script). Words come from i18n.js.
/* global t, name, LANG, setLang, translateReason, onLang, openEvent, loadJunctions, loadWatch, stopJunctions */
const $ = (id) => document.getElementById(id);
const tz = 'Asia/Ho_Chi_Minh';
const fmt = (ts) => new Date(ts).toLocaleString(LANG === 'vi' ? 'vi-VN' : 'en-GB', { timeZone: tz });
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
// What went wrong, for the page: uncaught errors are kept where a test (or a curious
// operator's console) can read them.
window.consoleErrors = [];
window.addEventListener('error', (e) => window.consoleErrors.push(String(e.message)));
window.addEventListener('unhandledrejection', (e) => window.consoleErrors.push(String(e.reason)));

// The token lives in this page's memory only: nothing a script could read survives the tab,
// and there is no stored credential for another page of the origin to take.
let TOKEN = null;
let ME = null;
function token() { return TOKEN; }
// An API call with the token; a refusal becomes an error in the reader's language (the hub's
// own words follow for the detail).
async function api(path, init = {}) {
  const r = await fetch(path, { ...init, headers: { ...(init.headers || {}), Authorization: 'Bearer ' + token() } });
  if (r.status === 401) { showLogin(); throw new Error(t('token_invalid')); }
  if (!r.ok) {
    const e = await r.json().catch(() => ({}));
    const known = ['http_' + r.status].find((k) => t(k) !== k);
    throw new Error([known ? t(known) : r.statusText, e.error].filter(Boolean).join(': '));
  }
  return r;
}
function showLogin() { $('login').classList.remove('hidden'); $('token').focus(); }
// Which tabs each role may use (the API refuses the rest anyway).
const TABS = { operator: ['search', 'watch', 'cases'], traffic: ['junctions'], admin: ['search', 'junctions', 'watch', 'cases'] };
const ALL_TABS = ['search', 'junctions', 'watch', 'cases'];
function showWho() { if (ME) $('who').textContent = ME.name + ' (' + t('role_' + ME.role) + ')'; }
// The token is checked by the hub before it is kept: a wrong one never "logs in".
$('login-form').onsubmit = async (ev) => {
  ev.preventDefault();
  const tok = $('token').value.trim();
  $('login-error').textContent = '';
  const r = await fetch('/api/whoami', { headers: { Authorization: 'Bearer ' + tok } });
  if (!r.ok) {
    $('token').value = '';
    const e = await r.json().catch(() => ({}));
    $('login-error').textContent = r.status === 429 ? t('login_locked') + ': ' + (e.error || '') : t('login_wrong');
    return;
  }
  ME = await r.json();
  TOKEN = tok; $('token').value = '';
  $('login').classList.add('hidden');
  showWho();
  $('logout').classList.remove('hidden');
  const allowed = TABS[ME.role] || [];
  for (const n of ALL_TABS) $('tab-' + n).classList.toggle('hidden', !allowed.includes(n));
  if (allowed.length) tab(allowed[0]);
  if (allowed.includes('search')) { loadCameras(); runSearch(false); }
};
$('logout').onclick = () => {
  TOKEN = null; ME = null; $('who').textContent = ''; $('logout').classList.add('hidden');
  $('results').innerHTML = ''; $('detail').classList.add('hidden'); $('timeline').innerHTML = '';
  if (typeof stopJunctions === 'function') stopJunctions();
  showLogin();
};
$('lang').onclick = () => setLang(LANG === 'vi' ? 'en' : 'vi');
onLang(showWho);
if (!token()) showLogin();

let current = 'search';
function tab(which) {
  current = which;
  for (const n of ALL_TABS) {
    $(n === 'junctions' ? 'junction-view' : n + '-view').classList.toggle('hidden', which !== n);
    $('tab-' + n).classList.toggle('active', which === n);
  }
  if (which === 'junctions') loadJunctions(); else if (typeof stopJunctions === 'function') stopJunctions();
  if (which === 'watch') loadWatch();
  if (which === 'cases') loadCases(); else if (typeof stopCases === 'function') stopCases();
}
$('tab-search').onclick = () => tab('search');
$('tab-junctions').onclick = () => tab('junctions');
$('tab-watch').onclick = () => tab('watch');
$('tab-cases').onclick = () => tab('cases');

// The filters' option labels follow the language too.
function labelOptions() {
  for (const o of $('f-class').options) if (o.value) o.textContent = name('class', o.value);
  for (const o of $('f-kind').options) if (o.value) o.textContent = name('kind', o.value);
}
labelOptions();
onLang(labelOptions);

// The text box and the filters beside it, as one query string; "load more" pages on.
const PAGE = 30;
let shown = 0;
let lastSearch = null;
function searchParams() {
  const p = new URLSearchParams({ q: $('q').value, limit: PAGE, sort: $('f-sort').value });
  const cams = [...$('f-camera').selectedOptions].map((o) => o.value);
  if (cams.length) p.set('camera', cams.join(','));
  for (const [k, id] of [['class', 'f-class'], ['kind', 'f-kind'], ['plate', 'f-plate'], ['from', 'f-from'], ['to', 'f-to']]) {
    if ($(id).value.trim()) p.set(k, $(id).value.trim());
  }
  return p;
}
let CAMERAS = [];
async function loadCameras() {
  try {
    const d = await (await api('/api/cameras')).json();
    CAMERAS = d.cameras.map((c) => c.camera);
    $('f-camera').innerHTML = CAMERAS.map((c) => `<option value="${esc(c)}">${esc(c)}</option>`).join('');
  } catch (e) { /* the list stays empty; the text box still names cameras */ }
}
$('more').onclick = () => runSearch(true);
$('search-form').onsubmit = (ev) => { ev.preventDefault(); runSearch(false); };
// A changed filter searches again at once (text fields when they are left or Enter is pressed).
for (const id of ['f-class', 'f-kind', 'f-sort', 'f-camera', 'f-plate', 'f-from', 'f-to']) $(id).onchange = () => runSearch(false);
$('filters').onsubmit = (ev) => { ev.preventDefault(); runSearch(false); };

// What the hub understood, in the reader's language.
function understoodLine(u) {
  const compass = (d) => ['N', 'NE', 'E', 'SE', 'S', 'SW', 'W', 'NW'][Math.round(d / 45) % 8];
  const parts = [];
  if (u.classes.length) parts.push(t('u_class') + ': ' + u.classes.map((c) => name('class', c)).join('/'));
  if (u.color) parts.push(t('u_color') + ': ' + name('color', u.color));
  if (u.upper_color) parts.push(t('u_top') + ': ' + name('color', u.upper_color));
  if (u.lower_color) parts.push(t('u_bottom') + ': ' + name('color', u.lower_color));
  if (u.plate) parts.push(t(u.plate_at_start ? 'u_plate_start' : 'u_plate_contains') + ' ' + u.plate);
  if (u.direction) parts.push(t('u_direction') + ': ' + t('dir_' + u.direction));
  if (u.violation) parts.push(t('u_violation') + ': ' + name('rule', u.violation));
  if (u.alert) parts.push(t('u_alert') + ': ' + name('rule', u.alert));
  if (u.cameras.length) parts.push('camera: ' + u.cameras.join(', '));
  if ((u.places || []).length) parts.push(t('u_place') + ': ' + u.places.join(', '));
  if (u.heading_deg != null) parts.push(t('u_heading') + ': ' + compass(u.heading_deg));
  if (u.from) parts.push(t('u_time') + ': ' + fmt(u.from) + ' – ' + fmt(u.to));
  if ((u.clock || []).length) parts.push(t('u_clock') + ': ' + u.clock.join(', '));
  for (const c of (u.corrected || [])) parts.push('"' + c.typed + '" → ' + c.read_as);
  for (const a of (u.ambiguous || [])) parts.push('"' + a.word + '" ' + t('u_could_be') + ': ' + a.readings.join(', '));
  if (u.words.length) parts.push(t('u_not_understood') + ': ' + u.words.join(' '));
  return u.nothing_understood
    ? t('nothing_understood') + (parts.length ? ' — ' + parts.join(' · ') : '')
    : t('understood') + ': ' + (parts.join(' · ') || t('all'));
}

// A result's title and caption built from its fields in the reader's language (the hub's own
// caption is English, kept for the detail).
function hitTitle(h) {
  const cls = name('class', h.class);
  const col = h.color ? name('color', h.color) : null;
  return (LANG === 'vi' ? [cls, col] : [col, cls]).filter(Boolean).join(' ') || name('kind', h.kind);
}
function hitCaption(h) {
  const bits = [name('kind', h.kind)];
  if (h.rule) bits[0] += ': ' + name('rule', h.rule);
  if (h.direction) bits.push(t('dir_' + h.direction));
  if (h.upper_color) bits.push(t('u_top') + ' ' + name('color', h.upper_color));
  if (h.lower_color) bits.push(t('u_bottom') + ' ' + name('color', h.lower_color));
  if (h.place) bits.push(h.place);
  if (h.track_id != null) bits.push('#' + h.track_id);
  return bits.join(' · ');
}
// Thumbnails and clips need the token too, so they come through fetch rather than a plain src.
function loadBlob(sha, el) {
  return api('/api/evidence/' + sha).then((r) => r.blob()).then((b) => { el.src = URL.createObjectURL(b); }).catch(() => {});
}
function card(h) {
  const c = document.createElement('div');
  c.className = 'card'; c.dataset.id = h.id;
  c.innerHTML = `<div class="thumb">${h.snapshot ? '<img alt="" style="max-height:90px;max-width:100%">' : esc(name('kind', h.kind))}</div><h3>${esc(hitTitle(h))}</h3>
    <div class="meta">${esc(h.camera)} · ${esc(fmt(h.ts))}${h.plate ? ' · ' + esc(h.plate) : ''}</div>
    <div class="meta">${esc(hitCaption(h))}</div><div class="why">${esc(h.reasons.map(translateReason).join(' · '))}</div>`;
  c.onclick = () => openEvent(h.id);
  // Reachable and openable from the keyboard.
  c.tabIndex = 0; c.setAttribute('role', 'button');
  c.setAttribute('aria-label', hitTitle(h) + ', ' + h.camera + ', ' + fmt(h.ts));
  c.onkeydown = (k) => { if (k.key === 'Enter' || k.key === ' ') { k.preventDefault(); openEvent(h.id); } };
  if (h.snapshot) loadBlob(h.snapshot, c.querySelector('img'));
  return c;
}

let hits = [];
function drawResults() {
  $('results').innerHTML = '';
  if (!lastSearch) return;
  $('understood').textContent = understoodLine(lastSearch.understood);
  if (!hits.length) { $('results').innerHTML = `<p>${esc(t('no_results'))}</p>`; return; }
  for (const h of hits) $('results').appendChild(card(h));
}
onLang(drawResults);

// Searches can overlap (a filter changed while the last answer is on its way): only the
// newest one's answer is drawn, so two answers never mix on the page.
let searchSeq = 0;
async function runSearch(more) {
  $('error').textContent = ''; $('detail').classList.add('hidden');
  const seq = ++searchSeq;
  try {
    const p = searchParams(); p.set('offset', more ? shown : 0);
    const data = await (await api('/api/search?' + p.toString())).json();
    if (seq !== searchSeq) return;
    if (!more) { hits = []; shown = 0; }
    shown += data.results.length;
    hits = hits.concat(data.results);
    lastSearch = data;
    $('more').classList.toggle('hidden', data.results.length < PAGE);
    drawResults();
    // The moments results are on screen, for the UI bench (benches/benches/hub_ui).
    if (!performance.getEntriesByName('first-results').length) performance.mark('first-results');
    performance.mark('results');
  } catch (e) { $('error').textContent = e.message; }
}

// The review timeline: each camera's last 1, 6 or 24 h as a time axis with its events as
// marks (violations red and on top, alerts orange, zone events green, others blue); a mark
// opens its event. A shorter span pulls apart marks that a day would pile on one pixel.
const TL_KINDS = 'violation,alert,zone,track,crossing';
function labelRange() { for (const o of $('timeline-range').options) o.textContent = t('last_hours', o.value); }
labelRange();
onLang(labelRange);
async function loadTimeline() {
  const box = $('timeline');
  box.innerHTML = '';
  const hours = Number($('timeline-range').value);
  const to = Date.now(), from = to - hours * 3600e3;
  const cams = [...$('f-camera').selectedOptions].map((o) => o.value);
  const list = (cams.length ? cams : CAMERAS).slice(0, 12);
  try {
    const rows = await Promise.all(list.map(async (cam) => {
      const p = new URLSearchParams({ q: '', camera: cam, kind: TL_KINDS, sort: 'newest', limit: 100, from: new Date(from).toISOString() });
      return [cam, (await (await api('/api/search?' + p)).json()).results];
    }));
    const ticks = document.createElement('div');
    ticks.className = 'tl-row';
    ticks.innerHTML = '<span></span><div class="tl-ticks">' + [0, 0.25, 0.5, 0.75, 1].map((f) => {
      const at = from + f * (to - from);
      const label = new Date(at).toLocaleTimeString(LANG === 'vi' ? 'vi-VN' : 'en-GB', { timeZone: tz, hour: '2-digit', minute: '2-digit' });
      return `<span style="left:${f * 100}%">${esc(label)}</span>`;
    }).join('') + '</div>';
    box.appendChild(ticks);
    for (const [cam, evs] of rows) {
      const row = document.createElement('div');
      row.className = 'tl-row';
      row.innerHTML = `<span>${esc(cam)}</span><div class="tl-axis" role="group" aria-label="${esc(cam)}"></div>`;
      const axis = row.querySelector('.tl-axis');
      for (const h of evs) {
        const x = ((Date.parse(h.ts) - from) / (to - from)) * 100;
        if (x < 0 || x > 100) continue;
        const m = document.createElement('button');
        m.className = 'mark ' + h.kind;
        m.style.left = x + '%';
        m.title = `${hitTitle(h)} · ${hitCaption(h)} · ${fmt(h.ts)}`;
        m.setAttribute('aria-label', m.title);
        m.onclick = () => openEvent(h.id);
        axis.appendChild(m);
      }
      box.appendChild(row);
    }
  } catch (e) { $('error').textContent = e.message; }
}
$('timeline-load').onclick = loadTimeline;
$('timeline-range').onchange = () => { if ($('timeline').children.length) loadTimeline(); };
onLang(() => { if ($('timeline').children.length) loadTimeline(); });
