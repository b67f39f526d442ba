// uploads.js: bytes that come from the page ({bytes}: a file the user chose)
// or from a URL, checked against a size limit here, in JS, before anything
// is allocated in wasm memory: wasm memory only grows, so a 1.5 GB file
// copied in and then refused would keep the page's memory 1.5 GB larger.
// The limits are ../limits.js, which the page checks a chosen file against
// too, before it reads it.
//
// Deliberately not here: what the bytes mean (the engine's readers check
// them) or the page's own checks of a file before it is sent.

import { sizeProblem } from '../limits.js';
import { RequestError, encoder, now, post } from './session.js';
import { packedBytes } from './download.js';

export { SHARD_MAX_BYTES, CHECKPOINT_MAX_BYTES, LABELLED_TEXT_MAX_BYTES } from '../limits.js';

const EVENT_INTERVAL_MS = 50; // at most one progress event per this

// Refuses `n` bytes of `what` (e.g. 'the checkpoint') over `limit`, naming both.
function checkSize(what, n, limit, advice = '') {
  const problem = sizeProblem(what, n, limit, advice);
  if (problem) throw new RequestError(problem);
}

// The bytes of a request's {bytes: ArrayBuffer} or {url}, at most `limit`:
// what names them in messages, progress the event type of the fetch's
// progress events, hint how to rebuild a file that cannot be fetched.
export async function uploadedBytes(data, { request, what, limit, progress, hint }) {
  if (data?.bytes) return givenBytes(data.bytes, { request, what, limit });
  if (data?.url) {
    // A static site's packed, cached copy (download.js), else the raw file.
    const packed = await packedBytes(data.url, { what, progress });
    if (packed) {
      checkSize(what, packed.length, limit);
      return packed;
    }
    return fetchWithProgress(data.url, { what, limit, progress, hint });
  }
  throw new RequestError(`${request} needs {url} or {bytes}`);
}

// A request's {bytes} (an ArrayBuffer or a view of one) as a Uint8Array
// over the same memory, at most `limit` long.
export function givenBytes(bytes, { request, what, limit }) {
  if (!(bytes instanceof ArrayBuffer || ArrayBuffer.isView(bytes)))
    throw new RequestError(`${request} needs {bytes: ArrayBuffer}`);
  checkSize(what, bytes.byteLength, limit);
  return bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// Text given as {text} (a string) or {bytes}, as UTF-8 bytes of at most
// `limit`: a string longer than the limit is refused before it is encoded.
export function uploadedText(data, { request, what, limit, advice }) {
  if (data?.bytes instanceof ArrayBuffer) {
    checkSize(what, data.bytes.byteLength, limit, advice);
    return new Uint8Array(data.bytes);
  }
  if (typeof data?.text === 'string') {
    checkSize(what, data.text.length, limit, advice); // UTF-8 takes at least a byte per UTF-16 unit
    const bytes = encoder.encode(data.text);
    checkSize(what, bytes.length, limit, advice);
    return bytes;
  }
  throw new RequestError(`${request} needs {text} or {bytes: ArrayBuffer}`);
}

// Fetches url into one Uint8Array, posting {type: progress, data: {loaded,
// total}} events; refused from its Content-Length, or as soon as more than
// `limit` bytes arrive (a server may not send the length, or lie).
async function fetchWithProgress(url, { what, limit, progress, hint }) {
  let response;
  try {
    response = await fetch(url);
  } catch (err) {
    throw new RequestError(`could not fetch ${url}: ${err.message}. ${hint}`);
  }
  if (!response.ok)
    throw new RequestError(`could not fetch ${url}: HTTP ${response.status}. ${hint}`);
  // Content-Length counts encoded bytes; with compression it is only a hint.
  const total = Number(response.headers.get('content-length')) || 0;
  if (total > limit) {
    response.body?.cancel().catch(() => {});
    checkSize(what, total, limit);
  }
  const chunks = [];
  let loaded = 0, lastEvent = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    if (loaded > limit) {
      reader.cancel().catch(() => {});
      checkSize(what, loaded, limit);
    }
    if (now() - lastEvent >= EVENT_INTERVAL_MS) {
      lastEvent = now();
      post({ type: progress, data: { loaded, total: Math.max(total, loaded) } });
    }
  }
  post({ type: progress, data: { loaded, total: loaded } });
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return bytes;
}
