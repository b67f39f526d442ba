#!/usr/bin/env node
// table.mjs: prints scripts/bench.sh's results (JSON lines from imdb_bench
// --json, browser_bench.mjs and torch_bench.py) as one table, then the
// ratios between the peers and our engine.
//
//   node tests/bench/table.mjs results.jsonl
//
// Figures only, no verdicts: nothing here compares against a target.

import { readFile } from 'node:fs/promises';

const file = process.argv[2];
if (!file) {
  console.error('usage: table.mjs results.jsonl');
  process.exit(2);
}
const rows = (await readFile(file, 'utf8'))
  .split('\n')
  .filter((l) => l.trim().startsWith('{'))
  .map((l) => JSON.parse(l));

const find = (pred) => rows.find(pred);
const fmt = (x, digits = 1) => (x == null || Number.isNaN(x) ? 'n/a' : Number(x).toFixed(digits));
const ms = (x) => (x == null ? 'n/a' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 0.1 ? x.toFixed(2) : x.toFixed(4));
const rate = (x) => (x == null ? 'n/a' : x >= 1e4 ? `${(x / 1e3).toFixed(0)}k` : x.toFixed(0));

const table = [];
const add = (workload, who, r, note = '') =>
  table.push([
    workload, who,
    r ? ms(r.train_ms_per_epoch) : 'n/a',
    r ? ms(r.epoch_ms) : 'n/a',
    r ? ms(r.total_ms) : 'n/a',
    r ? rate(r.reviews_per_s) : 'n/a',
    r ? ms(r.score_ms) : 'n/a',
    r && r.peak_mb != null ? fmt(r.peak_mb, 0) : 'n/a',
    note,
  ]);

const nat = (m) => find((r) => r.runtime === 'native' && r.model === m && (r.threads ?? 1) === 1);
const natThreads = (m) => find((r) => r.runtime === 'native' && r.model === m && (r.threads ?? 1) > 1);
const wrk = (m) => find((r) => r.runtime === 'browser' && r.where === 'worker' && r.model === m);
const wrkOne = (m) => find((r) => r.runtime === 'browser' && r.where === 'worker' && r.model === m && (r.threads ?? 1) === 1);
const threadsLabel = (r) => ((r?.threads ?? 1) > 1 ? `${r.threads} threads` : '1 thread');
const torch = (m) => find((r) => r.runtime === 'pytorch' && r.model === m);
const tfjs = find((r) => r.runtime === 'tfjs');
const page = find((r) => r.runtime === 'browser' && r.where === 'page');
const skipped = rows.filter((r) => r.skipped);

