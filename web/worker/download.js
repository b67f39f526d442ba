// download.js: a data file of a static site (scripts/build-site.sh): when the
// folder of the requested file has a site.json naming it, the file is taken
// from the Cache API if this browser kept it (its CRC-32 checked again), else
// its packed form (packed.js) is downloaded with progress (bytes and seconds
// left) and unpacked as it arrives (so decoding overlaps the download),
// checked, and only then kept, unpacked (so a second visit decodes nothing:
// that took a second of a warm start), under a key holding its CRC-32, so a
// rebuilt file is a new key and the stale one is deleted. A download that fails, is cut short
// or does not decode throws a message that says so; nothing half-read is
// kept or handed on.
//
// Without a site.json (the dev server, scripts/serve.mjs, serves the raw
// shards) packedBytes returns null and uploads.js fetches the file as is.
//
// prefetchPacked starts all of that before the engine is running (the page
// asks as soon as it has started the worker), so the download overlaps the
// engine's own download and compilation; packedBytes for the same URL then
// takes that download's outcome (its bytes, null, or its error) instead of
// fetching again.
//
// Deliberately not here: size limits and the raw fetch (uploads.js), what
// the bytes mean (the engine).

import { PACK_HEADER_BYTES, PackError, crc32, unpackStream } from './packed.js';
import { RequestError, now, post } from './session.js';

const CACHE_NAME = 'nn-playground-data';
// The decoder of transform-3 files (coded token ids), fetched only when such
// a file arrives: a 17 KB module of its own (scripts/build-wasm.sh), so
// decoding starts while the engine is still loading.
const IDS_WASM_URL = new URL('../engine/packed_ids.wasm', import.meta.url);
async function idsWasm() {
  let response;
  try {
    response = await fetch(IDS_WASM_URL);
  } catch (err) {
    throw new PackError(`could not download the decoder ${IDS_WASM_URL.pathname}: ${err.message}; check the connection and retry`);
  }
  if (!response.ok)
    throw new PackError(`could not download the decoder ${IDS_WASM_URL.pathname}: HTTP ${response.status}; copy the whole dist/ folder that scripts/build-site.sh wrote`);
  return response.arrayBuffer();
}
const EVENT_INTERVAL_MS = 50;

// site.json's entry for the file at url ({packed, packed_bytes, bytes,
// crc32}), or null when the site has no manifest or it does not list the
// file. Offline (site.json cannot be fetched at all), the entry of the
// copy this browser kept, so a visit without the network still starts.
async function manifestEntry(url) {
  const name = fileName(url);
  let response;
  try {
    response = await fetch(new URL('site.json', url), { cache: 'no-cache' });
  } catch {
    return keptEntry(url, name); // offline
  }
  if (!response.ok) return null;
  let manifest;
  try {
    manifest = await response.json();
  } catch {
    return null;
  }
  const entry = manifest?.files?.[name];
  return entry && typeof entry.packed === 'string' ? entry : null;
}

// The entry of the copy of `name` kept in the cache, if any (its key holds
// its CRC-32, which is checked again when it is read), with what the
// site.json entry kept beside it says of its test reviews (keepEntry), so
// that offline they are taken from their own kept copy too.
async function keptEntry(url, name) {
  const cache = await openCache();
  const prefix = `${new URL(`${name}.nnz`, url).href}?crc32=`;
  const key = cache && (await cache.keys().catch(() => [])).find((r) => r.url.startsWith(prefix) && r.url.endsWith(KEPT_FORM));
  if (!key) return null;
  const entry = { packed: `${name}.nnz`, crc32: Number(key.url.slice(prefix.length, -KEPT_FORM.length)), offline: true };
  try {
    const kept = JSON.parse(await (await cache.match(entryKey(url, name))).text());
    if (kept?.crc32 === entry.crc32 && kept.test) entry.test = kept.test;
  } catch {
    // none kept (a copy kept by an earlier page), or unreadable: no test file known
  }
  return entry;
}

