// The inspector page (service/inspect/nfltr-inspect-server.h). No framework, no CDN: the
// list is fed by server-sent events, the detail and replay by the JSON API of the same origin.
'use strict';

const token = document.querySelector('meta[name="nfltr-token"]').content;
const exchanges = new Map();   // id → summary
const details = new Map();     // id → full exchange, fetched on demand (for search too)
let selected = 0;
let lastId = 0;

const $ = (id) => document.getElementById(id);

function fmtSize(n) {
  if (n < 1024) return n + ' B';
  if (n < 1024 * 1024) return (n / 1024).toFixed(1) + ' KiB';
  return (n / 1024 / 1024).toFixed(1) + ' MiB';
}

function fmtTime(t) {
  return new Date(t * 1000).toLocaleTimeString();
}

function statusClass(s) {
  return 's' + Math.floor(s / 100);
}

function matches(ex) {
  const m = $('f-method').value;
  const s = $('f-status').value;
  const p = $('f-path').value;
  const q = $('f-text').value.toLowerCase();
  if (m && ex.method !== m) return false;
  if (s !== '' && String(Math.floor(ex.status / 100)) !== s) return false;
  if (p && !ex.path.includes(p)) return false;
  if (q) {
    const d = details.get(ex.id);
    let hay = (ex.method + ' ' + ex.path + ' ' + ex.status + ' ' + ex.host + ' ' + ex.content_type).toLowerCase();
    if (d) {
      for (const [n, v] of d.request_headers.concat(d.response_headers)) hay += ' ' + n.toLowerCase() + ': ' + v.toLowerCase();
      for (const b of [d.request_body, d.response_body]) if (b && b.text) hay += ' ' + b.text.toLowerCase();
    }
    if (!hay.includes(q)) return false;
  }
  return true;
}

function row(ex) {
  const tr = document.createElement('tr');
  tr.dataset.id = ex.id;
  const cells = [fmtTime(ex.time), ex.method, ex.path, ex.status ? String(ex.status) : (ex.error || '—'),
                 ex.duration_ms.toFixed(0) + ' ms', fmtSize(ex.response_size)];
  cells.forEach((text, i) => {
    const td = document.createElement('td');
    td.textContent = text;
    if (i === 2) {
      td.className = 'path';
      if (ex.replay_of) {
        const tag = document.createElement('span');
        tag.className = 'replay-tag';
        tag.textContent = 'replay of #' + ex.replay_of;
        td.appendChild(tag);
      }
    }
    if (i === 3) td.className = statusClass(ex.status);
    tr.appendChild(td);
  });
  tr.addEventListener('click', () => select(ex.id));
  if (ex.id === selected) tr.classList.add('selected');
  return tr;
}

function render() {
  const rows = $('rows');
  rows.textContent = '';
  const list = [...exchanges.values()].filter(matches).sort((a, b) => b.id - a.id);
  for (const ex of list) rows.appendChild(row(ex));
  $('empty').hidden = exchanges.size > 0;
}

// A busy tunnel sends many events a second: the list is drawn once a frame at most.
let renderPending = false;
function renderSoon() {
  if (renderPending) return;
  renderPending = true;
  requestAnimationFrame(() => {
    renderPending = false;
    render();
  });
}

const MAX_ROWS = 500;  // as many as the agent keeps (nfltr-inspect-store.h)

function add(ex) {
  exchanges.set(ex.id, ex);
  lastId = Math.max(lastId, ex.id);
  while (exchanges.size > MAX_ROWS) {
    const oldest = exchanges.keys().next().value;
    exchanges.delete(oldest);
    details.delete(oldest);
  }
}

async function api(path, options) {
  const r = await fetch(path, Object.assign({ credentials: 'same-origin' }, options || {}));
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || (r.status + ' ' + r.statusText));
  return body;
}

function headersTable(el, headers) {
  el.textContent = '';
  for (const [n, v] of headers) {
    const tr = document.createElement('tr');
    const a = document.createElement('td');
    const b = document.createElement('td');
    a.textContent = n;
    b.textContent = v;
    tr.append(a, b);
    el.appendChild(tr);
  }
}

function hexView(bytes) {
  const lines = [];
  for (let off = 0; off < bytes.length; off += 16) {
    const chunk = bytes.slice(off, off + 16);
    const hex = [...chunk].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = [...chunk].map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join('');
    lines.push(off.toString(16).padStart(8, '0') + '  ' + hex.padEnd(48) + '  ' + ascii);
  }
  return lines.join('\n');
}