const nodeWasm = (m) => find((r) => r.runtime === 'node-wasm' && r.model === m);
for (const [m, name] of [['bag', 'bag, 40 epochs'], ['lstm', 'LSTM'], ['ngram', 'ngram preset, whole run'], ['mlp', 'Fashion-MNIST MLP']]) {
  const n = nat(m), w = wrk(m), t = torch(m);
  const nw = nodeWasm(m);
  const epochs = (r) => (r ? `${r.epochs} epoch${r.epochs === 1 ? '' : 's'}` : '');
  if (n) add(name, 'ours, native', n, `${epochs(n)}${n.repeat > 1 ? `, median of ${n.repeat}` : ''}; test acc ${fmt(n.test_acc, 4)}`);
  const nt = natThreads(m);
  if (nt) add(name, `ours, native, ${nt.threads} threads`, nt, `${epochs(nt)}; same results bit for bit; test acc ${fmt(nt.test_acc, 4)}`);
  if (nw) add(name, 'ours, wasm in Node (no browser), 1 thread', nw, `${nw.epochs} epoch${nw.epochs === 1 ? '' : 's'}; CPU ${ms(nw.cpu_ms_per_epoch)} ms/epoch; worker JS ${ms(nw.worker_js_ms_per_epoch)} ms/epoch${nw.test_acc != null ? `; test acc ${fmt(nw.test_acc, 4)}` : ''}`);
  if (w) add(name, m !== 'lstm' ? 'ours, Chromium worker' : `ours, Chromium worker, ${threadsLabel(w)}`, w, `${epochs(w)}${w.repeat > 1 ? `, median of ${w.repeat}` : ''}; val acc ${fmt(w.val_acc, 4)}${w.test_acc != null ? `; test acc ${fmt(w.test_acc, 4)}` : ''}${w.score_ms != null ? '; score: in-worker ms' : ''}`);
  const w1 = wrkOne(m);
  if (m === 'lstm' && w1 && w1 !== w) add(name, 'ours, Chromium worker, 1 thread', w1, `${epochs(w1)}; val acc ${fmt(w1.val_acc, 4)}${w.history && w1.history ? (JSON.stringify(w.history) === JSON.stringify(w1.history) ? '; history identical to 2 threads' : '; HISTORY DIFFERS from 2 threads') : ''}`);
  if (t) add(name, `PyTorch ${t.version} CPU, ${t.threads} thread`, t, `${epochs(t)}${t.extrapolated ? `, extrapolated ${t.extrapolated}` : ''}${t.test_acc != null ? `; test acc ${fmt(t.test_acc, 4)}` : ''}`);
  if (m === 'bag' && tfjs && !tfjs.skipped) {
    table.push([name, `TF.js ${tfjs.version ?? ''} wasm, as shipped`, 'n/a', 'n/a', 'n/a', 'n/a', 'n/a', 'n/a', `cannot train: ${tfjs.unpatched}`]);
    if (tfjs.error) table.push([name, 'TF.js wasm + UnsortedSegmentSum by hand', 'n/a', 'n/a', 'n/a', 'n/a', 'n/a', 'n/a', `failed: ${tfjs.error}`]);
    else add(name, 'TF.js wasm + UnsortedSegmentSum by hand', { ...tfjs, total_ms: null, peak_mb: tfjs.wasm_mb }, `${tfjs.epochs} epochs (first is warm-up; later ones shown), ${tfjs.threads ?? '?'} thread(s); val acc ${fmt(tfjs.val_acc, 4)}`);
  }
}

if (table.length) {
const head = ['workload', 'runtime', 'train ms/epoch', 'train+val ms/epoch', 'whole run ms', 'reviews/s', 'ms/scored review', 'peak MB', 'notes'];
const widths = head.map((h, i) => Math.max(h.length, ...table.map((r) => String(r[i]).length)));
const line = (r) => '| ' + r.map((c, i) => (i >= 2 && i <= 7 ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i]))).join(' | ') + ' |';
console.log(line(head));
console.log('|' + widths.map((w, i) => (i >= 2 && i <= 7 ? '-'.repeat(w + 1) + ':' : '-'.repeat(w + 2))).join('|') + '|');
for (const r of table) console.log(line(r));
}

if (page) {
  console.log('');
  console.log(`page: one keystroke to the new score on screen (250-word review, score + every word's contribution): median ${ms(page.keystroke_ms)} ms, max ${ms(page.keystroke_max_ms)} ms over ${page.keystrokes} keys`);
  printFrames(page.frames || {});
}

