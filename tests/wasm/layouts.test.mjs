// layouts.test.mjs: the worker's named layouts of the engine's result arrays
// (web/worker/layouts.js) are exactly those the engine declares
// (engine/result_layouts.h, exported as JSON by nnw_layouts()): a slot added,
// removed or moved on one side only fails here, instead of shifting every
// later field the worker reads.
//
//   node --no-experimental-fetch --test tests/wasm/layouts.test.mjs
//
// Needs web/engine/engine.js (scripts/build-wasm.sh).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pathToFileURL } from 'node:url';
import { startWorker, findEngine } from './worker_client.mjs';
import * as worker from '../../web/worker/layouts.js';

let probe;

before(() => {
  probe = startWorker(new URL('./engine_probe.mjs', import.meta.url).href);
});

after(async () => {
  await probe?.worker.terminate();
});

test('nnw_layouts() and web/worker/layouts.js declare the same layouts, field for field', async () => {
  const text = await probe.request('string', { engineUrl: pathToFileURL(findEngine()).href, fn: '_nnw_layouts' });
  const engine = JSON.parse(text);
  assert.deepEqual(Object.keys(worker.LAYOUTS).sort(), Object.keys(engine).sort(), 'the same layout names');
  for (const name of Object.keys(engine))
    assert.deepEqual(worker.LAYOUTS[name], engine[name], `layout ${name}: worker ${worker.LAYOUTS[name]} vs engine ${engine[name]}`);
});

test('each decoder reads its fields by name from the right slots', () => {
  const decoders = [worker.progress, worker.evalResult, worker.fullProgress, worker.diagnoseSummary, worker.diagnoseAt,
    worker.pretrainProgress, worker.embedStatsRow, worker.explainRow, worker.embedChangesRow, worker.neighboursRow,
    worker.oneVsRestRow, worker.attentionTokenRow, worker.mlmProgress];
  assert.deepEqual(decoders.map((d) => d.name).sort(), Object.keys(worker.LAYOUTS).sort(), 'one decoder per layout');
  for (const d of decoders) {
    // Two records at an unaligned float offset, slot i holding 100 * record + i.
    const heap = new Float32Array(3 + 2 * d.size + 1).fill(-1);
    for (let r = 0; r < 2; r++) for (let i = 0; i < d.size; i++) heap[3 + r * d.size + i] = 100 * r + i;
    const one = d.read(heap, 3 * 4);
    assert.deepEqual(Object.keys(one), d.fields, `${d.name}: every field, in order`);
    d.fields.forEach((f, i) => assert.equal(one[f], i, `${d.name}.${f} is slot ${i}`));
    const rows = d.rows(heap, 3 * 4, 2);
    assert.equal(rows.length, 2);
    d.fields.forEach((f, i) => assert.equal(rows[1][f], 100 + i, `${d.name} row 1 .${f}`));
  }
});
