#!/usr/bin/env node
// browser_bench.mjs: the benchmark's browser half (scripts/bench.sh runs it).
//
// Serves web/ and data/ with scripts/serve.mjs (the same COOP/COEP headers the
// page gets, so everything is cross-origin isolated), drives Debian's
// Chromium headless through playwright-core (never a downloaded browser; the
// flags of tests/browser/), and prints one JSON object per line:
//
//   worker   web/worker/worker.js, unchanged, driven over its message protocol from
//            a blank same-origin document: the bag recipe's whole run (train
//            request to the last epoch's event, validation included), the
//            validation pass alone, the scoring latency of a 250-word review
//            (`predict`'s own worker-side ms, and the page<->worker round
//            trip), the LSTM recipe's first epoch(s), with the two-thread
//            engine (engine-mt.js) and again with one thread; the ngram
//            preset's whole run (early stopping ends it; its config is the
//            worker's `presets` entry, as the page's menu gets it); peak
//            memory: the engine's wasm memory (the worker's `stats`).
//   page     the playground page itself: one keystroke in the review box to
//            the new score on screen (keydown to the DOM update), and the
//            frame times of the page's main thread (requestAnimationFrame
//            intervals, long animation frames and long tasks) idle, while it
//            trains the recipe at full speed (3 runs) and at the 'watch' pace
//            (with the curves in view, then the word map), after a run, and
//            while it trains the LSTM preset on a subset (frameScenarios).
//   tfjs     TensorFlow.js with its wasm backend (optional peer, from
//            node_modules): the same bag recipe on the same arrays
//            (imdb_export_arrays), first as shipped, then with the missing
//            UnsortedSegmentSum kernel registered by hand.
//
//   node tests/bench/browser_bench.mjs --bag-arrays DIR [--lstm-config FILE]
//        [--lstm-epochs 1] [--repeat 3] [--no-page] [--no-tfjs] [--tfjs-epochs 2]
//        [--idle-ms 5000] [--watch-ms 12000] [--lstm-train 4000] [--page-repeat 3] [--no-ngram]
//   node tests/bench/browser_bench.mjs --page-only [...]   the page alone (1 minute)
//
// WEB_DIR=DIR serves another copy of web/ (say, the parent commit's, to
// compare a change with it under the same load).
// Figures only: nothing here asserts on time. Progress goes to stderr.

import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve.mjs';
import { CHROMIUM, ISOLATION, ROOT, installBenchWorker } from './worker_page.mjs';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const MIME = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.npy': 'application/octet-stream', '.json': 'application/json' };

// The review imdb_bench scores: 250 words.
const WORDS = ['this', 'movie', 'was', 'not', 'bad', 'at', 'all', 'the', 'acting', 'great', 'and', 'plot', 'boring', 'but', 'i', 'loved', 'it'];
const REVIEW = Array.from({ length: 250 }, (_, i) => WORDS[(i * 7) % 17]).join(' ') + ' ';

const log = (...a) => console.error('browser_bench:', ...a);
const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : null;
};

function parseArgs(argv) {
  const o = {
    repeat: 3, lstmEpochs: 1, page: true, tfjs: true, tfjsEpochs: 2, bagArrays: null, lstmConfig: null, bag: true, lstmOneThread: true, threads: true,
    pageOnly: false, idleMs: 5000, watchMs: 12000, lstmTrain: 4000, pageRepeat: 3, ngram: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--bag-arrays') o.bagArrays = argv[++i];
    else if (a === '--lstm-config') o.lstmConfig = argv[++i];
    else if (a === '--lstm-epochs') o.lstmEpochs = Number(argv[++i]);
    else if (a === '--repeat') o.repeat = Number(argv[++i]);
    else if (a === '--tfjs-epochs') o.tfjsEpochs = Number(argv[++i]);
    else if (a === '--no-page') o.page = false;
    else if (a === '--no-tfjs') o.tfjs = false;
    else if (a === '--no-bag') o.bag = false;
    else if (a === '--no-ngram') o.ngram = false;
    else if (a === '--one-thread') o.threads = false;
    else if (a === '--no-lstm-one-thread') o.lstmOneThread = false;
    else if (a === '--page-only') o.pageOnly = true;
    else if (a === '--idle-ms') o.idleMs = Number(argv[++i]);
    else if (a === '--watch-ms') o.watchMs = Number(argv[++i]);
    else if (a === '--lstm-train') o.lstmTrain = Number(argv[++i]);
    else if (a === '--page-repeat') o.pageRepeat = Number(argv[++i]);
    else {
      console.error('usage: browser_bench.mjs --bag-arrays DIR [--lstm-config FILE] [--lstm-epochs N] [--repeat N] [--no-page] [--no-tfjs] [--tfjs-epochs N] [--no-bag] [--no-lstm-one-thread] [--one-thread] [--idle-ms MS] [--watch-ms MS] [--lstm-train N] [--page-repeat N] [--no-ngram]\n       browser_bench.mjs --page-only [--idle-ms MS] [--watch-ms MS] [--lstm-train N] [--page-repeat N]');
      process.exit(2);
    }
  }
  if (!o.bagArrays && !o.pageOnly) {
    console.error('browser_bench: --bag-arrays DIR is required (imdb_export_arrays --out DIR writes it)');
    process.exit(2);
  }
  return o;
}

