// limits.test.mjs: files too large, or that ask for too much, are refused
// with a message before the engine's wasm memory grows (it never shrinks),
// and a shard replaced under the confusion-matrix job ends that job with a
// message, not a crash; in a real headless Chromium.
//
//   node --test tests/browser/limits.test.mjs
//
// The shared harness (harness.mjs) serves the page; data/fashion.shard is
// linked beside imdb.shard for the image page. The engine's memory is read
// through window.__playground.wasmBytes() (the worker's `stats`) before and
// after each refusal. Large files are written sparse (a header, then a hole),
// so they cost no disk and no time to write. A shard change is dispatched
// inside the page's engine worker with Playwright, as the page would post it.
// Deliberately not here: timing assertions.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { open, readFile, realpath, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { ROOT, startSession, pg, phaseIs, assertClean, crc32 } from './harness.mjs';

const MB = 1024 * 1024;
const FASHION = path.join(ROOT, 'data', 'fashion.shard');
// A small recurrent review model, so that its file is small and quick to
// make, and its activations grow with batch_size x maxlen (a bag of
// embeddings with batch 65,536 of 2,048 tokens fits the budget, and the
// engine rightly takes it).
const SMALL_MODEL = '#model=lstm&vocab_size=2000&embed_dim=8&hidden=16&epochs=1';

let session; // the served page and Chromium (harness.mjs)
let genuine; // a real model file of SMALL_MODEL, downloaded once

// ------------------------------------------------------------------ helpers

const wasmBytes = (page) => pg(page, () => window.__playground.wasmBytes());

// Writes `head` (bytes or text) at the start of a file of `size` bytes, the
// rest a hole (zeros).
async function sparseFile(name, head, size) {
  const file = path.join(session.dataDir, name);
  const fh = await open(file, 'w');
  try {
    const bytes = typeof head === 'string' ? Buffer.from(head) : Buffer.from(head);
    await fh.write(bytes, 0, bytes.length, 0);
    await fh.truncate(size);
  } finally {
    await fh.close();
  }
  return file;
}

// The page's error line once it names `name`.
async function errorNaming(page, name) {
  await page.waitForFunction((n) => document.getElementById('error-text').textContent.includes(n), name, { timeout: 60000 });
  return page.textContent('#error-text');
}

// The small model's file, downloaded from a fresh page (an untrained model
// is a model too; the checks below are about the file, not its weights).
async function genuineCheckpoint() {
  if (genuine) return genuine;
  const { page, problems } = await session.openPage(SMALL_MODEL);
  await phaseIs(page, ['ready']);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#btn-download')]);
  genuine = path.join(session.dataDir, 'small.nnckpt');
  await download.saveAs(genuine);
  assertClean(problems, 'model file page');
  await page.close();
  return genuine;
}

// A checkpoint (engine/checkpoint.c: a 32-byte header, the JSON padded with
// spaces to a multiple of 4, the parameters; the header's JSON length and
// CRC-32 cover both) whose config JSON is changed by edit(text).
function patchCheckpoint(bytes, edit) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  assert.equal(bytes.subarray(0, 8).toString('latin1'), 'NNCKPT01', 'a checkpoint');
  const jsonLen = view.getUint32(12, true);
  const json = bytes.subarray(32, 32 + jsonLen).toString('utf8').trimEnd();
  const edited = edit(json);
  assert.notEqual(edited, json, 'the edit changed the JSON');
  const text = Buffer.from(edited);
  const padded = Buffer.concat([text, Buffer.alloc((4 - (text.length % 4)) % 4, ' ')]);
  const blob = bytes.subarray(32 + jsonLen);
  const out = Buffer.concat([bytes.subarray(0, 32), padded, blob]);
  const out32 = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out32.setUint32(12, padded.length, true);
  out32.setUint32(24, crc32(out.subarray(32)), true);
  return out;
}

// ---------------------------------------------------------------- fixtures

