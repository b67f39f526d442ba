// slicer.test.mjs: the worker's one scheduler of long jobs
// (web/worker/slicer.js) on its own, without the engine: the slice-size
// rule, jobs running side by side, pause and resume, cancel (no slice after
// it; a request's job rejects with a message that begins with "cancelled"),
// and the rule for requests that replace what jobs read.
//
//   node --test tests/wasm/slicer.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';

// Node's own MessageChannel would keep the test process alive after the
// last test; this one delivers through setImmediate, as web_worker_shim.mjs's.
globalThis.MessageChannel = class {
  constructor() {
    const port = () => ({ onmessage: null, other: null, postMessage(data) { setImmediate(() => this.other.onmessage?.({ data })); } });
    this.port1 = port();
    this.port2 = port();
    this.port1.other = this.port2;
    this.port2.other = this.port1;
  }
};
const { SLICE_MS, beforeReplacing, findJob, nextSliceSize, refuseReplacing, runJob, startJob } = await import('../../web/worker/slicer.js');
const { RequestError } = await import('../../web/worker/session.js');

const tick = () => new Promise((r) => setTimeout(r, 5));

test('the slice size: as many units as fit in SLICE_MS, at most twice the last, within the bounds', () => {
  assert.equal(SLICE_MS, 15);
  assert.equal(nextSliceSize(4, 30, 1, 256), 2, 'too slow: halve');
  assert.equal(nextSliceSize(4, 1, 1, 256), 8, 'fast: at most double');
  assert.equal(nextSliceSize(4, 0, 1, 256), 8, 'no time measured: double');
  assert.equal(nextSliceSize(200, 1, 1, 256), 256, 'at most max');
  assert.equal(nextSliceSize(1, 1000, 1, 256), 1, 'at least min');
  assert.equal(nextSliceSize(3000, 10, 100, 1 << 20), 4500, 'words: 15 ms worth');
});

test('two jobs run side by side, each slice by slice; a finished job is gone', async () => {
  const order = [];
  const a = runJob({ name: 'a', reads: ['model'], onChange: 'cancel', step: () => (order.push('a'), order.filter((x) => x === 'a').length === 3) });
  const b = runJob({ name: 'b', reads: ['texts'], onChange: 'cancel', step: () => (order.push('b'), order.filter((x) => x === 'b').length === 3) });
  await Promise.all([a, b]);
  assert.deepEqual(order, ['a', 'b', 'a', 'b', 'a', 'b']);
  assert.equal(findJob('a'), null);
});

test('pause stops the slices until resume; cancel ends an event job silently, with no slice after it', async () => {
  let slices = 0, cancelled = null;
  const job = startJob({ name: 'train', reads: ['model'], onChange: 'refuse', step: () => (slices++, false), onCancel: (r) => { cancelled = r; } });
  await tick();
  job.pause();
  const paused = slices;
  await tick();
  assert.equal(slices, paused, 'no slice while paused');
  job.resume();
  await tick();
  assert.ok(slices > paused, 'slices again after resume');
  job.cancel('stopped');
  const at = slices;
  await tick();
  assert.equal(slices, at, 'no slice after cancel');
  assert.equal(cancelled, 'stopped');
  assert.equal(findJob('train'), null);
});

test('replacing what a job reads: refused while a refusing job reads it, else the readers are cancelled', async () => {
  let slices = 0;
  const diagnosis = runJob({ name: 'the diagnosis', reads: ['shard', 'model'], onChange: 'cancel', step: () => (slices++, false) });
  const training = startJob({ name: 'training', reads: ['shard', 'model'], onChange: 'refuse', refusal: (verb) => `cannot ${verb} while training`,
    step: () => false });
  await tick();
  assert.throws(() => beforeReplacing('configure', 'configure', ['model']), (e) => e instanceof RequestError && e.message === 'cannot configure while training');
  assert.ok(findJob('the diagnosis'), 'a refused request cancels nothing');
  training.cancel('stopped');
  refuseReplacing('configure', ['model']); // nothing refuses now
  beforeReplacing('labelledText', 'read labelled text', ['texts']);
  assert.ok(findJob('the diagnosis'), 'a job that does not read the texts goes on');
  beforeReplacing('loadShard', 'load a shard', ['shard', 'model']);
  await assert.rejects(diagnosis, (e) => e instanceof RequestError && e.message === 'cancelled: loadShard replaced the shard and the model under the diagnosis');
  const at = slices;
  await tick();
  assert.equal(slices, at, 'no slice after the cancel');
});

test('a slice that throws ends its job: a request job rejects with the error, an event job reports it', async () => {
  await assert.rejects(runJob({ name: 'x', reads: [], onChange: 'cancel', step: () => { throw new RequestError('engine says no'); } }), /engine says no/);
  const reported = await new Promise((resolve) => {
    startJob({ name: 'y', reads: [], onChange: 'cancel', step: () => { throw new RequestError('bad slice'); }, onError: resolve });
  });
  assert.equal(reported.message, 'bad slice');
  assert.equal(findJob('y'), null);
});
