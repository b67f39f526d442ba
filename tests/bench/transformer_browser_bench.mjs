#!/usr/bin/env node
// transformer_browser_bench.mjs: a Transformer preset (tutorial-transformer,
// or --preset transformer-pretrained's model from random weights: the same
// work) in the page's worker, for the README's figures beside imdb_bench's native
// ones. Serves web/ and data/ with scripts/serve.mjs (COOP/COEP, so the page
// is cross-origin isolated), drives Debian's Chromium headless through
// playwright-core, runs web/worker/worker.js unchanged from a blank
// same-origin document and prints one JSON object:
//   - one training epoch of the preset (20,000 reviews, then 5,000
//     validated): the engine's ms (the epoch event's) and the wall time;
//   - how the page hears about it: the batch events (count, the largest gap
//     between two), and the round trip of an `attention` request of the
//     typed 250-word review sent every second while it trains (each waits
//     for the slice in progress: the worker's responsiveness);
//   - scoring the 250-word review in the worker (`predict`'s worker-side
//     ms), its attention (`attention`'s), and its occlusion (`explain`'s),
//     medians of 20 (5 for explain) after the epoch.
//
//   node tests/bench/transformer_browser_bench.mjs [--threads true|false] [--epochs 1] [--train-size N]
//                                                  [--preset tutorial-transformer|transformer-pretrained]
//
// Figures only: nothing here asserts on time. Progress goes to stderr.

import { openWorkerPage } from './worker_page.mjs';

// The review imdb_bench scores: 250 words (as browser_bench.mjs).
const WORDS = ['this', 'movie', 'was', 'not', 'bad', 'at', 'all', 'the', 'acting', 'great', 'and', 'plot', 'boring', 'but', 'i', 'loved', 'it'];
const REVIEW = Array.from({ length: 250 }, (_, i) => WORDS[(i * 7) % 17]).join(' ') + ' ';

const opts = { threads: true, epochs: 1, trainSize: 0, preset: 'tutorial-transformer' };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--threads') opts.threads = process.argv[++i] === 'true';
  else if (a === '--epochs') opts.epochs = Number(process.argv[++i]);
  else if (a === '--train-size') opts.trainSize = Number(process.argv[++i]);
  else if (a === '--preset' && ['tutorial-transformer', 'transformer-pretrained'].includes(process.argv[i + 1])) opts.preset = process.argv[++i];
  else {
    console.error('usage: transformer_browser_bench.mjs [--threads true|false] [--epochs N] [--train-size N] [--preset tutorial-transformer|transformer-pretrained]');
    process.exit(2);
  }
}
const log = (...a) => console.error('transformer_browser_bench:', ...a);

const { page, close } = await openWorkerPage({ log });
try {
  const result = await page.evaluate(async ({ review, threads, epochs, trainSize, preset }) => {
    const { req, onEvent: listen } = startBenchWorker();
    const events = [];
    let onEvent = () => {};
    listen((m) => {
      events.push({ type: m.type, data: m.data, t: performance.now() });
      onEvent(m);
    });
    const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
    const init = await req('init', { threads });
    await req('loadShard', { url: '/data/imdb.shard' });
    const { presets } = await req('presets', {});
    const config = { ...presets.find((p) => p.name === preset).config, epochs, ...(trainSize ? { train_size: trainSize } : {}) };
    await req('configure', config);
    const epochEvents = [];
    const finished = new Promise((resolve, reject) => {
      onEvent = (m) => {
        if (m.type === 'epoch') epochEvents.push(m.data);
        if (m.type === 'done') resolve();
        if (m.type === 'trainError') reject(new Error(m.data.message));
      };
    });
    const trips = [];
    let training = true;
    const t0 = performance.now();
    await req('train', {});
    const probe = (async () => {
      while (training) {
        await new Promise((r) => setTimeout(r, 1000));
        if (!training) break;
        const s = performance.now();
        await req('attention', { text: review });
        trips.push(performance.now() - s);
      }
    })();
    // The test set too: `done` comes after it; the epoch figures are the epoch events'.
    await finished;
    training = false;
    await probe;
    const wallMs = performance.now() - t0;
    const batches = events.filter((e) => e.type === 'batch');
    let gap = 0;
    for (let i = 1; i < batches.length; i++) gap = Math.max(gap, batches[i].t - batches[i - 1].t);
    const predict = [], attention = [], explain = [];
    for (let i = 0; i < 20; i++) predict.push((await req('predict', { text: review })).ms);
    for (let i = 0; i < 20; i++) attention.push((await req('attention', { text: review })).ms);
    for (let i = 0; i < 5; i++) explain.push((await req('explain', { text: review })).ms);
    const att = await req('attention', { text: review });
    return {
      preset, version: init.version, threads: init.threads, isolated: self.crossOriginIsolated, epochs,
      epochMs: epochEvents.map((e) => Math.round(e.ms)), history: epochEvents.map((e) => ({ loss: e.loss, val_loss: e.val_loss, val_acc: e.val_acc })),
      wallMsToDone: Math.round(wallMs), batchEvents: batches.length, lastBatches: batches.at(-1)?.data.batches,
      largestBatchGapMs: Math.round(gap), attentionRoundTripMs: { n: trips.length, median: trips.length ? Math.round(median(trips)) : null, max: trips.length ? Math.round(Math.max(...trips)) : null },
      predictMs: median(predict), attentionMs: median(attention), explainMs: median(explain), attentionPositions: att.positions,
    };
  }, { review: REVIEW, ...opts });
  console.log(JSON.stringify(result));
} finally {
  await close();
}
