// budget.test.mjs: the memory budget and the set-up limits (engine/budget.c)
// in the page's own engine.wasm, loaded directly through its emscripten
// module (no worker): the links are refused with a message naming a
// figure and a setting; a seeded sample of 200 settings within the page's
// limits is each either refused with a message or configured and trained
// one batch; a crafted checkpoint asking for a huge batch is refused before
// memory grows. After every configuration a canary written into an
// nnw_alloc'd block before it is checked, and the module must not trap.
// Times are printed (configure must answer within 1 s and a batch within
// 2 s on the 2-core machine the limits were measured on), never asserted.
//
//   node --no-experimental-fetch --test tests/wasm/budget.test.mjs
//
// Needs web/engine/ (scripts/build-wasm.sh) and data/imdb.shard (scripts/setup.sh).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { findEngine, rng } from './worker_client.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SHARD = join(ROOT, 'data/imdb.shard');
const NN_ERR_NOMEM = 5;

let e, session, shardInfo;

// The module as a worker would see it: emscripten's web/worker build reads
// self.location and importScripts to decide where it runs.
async function loadEngine() {
  const enginePath = findEngine();
  globalThis.self ??= globalThis;
  globalThis.location ??= { href: pathToFileURL(enginePath).href };
  globalThis.importScripts ??= () => { throw new TypeError('importScripts is not available in a module worker'); };
  const { default: createEngine } = await import(pathToFileURL(enginePath).href);
  return createEngine({ wasmBinary: readFileSync(enginePath.replace(/\.js$/, '.wasm')) });
}

function cString(text) {
  const bytes = Buffer.from(`${text}\0`);
  const p = e._nnw_alloc(bytes.length);
  e.HEAPU8.set(bytes, p);
  return p;
}

function message() {
  return e.UTF8ToString(e._nnw_error(session));
}

// A block of 256 bytes from nnw_alloc filled with a pattern; check() says
// whether it is intact (fresh views: memory may have grown).
function canary(seed) {
  const n = 256;
  const p = e._nnw_alloc(n);
  const fill = (i) => (seed * 31 + i * 7) & 255;
  for (let i = 0; i < n; i++) e.HEAPU8[p + i] = fill(i);
  return {
    check() {
      for (let i = 0; i < n; i++) if (e.HEAPU8[p + i] !== fill(i)) return false;
      return true;
    },
    free() { e._nnw_free(p); },
  };
}

// configure then (when accepted) one training batch; never throws for a
// refusal, but a trap (RuntimeError) propagates and fails the test.
function configureAndTrain(config) {
  const json = cString(JSON.stringify(config));
  const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
  const t0 = performance.now(), c0 = cpuMs();
  const rc = e._nnw_configure(session, json);
  const configureMs = performance.now() - t0, configureCpuMs = cpuMs() - c0;
  e._nnw_free(json);
  if (rc !== 0) return { rc, configureMs, message: message() };
  const t1 = performance.now(), c1 = cpuMs();
  const trainRc = e._nnw_train(session, 1);
  const batchMs = performance.now() - t1, batchCpuMs = cpuMs() - c1;
  if (process.env.BUDGET_LOG)
    appendFileSync(process.env.BUDGET_LOG, `${configureCpuMs.toFixed(1)} ${batchCpuMs.toFixed(1)} ${JSON.stringify(config)}\n`);
  return { rc, configureMs, configureCpuMs, trainRc, batchMs, batchCpuMs, message: trainRc ? message() : '' };
}

before(async () => {
  assert.ok(existsSync(SHARD), `${SHARD} not found: run scripts/setup.sh`);
  e = await loadEngine();
  session = e._nnw_session_create();
  const bytes = readFileSync(SHARD);
  const p = e._nnw_alloc(bytes.length);
  e.HEAPU8.set(bytes, p);
  assert.equal(e._nnw_load_shard(session, p, bytes.length), 0, 'the page\'s shard loads');
  shardInfo = JSON.parse(e.UTF8ToString(e._nnw_shard_info(session)));
});

const LINKS = [
  ['#model=bilstm&layers=4&hidden=3600&embed_dim=768&vocab_size=19142&maxlen=1&batch_size=1', /hidden/],
  ['#model=bilstm&layers=4&hidden=3600&embed_dim=768&vocab_size=19141&maxlen=1&batch_size=1', /hidden/],
  ['#model=lstm&hidden=4096', /hidden/],
];

function configOfLink(link) {
  const config = {};
  for (const [k, v] of new URLSearchParams(link.slice(1))) config[k] = /^\d+$/.test(v) ? Number(v) : v;
  return config;
}

