// terminal.js — the terminal and ai pages: xterm.js on the agent's WebSocket
// (service/kinds/terminal/nfltr-term-message.h has the messages). The session lives on the
// agent: a reload or a dropped network reconnects and is sent the scrollback again.
'use strict';

(() => {
  const element = document.getElementById('terminal');
  const status = document.getElementById('term-status');
  const writer = element.dataset.role === 'writer';
  // What a page may send in one message (NFLTR_TERM_MESSAGE_MAX), less the type byte.
  const MAX_INPUT = 64 * 1024 - 16;
  // Acknowledge output in steps: the agent sends up to 256 KiB ahead of the last one.
  const ACK_STEP = 32 * 1024;

  const term = new Terminal({
    cursorBlink: writer,
    disableStdin: !writer,
    scrollback: 5000,
    fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
    fontSize: window.matchMedia('(max-width: 600px)').matches ? 12 : 14,
  });
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(element);
  fit.fit();

  const encoder = new TextEncoder();
  let ws = null;
  let received = 0;
  let acked = 0;
  let backoff = 500;
  let exited = false;

  const setStatus = (text) => { status.textContent = text; };
  const send = (data) => { if (ws && ws.readyState === WebSocket.OPEN) ws.send(data); };
  const sendSize = () => { if (writer) send('r' + term.cols + ',' + term.rows); };

  const sendInput = (text) => {
    // Long pastes go in several messages, cut at character boundaries.
    const bytes = encoder.encode(text);
    for (let at = 0; at < bytes.length; at += MAX_INPUT) {
      const chunk = bytes.subarray(at, Math.min(at + MAX_INPUT, bytes.length));
      const message = new Uint8Array(chunk.length + 1);
      message[0] = 0x69; // 'i'
      message.set(chunk, 1);
      send(message);
    }
  };

  const control = (message) => {
    switch (message.t) {
      case 'hello':
        // A fresh connection replays the scrollback: start from a clean screen.
        term.reset();
        exited = false;
        setStatus(message.writer ? 'connected' : 'connected (read-only)');
        sendSize();
        break;
      case 'skipped':
        term.write('\r\n\x1b[2m[… ' + message.bytes + ' bytes of output not shown …]\x1b[0m\r\n');
        break;
      case 'exit': {
        exited = true;
        const how = message.signal !== null ? 'killed by signal ' + message.signal
                                            : 'exited with status ' + message.status;
        term.write('\r\n\x1b[1m[the program ' + how + (writer ? ' — press Enter to start it again' : '') + ']\x1b[0m\r\n');
        setStatus('ended');
        break;
      }
      case 'waiting':
        setStatus('waiting for the session to start…');
        break;
      default:
        break;
    }
  };

  const connect = () => {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = new WebSocket(scheme + '//' + location.host + '/ws');
    ws.binaryType = 'arraybuffer';
    received = 0;
    acked = 0;
    ws.onopen = () => { backoff = 500; };
    ws.onmessage = (event) => {
      if (typeof event.data === 'string') {
        try { control(JSON.parse(event.data)); } catch (e) { /* not ours */ }
        return;
      }
      const bytes = new Uint8Array(event.data);
      term.write(bytes, () => {
        received += bytes.length;
        if (received - acked >= ACK_STEP) {
          acked = received;
          send('a' + acked);
        }
      });
    };
    ws.onclose = () => {
      ws = null;
      setStatus('disconnected — reconnecting…');
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 10000);
    };
  };

  // Output acknowledged in steps leaves a remainder: settle it when things are quiet.
  setInterval(() => {
    if (received > acked) {
      acked = received;
      send('a' + acked);
    }
  }, 1000);

  if (writer) {
    term.onData((data) => {
      if (exited) {
        if (data.includes('\r') && ws) {
          exited = false;
          ws.close(); // the next connection starts the program again
        }
        return;
      }
      sendInput(data);
    });
    term.onBinary((data) => {
      const message = new Uint8Array(data.length + 1);
      message[0] = 0x69;
      for (let i = 0; i < data.length; i++) message[i + 1] = data.charCodeAt(i) & 0xff;
      send(message);
    });
    term.onResize(sendSize);

    // Ctrl+Shift+C / Ctrl+Shift+V as in desktop terminals; Ctrl+C stays the interrupt.
    term.attachCustomKeyEventHandler((event) => {
      if (event.type !== 'keydown' || !event.ctrlKey || !event.shiftKey) return true;
      if (event.code === 'KeyC' && term.hasSelection()) {
        navigator.clipboard.writeText(term.getSelection()).catch(() => {});
        return false;
      }
      if (event.code === 'KeyV') {
        navigator.clipboard.readText().then((text) => term.paste(text)).catch(() => {});
        return false;
      }
      return true;
    });
    const copy = document.getElementById('term-copy');
    const paste = document.getElementById('term-paste');
    if (copy) {
      copy.addEventListener('click', () => {
        navigator.clipboard.writeText(term.getSelection()).catch(() => {});
        term.focus();
      });
    }
    if (paste) {
      paste.addEventListener('click', () => {
        navigator.clipboard.readText().then((text) => term.paste(text)).catch(() => {
          setStatus('paste: allow clipboard access, or use Ctrl+Shift+V');
        });
        term.focus();
      });
    }
  }

  window.addEventListener('resize', () => fit.fit());
  connect();
  term.focus();
})();
