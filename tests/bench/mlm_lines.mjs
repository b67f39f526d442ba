#!/usr/bin/env node
// mlm_lines.mjs: scripts/bench.sh's Transformer pretraining and fine-tuning
// lines from its JSON lines: {"native_pretrain": {reviews, wall_s, cpu_s,
// threads}} (build/imdb_pretrain's last line), imdb_bench --json's object
// (the fine-tuning epoch, natively) and mlm_browser_bench.mjs's object (the
// page's worker). Projects one MLM pass over the 75,000 reviews (25,000
// training + 50,000 unlabelled) and one fine-tuning epoch of the preset
// (20,000 training + 5,000 validation reviews), and prints page / native.
// Figures only.
//
//   node tests/bench/mlm_lines.mjs FILE

import { readFileSync } from 'node:fs';

const PASS = 75000;
const EPOCH_TRAIN = 20000;
const rows = readFileSync(process.argv[2], 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));

const int = (n) => Math.round(n).toLocaleString('en-US');
const dur = (ms) => (ms >= 120000 ? `${(ms / 60000).toFixed(1)} min` : `${(ms / 1000).toFixed(1)} s`);
const ratio = (a, b) => (a > 0 && b > 0 ? (a / b).toFixed(2) : 'n/a');

// Rows come in groups by thread count: the native pretraining (its
// "threads"), imdb_bench's object and the worker's (each its own threads;
// the worker's one-thread engine when asked for false).
const counts = [...new Set(rows.map((r) => r.native_pretrain?.threads ?? r.threads))].filter((t) => Number.isInteger(t));
const lines = [];
for (const threads of counts) {
  const nativePre = rows.find((r) => r.native_pretrain?.threads === threads)?.native_pretrain;
  const nativeFine = rows.find((r) => r.runtime === 'native' && r.model === 'transformer' && r.threads === threads);
  const worker = rows.find((r) => r.runtime === 'worker' && r.threads === threads);
  const tag = `${threads} thread${threads === 1 ? '' : 's'}`;
  {
    const n = nativePre && nativePre.reviews > 0 ? (nativePre.wall_s * 1000) / nativePre.reviews : null; // ms per review
    const w = worker?.pretrain?.reviews > 0 ? worker.pretrain.ms / worker.pretrain.reviews : null;
    const reviews = nativePre?.reviews ?? worker?.pretrain?.reviews ?? 0;
    const part = (label, msPer, extra = '') =>
      msPer == null ? `${label} n/a` : `${label} ${int(1000 / msPer)} reviews/s (${dur(msPer * 1000)} per 1,000${extra}), one pass over ${int(PASS)} ≈ ${dur(msPer * PASS)}`;
    lines.push(
      `MLM pretraining, ${tag}, the first ${int(reviews)} reviews of a pass: ` +
        [
          part('native', n, nativePre ? `; ${nativePre.cpu_s.toFixed(1)} s CPU in all` : ''),
          part('page\'s worker', w),
          `page / native ${ratio(w, n)}`,
        ].join('; '),
    );
  }
  const f = worker?.finetune;
  if (nativeFine || f) {
    const n = nativeFine && nativeFine.train > 0 ? nativeFine.epoch_ms / nativeFine.train : null; // ms per training review, validation included
    const w = f && f.train > 0 ? f.epochMs / f.train : null;
    const part = (label, msPer) =>
      msPer == null ? `${label} n/a` : `${label} ${int(msPer * 1000)} ms per 1,000 training reviews, an epoch of ${int(EPOCH_TRAIN)} + ${int(EPOCH_TRAIN / 4)} ≈ ${dur(msPer * EPOCH_TRAIN)}`;
    const train = nativeFine?.train ?? f?.train ?? 0;
    const val = nativeFine?.val ?? f?.val ?? 0;
    lines.push(
      `transformer-pretrained fine-tuning, ${tag}, one epoch of ${int(train)} training + ${int(val)} validation reviews (their validation counted in): ` +
        [part('native', n), part('page\'s worker', w), `page / native ${ratio(w, n)}`].join('; '),
    );
  }
}
console.log(lines.join('\n'));
