// pthread_worker_shim.mjs: runs emscripten's engine-mt.worker.js (one pthread
// of the two-thread engine) in a Node worker thread, for web_worker_shim.mjs's
// Worker. Gives the thread what a classic browser worker has and Node lacks:
// self, importScripts (emscripten's test for "am I in a worker?"),
// postMessage, and self.onmessage called with {data}. Messages that arrive
// while the script is still loading wait for it, as a browser queues them.
// The pthread worker then imports engine-mt.js itself (its 'load' message).
// Not a test file (node --test runs only *.test.mjs).
import { parentPort, workerData } from 'node:worker_threads';

globalThis.self = globalThis;
globalThis.location = { href: workerData.workerUrl };
globalThis.importScripts = () => {
  throw new TypeError('importScripts: the pthread worker imports engine-mt.js as a module');
};
globalThis.postMessage = (message, transfer) => parentPort.postMessage(message, transfer || []);

const early = [];
parentPort.on('message', (data) => (self.onmessage ? self.onmessage({ data }) : early.push(data)));
await import(workerData.workerUrl);
for (const data of early.splice(0)) self.onmessage?.({ data });
