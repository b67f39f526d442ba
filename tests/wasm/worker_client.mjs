// worker_client.mjs: the Node tests' client for web/worker/worker.js: the real
// worker, unchanged, in a Node worker thread (web_worker_shim.mjs), spoken to
// over its {id, type, data} protocol (web/PROTOCOL.md).
//
// startWorker() returns {worker, events, replies, request(type, data,
// transfer), waitFor(type, timeoutMs)}: request resolves with the reply's
// data or rejects with the worker's error; waitFor resolves with the next
// event of that type and rejects on any '...Error' event before it.
// startWorker(moduleUrl) runs another module the same way (engine_probe.mjs).
// Also what the tests share: findEngine() (the built engine.js), rng(seed)
// (a seeded generator for synthetic data) and idxGz(dims, bytes) (a
// gzip-compressed IDX file, the Fashion-MNIST format fashion_build_shard reads).
// Not a test file (node --test runs only *.test.mjs).

import { existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { Worker } from 'node:worker_threads';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export const WORKER_URL = pathToFileURL(join(ROOT, 'web/worker/worker.js')).href;

export function startWorker(moduleUrl = WORKER_URL) {
  const worker = new Worker(new URL('./web_worker_shim.mjs', import.meta.url), {
    workerData: { workerUrl: moduleUrl },
  });
  const pending = new Map();
  const replies = new Map(); // id -> number of replies (must end at 1)
  const events = [];
  const listeners = new Set();
  let nextId = 1;
  worker.on('message', (m) => {
    if (m.id === undefined) {
      const e = { ...m, at: performance.now() };
      events.push(e);
      for (const fn of listeners) fn(e);
      return;
    }
    replies.set(m.id, (replies.get(m.id) ?? 0) + 1);
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (!p) return;
    if (m.type === 'ok') p.resolve(m.data);
    else if (m.type === 'error') p.reject(Object.assign(new Error(m.data.message), { op: m.data.op, report: m.data.report }));
    else p.reject(new Error(`reply of unknown type ${m.type}`));
  });
  worker.on('error', (err) => {
    for (const p of pending.values()) p.reject(err);
  });
  return {
    worker,
    events,
    replies,
    request(type, data, transfer) {
      const id = nextId++;
      return new Promise((res, rej) => {
        pending.set(id, { resolve: res, reject: rej });
        worker.postMessage({ id, type, data }, transfer ?? []);
      });
    },
    waitFor(type, timeoutMs = 60000) {
      return new Promise((res, rej) => {
        const timer = setTimeout(() => {
          listeners.delete(fn);
          rej(new Error(`no '${type}' event within ${timeoutMs} ms`));
        }, timeoutMs);
        const fn = (e) => {
          if (e.type !== type && !/Error$/.test(e.type)) return;
          clearTimeout(timer);
          listeners.delete(fn);
          if (e.type !== type) rej(new Error(`${e.type}: ${e.data.message}`));
          else res(e);
        };
        listeners.add(fn);
      });
    },
  };
}

// The built single-thread engine: web/engine/ (scripts/build-wasm.sh copies
// it there) or build-wasm/.
export function findEngine() {
  for (const dir of [join(ROOT, 'web/engine'), join(ROOT, 'build-wasm')])
    if (existsSync(join(dir, 'engine.js')) && existsSync(join(dir, 'engine.wasm'))) return join(dir, 'engine.js');
  throw new Error('engine.js not found in web/engine/ or build-wasm/: run scripts/build-wasm.sh');
}

// A seeded generator of numbers in [0, 1) (a 32-bit LCG): test data that is
// the same on every run.
export function rng(seed) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

// An IDX file of unsigned bytes (type 0x08) with the given dimensions, gzipped.
export function idxGz(dims, data) {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = 8;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return gzipSync(Buffer.concat([head, Buffer.from(data)]));
}
