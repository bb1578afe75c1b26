// The account's events (GET /v1/events): Server-Sent Events read with
// fetch() and a streaming body, because EventSource cannot send the DPoP
// headers. Reconnects with Last-Event-ID after the server's retry delay.

import * as api from './api.js';

let ctl = null;

const sleep = (ms, signal) => new Promise((resolve) => {
  const timer = setTimeout(resolve, ms);
  signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
});

export function stopEvents() {
  if (ctl) ctl.abort();
  ctl = null;
  document.body.dataset.events = 'closed';
}

// startEvents calls onEvent(type, event) for each event, and lost() when
// the session is gone (the stream cannot be renewed).
export function startEvents(onEvent, lost) {
  stopEvents();
  const mine = new AbortController();
  ctl = mine;
  const { signal } = mine;
  let lastId = '';
  let retry = 3000;
  (async () => {
    while (!signal.aborted) {
      try {
        if (!api.session) throw new api.ApiError(401, { code: 'pwa.session.ended' });
        if (Date.now() > api.session.expiresAt - 30_000) await api.refresh();
        const token = api.session.access;
        const headers = { DPoP: await api.dpopProof('GET', '/v1/events', token), Authorization: 'DPoP ' + token, Accept: 'text/event-stream' };
        if (lastId) headers['Last-Event-ID'] = lastId;
        const r = await fetch('/v1/events', { headers, cache: 'no-store', signal });
        if (r.status === 401) {
          await api.refresh(); // a refused token: renew it, then reconnect after the retry delay
          throw new Error('events: 401');
        }
        if (!r.ok || !r.body) throw new Error(`events: ${r.status}`);
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        // Tests and styles can see when the page is listening.
        document.body.dataset.events = 'open';
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf = (buf + value).replace(/\r\n?/g, '\n');
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            let type = 'message', data = '', id = null;
            for (const line of block.split('\n')) {
              if (!line || line.startsWith(':')) continue;
              const c = line.indexOf(':');
              const field = c < 0 ? line : line.slice(0, c);
              const val = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
              if (field === 'event') type = val;
              else if (field === 'data') data += (data ? '\n' : '') + val;
              else if (field === 'id') id = val;
              else if (field === 'retry' && /^[0-9]+$/.test(val)) retry = Number(val);
            }
            if (id) lastId = id;
            if (!data) continue;
            let parsed = null;
            try { parsed = JSON.parse(data); } catch { continue; }
            onEvent(type, parsed);
          }
        }
      } catch (e) {
        if (signal.aborted) return;
        document.body.dataset.events = 'closed';
        if (e instanceof api.ApiError && e.status === 401) return lost(e.message);
        if (e instanceof api.OfflineError) { /* the banner says it; retry below */ } else console.warn('event stream', e);
      }
      document.body.dataset.events = 'closed';
      await sleep(retry, signal);
    }
  })();
}