// Files the bench documents need that serve.mjs does not serve: a blank
// isolated document, the exported arrays, TensorFlow.js from node_modules.
async function routeBenchFiles(page, opts) {
  const tfjsDirs = {
    tfjs: path.join(ROOT, 'node_modules', '@tensorflow', 'tfjs', 'dist'),
    'tfjs-wasm': path.join(ROOT, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist'),
  };
  await page.route('**/__bench__/**', async (route) => {
    const rel = new URL(route.request().url()).pathname.replace(/^\/__bench__\//, '');
    if (rel === 'blank.html') {
      await route.fulfill({ status: 200, headers: { ...ISOLATION, 'Content-Type': 'text/html' }, body: '<!doctype html><title>bench</title>' });
      return;
    }
    const [top, ...rest] = rel.split('/');
    const name = rest.join('/');
    const dir = top === 'arrays' ? opts.bagArrays : tfjsDirs[top];
    if (!dir || name.includes('..')) return route.fulfill({ status: 404, headers: ISOLATION, body: 'not found' });
    try {
      const body = await readFile(path.join(dir, name));
      await route.fulfill({ status: 200, headers: { ...ISOLATION, 'Content-Type': MIME[path.extname(name)] || 'application/octet-stream' }, body });
    } catch {
      await route.fulfill({ status: 404, headers: ISOLATION, body: `not found: ${rel}` });
    }
  });
}

// ------------------------------------------------------ in the page: a worker client

// Runs in the blank document. Creates web/worker/worker.js and gives back helpers on
// window.__bench: req(type, data) and waitEvent(type, n).
function installClient() {
  const { worker, req, onEvent } = startBenchWorker(); // worker_page.mjs
  const events = [];
  const waiters = [];
  onEvent((m) => {
    events.push({ ...m, t: performance.now() });
    for (const f of [...waiters]) f();
  });
  worker.onerror = (e) => {
    events.push({ type: 'trainError', data: { message: `worker error: ${e.message}` }, t: performance.now() });
    for (const f of [...waiters]) f();
  };
  // Resolves with the first n events of type after index `from`.
  const waitEvent = (type, n, from) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const err = events.slice(from).find((e) => e.type === 'trainError');
        if (err) {
          waiters.splice(waiters.indexOf(check), 1);
          reject(new Error(err.data.message));
          return;
        }
        const got = events.slice(from).filter((e) => e.type === type);
        if (got.length >= n) {
          waiters.splice(waiters.indexOf(check), 1);
          resolve(got.slice(0, n));
        }
      };
      waiters.push(check);
      check();
    });
  window.__bench = { req, waitEvent, events };
}

// ------------------------------------------------------------- the worker runs

