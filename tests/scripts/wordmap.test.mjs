// wordmap.test.mjs: the word map's fixed frame (web/map-scale.js, which the
// worker sends with the map). Its colour scale, the 98th percentile of the
// words' |effect| over every epoch, is found by selection (kthSmallest)
// instead of a sort: the selected value must be the sorted array's, for
// every k, with ties, one value, and values in any order; mapScale's axes
// and scale must be those of the plain computation, NaN effects skipped.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kthSmallest, mapScale } from '../../web/map-scale.js';

function seeded(seed) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

test('kthSmallest gives the sorted array\'s k-th value for every k, with and without ties', () => {
  const rand = seeded(7);
  for (const n of [1, 2, 3, 5, 16, 17, 100, 257]) {
    for (const levels of [2, 7, 1e6]) {
      const values = Float32Array.from({ length: n }, () => Math.floor(rand() * levels) / 3);
      const sorted = Array.from(values).sort((a, b) => a - b);
      for (let k = 0; k < n; k++)
        assert.equal(kthSmallest(Float32Array.from(values), k), sorted[k], `n ${n}, ${levels} levels, k ${k}`);
    }
  }
});

test('kthSmallest handles sorted, reversed and constant input', () => {
  const n = 1000;
  const up = Float32Array.from({ length: n }, (_, i) => i);
  const down = Float32Array.from({ length: n }, (_, i) => n - 1 - i);
  const same = new Float32Array(n).fill(0.25);
  for (const k of [0, 1, 499, 979, 998, 999]) {
    assert.equal(kthSmallest(Float32Array.from(up), k), k);
    assert.equal(kthSmallest(Float32Array.from(down), k), k);
    assert.equal(kthSmallest(Float32Array.from(same), k), 0.25);
  }
});

test('mapScale gives the padded bounds of every point and the sorted 98th percentile of |effect|', () => {
  const rand = seeded(11);
  const epochs = 7, words = 53;
  const xy = Float32Array.from({ length: 2 * epochs * words }, () => (rand() - 0.3) * 10);
  const effect = Float32Array.from({ length: epochs * words }, (_, i) => (i % 17 === 0 ? NaN : rand() * 2 - 1));
  const xs = Array.from(xy).filter((_, i) => i % 2 === 0), ys = Array.from(xy).filter((_, i) => i % 2 === 1);
  const pad = (lo, hi) => Math.max((hi - lo) * 0.06, 1e-3);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const abs = Array.from(effect).filter(Number.isFinite).map(Math.abs).sort((a, b) => a - b);
  const { axes, colorScale } = mapScale(xy, effect);
  assert.deepEqual(axes, { x0: x0 - pad(x0, x1), x1: x1 + pad(x0, x1), y0: y0 - pad(y0, y1), y1: y1 + pad(y0, y1) });
  assert.equal(colorScale, Math.fround(abs[Math.floor(0.98 * (abs.length - 1))]));
  assert.equal(mapScale(new Float32Array(2), new Float32Array([NaN])).colorScale, 1, 'no finite effect: scale 1');
});
