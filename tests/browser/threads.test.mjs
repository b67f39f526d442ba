// threads.test.mjs: the two-thread engine (engine-mt.js) in headless Chromium.
//
// web/worker.js loads engine-mt.js (emscripten pthreads) on a cross-origin-
// isolated page (by default only with 3 or more cores; init {threads: true}
// asks for it) and engine.js elsewhere. These tests drive the worker over its
// message protocol from blank same-origin documents (served by
// scripts/serve.mjs, so with or without the isolation headers as a test
// fulfils them) and check that: an isolated page gets two threads when
// asked; a page that is not isolated falls back to one; `init {threads:
// false}` asks for one; the default follows the number of cores; and a recurrent model trains to the very same history, test loss and
// weights with two threads as with one (the engine's parts keep every sum in
// the one-thread order). Timing is not asserted (scripts/bench.sh prints it).
//
//   node --test tests/browser/          (needs web/engine/ and data/imdb.shard)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve.mjs';
import { ROOT, CHROMIUM, CHROMIUM_ARGS } from './harness.mjs';

const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};
// A small LSTM run: short reviews, few of them, two layers, dropout and
// recurrent dropout, bidirectional: every path of the recurrent layers.
const CONFIG = {
  model: 'bilstm', layers: 2, maxlen: 64, padding: 'pre', truncating: 'pre', embed_dim: 8, hidden: 8,
  batch_size: 32, epochs: 2, val_size: 128, train_size: 256, dropout: 0.2, recurrent_dropout: 0.2, seed: 7,
};

let server, browser;

before(async () => {
  for (const f of ['web/engine/engine.js', 'web/engine/engine-mt.js', 'web/engine/engine-mt.worker.js', 'data/imdb.shard'])
    await stat(path.join(ROOT, f)).catch(() => {
      throw new Error(`${f} is missing: run scripts/setup.sh (scripts/build-wasm.sh builds web/engine/)`);
    });
  server = await startServer({ port: 0, host: '127.0.0.1', webDir: path.join(ROOT, 'web'), dataDir: path.join(ROOT, 'data') });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  server?.server.close();
});

// A blank document at /__threads__/blank.html, isolated or not.
async function blankPage(isolated) {
  const page = await browser.newPage();
  const problems = [];
  page.on('pageerror', (err) => problems.push(err.message));
  page.on('console', (msg) => msg.type() === 'error' && problems.push(msg.text()));
  await page.route('**/__threads__/blank.html', (route) =>
    route.fulfill({ status: 200, headers: { ...(isolated ? ISOLATION : {}), 'Content-Type': 'text/html' }, body: '<!doctype html><title>threads</title>' }));
  await page.goto(`${server.url}__threads__/blank.html`);
  return { page, problems };
}

// In the page: starts web/worker/worker.js, inits it with initData, loads the shard,
// trains config to the end and returns what came back.
function trainInPage(page, initData, config) {
  return page.evaluate(
    async ({ initData, config }) => {
      const w = new Worker('/worker/worker.js', { type: 'module' });
      let id = 0;
      const pending = new Map(), events = [];
      w.onmessage = (e) => {
        const m = e.data;
        if (m.id && pending.has(m.id)) {
          const { resolve, reject } = pending.get(m.id);
          pending.delete(m.id);
          m.type === 'ok' ? resolve(m.data) : reject(new Error(m.data.message));
        } else events.push(m);
      };
      const req = (type, data) => new Promise((resolve, reject) => {
        pending.set(++id, { resolve, reject });
        w.postMessage({ id, type, data });
      });
      const init = await req('init', initData);
      const isolated = self.crossOriginIsolated;
      if (!config) return { init, isolated };
      await req('loadShard', { url: '/data/imdb.shard' });
      await req('configure', config);
      await req('train', {});
      const done = await new Promise((resolve, reject) => {
        const poll = () => {
          const d = events.find((e) => e.type === 'done' || e.type === 'trainError');
          if (d) return d.type === 'done' ? resolve(d.data) : reject(new Error(d.data.message));
          setTimeout(poll, 20);
        };
        poll();
      });
      const { params } = await req('snapshot', {});
      w.terminate();
      return { init, isolated, history: done.history, test: done.test, params: Array.from(params) };
    },
    { initData, config },
  );
}

test('an isolated page gets the two-thread engine; one that is not falls back to one thread', async () => {
  const iso = await blankPage(true);
  const a = await trainInPage(iso.page, { threads: true }, null);
  assert.equal(a.isolated, true);
  assert.equal(a.init.threads, 2, `isolated, threads: true: ${JSON.stringify(a.init)}`);
  const b = await trainInPage(iso.page, { threads: false }, null);
  assert.equal(b.init.threads, 1, 'init {threads: false} asks for one thread');
  // By default, two threads only when a core stays free for the page.
  const cores = await iso.page.evaluate(() => navigator.hardwareConcurrency);
  const d = await trainInPage(iso.page, {}, null);
  assert.equal(d.init.threads, cores >= 3 ? 2 : 1, `default with ${cores} cores: ${JSON.stringify(d.init)}`);
  assert.deepEqual(iso.problems, []);
  await iso.page.close();

  const plain = await blankPage(false);
  const c = await trainInPage(plain.page, { threads: true }, null);
  assert.equal(c.isolated, false);
  assert.equal(c.init.threads, 1, `not isolated: ${JSON.stringify(c.init)}`);
  assert.deepEqual(plain.problems, []);
  await plain.page.close();
});

test('a recurrent model trains to the same history, test loss and weights with two threads as with one', async () => {
  const { page, problems } = await blankPage(true);
  const two = await trainInPage(page, { threads: true }, CONFIG);
  const one = await trainInPage(page, { threads: false }, CONFIG);
  assert.equal(two.init.threads, 2);
  assert.equal(one.init.threads, 1);
  assert.equal(two.history.length, CONFIG.epochs);
  assert.deepEqual(two.history, one.history, 'identical histories');
  assert.deepEqual(two.test, one.test, 'identical test loss and accuracy');
  assert.equal(two.params.length, one.params.length);
  assert.ok(two.params.every((v, i) => Object.is(v, one.params[i])), 'identical weights, bit for bit');
  console.log(`two threads = one thread: ${two.params.length} weights, history ${JSON.stringify(two.history.at(-1))}`);
  assert.deepEqual(problems, []);
  await page.close();
});