// threads: false asks the worker for the one-thread engine even on this
// cross-origin-isolated page; with bagConfig null only the LSTM runs.
async function workerBench(context, server, opts, bagConfig, lstmConfig, threads = true, ngram = false) {
  const page = await context.newPage();
  await routeBenchFiles(page, opts);
  await page.addInitScript(installBenchWorker);
  const problems = [];
  page.on('pageerror', (err) => problems.push(err.message));
  await page.goto(`${server.url}__bench__/blank.html`);
  const isolated = await page.evaluate(() => self.crossOriginIsolated);
  await page.evaluate(installClient);
  const info = await page.evaluate(async (threads) => {
    const { req } = window.__bench;
    const v = await req('init', { threads });
    const t0 = performance.now();
    const shard = await req('loadShard', { url: '/data/imdb.shard' });
    return { version: v.version, threads: v.threads ?? 1, loadShardMs: performance.now() - t0, splits: shard.splits };
  }, threads);
  log(`worker: ${info.version}; ${info.threads} thread(s); shard loaded in ${info.loadShardMs.toFixed(0)} ms; crossOriginIsolated ${isolated}`);

  // One whole run of a recipe: configure, train, and either wait for the end
  // of the last epoch (the test pass after it is not part of an epoch) or,
  // with stopAfter, stop after that many epochs.
  const runRecipe = (cfg, stopAfter) =>
    page.evaluate(
      async ({ cfg, stopAfter }) => {
        const { req, waitEvent, events } = window.__bench;
        await req('configure', cfg);
        const from = events.length;
        const n = stopAfter || cfg.epochs;
        const t0 = performance.now();
        await req('train', { pace: 'fast' });
        const epochs = await waitEvent('epoch', n, from);
        const wall = epochs[n - 1].t - t0;
        if (stopAfter) await req('stop', {});
        else await waitEvent('done', 1, from);
        return { wallMs: wall, epochs: epochs.map((e) => e.data) };
      },
      { cfg, stopAfter },
    );

  // The validation pass alone, as imdb_bench measures it.
  const timeValidation = (reps) =>
    page.evaluate(async (reps) => {
      const { req } = window.__bench;
      const ms = [];
      for (let i = 0; i < reps; i++) {
        const t0 = performance.now();
        await req('evaluate', { split: 'val' });
        ms.push(performance.now() - t0);
      }
      return ms;
    }, reps);

  // Scoring: `predict`'s ms is measured inside the worker around the engine
  // call (string copy included); the round trip adds postMessage both ways.
  const timeScoring = (text, maxReps, maxMs) =>
    page.evaluate(
      async ({ text, maxReps, maxMs }) => {
        const { req } = window.__bench;
        for (let i = 0; i < 20; i++) await req('predict', { text });
        const inWorker = [], roundTrip = [];
        const start = performance.now();
        while (inWorker.length < maxReps && performance.now() - start < maxMs) {
          const t0 = performance.now();
          const r = await req('predict', { text });
          roundTrip.push(performance.now() - t0);
          inWorker.push(r.ms);
        }
        return { inWorker, roundTrip };
      },
      { text, maxReps, maxMs },
    );

  // Peak memory: the engine's wasm memory, which only grows. (The page's
  // performance.measureUserAgentSpecificMemory() was tried: it reports about
  // 1 MB, without the wasm memory, and with the two-thread engine it never
  // answers.)
  const measureMemory = () =>
    page.evaluate(async () => {
      const { wasmBytes } = await window.__bench.req('stats', {}).catch(() => ({}));
      return { wasmBytes };
    });

  const results = [];
  // --- the bag recipe (it does not use threads)
  if (bagConfig) {
  const runs = [];
  for (let r = 0; r < opts.repeat; r++) {
    const run = await runRecipe(bagConfig, 0);
    runs.push(run);
    log(`worker bag run ${r + 1}/${opts.repeat}: ${run.wallMs.toFixed(0)} ms for ${bagConfig.epochs} epochs (val_acc ${run.epochs.at(-1).val_acc.toFixed(4)})`);
  }
  const wall = median(runs.map((r) => r.wallMs));
  const valMs = median(await timeValidation(5));
  const bagScore = await timeScoring(REVIEW, 2000, 3000);
  const bagMemory = await measureMemory();
  const last = runs.at(-1);
  const bagCounts = { train: info.splits.train - bagConfig.val_size, val: bagConfig.val_size };
  results.push({
    runtime: 'browser', where: 'worker', model: 'bag', threads: info.threads, epochs: bagConfig.epochs, repeat: opts.repeat,
    isolated, ...bagCounts,
    total_ms: wall, best_total_ms: Math.min(...runs.map((r) => r.wallMs)),
    epoch_ms: wall / bagConfig.epochs,
    engine_epoch_ms: median(last.epochs.map((e) => e.ms)),
    val_ms_per_epoch: valMs,
    train_ms_per_epoch: wall / bagConfig.epochs - valMs,
    reviews_per_s: ((bagCounts.train + bagCounts.val) * bagConfig.epochs) / wall * 1e3,
    score_ms: median(bagScore.inWorker), score_mean_ms: bagScore.inWorker.reduce((a, b) => a + b, 0) / bagScore.inWorker.length,
    score_round_trip_ms: median(bagScore.roundTrip), score_reps: bagScore.inWorker.length,
    val_acc: last.epochs.at(-1).val_acc,
    peak_mb: bagMemory.wasmBytes ? bagMemory.wasmBytes / 1048576 : null,
    history: last.epochs.map(({ loss, acc, val_loss, val_acc }) => ({ loss, acc, val_loss, val_acc })),
  });
  }

  // --- the ngram preset, one whole run: to its `done` event (early stopping
  // decides how many epochs; the time is to the last epoch's event, as the
  // bag's, the test pass after it not included)
  if (ngram) {
    const run = await page.evaluate(async () => {
      const { req, waitEvent, events } = window.__bench;
      const { presets } = await req('presets', {});
      const cfg = presets.find((p) => p.name === 'ngram').config;
      await req('configure', cfg);
      const from = events.length;
      const t0 = performance.now();
      await req('train', { pace: 'fast' });
      const [done] = await waitEvent('done', 1, from);
      const epochs = events.slice(from).filter((e) => e.type === 'epoch');
      return { cfg, wallMs: epochs.at(-1).t - t0, epochs: epochs.map((e) => e.data), done: done.data };
    });
    const memory = await measureMemory();
    const n = run.epochs.length;
    log(`worker ngram: ${run.wallMs.toFixed(0)} ms for ${n} epochs (engine ${run.done.ms?.toFixed(0)} ms; test acc ${run.done.test?.acc?.toFixed(4)})`);
    const counts = { train: info.splits.train - run.cfg.val_size, val: run.cfg.val_size };
    results.push({
      runtime: 'browser', where: 'worker', model: 'ngram', threads: info.threads, epochs: n, repeat: 1, isolated, ...counts,
      total_ms: run.wallMs, epoch_ms: run.wallMs / n, engine_total_ms: run.done.ms,
      engine_epoch_ms: median(run.epochs.map((e) => e.ms)),
      reviews_per_s: ((counts.train + counts.val) * n) / run.wallMs * 1e3,
      val_acc: run.epochs.at(-1).val_acc, test_acc: run.done.test?.acc ?? null,
      peak_mb: memory.wasmBytes ? memory.wasmBytes / 1048576 : null,
      history: run.epochs.map(({ loss, acc, val_loss, val_acc }) => ({ loss, acc, val_loss, val_acc })),
    });
  }

  // --- the LSTM recipe: its first epoch(s), then stop
  if (lstmConfig) {
    const cfg = { ...lstmConfig, epochs: opts.lstmEpochs + 1 };
    const run = await runRecipe(cfg, opts.lstmEpochs);
    log(`worker lstm, ${info.threads} thread(s): ${run.wallMs.toFixed(0)} ms for ${opts.lstmEpochs} epoch(s)`);
    const lstmVal = median(await timeValidation(1));
    const lstmScore = await timeScoring(REVIEW, 500, 2000);
    const lstmMemory = await measureMemory();
    const counts = { train: info.splits.train - cfg.val_size, val: cfg.val_size };
    results.push({
      runtime: 'browser', where: 'worker', model: 'lstm', threads: info.threads, epochs: opts.lstmEpochs, repeat: 1, isolated, ...counts,
      history: run.epochs.map(({ loss, acc, val_loss, val_acc }) => ({ loss, acc, val_loss, val_acc })),
      total_ms: run.wallMs, epoch_ms: run.wallMs / opts.lstmEpochs,
      engine_epoch_ms: median(run.epochs.map((e) => e.ms)),
      val_ms_per_epoch: lstmVal, train_ms_per_epoch: run.wallMs / opts.lstmEpochs - lstmVal,
      reviews_per_s: ((counts.train + counts.val) * opts.lstmEpochs) / run.wallMs * 1e3,
      score_ms: median(lstmScore.inWorker), score_round_trip_ms: median(lstmScore.roundTrip), score_reps: lstmScore.inWorker.length,
      val_acc: run.epochs.at(-1).val_acc,
      peak_mb: lstmMemory.wasmBytes ? lstmMemory.wasmBytes / 1048576 : null,
    });
  }
  if (problems.length) log(`page errors: ${problems.join('; ')}`);
  await page.close();
  return results;
}

