// web_worker_shim.mjs: runs web/worker/worker.js, unchanged, in a Node worker thread.
//
// The wasm module is built for the browser (ENVIRONMENT=web,worker), and the
// worker is a browser module worker. Rather than build a second, Node-only
// copy, this file gives the thread what a module worker has and Node lacks:
// self, postMessage and 'message' events on the global scope, importScripts
// (emscripten's test for "am I in a worker?"; a module worker has one that
// throws), location, a fetch that serves file:// URLs with a streamed
// body and a Content-Length (so shard progress is exercised too), and a
// Worker for the two-thread engine's pthread (below).
// WebAssembly.instantiateStreaming is removed because it needs a real
// Response; emscripten then instantiates from the fetched ArrayBuffer, as a
// browser without streaming compilation would.
//
// Not a browser: no CSP, no real HTTP. The page's own tests cover those.
import { parentPort, workerData, Worker as NodeWorker } from 'node:worker_threads';
import { open, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const CHUNK = 64 * 1024;

globalThis.self = globalThis;
globalThis.location = { href: workerData.workerUrl };
globalThis.importScripts = () => {
  throw new TypeError('importScripts is not available in a module worker');
};
globalThis.postMessage = (message, transfer) => parentPort.postMessage(message, transfer || []);
globalThis.addEventListener = (type, listener) => {
  if (type === 'message') parentPort.on('message', (data) => listener({ data }));
};
delete WebAssembly.instantiateStreaming;

// The two-thread engine (engine-mt.js) starts its pthread with
// new Worker(url) and speaks to it through onmessage/onerror/postMessage:
// a browser worker's surface over a Node worker thread running
// pthread_worker_shim.mjs. worker.js still picks engine.js unless asked
// for another (init's engineUrl: tests/bench/wasm_bench.mjs --threads).
globalThis.Worker = class BrowserLikeWorker {
  constructor(url) {
    this.onmessage = null;
    this.onerror = null;
    this.thread = new NodeWorker(new URL('./pthread_worker_shim.mjs', import.meta.url), {
      workerData: { workerUrl: String(url) },
    });
    this.thread.on('message', (data) => this.onmessage?.({ data }));
    this.thread.on('error', (err) => this.onerror?.({ message: err?.message ?? String(err), filename: String(url), lineno: 0 }));
    // A pthread must not keep Node alive once the engine's thread is done.
    this.thread.unref();
  }
  postMessage(message, transfer) {
    this.thread.postMessage(message, transfer || []);
  }
  terminate() {
    this.thread.terminate();
  }
};

// A browser runs a worker's tasks in order: a request that arrived during a
// training slice runs before the slice's own MessageChannel "continue"
// message, posted later. Node instead drains up to 1000 messages of one port
// before it looks at another, so a worker that yields through a
// MessageChannel would starve parentPort. This channel delivers through
// setImmediate, which runs after Node's poll phase has handed over incoming
// messages: browser-like interleaving, without setTimeout's clamp.
globalThis.MessageChannel = class BrowserLikeMessageChannel {
  constructor() {
    const make = () => ({ onmessage: null, other: null,
      postMessage(data) {
        const target = this.other;
        setImmediate(() => target.onmessage?.({ data }));
      } });
    this.port1 = make();
    this.port2 = make();
    this.port1.other = this.port2;
    this.port2.other = this.port1;
  }
};

globalThis.fetch = async (input) => {
  const url = new URL(String(input));
  if (url.protocol !== 'file:') throw new TypeError(`test fetch serves only file: URLs, not ${url}`);
  // ?test_delay_ms=N: the answer comes N ms late, so a test can send
  // requests while a load is certainly still in flight.
  const delay = Number(url.searchParams.get('test_delay_ms') || 0);
  url.search = '';
  if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
  const path = fileURLToPath(url);
  let size;
  try {
    size = (await stat(path)).size;
  } catch {
    return { ok: false, status: 404, headers: { get: () => null } };
  }
  const body = () => {
    let handle, offset = 0;
    return new ReadableStream({
      async pull(controller) {
        handle ??= await open(path, 'r');
        const buf = new Uint8Array(CHUNK);
        const { bytesRead } = await handle.read(buf, 0, CHUNK, offset);
        offset += bytesRead;
        if (bytesRead === 0) {
          await handle.close();
          controller.close();
        } else {
          controller.enqueue(buf.subarray(0, bytesRead));
        }
      },
    });
  };
  const stream = body();
  return {
    ok: true,
    status: 200,
    headers: { get: (name) => (name.toLowerCase() === 'content-length' ? String(size) : null) },
    body: stream,
    async arrayBuffer() {
      const chunks = [];
      let n = 0;
      for (const reader = stream.getReader(); ;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        n += value.length;
      }
      const out = new Uint8Array(n);
      let at = 0;
      for (const c of chunks) { out.set(c, at); at += c.length; }
      return out.buffer;
    },
  };
};

await import(workerData.workerUrl);
