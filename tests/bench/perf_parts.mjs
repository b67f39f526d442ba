#!/usr/bin/env node
// perf_parts.mjs: where the CPU time of a training run goes, per part of the
// work (gather/pool, embedding backward, dense, recurrent cell, Adam, copies,
// snapshots, ...), from Linux perf profiles: the native tool
// (build/imdb_bench) and the wasm engine in Node (tests/bench/wasm_bench.mjs
// under node --perf-basic-prof, with an engine linked with --profiling-funcs
// so its functions have names). Sampling CPU time (cpu-clock), not the wall
// clock, so the figures hold on a loaded machine better than timings do.
//
//   node tests/bench/perf_parts.mjs [--epochs N] LABEL=perf.data[@START,END] ...
//
// Prints one column per profile: CPU ms per part (per epoch with --epochs;
// the profiles then should cover the same number of epochs), and each
// column's ratio to the first. Needs perf (Debian: linux-perf). Figures only.
import { execFileSync } from 'node:child_process';

const args = process.argv.slice(2);
let epochs = 1;
const cols = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--epochs') epochs = Number(args[++i]);
  else if (args[i].includes('=')) cols.push(args[i].split('=', 2));
  else {
    console.error('usage: perf_parts.mjs [--epochs N] LABEL=perf.data ...');
    process.exit(2);
  }
}
if (!cols.length || !(epochs > 0)) {
  console.error('usage: perf_parts.mjs [--epochs N] LABEL=perf.data ...');
  process.exit(2);
}

// A symbol's part: the first pattern that matches it (V8 names wasm
// functions "JS:name-index-tier"; the tier suffix is dropped first).
const PARTS = [
  ['gather/pool', /gather|nonzero_span|pool_forward|bag_forward/],
  ['embedding backward (scatter)', /scatter|pool_backward/],
  ['recurrent cell', /lstm|gru|rnn|recurrent|sigmoid|tanh/],
  ['n-gram features', /ngram|bigram|nb_ratio|hash/],
  ['dense (matmul, relu)', /dense|matmul|mm_|relu|conv/],
  ['loss', /bce|softmax|log_sum|loss/],
  ['Adam / update', /adam|sgd|update|all_finite/],
  ['copies (memcpy/memset)', /memmove|memcpy|memset|copy_to_iter/],
  ['snapshots (embedding stats)', /embed_history|embed_start|view_stats|embedding_stats|embed_/],
  ['scoring / explain', /explain|word_scores|score_text/],
  ['setup (shard, padding)', /shard|crc32|pad_review|tokeni|pad_set|stopword|vocab|inflate|zlib/],
  ['other engine', /^nn_|^JS:(?!\^|~|\*)/],
  ['JS and V8 (host)', /^JS:|v8::|Builtins|^node|Runtime_|Scanner|Heap|Compile|Turbofan|Liftoff|^\[unknown\]|libstdc|malloc|free/i],
  ['kernel', /^\[k\]/],
];

function parts(spec) {
  // FILE@START,END: only the samples in that window (perf record -k mono,
  // the window wasm_bench.mjs prints), e.g. training without start-up.
  const [file, window] = spec.split('@');
  if (spec.includes('@') && !/^[\d.]+,[\d.]+$/.test(window ?? '')) throw new Error(`${spec}: the window must be START,END in seconds`);
  const out = execFileSync('perf', ['report', '-i', file, '--no-children', '--sort', 'sym', '--stdio', '-g', 'none', '--show-nr-samples',
    ...(window ? ['--time', window] : [])],
    { encoding: 'utf8', maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
  const head = execFileSync('perf', ['report', '-i', file, '--header-only'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const freq = Number(/sample_freq[^=]*=\s*(\d+)/.exec(head)?.[1] ?? /\{ sample_period, sample_freq \} = (\d+)/.exec(head)?.[1]);
  if (!freq) throw new Error(`${file}: no sampling frequency in its header (record with perf record -F N)`);
  const sums = new Map();
  const top = new Map();
  for (const line of out.split('\n')) {
    const m = /^\s+[\d.]+%\s+(\d+)\s+\[(.)\]\s+(.*?)\s*$/.exec(line);
    if (!m) continue;
    const n = Number(m[1]);
    const sym = m[2] === 'k' ? `[k] ${m[3]}` : m[3].replace(/-\d+-(turbofan|liftoff)$/, '');
    const name = sym.replace(/^JS:/, '');
    const part = PARTS.find(([, re]) => re.test(sym) || (sym.startsWith('JS:') && !/^JS:[\^~*]/.test(sym) && re !== PARTS.at(-2)[1] && re.test(name)))?.[0] ?? 'JS and V8 (host)';
    sums.set(part, (sums.get(part) ?? 0) + n);
    top.set(sym, (top.get(sym) ?? 0) + n);
  }
  const ms = (n) => (n / freq) * 1000 / epochs;
  return { parts: new Map([...sums].map(([k, n]) => [k, ms(n)])), top: [...top].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([s, n]) => [s, ms(n)]) };
}

const res = cols.map(([label, file]) => ({ label, ...parts(file) }));
const names = PARTS.map(([p]) => p).filter((p) => res.some((r) => r.parts.has(p)));
const total = (r) => [...r.parts.values()].reduce((a, b) => a + b, 0);
const f = (x) => (x == null ? '-' : x.toFixed(1));
const head = ['part', ...res.map((r) => `${r.label} ms`), ...res.slice(1).map((r) => `${r.label} / ${res[0].label}`)];
const rows = names.map((p) => [p, ...res.map((r) => f(r.parts.get(p))), ...res.slice(1).map((r) => (res[0].parts.get(p) > 0.05 && r.parts.get(p) ? (r.parts.get(p) / res[0].parts.get(p)).toFixed(2) + 'x' : '-'))]);
rows.push(['total CPU', ...res.map((r) => f(total(r))), ...res.slice(1).map((r) => (total(r) / total(res[0])).toFixed(2) + 'x')]);
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r) => '| ' + r.map((c, i) => (i ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ') + ' |';
console.log(`CPU ms${epochs > 1 ? ` per epoch (whole profile / ${epochs})` : ''}, perf cpu-clock samples:`);
console.log(line(head));
console.log('|' + widths.map((w, i) => (i ? '-'.repeat(w + 1) + ':' : '-'.repeat(w + 2))).join('|') + '|');
for (const r of rows) console.log(line(r));
for (const r of res) console.log(`  ${r.label} top: ${r.top.map(([s, v]) => `${s} ${f(v)}`).join(', ')}`);