// ------------------------------------------------------------------ the page

async function pageBench(context, server, opts) {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${server.url}#epochs=40`);
  await page.waitForFunction(() => window.__playground.phase === 'ready', null, { timeout: 120000, polling: 50 });

  // Keystroke to score: the review box holds the 250-word review; one key is
  // pressed; the time runs from its keydown to the DOM update that shows the
  // score of the new text (the page asks the worker to `explain` it: score
  // plus every word's contribution).
  await page.fill('#review-text', REVIEW);
  await page.waitForFunction((t) => window.__playground.explain?.text === t && !window.__playground.explainBusy, REVIEW, { timeout: 30000 });
  await page.focus('#review-text');
  await page.evaluate(() => {
    const box = document.getElementById('review-text');
    window.__keyTimes = [];
    box.addEventListener('keydown', (e) => {
      window.__keyDown = performance.now();
      window.__keyTimeStamp = e.timeStamp;
    });
    // The words are rebuilt for the new text (the score line changes only
    // when the score's printed digits do).
    const mo = new MutationObserver(() => {
      if (window.__keyDown != null && window.__playground.explain?.text === box.value) {
        window.__keyTimes.push(performance.now() - window.__keyDown);
        window.__keyDown = null;
      }
    });
    for (const id of ['score-text', 'words']) mo.observe(document.getElementById(id), { childList: true, characterData: true, subtree: true });
  });
  const keys = 'abcdefghijklmnopqrstuvwxyz'.split('');
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press(i % 2 ? 'Backspace' : keys[i % 26]);
    await page.waitForFunction(() => window.__keyDown == null, null, { timeout: 30000, polling: 'raf' });
  }
  const keyTimes = await page.evaluate(() => window.__keyTimes);

  // Frame times of the page's main thread (see frameScenarios), with the
  // 250-word review still in the box, so the page re-scores and re-colours
  // it after every epoch as a user would see it.
  await page.evaluate(installFrameRecorder);
  const frames = await frameScenarios(page, opts);
  const runMs = await page.evaluate(() => window.__playground.lastRunMs);
  await page.close();
  return {
    runtime: 'browser', where: 'page', model: 'bag',
    keystroke_ms: median(keyTimes), keystroke_max_ms: Math.max(...keyTimes), keystrokes: keyTimes.length,
    train_engine_ms: runMs,
    frames,
  };
}

