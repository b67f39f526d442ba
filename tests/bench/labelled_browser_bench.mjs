#!/usr/bin/env node
// labelled_browser_bench.mjs: issue 17's figures in the page (scripts/bench.sh
// runs it; tests/bench/labelled_bench.sh gives the same figures natively).
//
// Writes the synthetic labelled file (tests/bench/labelled_corpus.py: 5,000
// sentences of 6 classes, and its 1,000-sentence test file), opens the
// playground page at #dataset=own in Debian's headless Chromium
// (playwright-core, the flags of tests/browser/), reads the file through the
// "Your own text" panel as a user does (#own-file, then "Read the file"),
// then presses Train with the default recipe the page chose, and prints:
//
//   shard build   engine ms (the worker's buildLabelledShard `ms`, the figure
//                 the panel shows as "Built in N ms") and wall ms (click on
//                 "Read the file" to that status: the file read, the copy
//                 into the worker, the build, IndexedDB, the recipe)
//   training      engine ms (the `done` event's `ms`, the test evaluation
//                 included) and click-to-result ms (click on Train to the
//                 page holding the test result)
//   accuracy      on the 1,000 test sentences, and the epochs run
//
// The panel offers a test share, not a second file: so that the page is
// judged on the same 1,000 test sentences as the native run, the test file
// rides along as the request's documented `testText` field (web/PROTOCOL.md,
// buildLabelledShard), added to the page's own request by a wrapper of
// Worker.prototype.postMessage installed before the page loads; the panel's
// test share is set to 0. Nothing else of the page is touched.
//
//   node tests/bench/labelled_browser_bench.mjs [--n 5000] [--classes 6] [--json]
//
// Figures only: nothing here asserts on time. Progress goes to stderr; the
// result is one line on stdout (JSON with --json).

import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const N = Number(opt('--n', 5000));
const K = Number(opt('--classes', 6));
const JSON_OUT = args.includes('--json');
const say = (msg) => process.stderr.write(`labelled_browser_bench: ${msg}\n`);

const dir = await mkdtemp(path.join(tmpdir(), 'labelled-bench-'));
const trainFile = path.join(dir, 'train.tsv');
const testFile = path.join(dir, 'test.tsv');
execFileSync('python3', [path.join(ROOT, 'tests', 'bench', 'labelled_corpus.py'), '--out', trainFile, '--n', String(N),
  '--classes', String(K), '--test-out', testFile, '--test-n', '1000']);
const testText = await readFile(testFile, 'utf8');

const { server, url } = await startServer({ port: 0, host: '127.0.0.1', webDir: path.join(ROOT, 'web'), dataDir: path.join(ROOT, 'data') });
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
let failed = null;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addInitScript((test) => {
    const post = Worker.prototype.postMessage;
    Worker.prototype.postMessage = function (msg, ...rest) {
      if (msg?.type === 'buildLabelledShard' && msg.data && msg.data.testText === undefined && msg.data.testBytes === undefined)
        msg = { ...msg, data: { ...msg.data, testText: test } };
      return post.call(this, msg, ...rest);
    };
  }, testText);
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (err) => problems.push(`page exception: ${err.message}`));
  page.on('console', (m) => m.type() === 'error' && problems.push(`console.error: ${m.text()}`));
  await page.goto(`${url}#dataset=own`);
  await page.waitForFunction(() => document.getElementById('own-status')?.textContent === 'No file yet.', null, { timeout: 120000 });

  say(`reading ${N} sentences of ${K} classes in the page`);
  await page.fill('#own-test', '0');
  await page.setInputFiles('#own-file', trainFile);
  const build = await page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const status = document.getElementById('own-status');
        const before = status.textContent;
        const t0 = performance.now();
        document.getElementById('own-build').click();
        const poll = () => {
          const t = status.textContent;
          if (t !== before && t !== 'Reading…') resolve({ wallMs: performance.now() - t0, status: t });
          else if (performance.now() - t0 > 120000) reject(new Error(`no answer in 120 s: ${t}`));
          else setTimeout(poll, 2);
        };
        poll();
      }),
  );
  const m = build.status.match(/^Built in (\d+) ms/);
  if (!m) throw new Error(`the file was not read: ${build.status}`);
  await page.waitForFunction(() => window.__playground.phase === 'ready', null, { timeout: 120000, polling: 50 });
  const shard = await page.evaluate(() => window.__playground.shardInfo);
  const settings = await page.evaluate(() => window.__playground.settings);

  say(`training the default recipe (${settings.model}, up to ${settings.epochs} epochs) in the page`);
  const train = await page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const t0 = performance.now();
        document.getElementById('btn-train').click();
        const poll = () => {
          const p = window.__playground;
          if (p.phase === 'done' && p.test) resolve({ clickMs: performance.now() - t0 });
          else if (['stopped', 'failed'].includes(p.phase)) reject(new Error(`training ended in phase ${p.phase}: ${p.errors.join('; ')}`));
          else if (performance.now() - t0 > 600000) reject(new Error(`not done in 600 s (phase ${p.phase})`));
          else setTimeout(poll, 5);
        };
        poll();
      }),
  );
  const result = await page.evaluate(() => ({ engineMs: window.__playground.lastRunMs, test: window.__playground.test, epochs: window.__playground.history.length }));
  if (problems.length) say(`the page reported: ${problems.join(' | ')}`);
  const out = {
    runtime: 'page',
    workload: 'labelled-text',
    sentences: N,
    classes: K,
    test_sentences: testText.trim().split('\n').length,
    shard_test_texts: shard?.splits?.test ?? null,
    build_engine_ms: Number(m[1]),
    build_wall_ms: Math.round(build.wallMs),
    model: settings.model,
    epochs: result.epochs,
    train_engine_ms: Math.round(result.engineMs),
    train_click_ms: Math.round(train.clickMs),
    test_acc: result.test.acc,
    load: (await readFile('/proc/loadavg', 'utf8').catch(() => '')).split(' ').slice(0, 3).join(' '),
  };
  if (JSON_OUT) console.log(JSON.stringify(out));
  else
    console.log(
      `your own text in the page (${N} sentences, ${K} classes): shard built in ${out.build_engine_ms} ms engine, ` +
        `${out.build_wall_ms} ms click to report; default recipe (${out.model}, ${out.epochs} epochs) trained in ` +
        `${(out.train_engine_ms / 1000).toFixed(2)} s engine, ${(out.train_click_ms / 1000).toFixed(2)} s click to test result; ` +
        `test accuracy ${out.test_acc.toFixed(3)} on ${out.test_sentences} sentences (load ${out.load})`,
    );
} catch (err) {
  failed = err;
} finally {
  await browser.close().catch(() => {});
  server.close();
  await rm(dir, { recursive: true, force: true });
}
if (failed) {
  console.error(`labelled_browser_bench: error: ${failed.message}`);
  process.exit(1);
}
