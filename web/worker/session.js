// session.js: the worker's one engine instance and session, and what every
// job module needs to talk to it: calling exports and turning their failures
// into messages, copying bytes and strings in, arrays out, and posting to the
// page. Also what several modules share about the session (the loaded
// dataset, the request that holds it busy).
//
// Deliberately not here: any request handler (the job modules) or engine
// logic (C, behind engine/wasm_api.c).

import { progress } from './layouts.js';

// A failure the page caused or can fix: answered as an error reply, the
// worker goes on.
export class RequestError extends Error {}

// NN_* status codes of engine/nn.h that mean "this file is stale or damaged",
// and the one for a loss that is no longer finite.
export const NN_ERR_FORMAT = 2, NN_ERR_VERSION = 3, NN_ERR_CHECKSUM = 4, NN_ERR_DIVERGED = 6;

export const now = () => performance.now();

// What the modules share. engine: the emscripten module (one, created on
// init); session: its nnw_session pointer; shardInfo: the loaded shard's info
// (images: with kind 'images'); busy: the name of a request that is fetching
// data for the session (loadShard, loadCorpus), or null; debug: init {debug};
// datasetGen: see below.
export const shared = {
  engine: null,
  session: 0,
  shardInfo: null,
  busy: null,
  debug: false,
  datasetGen: 0, // counts the datasets loaded (a late test download checks it is still the one)
};

export function post(message, transfer) {
  self.postMessage(message, transfer || []);
}

export function api() {
  if (!shared.engine) throw new RequestError('the engine is not loaded yet: send init first');
  return shared.engine;
}

export const session = () => shared.session;

export function lastError() {
  const e = api();
  return e.UTF8ToString(e._nnw_error(shared.session)) || 'unknown engine error';
}

// Throws the engine's message (and the hint, if any) unless status is 0 (NN_OK).
export function check(status, hint) {
  if (status !== 0) {
    const message = lastError();
    throw new RequestError(hint ? `${message} ${hint}` : message);
  }
}

// A session-owned string answer (JSON), or the engine's error.
export function answer(ptr) {
  if (!ptr) throw new RequestError(lastError());
  return api().UTF8ToString(ptr);
}

export const json = (ptr) => JSON.parse(answer(ptr));

// Copies bytes into fresh wasm memory from nnw_alloc; the caller frees it,
// or hands it to a call that takes ownership. Uploads are checked against
// their limit (uploads.js) before they get here.
export function copyIn(bytes, nulTerminate = false) {
  const e = api();
  const ptr = e._nnw_alloc(bytes.length + (nulTerminate ? 1 : 0));
  if (!ptr) throw new RequestError(`out of memory copying ${bytes.length} bytes into the engine`);
  const heap = e.HEAPU8; // fresh: nnw_alloc may have grown memory
  heap.set(bytes, ptr);
  if (nulTerminate) heap[ptr + bytes.length] = 0;
  return ptr;
}

export const encoder = new TextEncoder();

// Runs fn(ptr, byteLength) on a NUL-terminated UTF-8 copy of str.
export function withString(str, fn) {
  const bytes = encoder.encode(String(str));
  const ptr = copyIn(bytes, true);
  try {
    return fn(ptr, bytes.length);
  } finally {
    api()._nnw_free(ptr);
  }
}

// A copy of n floats at byte address ptr (later calls may grow memory).
export function floatsAt(ptr, n) {
  const e = api();
  return e.HEAPF32.slice(ptr >> 2, (ptr >> 2) + n);
}

// A record of a layout (layouts.js) at ptr, read from a fresh view.
export const readLayout = (layout, ptr) => layout.read(api().HEAPF32, ptr);
export const readRows = (layout, ptr, k) => layout.rows(api().HEAPF32, ptr, k);

// The training progress (nnw_progress) by field name.
export const progressNow = () => readLayout(progress, api()._nnw_progress(shared.session));

export const history = () => json(api()._nnw_history(shared.session));
export const config = () => json(api()._nnw_config(shared.session));

export function requireModel(what = 'send configure first') {
  const e = api();
  if (!e._nnw_params_len(shared.session)) throw new RequestError(`no model yet: ${what}`);
  return e;
}

// For each UTF-8 byte offset of str (0..bytes), its UTF-16 index in str.
// Lone surrogates count as U+FFFD, 3 bytes, as TextEncoder writes them.
export function byteToUtf16Index(str, byteLength) {
  const map = new Uint32Array(byteLength + 1);
  let b = 0;
  for (let j = 0; j < str.length; ) {
    const cp = str.codePointAt(j);
    const units = cp > 0xffff ? 2 : 1;
    const n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    for (let k = 0; k < n; k++) map[b + k] = j;
    b += n;
    j += units;
  }
  map[b] = str.length;
  return map;
}

// A trap or an abort inside the engine leaves the wasm instance in an unknown
// state (its stack and heap may be half-updated), so the worker is done:
// it says so with a `fatal` event and closes; the page starts a new one.
// A RequestError never is: it is a message for the page.
export function isFatal(err) {
  if (err instanceof RequestError) return false;
  return err instanceof WebAssembly.RuntimeError || /\bAborted\b|out of memory|allocation failed/i.test(String(err?.message ?? err));
}

export function fatal(err) {
  const what = err instanceof WebAssembly.RuntimeError ? 'a WebAssembly trap' : 'an engine abort';
  post({ type: 'fatal', data: { message: `${what} (${err?.message ?? err})` } });
  self.close();
}