// Runs in the page: window.__frameRec records the interval between
// successive requestAnimationFrame callbacks (headless Chromium ticks them
// at 60 Hz even with --disable-gpu, so an idle page shows 16.7 ms, and a
// frame whose main-thread work overran shows 33.3 ms or more), plus the
// long animation frames (over 50 ms, with the scripts that ran in them) and
// long tasks the browser reports meanwhile.
function installFrameRecorder() {
  const rec = { gen: 0, on: false };
  const short = (u) => (u ? String(u).split('/').pop() : '');
  rec.start = () => {
    const gen = ++rec.gen;
    Object.assign(rec, { on: true, deltas: [], loaf: [], longTasks: [], t0: performance.now() });
    let last = null;
    const tick = (t) => {
      if (!rec.on || rec.gen !== gen) return;
      if (last !== null) rec.deltas.push(t - last);
      last = t;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  };
  rec.stop = () => {
    rec.on = false;
    return { ms: performance.now() - rec.t0, deltas: rec.deltas, loaf: rec.loaf, longTasks: rec.longTasks };
  };
  const observe = (type, fn) => {
    try {
      new PerformanceObserver((list) => {
        if (rec.on) for (const e of list.getEntries()) fn(e);
      }).observe({ type });
    } catch {
      // not supported by this browser: the figures say null
      rec[`no_${type}`] = true;
    }
  };
  observe('long-animation-frame', (e) =>
    rec.loaf.push({
      ms: e.duration,
      scripts: (e.scripts || []).map((x) => ({ ms: x.duration, what: `${x.invokerType} ${x.invoker} ${short(x.sourceURL)}${x.sourceFunctionName ? ':' + x.sourceFunctionName : ''}` })),
    }));
  observe('longtask', (e) => rec.longTasks.push(e.duration));
  window.__frameRec = rec;
}

// Percentiles of one recording. A frame counts as over 16.7 ms when it took
// more than one 60 Hz interval (the intervals here are 16.67 ms or a
// multiple of it, so > 20 ms is the test).
function frameStats(r) {
  const d = [...r.deltas].sort((a, b) => a - b);
  const pct = (p) => (d.length ? d[Math.min(d.length - 1, Math.floor(p * d.length))] : null);
  const sources = new Map();
  for (const l of r.loaf) for (const sc of l.scripts) sources.set(sc.what, (sources.get(sc.what) || 0) + sc.ms);
  return {
    wall_ms: r.ms, frames: d.length, fps: d.length ? (d.length * 1000) / d.reduce((a, b) => a + b, 0) : null,
    p50_ms: median(d), p95_ms: pct(0.95), max_ms: d.at(-1) ?? null,
    over_16_7: d.filter((x) => x > 20).length, over_50: d.filter((x) => x > 50).length,
    long_frames: r.loaf.length, long_frames_ms: r.loaf.reduce((a, l) => a + l.ms, 0),
    long_tasks: r.longTasks.length, long_tasks_ms: r.longTasks.reduce((a, b) => a + b, 0),
    // What ran in the long frames (script time per source), the largest first.
    long_frame_scripts: [...sources].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([what, ms]) => ({ what, ms: Math.round(ms) })),
  };
}