before(async () => {
  session = await startSession('limits', { acceptDownloads: true });
});

// A failed test leaves its page open; close it, so it neither holds the
// IndexedDB database nor trains on behind the next test.
afterEach(async () => {
  for (const page of session.context.pages()) await page.close().catch(() => {});
});

after(async () => {
  await session?.close();
});

// ------------------------------------------------------------------- uploads

test('a 100 MB labelled-text file is refused at its size, before it is read, and the engine’s memory does not grow', async () => {
  const file = await sparseFile('big-reviews.tsv', '1\tA wonderful film.\n0\tA dreadful film.\n', 100 * MB);
  const { page, problems } = await session.openPage('#epochs=1');
  await phaseIs(page, ['ready']);
  const before = await wasmBytes(page);
  await page.setInputFiles('#byo-file', file);
  await page.waitForFunction(() => /Could not read/.test(document.getElementById('byo-report').textContent), null, { timeout: 30000 });
  assert.match(await page.textContent('#byo-report'),
    /Could not read “big-reviews\.tsv”: it is 100\.0 MB, over the limit of 64\.0 MB: split it into smaller files\./);
  assert.equal(await wasmBytes(page), before, 'wasm memory unchanged');
  // The panel still reads a file within the limit.
  const small = path.join(session.dataDir, 'small-reviews.tsv');
  await writeFile(small, '1\tA wonderful film, I loved it.\n0\tA dreadful film, I hated it.\n');
  await page.setInputFiles('#byo-file', small);
  await page.waitForFunction(() => /^Read 2 labelled reviews/.test(document.getElementById('byo-report').textContent), null, { timeout: 30000 });
  assertClean(problems, 'labelled text upload');
  await page.close();
});

for (const [name, make, expect] of [
  ['a 300 MB file, over the checkpoint limit', () => sparseFile('huge.nnckpt', 'NNCKPT01', 300 * MB),
    /the file is 300\.0 MB, over the limit of 256\.0 MB/],
  ['a 100 MB file that is not a checkpoint', () => sparseFile('zeros.nnckpt', 'not a model', 100 * MB),
    /this is not a checkpoint \(it does not start with "NNCKPT01"\)/],
  ['a 100 MB file that is a real checkpoint with zeros after its end', async () => sparseFile('padded.nnckpt', await readFile(await genuineCheckpoint()), 100 * MB),
    /the file is 100\.0 MB but its header describes \d+ bytes: it is truncated or has bytes after its end/],
]) {
  test(`${name} is refused with a message, and the engine’s memory does not grow`, async () => {
    const file = await make();
    const { page, problems } = await session.openPage(SMALL_MODEL);
    await phaseIs(page, ['ready']);
    const before = await wasmBytes(page);
    await page.setInputFiles('#checkpoint-file', file);
    const message = await errorNaming(page, path.basename(file));
    assert.match(message, /Could not load the model file/);
    assert.match(message, expect);
    await phaseIs(page, ['ready']);
    assert.equal(await wasmBytes(page), before, 'wasm memory unchanged');
    assertClean(problems, name);
    await page.close();
  });
}