function bodyView(el, body, size, binary, truncated, decoded) {
  el.textContent = '';
  const note = document.createElement('p');
  note.className = 'sub';
  const pre = document.createElement('pre');
  if (body === null || size === 0) {
    note.textContent = size ? fmtSize(size) + ' body, not kept (start the tunnel with --inspect-bodies to see bodies)' : 'No body';
    el.appendChild(note);
    return;
  }
  const parts = [fmtSize(size)];
  if (decoded) parts.push('shown gzip-decoded');
  if (binary) parts.push('binary, shown as hex');
  if (truncated) parts.push('cut at the inspector\'s cap');
  note.textContent = parts.join(' · ');
  if (body.base64 !== undefined) {
    const raw = atob(body.base64);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    pre.textContent = hexView(bytes);
    pre.className = 'hex';
  } else {
    pre.textContent = body.text;
  }
  el.append(note, pre);
}

async function select(id) {
  selected = id;
  for (const tr of document.querySelectorAll('#rows tr')) tr.classList.toggle('selected', Number(tr.dataset.id) === id);
  let d;
  try {
    d = await api('/api/exchanges/' + id);
  } catch (e) {
    $('d-title').textContent = e.message;
    return;
  }
  details.set(id, d);
  $('detail').hidden = false;
  $('d-title').textContent = d.method + ' ' + d.path + (d.status ? ' → ' + d.status : '');
  $('d-meta').textContent = [fmtTime(d.time), 'HTTP/' + d.http_version, d.duration_ms.toFixed(1) + ' ms',
    d.client ? 'from ' + d.client : '', d.replay_of ? 'replay of #' + d.replay_of : '', d.error || ''].filter(Boolean).join(' · ');
  headersTable($('d-req-headers'), d.request_headers);
  headersTable($('d-resp-headers'), d.response_headers);
  bodyView($('d-req-body'), d.request_body, d.request_size, d.request_binary, d.request_truncated, false);
  bodyView($('d-resp-body'), d.response_body, d.response_size, d.response_binary, d.response_truncated, d.response_decoded);
  $('r-method').value = d.method;
  $('r-path').value = d.path;
  $('r-headers').value = d.request_headers.map(([n, v]) => n + ': ' + v).join('\n');
  $('r-body').value = d.request_body && d.request_body.text !== undefined ? d.request_body.text : '';
  $('r-result').textContent = '';
}

async function replay(edits) {
  $('r-result').textContent = 'Sending…';
  try {
    const r = await api('/api/exchanges/' + selected + '/replay', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Nfltr-Token': token },
      body: JSON.stringify(edits),
    });
    $('r-result').textContent = 'Replayed as #' + r.id;
  } catch (e) {
    $('r-result').textContent = 'Replay failed: ' + e.message;
  }
}

function editsFromForm() {
  const headers = $('r-headers').value.split('\n').filter((l) => l.includes(':')).map((l) => {
    const i = l.indexOf(':');
    return [l.slice(0, i).trim(), l.slice(i + 1).trim()];
  });
  const edits = { method: $('r-method').value.trim(), path: $('r-path').value.trim(), headers };
  const d = details.get(selected);
  const body = $('r-body').value;
  if (body !== '' || (d && d.request_size > 0)) edits.body = body;
  return edits;
}

function listen() {
  const es = new EventSource('/api/events');
  es.addEventListener('open', async () => {
    $('live').textContent = 'live';
    // Whatever arrived while the stream was down.
    const r = await api('/api/exchanges?since=' + lastId);
    r.exchanges.forEach(add);
    render();
  });
  es.addEventListener('exchange', (e) => {
    add(JSON.parse(e.data));
    renderSoon();
  });
  es.addEventListener('error', () => {
    $('live').textContent = 'reconnecting…';
  });
}

async function start() {
  for (const id of ['f-method', 'f-status', 'f-path', 'f-text']) $(id).addEventListener('input', render);
  $('f-text').addEventListener('input', async () => {
    // Full-text search needs the headers and bodies: fetch what is not here yet.
    const missing = [...exchanges.keys()].filter((id) => !details.has(id)).slice(0, 200);
    await Promise.all(missing.map((id) => api('/api/exchanges/' + id).then((d) => details.set(id, d)).catch(() => {})));
    render();
  });
  $('replay-form').addEventListener('submit', (e) => {
    e.preventDefault();
    replay({});
  });
  $('replay-edited').addEventListener('click', () => replay(editsFromForm()));
  try {
    const info = await api('/api/info');
    $('tunnel').textContent = info.tunnel + (info.url ? ' — ' + info.url : '') + ' → ' + info.target;
    $('bodies').textContent = info.body_cap > 0 ? 'Bodies kept up to ' + fmtSize(info.body_cap) + ' each.'
      : 'Bodies are not kept (metadata only): start with --inspect-bodies to see them.';
  } catch (e) {
    $('tunnel').textContent = e.message;
  }
  const r = await api('/api/exchanges');
  r.exchanges.forEach(add);
  render();
  listen();
}

start();