async function setControl(page, id, value) {
  if ((await page.evaluate((id) => document.getElementById(id).tagName, id)) === 'SELECT') await page.selectOption(`#${id}`, String(value));
  else {
    await page.fill(`#${id}`, String(value));
    await page.dispatchEvent(`#${id}`, 'change');
  }
}

const phaseOf = (page) => page.evaluate(() => window.__playground.phase);
const waitPhase = (page, phases, timeout = 600000) =>
  page.waitForFunction((list) => list.includes(window.__playground.phase), phases, { timeout, polling: 100 });

// The page's frames in each state (each scenario's figures printed to
// stderr as it ends):
//   idle          the page ready, nothing running (opts.idleMs)
//   bag_fast      the tutorial recipe, 40 epochs at full speed: Train to the
//                 end of the run (test pass included)
//   after_run     the opts.idleMs after that: the diagnosis and word map of
//                 the finished run are drawn then
//   bag_watch     the 'watch' pace (about 1.5 s per epoch), opts.watchMs of it
//   bag_watch_map the same with the word map scrolled into view (the map
//                 follows the newest epoch while it is visible)
//   lstm          the LSTM preset on a subset (opts.lstmTrain training and
//                 1,000 validation reviews, 2 epochs), Train to the end
async function frameScenarios(page, opts) {
  const out = {};
  // Records `run` `repeat` times; the recordings are pooled.
  const record = async (name, run, repeat = 1) => {
    const pooled = { ms: 0, deltas: [], loaf: [], longTasks: [] };
    for (let i = 0; i < repeat; i++) {
      await page.evaluate(() => window.__frameRec.start());
      await run();
      const r = await page.evaluate(() => window.__frameRec.stop());
      pooled.ms += r.ms;
      for (const k of ['deltas', 'loaf', 'longTasks']) pooled[k].push(...r[k]);
    }
    const f = (out[name] = { runs: repeat, ...frameStats(pooled) });
    log(`page frames, ${name}${repeat > 1 ? ` (${repeat} runs)` : ''}: ${f.frames} frames in ${(f.wall_ms / 1000).toFixed(1)} s, median ${f.p50_ms?.toFixed(1)} ms, p95 ${f.p95_ms?.toFixed(1)}, max ${f.max_ms?.toFixed(1)}, ${f.over_16_7} over 16.7 ms, ${f.over_50} over 50 ms`);
  };
  const train = async () => {
    await page.click('#btn-train');
    await page.waitForFunction(() => window.__playground.phase === 'training', null, { timeout: 60000, polling: 10 });
  };
  const toTop = () => page.evaluate(() => window.scrollTo(0, 0));
  const pause = (ms) => page.waitForTimeout(ms);

  await toTop();
  await record('idle', () => pause(opts.idleMs));

  // The recipe at full speed, Train to 'done', opts.pageRepeat times (a run
  // lasts about 2 s), then the page settling after the last one.
  await record('bag_fast', async () => {
    await page.click('#btn-train');
    await waitPhase(page, ['done', 'stopped', 'failed']);
  }, opts.pageRepeat);
  await record('after_run', () => pause(opts.idleMs));

  // The watch pace, a while of it, then Stop.
  const watch = async (name, scroll) => {
    await setControl(page, 'pace', 'watch');
    if (scroll) await page.evaluate((sel) => document.querySelector(sel).scrollIntoView({ block: 'center' }), scroll);
    else await toTop();
    await record(name, async () => {
      await train();
      await pause(opts.watchMs);
    });
    if ((await phaseOf(page)) === 'training') await page.click('#btn-stop');
    await waitPhase(page, ['stopped', 'done', 'failed']);
    await setControl(page, 'pace', 'fast');
    await toTop();
  };
  await watch('bag_watch', null);
  await watch('bag_watch_map', '#embed-map');

  // The LSTM preset on a subset, full speed.
  if (opts.lstmTrain > 0) {
    await setControl(page, 'preset', 'tutorial-lstm');
    await setControl(page, 'epochs', 2);
    await setControl(page, 'train_size', opts.lstmTrain);
    await setControl(page, 'val_size', 1000);
    await record('lstm', async () => {
      await page.click('#btn-train');
      await waitPhase(page, ['done', 'stopped', 'failed']);
    });
  }
  return out;
}