// The page's frame times per state (browser_bench.mjs, frameScenarios): the
// intervals between animation frames of its main thread (16.7 ms at 60 fps).
function printFrames(frames) {
  const states = [
    ['idle', 'idle (ready, nothing running)'],
    ['bag_fast', 'training the recipe, full speed (40 epochs)'],
    ['after_run', 'just after a run (diagnosis drawn)'],
    ['bag_watch', "training, 'watch' pace, curves in view"],
    ['bag_watch_map', "training, 'watch' pace, word map in view"],
    ['lstm', 'training the LSTM preset on a subset'],
  ];
  const rowsOut = states.filter(([k]) => frames[k]).map(([k, label]) => {
    const f = frames[k];
    return [
      label + (f.runs > 1 ? ` (${f.runs} runs)` : ''), fmt(f.wall_ms / 1000, 1), String(f.frames), fmt(f.fps, 0),
      ms(f.p50_ms), ms(f.p95_ms), ms(f.max_ms), String(f.over_16_7), String(f.over_50),
      f.long_frames ? `${f.long_frames} (${Math.round(f.long_frames_ms)} ms)` : '0',
    ];
  });
  if (!rowsOut.length) return;
  const head = ['page state', 's', 'frames', 'fps', 'median ms', 'p95 ms', 'max ms', '> 16.7 ms', '> 50 ms', 'long frames'];
  const widths = head.map((h, i) => Math.max(h.length, ...rowsOut.map((r) => r[i].length)));
  const line = (r) => '| ' + r.map((c, i) => (i ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ') + ' |';
  console.log('');
  console.log("page frames (intervals between the main thread's animation frames; 16.7 ms is 60 fps):");
  console.log(line(head));
  console.log('|' + widths.map((w, i) => (i ? '-'.repeat(w + 1) + ':' : '-'.repeat(w + 2))).join('|') + '|');
  for (const r of rowsOut) console.log(line(r));
  const worst = frames.bag_fast?.long_frame_scripts;
  if (worst?.length) console.log(`  scripts in the long frames at full speed: ${worst.map((w) => `${w.what} ${w.ms} ms`).join('; ')}`);
}
for (const m of ['bag', 'lstm']) {
  const w = wrk(m);
  if (w && w.score_round_trip_ms != null) console.log(`worker (${m}): predict round trip page -> worker -> page ${ms(w.score_round_trip_ms)} ms (in-worker ${ms(w.score_ms)} ms, ${w.score_reps} calls)`);
}

// Ratios: how many times longer the peer takes than our engine.
const ratios = [];
const ratio = (label, a, b, key) => {
  if (a && b && a[key] && b[key]) ratios.push(`${label}: ${(a[key] / b[key]).toFixed(2)}x`);
};
for (const m of ['bag', 'lstm', 'ngram', 'mlp']) {
  const n = nat(m), w = wrk(m), t = torch(m);
  ratio(`${m}: PyTorch / ours native, train+val per epoch`, t, n, 'epoch_ms');
  ratio(`${m}: PyTorch / ours in Chromium, train+val per epoch`, t, w, 'epoch_ms');
  ratio(`${m}: PyTorch / ours native, ms per scored review`, t, n, 'score_ms');
  // Like for like: one thread each (the bag, the ngram and the MLP never use a second one).
  if (m === 'lstm') ratio(`${m}: ours in Chromium, 1 thread / ours native, 1 thread, train+val per epoch`, wrkOne(m), n, 'epoch_ms');
  else ratio(`${m}: ours in Chromium / ours native, train+val per epoch`, w, n, 'epoch_ms');
  const nw = nodeWasm(m);
  if (nw && n) ratio(`${m}: wasm in Node / ours native, 1 thread, train+val per epoch`, nw, n, 'epoch_ms');
  if (nw && n?.cpu_total_ms) ratios.push(`${m}: wasm in Node / ours native, CPU time per epoch: ${(nw.cpu_ms_per_epoch / (n.cpu_total_ms / n.epochs)).toFixed(2)}x`);
  if (m !== 'bag' && wrkOne(m) !== w) ratio(`${m}: ours in Chromium, 1 thread / ${threadsLabel(w)}, train+val per epoch`, wrkOne(m), w, 'epoch_ms');
  ratio(`${m}: ours native, one thread / ${natThreads(m)?.threads} threads, train+val per epoch`, n, natThreads(m), 'epoch_ms');
  ratio(`${m}: PyTorch / ours native with ${natThreads(m)?.threads} threads, train+val per epoch`, t, natThreads(m), 'epoch_ms');
}
if (tfjs && !tfjs.skipped && !tfjs.error) {
  ratio('bag: TF.js wasm (patched) / ours in Chromium, train+val per epoch', tfjs, wrk('bag'), 'epoch_ms');
  ratio('bag: TF.js wasm (patched) / ours in Chromium, ms per scored review', tfjs, wrk('bag'), 'score_ms');
}
if (ratios.length) {
  console.log('');
  console.log('ratios (peer time / our time; above 1 means ours is faster):');
  for (const r of ratios) console.log(`  ${r}`);
}
for (const s of skipped) console.log(`\n${s.runtime} ${s.model ?? ''}: n/a: ${s.skipped}`);
console.log('\nTimes are medians where repeated, on a shared machine: they vary from run to run.');
