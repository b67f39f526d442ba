#!/usr/bin/env node
// fashion_browser_bench.mjs: the tutorial-mlp preset (Fashion-MNIST) in
// headless Chromium's worker: web/worker/worker.js unchanged, the one-thread engine,
// on a blank page served by scripts/serve.mjs (web/ and data/), timed per
// epoch.
//
//   node tests/bench/fashion_browser_bench.mjs [--epochs N] [--json]
//
// --json prints one JSON line instead (scripts/bench.sh): the wall time from
// the train request to the last epoch's event, per epoch.
//
// Needs /usr/bin/chromium, playwright-core (npm), web/engine/ (scripts/build-wasm.sh)
// and data/fashion.shard (scripts/setup.sh). Prints each epoch's engine time
// (the worker's `epoch` events: training and validation) and history, then
// the test accuracy. A benchmark: prints figures, asserts nothing.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve.mjs';
import { ROOT, CHROMIUM, CHROMIUM_ARGS } from '../browser/harness.mjs';

const args = process.argv.slice(2);
const epochs = args.includes('--epochs') ? Number(args[args.indexOf('--epochs') + 1]) : 3;
for (const f of ['web/engine/engine.js', 'data/fashion.shard'])
  await stat(path.join(ROOT, f)).catch(() => {
    throw new Error(`${f} is missing: run scripts/setup.sh (scripts/build-wasm.sh builds web/engine/)`);
  });
const server = await startServer({ port: 0, host: '127.0.0.1', webDir: path.join(ROOT, 'web'), dataDir: path.join(ROOT, 'data') });
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
try {
  const page = await browser.newPage();
  await page.route('**/__bench__/blank.html', (route) =>
    route.fulfill({ status: 200, headers: { 'Content-Type': 'text/html' }, body: '<!doctype html><title>bench</title>' }));
  await page.goto(`${server.url}__bench__/blank.html`);
  const r = await page.evaluate(async (epochs) => {
    const w = new Worker('/worker/worker.js', { type: 'module' });
    let id = 0;
    const pending = new Map(), events = [];
    w.onmessage = (e) => {
      const m = e.data;
      if (m.id && pending.has(m.id)) {
        const { resolve, reject } = pending.get(m.id);
        pending.delete(m.id);
        m.type === 'ok' ? resolve(m.data) : reject(new Error(m.data.message));
      } else events.push({ ...m, t: performance.now() });
    };
    const req = (type, data) => new Promise((resolve, reject) => {
      pending.set(++id, { resolve, reject });
      w.postMessage({ id, type, data });
    });
    await req('init', { threads: false });
    await req('loadImageShard', { url: '/data/fashion.shard' });
    const { presets } = await req('presets', {});
    await req('configure', { ...presets.find((p) => p.name === 'tutorial-mlp').config, epochs });
    const t0 = performance.now();
    await req('train', {});
    const done = await new Promise((resolve, reject) => {
      const poll = () => {
        const d = events.find((e) => e.type === 'done' || e.type === 'trainError');
        if (d) return d.type === 'done' ? resolve(d.data) : reject(new Error(d.data.message));
        setTimeout(poll, 50);
      };
      poll();
    });
    w.terminate();
    const eps = events.filter((e) => e.type === 'epoch');
    return { epochs: eps.map((e) => e.data), wallMs: eps.at(-1).t - t0, test: done.test, ua: navigator.userAgent };
  }, epochs);
  if (args.includes('--json')) {
    const n = r.epochs.length;
    const ms = r.epochs.map((e) => e.ms).sort((a, b) => a - b);
    console.log(JSON.stringify({
      runtime: 'browser', where: 'worker', model: 'mlp', threads: 1, epochs: n, repeat: 1,
      total_ms: r.wallMs, epoch_ms: r.wallMs / n, engine_epoch_ms: ms[(n - 1) >> 1],
      val_acc: r.epochs.at(-1).val_acc, test_acc: r.test.acc,
      history: r.epochs.map(({ loss, acc, val_loss, val_acc }) => ({ loss, acc, val_loss, val_acc })),
    }));
  } else {
  console.log(`Chromium worker (${r.ua.match(/Chrome\/[\d.]+/)?.[0] ?? 'Chromium'}), tutorial-mlp, one thread, ${epochs} epochs`);
  for (const e of r.epochs)
    console.log(`epoch ${e.epoch}: ${e.ms.toFixed(0)} ms - loss ${e.loss.toFixed(4)} - acc ${e.acc.toFixed(4)} - ` +
      `val_loss ${e.val_loss.toFixed(4)} - val_acc ${e.val_acc.toFixed(4)}`);
  const later = r.epochs.slice(1).map((e) => e.ms).sort((a, b) => a - b);
  if (later.length)
    console.log(`ms per epoch (training + validation) after the first: median ${later[(later.length - 1) >> 1].toFixed(0)}, ` +
      `best ${later[0].toFixed(0)}; first ${r.epochs[0].ms.toFixed(0)}`);
  console.log(`test accuracy ${r.test.acc.toFixed(4)} (loss ${r.test.loss.toFixed(4)})`);
  }
} finally {
  await browser.close();
  server.server.close();
}
