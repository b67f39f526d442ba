#!/usr/bin/env node
// page_profile.mjs: where the page's main-thread time goes while it trains.
// A diagnostic companion to browser_bench.mjs's frame times: it opens the
// playground in headless Chromium (the flags of tests/browser/), trains once
// and prints
//   - the frame intervals (requestAnimationFrame) while training,
//   - every Chart.js update by canvas: count, total and longest ms,
//   - each long animation frame (over 50 ms): when, how long, and the
//     scripts that ran in it,
//   - with --profile, a CPU profile taken through the Chrome DevTools
//     Protocol (Profiler domain, 200 us sampling): self time by function and
//     file, and inclusive time of the page's own functions.
// The profiler slows the page down: use the frame figures of a run without
// --profile (or browser_bench.mjs's) for frame times.
//
//   node tests/bench/page_profile.mjs [--hash '#epochs=40'] [--review]
//        [--lstm N] [--scroll SELECTOR] [--ms N] [--profile] [--trace]
//
//   --hash H        the page's settings (default '#epochs=40', the recipe)
//   --review        first type a 250-word review (the page re-scores it as
//                   training goes, as in browser_bench.mjs)
//   --lstm N        the LSTM preset on N training and 1,000 validation
//                   reviews, 2 epochs
//   --scroll SEL    scroll that element into view first (e.g. '#embed-map')
//   --ms N          record N ms after Train instead of up to the end of the run
//   --profile       also take the CPU profile
//   --trace         also record Chromium's trace (timeline, paint,
//                   compositing) and sum its events by thread and name, with
//                   their CPU time (what a busy machine inflates less than
//                   wall time)
//
// It always prints the run's layouts, style recalculations, script and task
// time (the DevTools protocol's Performance metrics) and the DOM's size.
//
// WEB_DIR=DIR serves another copy of web/. Figures only: nothing asserts.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const WORDS = ['this', 'movie', 'was', 'not', 'bad', 'at', 'all', 'the', 'acting', 'great', 'and', 'plot', 'boring', 'but', 'i', 'loved', 'it'];
const REVIEW = Array.from({ length: 250 }, (_, i) => WORDS[(i * 7) % 17]).join(' ') + ' ';
// The page's own scripts: every .js it serves but Chart.js and the engine.
const OWN = /^http:\/\/127\.0\.0\.1:\d+\/(?!vendor\/|engine\/).*\.js$/;

const opts = { hash: '#epochs=40', review: false, lstm: 0, scroll: null, ms: 0, profile: false };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--hash') opts.hash = argv[++i];
  else if (a === '--review') opts.review = true;
  else if (a === '--lstm') opts.lstm = Number(argv[++i]);
  else if (a === '--scroll') opts.scroll = argv[++i];
  else if (a === '--ms') opts.ms = Number(argv[++i]);
  else if (a === '--profile') opts.profile = true;
  else if (a === '--trace') opts.trace = true;
  else {
    console.error("usage: page_profile.mjs [--hash '#epochs=40'] [--review] [--lstm N] [--scroll SELECTOR] [--ms N] [--profile] [--trace]");
    process.exit(2);
  }
}

// Runs in the page: frame intervals, long animation frames, Chart.js updates.
function installRecorder() {
  const rec = { frames: [], loaf: [], updates: {}, on: true };
  let last = null;
  const tick = (t) => {
    if (!rec.on) return;
    if (last !== null) rec.frames.push(t - last);
    last = t;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  const short = (u) => (u ? String(u).split('/').pop() : '');
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (!rec.on) continue;
      rec.loaf.push({
        at: e.startTime - rec.t0, ms: e.duration,
        renderMs: e.renderStart ? e.startTime + e.duration - e.renderStart : 0,
        scripts: e.scripts.map((s) => `${s.invokerType} ${s.invoker} ${short(s.sourceURL)}${s.sourceFunctionName ? ':' + s.sourceFunctionName : ''} ${s.duration.toFixed(0)} ms`),
      });
    }
  }).observe({ type: 'long-animation-frame' });
  const Chart = globalThis.Chart;
  const update = Chart.prototype.update;
  Chart.prototype.update = function (mode) {
    const t = performance.now();
    const r = update.call(this, mode);
    const ms = performance.now() - t;
    if (rec.on) {
      const u = (rec.updates[this.canvas.id] ||= { n: 0, ms: 0, max: 0 });
      u.n++;
      u.ms += ms;
      u.max = Math.max(u.max, ms);
    }
    return r;
  };
  rec.t0 = performance.now();
  window.__profileRec = rec;
}

