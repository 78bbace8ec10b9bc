// watch.js — the runs of a watched command (service/kinds/watch/): the newest output with
// the characters that changed since the run before marked, as `watch -d` does, and the last
// runs to look back at. Output is always put in the page as text, never as HTML.
'use strict';

(() => {
  const output = document.getElementById('watch-output');
  const state = document.getElementById('watch-state');
  const runsList = document.getElementById('watch-runs');
  const diffBox = document.getElementById('watch-diff');
  const pauseButton = document.getElementById('watch-pause');
  const KEEP = 30;

  let runs = [];        // oldest first
  let shown = null;     // the seq shown, or null for "the newest"
  let paused = false;
  let interval = 0;
  let handled = 0;
  let backoff = 500;
  let ws = null;

  // Output with the characters that differ from the same line of before marked.
  const showRun = (run, before) => {
    output.textContent = '';
    const lines = run.output.split('\n');
    const old = before ? before.output.split('\n') : null;
    lines.forEach((line, i) => {
      if (i > 0) output.appendChild(document.createTextNode('\n'));
      if (!old || !diffBox.checked || old[i] === line) {
        output.appendChild(document.createTextNode(line));
        return;
      }
      const prev = old[i] || '';
      let at = 0;
      while (at < line.length) {
        const same = line[at] === prev[at];
        let end = at;
        while (end < line.length && (line[end] === prev[end]) === same) end++;
        const text = line.slice(at, end);
        if (same) output.appendChild(document.createTextNode(text));
        else {
          const mark = document.createElement('span');
          mark.className = 'changed';
          mark.textContent = text;
          output.appendChild(mark);
        }
        at = end;
      }
    });
    const notes = [];
    if (run.truncated) notes.push('output cut at the size limit');
    if (run.timed_out) notes.push('stopped: the run took too long');
    for (const note of notes) {
      const span = document.createElement('span');
      span.className = 'note';
      span.textContent = '\n[' + note + ']';
      output.appendChild(span);
    }
  };

  const outcome = (run) => run.status === null ? 'killed by signal ' + run.signal : 'exit ' + run.status;
  const duration = (ms) => ms < 1000 ? ms + ' ms' : (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + ' s';
  const clock = (ms) => new Date(ms).toLocaleTimeString();

  const render = () => {
    const newest = runs[runs.length - 1];
    const index = shown === null ? runs.length - 1 : runs.findIndex((r) => r.seq === shown);
    const run = runs[index];
    if (run) {
      showRun(run, runs[index - 1]);
      const next = shown === null && newest ? Math.max(0, Math.round((newest.started_ms + Math.max(interval, newest.duration_ms) - Date.now()) / 1000)) : null;
      state.textContent = '#' + run.seq + ' · ' + outcome(run) + ' · ' + duration(run.duration_ms) +
        ' · ' + clock(run.started_ms) + (paused ? ' · paused' : shown !== null ? ' · (an earlier run)' : next !== null ? ' · next in ' + next + ' s' : '');
      state.className = 'watch-state ' + (run.status === 0 ? 'ok' : 'failed');
    }
    runsList.textContent = '';
    for (let i = runs.length - 1; i >= 0; i--) {
      const r = runs[i];
      const item = document.createElement('li');
      item.value = r.seq;
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = clock(r.started_ms) + ' · ' + outcome(r) + ' · ' + duration(r.duration_ms);
      if (r.status !== 0) button.classList.add('bad');
      if ((shown === null && i === runs.length - 1) || shown === r.seq) button.setAttribute('aria-current', 'true');
      button.addEventListener('click', () => {
        shown = i === runs.length - 1 ? null : r.seq;
        render();
      });
      item.appendChild(button);
      runsList.appendChild(item);
    }
  };

  const connect = () => {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = new WebSocket(scheme + '//' + location.host + '/ws');
    handled = 0;
    ws.onopen = () => { backoff = 500; };
    ws.onmessage = (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      handled++;
      if (ws) ws.send('a' + handled);
      if (message.t === 'hello') {
        interval = message.interval_ms;
        runs = [];
      } else if (message.t === 'run') {
        runs.push(message);
        if (runs.length > KEEP) runs.shift();
        if (!paused) render();
      }
    };
    ws.onclose = () => {
      ws = null;
      state.textContent = 'disconnected — reconnecting…';
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 10000);
    };
  };

  diffBox.addEventListener('change', render);
  pauseButton.addEventListener('click', () => {
    paused = !paused;
    pauseButton.textContent = paused ? 'Resume' : 'Pause';
    render();
  });
  setInterval(() => { if (!paused && shown === null && runs.length) render(); }, 1000);
  connect();
})();