test('an LSTM model file whose config asks for a batch of 65,536 reviews of 2,048 tokens is refused with the engine’s budget, and memory does not grow', async () => {
  const real = await readFile(await genuineCheckpoint());
  const crafted = patchCheckpoint(real, (json) =>
    json.replace(/"batch_size":\s*\d+/, '"batch_size":65536').replace(/"maxlen":\s*\d+/, '"maxlen":2048'));
  assert.ok(crafted.length < 256 * 1024, `a small file (${crafted.length} bytes)`);
  const file = path.join(session.dataDir, 'crafted-batch.nnckpt');
  await writeFile(file, crafted);

  const { page, problems } = await session.openPage(SMALL_MODEL);
  await phaseIs(page, ['ready']);
  // The real file first: what importing this model needs is then in place,
  // so memory that grows below is the crafted config's.
  await page.setInputFiles('#checkpoint-file', genuine);
  await phaseIs(page, ['done']);
  await page.waitForFunction(() => window.__playground.test, null, { timeout: 60000 });
  const before = await wasmBytes(page);
  const history = await pg(page, () => window.__playground.history);
  await page.setInputFiles('#checkpoint-file', file);
  const message = await errorNaming(page, 'crafted-batch.nnckpt');
  assert.match(message, /this model needs [\d.]+ [KMGT]?B .*activations for batch 65536 .*over the 1\.0 GB budget: lower batch_size/);
  await phaseIs(page, ['done']);
  assert.equal(await wasmBytes(page), before, 'wasm memory unchanged');
  assert.deepEqual(await pg(page, () => window.__playground.history), history, 'the page keeps its model');
  assertClean(problems, 'crafted checkpoint');
  await page.close();
});