const key = (cf) => `${cf.functionName || '(anonymous)'} ${cf.url.split('/').pop()}:${cf.lineNumber + 1}`;

// Total duration of each trace event name per thread (complete 'X' events
// and B/E pairs), the largest first: where layout, paint and compositing go.
function summariseTrace(events) {
  const names = new Map(); // tid -> thread name
  for (const e of events) if (e.ph === 'M' && e.name === 'thread_name') names.set(`${e.pid}:${e.tid}`, e.args.name);
  const sums = new Map(), open = new Map();
  const add = (e, dur, tdur) => {
    const k = `${names.get(`${e.pid}:${e.tid}`) || e.tid} | ${e.name}`;
    const v = sums.get(k) || [0, 0, 0, 0];
    v[0] += dur; v[1]++; v[2] += tdur || 0; v[3] = Math.max(v[3], tdur || 0);
    sums.set(k, v);
  };
  for (const e of events) {
    if (e.ph === 'X' && e.dur) add(e, e.dur, e.tdur);
    else if (e.ph === 'B') open.set(`${e.pid}:${e.tid}:${e.name}`, e.ts);
    else if (e.ph === 'E') { const k = `${e.pid}:${e.tid}:${e.name}`; if (open.has(k)) { add(e, e.ts - open.get(k)); open.delete(k); } }
  }
  console.log('trace: by thread | event (nested events overlap), the largest 40 by CPU time: wall ms, CPU ms (the thread running: what a busy machine does not inflate), count, longest CPU ms:');
  for (const [k, [us, n, tus, tmax]] of [...sums].sort((a, b) => b[1][2] - a[1][2]).slice(0, 40)) console.log(`  ${(us / 1000).toFixed(0).padStart(6)} ms ${(tus / 1000).toFixed(0).padStart(6)} ms CPU ${String(n).padStart(5)}x max ${(tmax / 1000).toFixed(1).padStart(5)} ms  ${k}`);
}

function summariseProfile(p) {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children || []) parent.set(c, n.id);
  const us = new Map(); // node id -> sampled microseconds
  p.samples.forEach((id, i) => us.set(id, (us.get(id) || 0) + (p.timeDeltas[i] || 0)));
  const self = new Map(), byFile = new Map(), incl = new Map();
  let total = 0;
  for (const [id, t] of us) {
    const cf = byId.get(id).callFrame;
    total += t;
    self.set(key(cf), (self.get(key(cf)) || 0) + t);
    const file = cf.url.split('/').pop() || cf.functionName;
    byFile.set(file, (byFile.get(file) || 0) + t);
    const seen = new Set();
    for (let cur = id; cur != null; cur = parent.get(cur)) {
      const f = byId.get(cur).callFrame;
      if (!OWN.test(f.url) || seen.has(key(f))) continue;
      seen.add(key(f));
      incl.set(key(f), (incl.get(key(f)) || 0) + t);
    }
  }
  const top = (m, n) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, t]) => `  ${(t / 1000).toFixed(0).padStart(6)} ms  ${k}`).join('\n');
  console.log(`CPU profile of the main thread: ${(total / 1000).toFixed(0)} ms sampled`);
  console.log(`by file ((program): the browser's own work, layout, paint; (idle): nothing to do):\n${top(byFile, 12)}`);
  console.log(`self time, top functions:\n${top(self, 20)}`);
  console.log(`inclusive time of the page's own functions:\n${top(incl, 30)}`);
}

