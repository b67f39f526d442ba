// harness.mjs: what every browser test shares: the served page and a fresh
// headless Chromium, and the helpers that read the page.
//
// startSession() serves the page with scripts/serve.mjs on a free port, from
// a temporary data folder holding a link to data/imdb.shard (plus any files
// the test adds), and launches the system Chromium (/usr/bin/chromium, never
// a downloaded browser) with a new, empty profile. session.openPage(hash)
// opens the page and collects every console error and uncaught exception of
// the page and its workers, for assertClean.
//
// Not a test file (node --test runs only *.test.mjs).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, stat, symlink, realpath } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SHARD = path.join(ROOT, 'data', 'imdb.shard');
export const ARTIFACTS = path.join(ROOT, 'test-artifacts');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const POSITIVE_REVIEW =
  'This movie was wonderful. Brilliant acting, a beautiful story and a great score. ' +
  'One of the best films I have seen in years; I loved every minute and highly recommend it. Excellent!';
export const NEGATIVE_REVIEW =
  'This movie was terrible. Awful acting, a boring and stupid plot, and the worst dialogue ever. ' +
  'A complete waste of time and money; I hated it. Bad, bad, bad.';

function startServer(dir) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'serve.mjs'), '--port', '0', '--data-dir', dir], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`serve.mjs printed no URL in 10 s: ${out}${err}`)), 10000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/Serving (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1] });
      }
    });
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve.mjs exited with ${code}: ${err}`));
    });
  });
}

// The page keeps the last model in IndexedDB (web/persist.js) and brings it
// back on load, and a session's tests share one profile: so that each test
// starts from nothing saved, the site's IndexedDB is cleared through the
// DevTools protocol first (no navigation, so no stray requests).
export async function forgetSavedSession(page, url) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Storage.clearDataForOrigin', { origin: new URL(url).origin, storageTypes: 'indexeddb' });
  await cdp.detach();
}

// Serves the page and launches Chromium. name labels the temporary folders.
export async function startSession(name, { acceptDownloads = false } = {}) {
  await stat(SHARD).catch(() => {
    throw new Error(`${SHARD} is missing: build it with scripts/setup.sh`);
  });
  await stat(path.join(ROOT, 'web', 'engine', 'engine.js')).catch(() => {
    throw new Error('web/engine/engine.js is missing: build it with scripts/build-wasm.sh');
  });
  await mkdir(ARTIFACTS, { recursive: true });
  const dataDir = await mkdtemp(path.join(tmpdir(), `imdb-${name}-data-`));
  await symlink(await realpath(SHARD), path.join(dataDir, 'imdb.shard'));
  const server = await startServer(dataDir);
  const profileDir = await mkdtemp(path.join(tmpdir(), `imdb-${name}-profile-`));
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    acceptDownloads,
    viewport: { width: 1280, height: 900 },
  });
  return {
    url: server.url,
    dataDir, // files written here are served under /data/
    context,
    // Opens the page at hash. allowConsole lists patterns of console errors
    // expected on error-path pages (e.g. the browser's own "404" line).
    // The page starts with nothing saved in the browser unless keepSaved.
    async openPage(hash, { viewport = { width: 1280, height: 900 }, allowConsole = [], keepSaved = false } = {}) {
      const page = await context.newPage();
      await page.setViewportSize(viewport);
      if (!keepSaved) await forgetSavedSession(page, server.url);
      const problems = [];
      const onConsole = (where) => (msg) => {
        if (msg.type() !== 'error') return;
        if (!allowConsole.some((re) => re.test(msg.text()))) problems.push(`${where} console.error: ${msg.text()}`);
      };
      page.on('console', onConsole('page'));
      page.on('pageerror', (err) => problems.push(`page exception: ${err.message}`));
      page.on('worker', (w) => w.on('console', onConsole('worker')));
      page.on('crash', () => problems.push('page crashed'));
      await page.goto(`${server.url}${hash}`);
      return { page, problems };
    },
    async close() {
      await context.close().catch(() => {});
      server.child.kill('SIGTERM');
      for (const dir of [dataDir, profileDir]) await rm(dir, { recursive: true, force: true });
    },
  };
}

export const pg = (page, expr, arg) => page.evaluate(expr, arg);

export const phaseIs = (page, phases, timeout = 120000) =>
  page.waitForFunction((list) => list.includes(window.__playground.phase), phases, { timeout, polling: 50 });

// Types text into the review box and waits for its explanation.
export async function typeReview(page, text) {
  await page.fill('#review-text', text);
  await page.waitForFunction(
    (t) => {
      const p = window.__playground;
      return p.explain && p.explain.text === t && !p.explainBusy;
    },
    text,
    { timeout: 30000, polling: 50 },
  );
  return pg(page, () => window.__playground.explain);
}

// Sets a control as a user does: picks an option of a select, or types into
// an input and leaves it (the change event).
export async function setControl(page, id, value) {
  if ((await page.evaluate((i) => document.getElementById(i).tagName, id)) === 'SELECT') {
    await page.selectOption(`#${id}`, String(value));
  } else {
    await page.fill(`#${id}`, String(value));
    await page.dispatchEvent(`#${id}`, 'change');
  }
}