// Where the site.json entry of file `name` (beside url) is kept.
const entryKey = (url, name) => `${new URL('site.json', url).href}?entry=${encodeURIComponent(name)}`;

// Keeps a file's site.json entry beside its copy, in the background.
function keepEntry(cache, url, entry) {
  const response = new Response(JSON.stringify(entry), { headers: { 'Content-Type': 'application/json' } });
  cache.put(entryKey(url, fileName(url)), response).catch(() => {}); // as keep(): the next visit downloads again
}

// The name of the file at url, as site.json lists it.
const fileName = (url) => decodeURIComponent(new URL(url).pathname.split('/').pop());

// The end of a kept file's key: copies kept packed by an earlier page
// (keys without it) are not read, and are deleted when the file is kept again.
const KEPT_FORM = '&form=unpacked';

async function openCache() {
  try {
    return typeof caches === 'undefined' ? null : await caches.open(CACHE_NAME);
  } catch {
    return null; // storage refused (private mode, quota): download each visit
  }
}

// Reads a packed download while `stream` (packed.js's unpackStream) decodes
// it, posting progress events; gives its header's bytes. Throws when it ends
// before the `expected` bytes or runs past them.
async function readDownload(response, { url, expected, progress, stream }) {
  const reader = response.body.getReader();
  const head = new Uint8Array(PACK_HEADER_BYTES);
  let loaded = 0, lastEvent = 0;
  const start = now();
  for (;;) {
    let chunk;
    try {
      chunk = await reader.read();
    } catch (err) {
      throw new RequestError(`the download of ${url} failed after ${loaded} of ${expected} bytes (${err.message}): it is truncated; retry`);
    }
    if (chunk.done) break;
    if (loaded + chunk.value.length > expected) {
      reader.cancel().catch(() => {});
      throw new RequestError(`${url} is longer than the ${expected} bytes site.json lists: it is corrupt or stale; rebuild the site with scripts/build-site.sh`);
    }
    if (loaded < PACK_HEADER_BYTES) head.set(chunk.value.subarray(0, PACK_HEADER_BYTES - loaded), loaded);
    loaded += chunk.value.length;
    try {
      await stream.write(chunk.value);
    } catch (err) {
      reader.cancel().catch(() => {});
      throw new RequestError(err instanceof PackError ? err.message : String(err));
    }
    const t = now();
    if (t - lastEvent >= EVENT_INTERVAL_MS) {
      lastEvent = t;
      const rate = loaded / Math.max(t - start, 1); // bytes per ms
      post({ type: progress, data: { loaded, total: expected, secondsLeft: (expected - loaded) / rate / 1000 } });
    }
  }
  if (loaded !== expected)
    throw new RequestError(`the download of ${url} stopped after ${loaded} of ${expected} bytes: it is truncated; retry`);
  post({ type: progress, data: { loaded, total: expected, secondsLeft: 0 } });
  return head;
}

// The site.json entry each file was read by (absolute URL -> entry), for
// what the entry says beyond the file itself (an IMDB shard's test reviews
// come as a file of their own: entry.test, testsplit.js).
const entries = new Map();
export function packedEntry(givenUrl) {
  return entries.get(absolute(givenUrl)) ?? null;
}

// Downloads started early (prefetchPacked) by absolute URL, each taken once.
const prefetched = new Map();

// The absolute URL of givenUrl as fetch() resolves it here, or null.
function absolute(givenUrl) {
  try {
    return new URL(givenUrl, globalThis.location?.href).href;
  } catch {
    return null; // not a URL: the raw fetch reports it
  }
}

// Starts packedBytes(givenUrl) now; its outcome waits for the packedBytes
// call that asks for the same file (a second prefetch of it does nothing).
// early: {entry, body}, a download the page started (the packed file's
// site.json entry and the response's body stream), which is read instead of
// fetching.
export function prefetchPacked(givenUrl, options, early) {
  const url = absolute(givenUrl);
  if (!url || prefetched.has(url)) {
    early?.body?.cancel?.().catch(() => {});
    return;
  }
  const outcome = fetchPacked(url, options, earlyDownload(early));
  outcome.catch(() => {}); // reported to whoever takes it, if anyone does
  prefetched.set(url, outcome);
}

