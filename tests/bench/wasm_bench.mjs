#!/usr/bin/env node
// wasm_bench.mjs: one preset trained by the wasm engine in Node, no browser:
// web/worker/worker.js unchanged in a Node worker thread (the Node tests'
// harness, tests/wasm/worker_client.mjs), so the worker's slice loop and its
// messages are part of what is timed, as in Chromium's worker.
//
//   node --no-experimental-fetch tests/bench/wasm_bench.mjs --preset NAME
//        [--epochs N] [--train-size N --val-size N] [--engine FILE] [--threads] [--json]
//
//   --preset   tutorial-bag (default), tutorial-lstm, tutorial-mlp (reads
//              data/fashion.shard), ngram (its own epochs: early stopping)
//   --epochs   stop after N epochs (default: the preset's)
//   --train-size  train on the first N reviews of the training split (the
//              preset's train_size: a short, fixed sample of batches)
//   --val-size    validate on N reviews (the preset's val_size)
//   --engine   another build of engine.js (say, one linked with
//              --profiling-funcs, for node --cpu-prof)
//   --threads  the two-thread engine (engine-mt.js; its pthread runs in a Node
//              worker thread, tests/wasm/web_worker_shim.mjs's Worker); one
//              thread by default. Any preset, e.g. tutorial-transformer.
//   --json     one JSON line (what scripts/bench.sh reads)
//
// Prints per epoch the engine's time (the `epoch` events' ms: nnw_train calls
// only) and the wall time between events; the difference is the worker's own
// JavaScript (slices returning, batch logs, messages, snapshots). Figures
// only: nothing here asserts on time.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startWorker } from '../wasm/worker_client.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const preset = opt('--preset', 'tutorial-bag');
const stopAfter = Number(opt('--epochs', 0));
const trainSize = Number(opt('--train-size', 0));
const valSize = Number(opt('--val-size', 0));
const threads = args.includes('--threads');
const engine = resolve(opt('--engine', join(ROOT, threads ? 'web/engine/engine-mt.js' : 'web/engine/engine.js')));
const images = preset === 'tutorial-mlp';
const shard = join(ROOT, images ? 'data/fashion.shard' : 'data/imdb.shard');
for (const f of [engine, shard])
  if (!existsSync(f)) throw new Error(`${f} not found: run scripts/build-wasm.sh and scripts/setup.sh`);

const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : null;
};

const w = startWorker();
try {
  const v = await w.request('init', { engineUrl: pathToFileURL(engine).href, threads });
  const info = await w.request(images ? 'loadImageShard' : 'loadShard', { url: pathToFileURL(shard).href });
  const { presets } = await w.request('presets', {});
  const base = presets.find((p) => p.name === preset)?.config;
  if (!base) throw new Error(`no preset ${preset}`);
  const config = { ...base, ...(stopAfter ? { epochs: Math.max(base.epochs, stopAfter) } : {}),
    ...(trainSize ? { train_size: trainSize } : {}), ...(valSize ? { val_size: valSize } : {}) };
  await w.request('configure', config);
  const n = stopAfter || config.epochs;
  const seen = w.events.length;
  const cpu0 = process.cpuUsage();
  const mono0 = process.hrtime.bigint();
  const t0 = performance.now();
  const done = stopAfter ? null : w.waitFor('done', 3600 * 1000);
  await w.request('train', { pace: 'fast' });
  // To the n-th epoch event, or to `done` (early stopping may end the run first).
  await new Promise((res, rej) => {
    const check = () => {
      const got = w.events.slice(seen);
      const bad = got.find((e) => /Error$/.test(e.type));
      if (bad) rej(new Error(`${bad.type}: ${bad.data.message}`));
      else if (got.some((e) => e.type === 'done') || got.filter((e) => e.type === 'epoch').length >= n) res();
      else setTimeout(check, 250); // the times are the events' own: polling only ends the wait
    };
    check();
  });
  const eps = w.events.slice(seen).filter((e) => e.type === 'epoch').slice(0, n);
  const wall = eps.at(-1).at - t0;
  const cpu = process.cpuUsage(cpu0);
  // The training window in CLOCK_MONOTONIC seconds, for perf report --time
  // (perf record -k mono): perf_parts.mjs LABEL=perf.data@START,END.
  const mono1 = process.hrtime.bigint();
  console.error(`wasm_bench: window ${(Number(mono0) / 1e9).toFixed(6)},${(Number(mono1) / 1e9).toFixed(6)} pid ${process.pid}`);
  if (stopAfter) await w.request('stop', {});
  const result = done ? (await done).data : null;
  const engineMs = eps.reduce((s, e) => s + e.data.ms, 0);
  const batches = w.events.slice(seen).filter((e) => e.type === 'batch').length;
  const row = {
    runtime: 'node-wasm', model: config.model, preset, threads: v.threads ?? 1, epochs: eps.length,
    total_ms: wall, epoch_ms: wall / eps.length, engine_epoch_ms: engineMs / eps.length,
    worker_js_ms_per_epoch: (wall - engineMs) / eps.length,
    cpu_ms_per_epoch: (cpu.user + cpu.system) / 1e3 / eps.length,
    median_engine_epoch_ms: median(eps.map((e) => e.data.ms)), batch_events: batches,
    test_acc: result?.test?.acc ?? null,
    history: eps.map((e) => e.data).map(({ loss, acc, val_loss, val_acc }) => ({ loss, acc, val_loss, val_acc })),
  };
  if (args.includes('--json')) {
    console.log(JSON.stringify(row));
  } else {
    console.log(`wasm in Node ${process.version}, ${preset} (${config.model}), ${row.threads} thread(s), ${info.splits?.train ?? '?'} training examples`);
    for (const e of eps) console.log(`epoch ${e.data.epoch}: engine ${e.data.ms.toFixed(1)} ms, val_acc ${e.data.val_acc?.toFixed(4)}`);
    console.log(`per epoch: wall ${row.epoch_ms.toFixed(1)} ms, engine ${row.engine_epoch_ms.toFixed(1)} ms, ` +
      `worker JS ${row.worker_js_ms_per_epoch.toFixed(1)} ms, process CPU ${row.cpu_ms_per_epoch.toFixed(1)} ms; ` +
      `${batches} batch events${row.test_acc != null ? `; test acc ${row.test_acc.toFixed(4)}` : ''}`);
  }
} finally {
  await w.worker.terminate();
}
