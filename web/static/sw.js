// paycode service worker: keeps only the app shell (and its texts) for an
// offline start. API calls (/v1/...), the event stream and everything else
// go straight to the network and are never cached: codes, tokens and
// balances must never outlive their response.
const CACHE = 'paycode-shell-v3';
const SHELL = ['/', '/index.html', '/app.js', '/api.js', '/device.js', '/events.js', '/i18n.js', '/ui.js', '/barcode.js', '/kv.js', '/jws.js',
  '/style.css', '/manifest.webmanifest', '/icon.svg', '/icon-192.png', '/icon-512.png', '/text/en.json', '/text/ja.json'];

self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== 'GET' || url.origin !== self.location.origin || url.search || !SHELL.includes(url.pathname)) {
    return; // not the shell: the browser fetches it normally, nothing is stored
  }
  // Network first, so a deployment is picked up at once; the cache is the
  // offline fallback.
  e.respondWith(fetch(e.request).then((r) => {
    if (r.ok) {
      const copy = r.clone();
      caches.open(CACHE).then((c) => c.put(e.request, copy));
    }
    return r;
  }).catch(() => caches.match(e.request)));
});
