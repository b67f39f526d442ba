// data-early.js: on a static site (scripts/build-site.sh, which adds it to
// the site's index.html: the development server has no site.json), starts
// the download of the link's packed shard while the page's own scripts are
// still loading. A classic script in <head>, so it runs before any module: the
// page's worker, which otherwise asks for the shard (worker/download.js),
// starts only once app.js and its imports, then the worker's own, have
// arrived, about 2 s after navigation over a 20 Mbit/s, 40 ms link, and the
// shard is most of what a visitor downloads. app.js hands this download's
// body to the worker (a transferred stream), which reads, decodes and checks
// it as if it had fetched it itself (its progress, its messages).
//
// It does nothing when the page has no site.json (the development server
// serves the raw shards), when the dataset is the user's own file, when this
// browser kept the file (the worker reads it from the Cache API: the key is
// worker/download.js's), or when anything here fails: the worker then
// fetches the file as before. Deliberately not here: progress, checks,
// decoding, caching.
'use strict';
(() => {
  try {
    const params = new URLSearchParams(location.hash.replace(/^#/, ''));
    const dataset = params.get('dataset');
    if (dataset === 'own' || typeof fetch !== 'function') return;
    // state.js's default shard and datasets.js's Fashion-MNIST path beside it.
    const linkShard = params.get('shard') || 'data/imdb.shard';
    const path = dataset === 'fashion' ? linkShard.replace(/[^/]*$/, 'fashion.shard') : linkShard;
    const url = new URL(path, location.href);
    if (url.origin !== location.origin) return;
    const name = decodeURIComponent(url.pathname.split('/').pop());
    const controller = new AbortController();
    const response = (async () => {
      const manifest = await fetch(new URL('site.json', url), { cache: 'no-cache' });
      if (!manifest.ok) return null;
      const entry = (await manifest.json())?.files?.[name];
      if (!entry || typeof entry.packed !== 'string') return null;
      const packedUrl = new URL(entry.packed, url).href;
      if (typeof caches !== 'undefined') {
        try {
          const cache = await caches.open('nn-playground-data');
          if (await cache.match(`${packedUrl}?crc32=${entry.crc32}&form=unpacked`)) return null;
        } catch {
          // no storage here: the worker will not find it either
        }
      }
      const body = await fetch(packedUrl, { cache: 'no-store', signal: controller.signal });
      return body.ok && body.body ? { entry, response: body } : null;
    })().catch(() => null);
    window.__earlyShard = { url: url.href, response, abort: () => controller.abort() };
  } catch {
    // the worker fetches the shard itself
  }
})();