test('the issue\'s links are refused at once with a figure and a setting, heap intact', () => {
  for (const [link, setting] of LINKS) {
    const guard = canary(link.length);
    const memBefore = e.HEAPU8.length;
    const r = configureAndTrain(configOfLink(link));
    console.log(`# ${link}: rc ${r.rc} in ${r.configureMs.toFixed(1)} ms: ${r.message}`);
    assert.notEqual(r.rc, 0, `${link} refused`);
    assert.match(r.message, / (GB|MB|s) /, `${link}: the message names a figure`);
    assert.match(r.message, setting, `${link}: the message names the setting to change`);
    assert.equal(e.HEAPU8.length, memBefore, `${link}: memory did not grow`);
    assert.ok(guard.check(), `${link}: the canary is intact`);
    guard.free();
  }
});

// Settings within the page's limits (its settings table and the shard's),
// sizes drawn log-uniformly so both small and huge values come up.
function randomConfig(next) {
  const logInt = (lo, hi) => Math.min(hi, Math.max(lo, Math.round(Math.exp(Math.log(lo) + next() * (Math.log(hi) - Math.log(lo))))));
  const pick = (list) => list[Math.floor(next() * list.length)];
  const model = pick(['bag', 'lstm', 'gru', 'bilstm', 'bigru', 'ngram']);
  const config = {
    model,
    vocab_size: logInt(5, shardInfo.vocab_size),
    maxlen: logInt(1, shardInfo.max_tokens),
    embed_dim: logInt(1, 1024),
    hidden: logInt(1, 4096),
    batch_size: logInt(1, 65536),
    padding: pick(['pre', 'post']),
    truncating: pick(['pre', 'post']),
    val_size: logInt(1, 20000),
    train_size: next() < 0.5 ? 0 : logInt(1, 4000),
    epochs: logInt(1, 100),
    patience: next() < 0.5 ? 0 : logInt(1, 10),
    restore_best_weights: next() < 0.5,
    seed: Math.floor(next() * 1e6),
  };
  if (model !== 'bag') {
    config.layers = 1 + Math.floor(next() * 4);
    config.dropout = next() < 0.5 ? 0 : Math.round(next() * 90) / 100;
    config.recurrent_dropout = next() < 0.5 ? 0 : Math.round(next() * 90) / 100;
  } else if (model === 'ngram') {
    config.bigrams = next() < 0.25 ? 0 : logInt(1, 4000000);
    config.nb_weighting = next() < 0.5;
  } else {
    config.pooling = pick(['keras', 'masked']);
  }
  if (config.train_size && config.train_size + config.val_size > shardInfo.splits.train) config.train_size = 0;
  return config;
}

test('200 seeded random settings: each refused with a message or trains a batch; no trap, canary intact', () => {
  const next = rng(1515);
  const counts = { trained: 0, refusedMemory: 0, refusedTime: 0, refusedOther: 0 };
  let slowestConfigure = 0, slowestBatch = 0, slowestRefusal = 0;
  const early = canary(1); // an old block, low in the heap
  for (let i = 0; i < 200; i++) {
    const config = randomConfig(next);
    const guard = canary(i);
    let r;
    try {
      r = configureAndTrain(config);
    } catch (err) {
      assert.fail(`config ${i} trapped (${err.message}): ${JSON.stringify(config)}`);
    }
    const what = JSON.stringify(config);
    if (r.rc === 0) {
      assert.equal(r.trainRc, 0, `config ${i} configured, then its first batch failed: ${r.message} (${what})`);
      counts.trained++;
      slowestConfigure = Math.max(slowestConfigure, r.configureMs);
      slowestBatch = Math.max(slowestBatch, r.batchMs);
      if (r.configureMs > 1000 || r.batchMs > 2000)
        console.log(`# slow: config ${i} configured in ${r.configureMs.toFixed(0)} ms (${r.configureCpuMs.toFixed(0)} ms of CPU), ` +
                    `batch ${r.batchMs.toFixed(0)} ms (${r.batchCpuMs.toFixed(0)} ms of CPU): ${what}`);
    } else {
      assert.ok(r.message.length > 20, `config ${i} refused (rc ${r.rc}) with a message: "${r.message}"`);
      if (r.rc === NN_ERR_NOMEM) counts.refusedMemory++;
      else if (/take ~/.test(r.message)) counts.refusedTime++;
      else counts.refusedOther++;
      slowestRefusal = Math.max(slowestRefusal, r.configureMs);
    }
    assert.ok(guard.check(), `config ${i}: the canary written before it is intact (${what})`);
    assert.ok(early.check(), `config ${i}: the first canary is intact (${what})`);
    guard.free();
  }
  early.free();
  console.log(`# 200 configs: ${counts.trained} trained a batch, ${counts.refusedMemory} over the memory budget, ` +
              `${counts.refusedTime} over the time limits, ${counts.refusedOther} refused otherwise; ` +
              `slowest configure ${slowestConfigure.toFixed(0)} ms, slowest batch ${slowestBatch.toFixed(0)} ms, ` +
              `slowest refusal ${slowestRefusal.toFixed(1)} ms; wasm memory now ${(e.HEAPU8.length / 2 ** 20).toFixed(0)} MB`);
  assert.ok(counts.trained >= 20, `a fair share of the sample trains (${counts.trained})`);
  assert.ok(counts.refusedMemory + counts.refusedTime >= 20, 'a fair share is refused by the budget');
});