const { server, url } = await startServer({
  port: 0, host: '127.0.0.1',
  webDir: process.env.WEB_DIR ? path.resolve(process.env.WEB_DIR) : path.join(ROOT, 'web'),
  dataDir: path.join(ROOT, 'data'),
});
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
try {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  await page.goto(url + opts.hash);
  await page.waitForFunction(() => window.__playground.phase === 'ready', null, { timeout: 120000, polling: 100 });
  if (opts.lstm > 0) {
    await page.selectOption('#preset', 'tutorial-lstm');
    for (const [id, v] of [['epochs', 2], ['train_size', opts.lstm], ['val_size', 1000]]) {
      await page.fill(`#${id}`, String(v));
      await page.dispatchEvent(`#${id}`, 'change');
    }
  }
  if (opts.review) {
    await page.fill('#review-text', REVIEW);
    await page.waitForFunction((t) => window.__playground.explain?.text === t && !window.__playground.explainBusy, REVIEW, { timeout: 30000 });
  }
  await page.evaluate((sel) => (sel ? document.querySelector(sel).scrollIntoView({ block: 'center' }) : window.scrollTo(0, 0)), opts.scroll);
  await page.waitForTimeout(500);

  let cdp = null;
  if (opts.profile) {
    cdp = await page.context().newCDPSession(page);
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
    await cdp.send('Profiler.start');
  }
  await page.evaluate(installRecorder);
  const perf = await page.context().newCDPSession(page);
  await perf.send('Performance.enable');
  const metrics = async () => Object.fromEntries((await perf.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
  const before = await metrics();
  const traceEvents = [];
  if (opts.trace) {
    perf.on('Tracing.dataCollected', (e) => traceEvents.push(...e.value));
    await perf.send('Tracing.start', { traceConfig: { includedCategories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8.execute', 'blink', 'cc', 'viz', 'gpu'] }, transferMode: 'ReportEvents' });
  }
  const t0 = Date.now();
  await page.click('#btn-train');
  if (opts.ms > 0) await page.waitForTimeout(opts.ms);
  else await page.waitForFunction(() => ['done', 'stopped', 'failed'].includes(window.__playground.phase), null, { timeout: 600000, polling: 100 });
  const wall = Date.now() - t0;
  const after = await metrics();
  if (opts.trace) {
    const complete = new Promise((resolve) => perf.once('Tracing.tracingComplete', resolve));
    await perf.send('Tracing.end');
    await complete;
    summariseTrace(traceEvents);
  }
  const delta = (k) => after[k] - before[k];
  console.log(`the browser's main-thread work (CDP Performance metrics, over the run): ${delta('LayoutCount')} layouts ${(delta('LayoutDuration') * 1000).toFixed(0)} ms, ${delta('RecalcStyleCount')} style recalcs ${(delta('RecalcStyleDuration') * 1000).toFixed(0)} ms, script ${(delta('ScriptDuration') * 1000).toFixed(0)} ms, tasks ${(delta('TaskDuration') * 1000).toFixed(0)} ms; ${after.Nodes} DOM nodes, document ${await page.evaluate(() => document.documentElement.scrollHeight)} px tall`);
  const rec = await page.evaluate(() => {
    const r = window.__profileRec;
    r.on = false;
    return { frames: r.frames, loaf: r.loaf, updates: r.updates };
  });
  const d = [...rec.frames].sort((a, b) => a - b);
  const pct = (p) => (d.length ? d[Math.min(d.length - 1, Math.floor(p * d.length))].toFixed(1) : 'n/a');
  console.log(`${opts.ms > 0 ? `${opts.ms} ms after Train` : 'Train to the end of the run'}: ${wall} ms, ${d.length} frames, median ${pct(0.5)} ms, p95 ${pct(0.95)} ms, max ${d.length ? d.at(-1).toFixed(1) : 'n/a'} ms, ${d.filter((x) => x > 20).length} over 16.7 ms, ${d.filter((x) => x > 50).length} over 50 ms`);
  console.log('Chart.js updates (canvas: count, total ms, longest ms):');
  for (const [id, u] of Object.entries(rec.updates).sort((a, b) => b[1].ms - a[1].ms)) console.log(`  ${id}: ${u.n}, ${u.ms.toFixed(0)} ms, ${u.max.toFixed(1)} ms`);
  console.log(`long animation frames: ${rec.loaf.length}`);
  for (const l of rec.loaf) console.log(`  at ${l.at.toFixed(0)} ms: ${l.ms.toFixed(0)} ms (rendering ${l.renderMs.toFixed(0)} ms); ${l.scripts.join('; ') || 'no script'}`);
  if (cdp) summariseProfile((await cdp.send('Profiler.stop')).profile);
} finally {
  await browser.close();
  server.close();
}