// A model file of 168 MB, under the 256 MB limit, whose header, JSON and
// parameter count are all valid (an LSTM of vocabulary 32,768, embedding
// 1,024 and 1,024 units: 41.9 M parameters), but whose trainer (five copies
// of the weights, 839 MB, and the page's embedding history) is over the
// page's 1 GB budget. Before the worker checked a file's head
// (nnw_checkpoint_check), the whole file was copied into wasm memory and
// the reader built its model (four copies, 671 MB) before the trainer
// refused it: memory grew by some 840 MB for good. The weights are a hole
// (zeros); the CRC covers them as the engine's does.
test('a 168 MB model file with a valid header whose trainer is over the budget is refused from its head, and memory does not grow', async () => {
  const real = await readFile(await genuineCheckpoint());
  const V = 32768, E = 1024, H = 1024, G = 4 * H;
  const ceil4 = (n) => (n + 3) & ~3;
  const nparams = ceil4(V * E) + ceil4(E * G) + ceil4(H * G) + ceil4(G) + ceil4(H) + ceil4(1);
  const head = patchCheckpoint(real, (json) =>
    json.replace(/"vocab_size":\s*\d+/, `"vocab_size":${V}`).replace(/"embed_dim":\s*\d+/, `"embed_dim":${E}`)
      .replace(/"hidden":\s*\d+/, `"hidden":${H}`).replace(/"nparams":\s*\d+/, `"nparams":${nparams}`));
  const jsonLen = head.readUInt32LE(12);
  const json = head.subarray(0, 32 + jsonLen);
  const blobLen = nparams * 4;
  json.writeBigUInt64LE(BigInt(blobLen), 16);
  let crc = zlib.crc32(json.subarray(32));
  const zeros = Buffer.alloc(16 * MB);
  for (let left = blobLen; left > 0; left -= zeros.length) crc = zlib.crc32(zeros.subarray(0, Math.min(left, zeros.length)), crc);
  json.writeUInt32LE(crc, 24);
  const file = await sparseFile('crafted-big.nnckpt', json, 32 + jsonLen + blobLen);
  assert.ok(blobLen > 150 * MB && blobLen < 256 * MB, `a file under the limit (${blobLen} bytes of weights)`);

  const { page, problems } = await session.openPage(SMALL_MODEL);
  await phaseIs(page, ['ready']);
  const before = await wasmBytes(page);
  await page.setInputFiles('#checkpoint-file', file);
  const message = await errorNaming(page, 'crafted-big.nnckpt');
  assert.match(message, /this model needs [\d.]+ GB \(41948164 parameters.*over the 1\.0 GB budget/);
  await phaseIs(page, ['ready']);
  assert.equal(await wasmBytes(page), before, 'wasm memory unchanged (only the file\'s head, 20 KB, was copied in)');
  assertClean(problems, 'crafted big checkpoint');
  await page.close();
});

// ------------------------------------------- a shard change under a job

// Opens the image page with fashion.shard served beside imdb.shard.
async function openFashion() {
  await stat(FASHION).catch(() => {
    throw new Error(`${FASHION} is missing: build it with scripts/setup.sh`);
  });
  const link = path.join(session.dataDir, 'fashion.shard');
  if (!(await stat(link).catch(() => null))) await symlink(await realpath(FASHION), link);
  const opened = await session.openPage('#dataset=fashion&epochs=1');
  await phaseIs(opened.page, ['ready'], 120000);
  await opened.page.waitForFunction(() => window.__playground.images()?.strip?.length > 0, null, { timeout: 60000 });
  return opened;
}

test('the image shard loaded again during the confusion matrix ends that job with a message, and the engine goes on answering', async () => {
  const { page, problems } = await openFashion();
  const restarts = await pg(page, () => window.__playground.restarts);
  // In the engine worker: the shard's bytes, fetched now; then, as soon as
  // the page's next confusion request has started its job, a loadImageShard
  // of them, queued behind it as a second request from the page would be.
  const worker = page.workers().at(-1);
  await worker.evaluate(async (url) => {
    const bytes = await (await fetch(url)).arrayBuffer();
    self.addEventListener('message', (event) => {
      if (event.data?.type !== 'confusion' || self.__shardReloaded) return;
      self.__shardReloaded = true;
      setTimeout(() => self.dispatchEvent(new MessageEvent('message', {
        data: { id: 'test-shard', type: 'loadImageShard', data: { bytes } },
      })), 0);
    });
  }, new URL('data/fashion.shard', session.url).href);
  await page.click('#btn-confusion');
  await page.waitForFunction(() => /not finished/.test(document.getElementById('cm-status').textContent), null, { timeout: 60000 });
  const status = await page.textContent('#cm-status');
  assert.match(status, /^The confusion matrix was not finished \(cancelled: .*(image shard|the shard).*\); press the button to compute it again\.$/);
  assert.equal(await worker.evaluate(() => self.__shardReloaded), true, 'the shard was loaded again');
  assert.equal(await pg(page, () => window.__playground.images().confusion), null, 'no matrix from a job that did not finish');
  assert.ok(await pg(page, () => !window.__playground.images().confusionRunning), 'the job is over');
  // The engine still answers: its memory, and a new test image.
  assert.ok((await wasmBytes(page)) > 0);
  const shown = await pg(page, () => window.__playground.images().selected.index);
  await page.click('#img-random');
  await page.waitForFunction((i) => {
    const v = window.__playground.images();
    return v.selected && v.selected.index !== i && !v.refreshing;
  }, shown, { timeout: 30000, polling: 50 });
  assert.equal(await pg(page, () => window.__playground.restarts), restarts, 'no engine restart');
  assert.notEqual(await pg(page, () => window.__playground.phase), 'failed');
  assertClean(problems, 'shard change during the confusion matrix');
  await page.close();
});

test('switching to the reviews during the confusion matrix loads the reviews page cleanly', async () => {
  const { page, problems } = await openFashion();
  // Both in one go in the page, so the job is surely still running when
  // the dataset menu changes.
  const [running] = await Promise.all([
    pg(page, () => {
      document.getElementById('btn-confusion').click();
      const wasRunning = window.__playground.images().confusionRunning;
      const menu = document.getElementById('dataset');
      menu.value = 'imdb';
      menu.dispatchEvent(new Event('change', { bubbles: true }));
      return wasRunning;
    }),
    page.waitForEvent('load', { timeout: 60000 }),
  ]);
  assert.equal(running, true, 'the confusion matrix was being computed');
  await phaseIs(page, ['ready'], 120000);
  assert.equal(await pg(page, () => window.__playground.dataset), 'imdb');
  assert.ok((await wasmBytes(page)) > 0, 'the new page’s engine answers');
  assertClean(problems, 'dataset switch during the confusion matrix');
  await page.close();
});