// Clicks Train and resolves once the run is done and its test result is in,
// with the number of per-batch points the charts held at some moment while it
// was training (the curves are live, not drawn at the end).
export async function trainAndWatch(page, timeout = 600000) {
  await page.click('#btn-train');
  return page.evaluate(
    (ms) =>
      new Promise((resolve, reject) => {
        const t0 = performance.now();
        let live = 0;
        const poll = () => {
          const p = window.__playground;
          if (p.phase === 'training') live = Math.max(live, p.charts().loss.batch.length);
          if (p.phase === 'done' && p.test) resolve(live);
          else if (['stopped', 'failed', 'ready'].includes(p.phase) && performance.now() - t0 > 1000)
            reject(new Error(`training ended in phase ${p.phase}: ${p.errors.join('; ')}`));
          else if (performance.now() - t0 > ms) reject(new Error(`not done within ${ms} ms (phase ${p.phase})`));
          else setTimeout(poll, 20);
        };
        poll();
      }),
    timeout,
  );
}

export function assertClean(problems, what) {
  assert.deepEqual(problems, [], `${what}: console errors or exceptions:\n${problems.join('\n')}`);
}

// CRC-32 (IEEE), for writing a damaged shard whose header checksum is right.
export function crc32(bytes) {
  let crc = ~0;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc >>> 0;
}

// The native trainer's run of a config (build/imdb_train, built by
// scripts/setup.sh, with args such as ['--preset', 'ngram', '--train_size',
// '5000']; none: the default recipe): its --history file, {history: {loss,
// accuracy, val_loss, val_accuracy}, test: {accuracy, ...}}.
export async function nativeHistory(args = []) {
  const dir = await mkdtemp(path.join(tmpdir(), 'native-history-'));
  const out = path.join(dir, 'history.json');
  const trainer = path.join(ROOT, 'build', 'imdb_train');
  try {
    await new Promise((resolve, reject) => {
      const child = spawn(trainer, ['--shard', SHARD, ...args, '--history', out, '--quiet'], { stdio: ['ignore', 'ignore', 'inherit'] });
      child.on('error', (err) => reject(new Error(`cannot run ${trainer} (run scripts/setup.sh): ${err.message}`)));
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${trainer} exited with ${code}`))));
    });
    return JSON.parse(await readFile(out, 'utf8'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// The largest difference between the page's history (window.__playground
// .history) and the native one (nativeHistory), over every epoch's training
// and validation loss and accuracy; Infinity when they differ in length.
export function historyDifference(history, native) {
  const keys = [['loss', 'loss'], ['val_loss', 'val_loss'], ['acc', 'accuracy'], ['val_acc', 'val_accuracy']];
  if (keys.some(([, nkey]) => native.history[nkey].length !== history.length)) return Infinity;
  let worst = 0;
  for (let i = 0; i < history.length; i++)
    for (const [key, nkey] of keys) worst = Math.max(worst, Math.abs(history[i][key] - native.history[nkey][i]));
  return worst;
}
