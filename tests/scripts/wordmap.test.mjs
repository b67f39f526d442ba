// wordmap.test.mjs: the word map's colour scale, the 98th percentile of the
// words' |effect| over every epoch, is found by selection
// (web/views/wordmap-draw.js kthSmallest) instead of a sort: the selected
// value must be the sorted array's, for every k, with ties, one value, and
// values in any order.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kthSmallest } from '../../web/views/wordmap-draw.js';

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
