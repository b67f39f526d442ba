#!/usr/bin/env node
// fashion_wasm_bench.mjs: the tutorial-mlp preset (Fashion-MNIST) in the wasm
// engine, through web/worker/worker.js unchanged in a Node worker thread (the Node
// tests' harness, tests/wasm/worker_client.mjs), timed per epoch.
//
//   node --no-experimental-fetch tests/bench/fashion_wasm_bench.mjs [--epochs N] [--shard FILE]
//
// Needs web/engine/engine.js (scripts/build-wasm.sh) and data/fashion.shard
// (scripts/setup.sh). Prints each epoch's history and engine time (the
// worker's `epoch` events, `ms`: training and validation), then the test
// accuracy. V8's wasm in Node, not Chromium's worker; a benchmark, so it
// prints figures and asserts nothing.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startWorker } from '../wasm/worker_client.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const epochs = Number(opt('--epochs', 3));
const shard = resolve(opt('--shard', join(ROOT, 'data/fashion.shard')));
const engine = join(ROOT, 'web/engine/engine.js');
for (const f of [engine, shard])
  if (!existsSync(f)) throw new Error(`${f} not found: run scripts/build-wasm.sh and scripts/setup.sh`);

const w = startWorker();
try {
  await w.request('init', { engineUrl: pathToFileURL(engine).href, threads: false });
  const info = await w.request('loadImageShard', { url: pathToFileURL(shard).href });
  const { presets } = await w.request('presets', {});
  const config = { ...presets.find((p) => p.name === 'tutorial-mlp').config, epochs };
  await w.request('configure', config);
  console.log(`wasm (Node ${process.version}), tutorial-mlp on ${shard}: ${info.splits.train} images, ` +
    `${config.val_size} validate, ${epochs} epochs`);
  const done = w.waitFor('done', 3600 * 1000);
  const seen = w.events.length;
  await w.request('train', {});
  const result = (await done).data;
  const eps = w.events.slice(seen).filter((e) => e.type === 'epoch').map((e) => e.data);
  for (const e of eps)
    console.log(`epoch ${e.epoch}: ${e.ms.toFixed(0)} ms - loss ${e.loss.toFixed(4)} - acc ${e.acc.toFixed(4)} - ` +
      `val_loss ${e.val_loss.toFixed(4)} - val_acc ${e.val_acc.toFixed(4)}`);
  // The first epoch also pays for V8 compiling the module's hot code again
  // with its optimising tier; the later ones show the steady state.
  const later = eps.slice(1).map((e) => e.ms).sort((a, b) => a - b);
  if (later.length)
    console.log(`ms per epoch (training + validation) after the first: median ${later[(later.length - 1) >> 1].toFixed(0)}, ` +
      `best ${later[0].toFixed(0)}; first ${eps[0].ms.toFixed(0)}`);
  console.log(`test accuracy ${result.test.acc.toFixed(4)} (loss ${result.test.loss.toFixed(4)})`);
} finally {
  await w.worker.terminate();
}