// -------------------------------------------------------------- TensorFlow.js

async function tfjsBench(context, server, opts, bagConfig) {
  const have = await stat(path.join(ROOT, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist', 'tf-backend-wasm.min.js')).catch(() => null);
  if (!have) return { runtime: 'tfjs', model: 'bag', skipped: 'not installed (scripts/bench.sh --install-peers adds @tensorflow/tfjs and tfjs-backend-wasm)' };
  const page = await context.newPage();
  await routeBenchFiles(page, opts);
  await page.goto(`${server.url}__bench__/blank.html`);
  await page.addScriptTag({ url: '/__bench__/tfjs/tf.min.js' });
  await page.addScriptTag({ url: '/__bench__/tfjs-wasm/tf-backend-wasm.min.js' });
  const result = await page.evaluate(
    async ({ cfg, epochs, review }) => {
      const tf = window.tf;
      tf.wasm.setWasmPaths('/__bench__/tfjs-wasm/');
      await tf.setBackend('wasm');
      await tf.ready();
      const out = { runtime: 'tfjs', model: 'bag', version: tf.version.tfjs, backend: tf.getBackend(), threads: tf.wasm.getThreadsCount ? tf.wasm.getThreadsCount() : null };
      // .npy (version 1) -> Int32Array / Float32Array
      const npy = async (name) => {
        const buf = await (await fetch(`/__bench__/arrays/${name}`)).arrayBuffer();
        const hlen = new DataView(buf).getUint16(8, true);
        const header = new TextDecoder().decode(new Uint8Array(buf, 10, hlen));
        const shape = header.match(/'shape': \(([^)]*)\)/)[1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
        const body = buf.slice(10 + hlen);
        const data = header.includes("'<u2'") ? Int32Array.from(new Uint16Array(body)) : new Float32Array(body);
        return { data, shape };
      };
      const load = async (split) => {
        const x = await npy(`${split}_x.npy`), y = await npy(`${split}_y.npy`);
        return { x: tf.tensor2d(x.data, x.shape, 'int32'), y: tf.tensor1d(y.data), n: x.shape[0] };
      };
      const train = await load('train'), val = await load('val');
      out.train = train.n;
      out.val = val.n;
      const build = () => {
        const m = tf.sequential();
        m.add(tf.layers.embedding({ inputDim: cfg.vocab_size, outputDim: cfg.embed_dim, inputLength: cfg.maxlen }));
        m.add(tf.layers.globalAveragePooling1d());
        m.add(tf.layers.dense({ units: cfg.hidden, activation: 'relu' }));
        m.add(tf.layers.dense({ units: 1, activation: 'sigmoid' }));
        m.compile({ optimizer: tf.train.adam(cfg.lr), loss: 'binaryCrossentropy', metrics: ['accuracy'] });
        return m;
      };
      const fit = async (model, n) => {
        const rec = [];
        let begin = 0, lastBatch = 0;
        await model.fit(train.x, train.y, {
          epochs: n, batchSize: cfg.batch_size, shuffle: true, validationData: [val.x, val.y],
          callbacks: {
            onEpochBegin: async () => { begin = performance.now(); },
            onBatchEnd: async () => { lastBatch = performance.now(); },
            onEpochEnd: async (epoch, logs) => {
              const end = performance.now();
              rec.push({ train_ms: lastBatch - begin, epoch_ms: end - begin, val_acc: logs.val_acc ?? logs.val_accuracy });
            },
          },
        });
        return rec;
      };
      // 1. As shipped.
      try {
        await fit(build(), 1);
        out.unpatched = 'trained';
      } catch (err) {
        out.unpatched = String(err.message || err).slice(0, 300);
      }
      // 2. With UnsortedSegmentSum (the embedding's gradient: tf.gather's
      // gradient sums rows per id) registered for the wasm backend, in JS
      // over the backend's heap: the "patched by hand" kernel.
      if (!tf.getKernel('UnsortedSegmentSum', 'wasm')) {
        tf.registerKernel({
          kernelName: 'UnsortedSegmentSum', backendName: 'wasm',
          kernelFunc: ({ inputs, backend, attrs }) => {
            const { x, segmentIds } = inputs;
            const rows = attrs.numSegments, width = x.size / x.shape[0];
            const outT = backend.makeOutput([rows, ...x.shape.slice(1)], x.dtype);
            const xs = backend.typedArrayFromHeap(x), ids = backend.typedArrayFromHeap(segmentIds);
            const o = backend.typedArrayFromHeap(outT);
            o.fill(0);
            for (let i = 0; i < ids.length; i++) {
              const s = ids[i];
              if (s < 0 || s >= rows) continue;
              const src = i * width, dst = s * width;
              for (let k = 0; k < width; k++) o[dst + k] += xs[src + k];
            }
            return outT;
          },
        });
        out.patched_kernel = 'UnsortedSegmentSum registered by hand (JS loop over the wasm heap)';
      }
      try {
        const model = build();
        const rec = await fit(model, epochs);
        out.epochs = epochs;
        out.history = rec;
        // The first epoch includes warm-up (kernel setup); report the later ones.
        const steady = rec.length > 1 ? rec.slice(1) : rec;
        const med = (a) => a.sort((p, q) => p - q)[Math.floor((a.length - 1) / 2)];
        out.epoch_ms = med(steady.map((r) => r.epoch_ms));
        out.train_ms_per_epoch = med(steady.map((r) => r.train_ms));
        out.val_ms_per_epoch = out.epoch_ms - out.train_ms_per_epoch;
        out.reviews_per_s = (train.n + val.n) / out.epoch_ms * 1e3;
        out.val_acc = rec.at(-1).val_acc;
        // Scoring one review: the first 250-id validation row, padded.
        const one = val.x.slice([0, 0], [1, cfg.maxlen]);
        for (let i = 0; i < 20; i++) model.predict(one).dataSync();
        const times = [];
        const start = performance.now();
        while (times.length < 500 && performance.now() - start < 2000) {
          const t0 = performance.now();
          model.predict(one).dataSync();
          times.push(performance.now() - t0);
        }
        out.score_ms = med(times);
        out.wasm_mb = tf.backend().wasm?.HEAPU8 ? tf.backend().wasm.HEAPU8.length / 1048576 : null;
        if (performance.measureUserAgentSpecificMemory) out.peak_mb = (await performance.measureUserAgentSpecificMemory()).bytes / 1048576;
      } catch (err) {
        out.error = String(err.message || err).slice(0, 300);
      }
      return out;
    },
    { cfg: bagConfig, epochs: opts.tfjsEpochs, review: REVIEW },
  );
  await page.close();
  return result;
}

// ---------------------------------------------------------------------- main

const opts = parseArgs(process.argv.slice(2));
const bagConfig = opts.pageOnly ? null : JSON.parse(await readFile(path.join(opts.bagArrays, 'config.json'), 'utf8'));
const lstmConfig = opts.lstmConfig ? JSON.parse(await readFile(opts.lstmConfig, 'utf8')) : null;
for (const f of [path.join(ROOT, 'web', 'engine', 'engine.wasm'), path.join(ROOT, 'data', 'imdb.shard')])
  await stat(f).catch(() => {
    console.error(`browser_bench: ${f} is missing (scripts/setup.sh builds it)`);
    process.exit(1);
  });
const { server, url } = await startServer({ port: 0, host: '127.0.0.1', webDir: process.env.WEB_DIR ? path.resolve(process.env.WEB_DIR) : path.join(ROOT, 'web'), dataDir: path.join(ROOT, 'data') });
const context = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS }).then((b) => b.newContext());
const srv = { url };
let failed = false;
try {
  if (!opts.pageOnly) {
    for (const r of await workerBench(context, srv, opts, opts.bag ? bagConfig : null, lstmConfig, opts.threads, opts.ngram)) console.log(JSON.stringify(r));
    // The LSTM again with the one-thread engine, for the comparison.
    if (lstmConfig && opts.lstmOneThread) for (const r of await workerBench(context, srv, opts, null, lstmConfig, false)) console.log(JSON.stringify(r));
  }
  if (opts.page) {
    const r = await pageBench(context, srv, opts);
    log(`page: keystroke to score ${r.keystroke_ms?.toFixed(2)} ms (median of ${r.keystrokes})`);
    console.log(JSON.stringify(r));
  }
  if (opts.tfjs && !opts.pageOnly) {
    const r = await tfjsBench(context, srv, opts, bagConfig);
    log(`tfjs: ${r.skipped || r.error || `${r.epoch_ms?.toFixed(0)} ms per epoch (patched); unpatched: ${r.unpatched}`}`);
    console.log(JSON.stringify(r));
  }
} catch (err) {
  console.error(`browser_bench: ${err.stack || err.message}`);
  failed = true;
} finally {
  await context.browser().close();
  server.close();
}
process.exit(failed ? 1 : 0);
