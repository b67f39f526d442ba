#!/usr/bin/env node
// mlm_browser_bench.mjs: the Transformer's masked-language-model pretraining
// and a short fine-tuning in the page's worker, for scripts/bench.sh's
// pretraining lines beside build/imdb_pretrain's and build/imdb_bench's
// native figures. Serves web/ and data/ with scripts/serve.mjs (COOP/COEP,
// so the page is cross-origin isolated and gets the two-thread engine with
// `threads: true`), drives Debian's Chromium headless through playwright-core,
// runs web/worker/worker.js unchanged from a blank same-origin document and
// prints one JSON object:
//   - pretraining: transformer-pretrained's config, `pretrainMlm` over the
//     first --reviews reviews of one pass (the training reviews and the
//     50,000 unlabelled ones, data/imdb-unsup.shard), the engine's ms of
//     the slices (mlmDone's) and the wall time;
//   - fine-tuning (unless --train-size 0): transformer-pretrained's model for one
//     epoch of --train-size training reviews and a quarter as many
//     validation reviews (an epoch of the preset is 20,000 + 5,000): the
//     epoch event's engine ms. Stopped there: the test set is not scored.
//
//   node tests/bench/mlm_browser_bench.mjs [--reviews 2000] [--train-size 1000] [--threads true|false]
//
// Figures only: nothing here asserts on time. Progress goes to stderr.

import { openWorkerPage } from './worker_page.mjs';

const opts = { reviews: 2000, trainSize: 1000, threads: true };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--reviews') opts.reviews = Number(process.argv[++i]);
  else if (a === '--train-size') opts.trainSize = Number(process.argv[++i]);
  else if (a === '--threads') opts.threads = process.argv[++i] === 'true';
  else {
    console.error('usage: mlm_browser_bench.mjs [--reviews N] [--train-size N] [--threads true|false]');
    process.exit(2);
  }
}
if (!(Number.isInteger(opts.reviews) && opts.reviews > 0) || !(Number.isInteger(opts.trainSize) && opts.trainSize >= 0)) {
  console.error('mlm_browser_bench: --reviews needs a whole number >= 1, --train-size >= 0');
  process.exit(2);
}
const log = (...a) => console.error('mlm_browser_bench:', ...a);

const { page, close } = await openWorkerPage({ log });
try {
  log(`pretraining on ${opts.reviews} reviews${opts.trainSize ? `, then fine-tuning on ${opts.trainSize}` : ''} (${opts.threads ? 'two threads if isolated' : 'one thread'})`);
  const result = await page.evaluate(async ({ reviews, trainSize, threads }) => {
    const { req, onEvent: listen } = startBenchWorker();
    let onEvent = () => {};
    listen((m) => onEvent(m));
    const init = await req('init', { threads });
    await req('loadShard', { url: '/data/imdb.shard' });
    await req('loadCorpus', { url: '/data/imdb-unsup.shard' });
    const { presets } = await req('presets', {});
    const preset = presets.find((p) => p.name === 'transformer-pretrained').config;

    // Pretraining: the first `reviews` of one pass.
    let events = 0, last = null;
    const pretrained = new Promise((resolve, reject) => {
      onEvent = (m) => {
        if (m.type === 'mlmProgress') {
          events += 1;
          last = m.data;
        }
        if (m.type === 'mlmDone') resolve(m.data);
        if (m.type === 'mlmError') reject(new Error(m.data.message));
      };
    });
    const t0 = performance.now();
    await req('pretrainMlm', { config: preset, passes: 1, reviews });
    const done = await pretrained;
    const pretrain = {
      reviews: done.reviews, ms: Math.round(done.ms), wallMs: Math.round(performance.now() - t0),
      reviewsPerSec: Math.round(done.reviewsPerSec * 10) / 10, events, loss: last?.loss ?? null, accuracy: last?.accuracy ?? null,
    };

    // Fine-tuning: one epoch of trainSize + trainSize/4 reviews.
    let finetune = null;
    if (trainSize > 0) {
      const valSize = Math.round(trainSize / 4);
      await req('configure', { ...preset, epochs: 1, train_size: trainSize, val_size: valSize });
      const epoch = new Promise((resolve, reject) => {
        onEvent = (m) => {
          if (m.type === 'epoch') resolve(m.data);
          if (m.type === 'trainError') reject(new Error(m.data.message));
        };
      });
      const t1 = performance.now();
      await req('train', {});
      const e = await epoch;
      const wallMs = performance.now() - t1;
      await req('stop', {}); // not the test set
      finetune = { train: trainSize, val: valSize, epochMs: Math.round(e.ms), wallMs: Math.round(wallMs), loss: e.loss, valAcc: e.val_acc };
    }
    return { runtime: 'worker', version: init.version, threads: init.threads, isolated: self.crossOriginIsolated, pretrain, finetune };
  }, opts);
  console.log(JSON.stringify(result));
} finally {
  await close();
}