// The checkpoint format (engine/checkpoint.c): a 32-byte header (magic,
// version, json_len, blob_len, crc32 of JSON + blob), the JSON, the blob.
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function recraft(file, change) {
  const view = Buffer.from(file);
  const jsonLen = view.readUInt32LE(12);
  const blob = view.subarray(32 + jsonLen);
  const doc = JSON.parse(view.subarray(32, 32 + jsonLen).toString());
  change(doc);
  let json = Buffer.from(JSON.stringify(doc));
  json = Buffer.concat([json, Buffer.alloc((4 - (json.length % 4)) % 4, 0x20)]);
  const head = Buffer.from(view.subarray(0, 32));
  head.writeUInt32LE(json.length, 12);
  head.writeUInt32LE(crc32(Buffer.concat([json, blob])), 24);
  return Buffer.concat([head, json, blob]);
}

test('a crafted checkpoint asking for batch 65536 is refused before wasm memory grows', () => {
  const r = configureAndTrain({ model: 'lstm', hidden: 8, embed_dim: 8, maxlen: 20, batch_size: 32, train_size: 64, val_size: 32 });
  assert.equal(r.rc, 0, `a small model configures: ${r.message}`);
  const p = e._nnw_checkpoint_export(session);
  assert.ok(p, `exported: ${message()}`);
  const file = e.HEAPU8.slice(p, p + e._nnw_checkpoint_len(session));
  const crafted = recraft(file, (doc) => { doc.config.batch_size = 65536; doc.config.maxlen = 2048; });
  const guard = canary(7);
  const q = e._nnw_alloc(crafted.length);
  e.HEAPU8.set(crafted, q);
  const memBefore = e.HEAPU8.length;
  const t0 = performance.now();
  const rc = e._nnw_checkpoint_import(session, q, crafted.length);
  const ms = performance.now() - t0;
  console.log(`# crafted checkpoint (${crafted.length} bytes): rc ${rc} in ${ms.toFixed(1)} ms: ${message()}`);
  assert.equal(rc, NN_ERR_NOMEM, 'refused as over the budget');
  assert.match(message(), /GB/);
  assert.match(message(), /batch_size|maxlen/);
  assert.equal(e.HEAPU8.length, memBefore, 'wasm memory did not grow');
  assert.ok(guard.check(), 'the canary is intact');
  guard.free();
  // The untouched file still imports.
  const q2 = e._nnw_alloc(file.length);
  e.HEAPU8.set(file, q2);
  assert.equal(e._nnw_checkpoint_import(session, q2, file.length), 0, `the original imports: ${message()}`);
});

// The model kind "transformer" (engine/transformer.h) is reachable through
// the config alone: the tutorial-transformer sizes configure in the page's
// engine, train a batch, score a text, and export and import a checkpoint.
test('a transformer configures from its config, trains a batch, scores a text and round-trips a checkpoint', () => {
  const r = configureAndTrain({ model: 'transformer', embed_dim: 32, heads: 2, blocks: 1, ff_dim: 64, maxlen: 200,
                                batch_size: 32, dropout: 0.1, warmup_steps: 10, weight_decay: 0.01, train_size: 64, val_size: 32 });
  console.log(`# transformer: configure ${r.configureMs.toFixed(0)} ms, one batch ${r.batchMs?.toFixed(0)} ms`);
  assert.equal(r.rc, 0, `configured: ${r.message}`);
  assert.equal(r.trainRc, 0, `trained a batch: ${r.message}`);
  const text = cString('A wonderful, moving film.');
  const score = e._nnw_score(session, text, 25);
  assert.ok(score >= 0 && score <= 1, `scored ${score}`);
  const p = e._nnw_checkpoint_export(session);
  assert.ok(p, `exported: ${message()}`);
  const file = e.HEAPU8.slice(p, p + e._nnw_checkpoint_len(session));
  const q = e._nnw_alloc(file.length);
  e.HEAPU8.set(file, q);
  assert.equal(e._nnw_checkpoint_import(session, q, file.length), 0, `imported: ${message()}`);
  assert.equal(e._nnw_score(session, text, 25), score, 'the imported model scores the same');
  e._nnw_free(text);
});
