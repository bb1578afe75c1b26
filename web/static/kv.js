// A small key-value store in IndexedDB (one object store 'kv'), shared by
// the shopper's app (database 'paycode') and the scanner page
// ('paycode-scanner'): each keeps its own database, so forgetting one
// never touches the other's key. Values are structured clones, so a
// non-extractable CryptoKey is kept as it is, never as its bytes.

export function openKV(name) {
  const idb = () => new Promise((resolve, reject) => {
    const req = indexedDB.open(name, 1);
    req.onupgradeneeded = () => req.result.createObjectStore('kv');
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  async function kv(mode, fn) {
    const db = await idb();
    try {
      return await new Promise((resolve, reject) => {
        const tx = db.transaction('kv', mode);
        const req = fn(tx.objectStore('kv'));
        tx.oncomplete = () => resolve(req && req.result);
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error);
      });
    } finally {
      db.close();
    }
  }
  return {
    get: (k) => kv('readonly', (s) => s.get(k)),
    put: (k, v) => kv('readwrite', (s) => s.put(v, k)),
    del: (k) => kv('readwrite', (s) => s.delete(k)),
  };
}