// The unpacked bytes of a site's packed file, or null when the site serves
// the file raw. `what` names the file in messages; `progress` is the event
// type of the progress events.
export async function packedBytes(givenUrl, options) {
  const url = absolute(givenUrl);
  if (!url) return null;
  const early = prefetched.get(url);
  if (early) {
    prefetched.delete(url);
    return early;
  }
  return fetchPacked(url, options);
}

// The page's early download (prefetchPacked) when it has a stream and an
// entry as manifestEntry would give, else null (and its stream cancelled).
function earlyDownload(early) {
  if (!early) return null;
  if (early.body instanceof ReadableStream && typeof early.entry?.packed === 'string') return early;
  early.body?.cancel?.().catch(() => {});
  return null;
}

async function fetchPacked(url, { what, progress }, early = null) {
  const entry = early ? early.entry : await manifestEntry(url);
  if (!entry) return null;
  entries.set(url, entry);
  const packedUrl = new URL(entry.packed, url).href;
  const key = `${packedUrl}?crc32=${entry.crc32}${KEPT_FORM}`;
  const cache = await openCache();
  // (data-early.js looked for a kept copy before it downloaded)
  const cached = !early && cache && (await cache.match(key).catch(() => undefined));
  if (cached) {
    let bytes = null;
    try {
      bytes = new Uint8Array(await cached.arrayBuffer());
    } catch {
      // unreadable: download again
    }
    if (bytes && (entry.offline || bytes.length === entry.bytes) && crc32(bytes) === entry.crc32 >>> 0) {
      post({ type: progress, data: { loaded: bytes.length, total: bytes.length, secondsLeft: 0, cached: true } });
      return bytes;
    }
    await cache.delete(key).catch(() => {}); // a damaged copy: download again
  }
  if (entry.offline) throw new RequestError(`could not download ${packedUrl}: offline; check the connection and retry`);
  let response = early ? { ok: true, body: early.body } : null;
  if (!response) {
    try {
      response = await fetch(packedUrl, { cache: 'no-store' });
    } catch (err) {
      throw new RequestError(`could not download ${packedUrl}: ${err.message}; check the connection and retry`);
    }
  }
  if (!response.ok)
    throw new RequestError(`could not download ${packedUrl}: HTTP ${response.status}; copy the whole dist/ folder that scripts/build-site.sh wrote`);
  const stream = unpackStream(what, { idsWasm });
  let head, bytes;
  try {
    head = await readDownload(response, { url: packedUrl, expected: entry.packed_bytes, progress, stream });
  } catch (err) {
    stream.abort();
    throw err;
  }
  try {
    bytes = await stream.finish();
  } catch (err) {
    throw new RequestError(err instanceof PackError ? err.message : String(err));
  }
  if (bytes.length !== entry.bytes || (entry.crc32 >>> 0) !== new DataView(head.buffer, 24, 4).getUint32(0, true))
    throw new RequestError(`${packedUrl} does not match site.json: it is stale; rebuild the site with scripts/build-site.sh`);
  if (cache) {
    keep(cache, key, packedUrl, bytes);
    keepEntry(cache, url, entry);
  }
  return bytes;
}

// Keeps bytes under key and deletes the file's other copies, in the
// background: writing 24 MB to the browser's storage took a second, which
// the page need not wait for. The Response copies the bytes at once, so the
// caller may hand them on.
function keep(cache, key, packedUrl, bytes) {
  const response = new Response(bytes, { headers: { 'Content-Type': 'application/octet-stream' } });
  (async () => {
    for (const old of await cache.keys()) if (old.url.startsWith(`${packedUrl}?`) && old.url !== key) await cache.delete(old);
    await cache.put(key, response);
  })().catch(() => {
    // quota or storage errors: the page works, the next visit downloads again
  });
}
