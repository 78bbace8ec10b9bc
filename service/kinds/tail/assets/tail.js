// tail.js — the log viewer: lines from the agent's feed (service/kinds/terminal/
// nfltr-web-socket.h), filtered, searched, paused and coloured here. Text is always put in
// the page as text (textContent), never as HTML.
'use strict';

(() => {
  const log = document.getElementById('tail-log');
  const filterInput = document.getElementById('tail-filter');
  const pauseButton = document.getElementById('tail-pause');
  const wrapBox = document.getElementById('tail-wrap');
  const status = document.getElementById('tail-status');
  const count = document.getElementById('tail-count');
  // Lines kept in the page: a log can run for days.
  const MAX_LINES = 10000;

  let files = [];
  let paused = false;
  let held = [];       // messages that came while paused
  let filter = null;   // (text) => boolean, or null
  let filterText = '';
  let handled = 0;     // messages of this connection handled (the ack)
  let backoff = 500;
  let ws = null;

  const setStatus = (text) => { status.textContent = text; };

  // ANSI SGR (ECMA-48 §8.3.117) to classes; every other escape sequence is dropped.
  const SGR = /\x1b\[([0-9;]*)m|\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_][^\x1b]?/g;
  const render = (element, text) => {
    let state = { fg: null, bg: null, b: false, dim: false, i: false, u: false };
    let last = 0;
    const push = (chunk) => {
      if (!chunk) return;
      const classes = [];
      if (state.fg !== null) classes.push('c' + state.fg);
      if (state.bg !== null) classes.push('g' + state.bg);
      if (state.b) classes.push('b');
      if (state.dim) classes.push('dim');
      if (state.i) classes.push('i');
      if (state.u) classes.push('u');
      if (classes.length === 0) {
        element.appendChild(document.createTextNode(chunk));
      } else {
        const span = document.createElement('span');
        span.className = classes.join(' ');
        span.textContent = chunk;
        element.appendChild(span);
      }
    };
    let m;
    SGR.lastIndex = 0;
    while ((m = SGR.exec(text)) !== null) {
      push(text.slice(last, m.index));
      last = SGR.lastIndex;
      if (m[1] === undefined) continue;
      const codes = m[1] === '' ? [0] : m[1].split(';').map(Number);
      for (let k = 0; k < codes.length; k++) {
        const c = codes[k];
        if (c === 0) state = { fg: null, bg: null, b: false, dim: false, i: false, u: false };
        else if (c === 1) state.b = true;
        else if (c === 2) state.dim = true;
        else if (c === 3) state.i = true;
        else if (c === 4) state.u = true;
        else if (c === 22) { state.b = false; state.dim = false; }
        else if (c === 23) state.i = false;
        else if (c === 24) state.u = false;
        else if (c >= 30 && c <= 37) state.fg = c - 30;
        else if (c === 39) state.fg = null;
        else if (c >= 40 && c <= 47) state.bg = c - 40;
        else if (c === 49) state.bg = null;
        else if (c >= 90 && c <= 97) state.fg = c - 90 + 8;
        else if (c === 38 || c === 48) k += codes[k + 1] === 5 ? 2 : 4; // 256/true colour: not mapped
      }
    }
    push(text.slice(last));
  };

  const plain = (text) => text.replace(SGR, '');

  const matches = (element) => !filter || filter(element.dataset.plain);

  const highlight = (element) => {
    // Re-render with the matches marked (plain text: colours give way to the search).
    const text = element.dataset.plain;
    element.textContent = '';
    if (element.dataset.src) {
      const src = document.createElement('span');
      src.className = 'src ' + element.dataset.srcClass;
      src.textContent = element.dataset.src;
      element.appendChild(src);
    }
    if (!filter || !filterText) { render(element, element.dataset.raw); return; }
    const re = filter.regex;
    let last = 0, m;
    re.lastIndex = 0;
    while ((m = re.exec(text)) !== null && m[0].length > 0) {
      element.appendChild(document.createTextNode(text.slice(last, m.index)));
      const mark = document.createElement('mark');
      mark.textContent = m[0];
      element.appendChild(mark);
      last = re.lastIndex;
    }
    element.appendChild(document.createTextNode(text.slice(last)));
  };

  const atBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < 40;

  const addLine = (file, text, cut, notice) => {
    const element = document.createElement('div');
    element.className = 'line' + (cut ? ' cut' : '') + (notice ? ' notice' : '');
    element.dataset.raw = text;
    element.dataset.plain = plain(text);
    if (files.length > 1 && file >= 0) {
      element.dataset.src = files[file].split('/').pop();
      element.dataset.srcClass = 'f' + (file % 8);
    }
    if (filter && filterText) highlight(element);
    else {
      if (element.dataset.src) {
        const src = document.createElement('span');
        src.className = 'src ' + element.dataset.srcClass;
        src.textContent = element.dataset.src;
        element.appendChild(src);
      }
      render(element, text);
    }
    if (!matches(element)) element.classList.add('hidden');
    log.appendChild(element);
  };

  const updateCount = () => {
    const shown = log.querySelectorAll('.line:not(.hidden)').length;
    count.textContent = filter ? shown + ' of ' + log.children.length + ' lines' : log.children.length + ' lines';
    if (paused && held.length) count.textContent += ' — ' + held.length + ' new while paused';
  };

  const handle = (message) => {
    const follow = atBottom();
    if (message.t === 'hello') {
      files = message.files;
      log.textContent = '';
    } else if (message.t === 'lines') {
      for (const [file, text, cut] of message.lines) addLine(file, text, cut, false);
    } else if (message.t === 'notice') {
      const name = message.file >= 0 && files[message.file] ? files[message.file] + ': ' : '';
      addLine(-1, '— ' + name + message.text + ' —', false, true);
    } else if (message.t === 'skipped') {
      addLine(-1, '— ' + message.count + ' updates not shown (this page fell behind) —', false, true);
    }
    while (log.children.length > MAX_LINES) log.removeChild(log.firstChild);
    if (follow) log.scrollTop = log.scrollHeight;
    updateCount();
  };

  const ack = () => { if (ws && ws.readyState === WebSocket.OPEN) ws.send('a' + handled); };

  const connect = () => {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = new WebSocket(scheme + '//' + location.host + '/ws');
    handled = 0;
    ws.onopen = () => { backoff = 500; setStatus(paused ? 'paused' : 'live'); };
    ws.onmessage = (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (paused && message.t !== 'hello') held.push(message);
      else handle(message);
      handled++;
      // Paused pages still acknowledge what they hold (bounded below): the feed goes on.
      ack();
    };
    ws.onclose = () => {
      ws = null;
      setStatus('disconnected — reconnecting…');
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 10000);
    };
  };

  const applyFilter = () => {
    filterText = filterInput.value;
    filter = null;
    if (filterText) {
      let regex;
      const m = /^\/(.+)\/([i]*)$/.exec(filterText);
      try {
        regex = m ? new RegExp(m[1], 'g' + m[2]) : new RegExp(filterText.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi');
        filterInput.setCustomValidity('');
      } catch (e) {
        filterInput.setCustomValidity('not a regular expression');
        regex = null;
      }
      if (regex) {
        filter = (text) => { regex.lastIndex = 0; return regex.test(text); };
        filter.regex = regex;
      }
    }
    for (const element of log.children) {
      element.classList.toggle('hidden', !matches(element));
      highlight(element);
    }
    log.scrollTop = log.scrollHeight;
    updateCount();
  };

  filterInput.addEventListener('input', applyFilter);
  pauseButton.addEventListener('click', () => {
    paused = !paused;
    pauseButton.textContent = paused ? 'Resume' : 'Pause';
    setStatus(paused ? 'paused' : 'live');
    if (!paused) {
      const messages = held;
      held = [];
      for (const message of messages) handle(message);
      log.scrollTop = log.scrollHeight;
    }
    updateCount();
  });
  wrapBox.addEventListener('change', () => log.classList.toggle('wrap', wrapBox.checked));
  // Held while paused: the newest MAX_LINES worth of messages at most.
  setInterval(() => { if (held.length > 2000) held.splice(0, held.length - 2000); }, 1000);

  connect();
})();
