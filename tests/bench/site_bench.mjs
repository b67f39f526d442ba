// site_bench.mjs: the static site of scripts/build-site.sh, as a visitor
// meets it: the download sizes, and the time from navigation to a page
// ready to train (window.__playground.phase 'ready'), on localhost and over
// a throttled link (Chromium's network emulation through the DevTools
// protocol: 20 Mbit/s down and up, 40 ms latency, applied to the page and,
// through auto-attach, to its workers, which fetch the shard), each cold (a
// new browser context: empty HTTP cache and Cache API) and warm (a reload in
// the same context), and the time until the test reviews are in (a site
// built since issue 16 sends them after the rest). Served by tests/browser/plain-server.mjs: no
// COOP/COEP, so one thread, as on any plain host. Figures only.
//
//   node tests/bench/site_bench.mjs [--site dist] [--repeat 3]
// Run by scripts/bench.sh (--site-only, or at the end of a default run).

import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startPlainServer } from '../browser/plain-server.mjs';
import { CHROMIUM, CHROMIUM_ARGS } from '../browser/harness.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
let site = path.join(ROOT, 'dist'), repeat = 3;
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '--site') site = path.resolve(process.argv[++i]);
  else if (process.argv[i] === '--repeat') repeat = Number(process.argv[++i]);
  else throw new Error(`site_bench: unknown option ${process.argv[i]}`);
}

const THROTTLE = { offline: false, latency: 40, downloadThroughput: 20e6 / 8, uploadThroughput: 20e6 / 8 };
const MB = (n) => `${(n / 1e6).toFixed(1)} MB`;

function files(dir, rel = '') {
  return readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(dir, path.join(rel, e.name)) : [[path.join(rel, e.name), statSync(path.join(dir, rel, e.name)).size]]);
}

// Throttles the page and every worker it starts (each is its own target).
async function throttle(context, page) {
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', THROTTLE);
  cdp.on('Target.attachedToTarget', async ({ sessionId, targetInfo }) => {
    const send = (method, params = {}) => cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id: Math.floor(Math.random() * 1e9), method, params }) });
    if (targetInfo.type === 'worker') {
      await send('Network.enable').catch(() => {});
      await send('Network.emulateNetworkConditions', THROTTLE).catch(() => {});
    }
    await send('Runtime.runIfWaitingForDebugger').catch(() => {});
  });
  await cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: true, flatten: false });
  return cdp;
}

// ms from navigation to phase 'ready', and to the test reviews in (the
// shard info has its test split: at ready on a site whose imdb.shard is
// whole, later on one that sends the test reviews as a file of their own,
// web/worker/testsplit.js), and the bytes the page received up to ready.
async function readyTime(page, reload) {
  const bytes = { n: 0 };
  const onResponse = async (r) => {
    const len = Number((await r.allHeaders().catch(() => ({})))['content-length'] || 0);
    bytes.n += len;
  };
  page.context().on('response', onResponse);
  if (reload) await page.reload({ waitUntil: 'commit' });
  else await page.goto(siteUrl, { waitUntil: 'commit' });
  await page.waitForFunction(() => window.__playground?.phase === 'ready', null, { timeout: 180000, polling: 10 });
  const ms = await page.evaluate(() => performance.now());
  page.context().off('response', onResponse);
  await page.waitForFunction(() => (window.__playground?.shardInfo?.splits?.test ?? 0) > 0, null, { timeout: 180000, polling: 10 });
  const testMs = await page.evaluate(() => performance.now());
  return { ms, testMs, bytes: bytes.n };
}

const list = files(site).sort((a, b) => a[0].localeCompare(b[0]));
const data = list.filter(([f]) => f.startsWith('data/'));
const pageBytes = list.filter(([f]) => !f.startsWith('data/') && !f.includes('engine-mt')).reduce((s, [, n]) => s + n, 0);
console.log(`site ${path.relative(ROOT, site) || site}: ${list.length} files, ${MB(list.reduce((s, [, n]) => s + n, 0))}`);
console.log(`  page, one-thread engine and Chart.js: ${MB(pageBytes)}`);
for (const [f, n] of data) console.log(`  ${f}: ${MB(n)}`);

const { server, url: siteUrl } = await startPlainServer(site);
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
const results = {};
const decodeTimes = [];
try {
  // The page's decoding: unpack() (web/worker/packed.js) of every packed
  // file of the site, in the page (the worker runs the same code), median of 3
  // (whole files: in the worker a transform-3 file decodes block by block
  // as it downloads).
  {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(siteUrl, { waitUntil: 'load' });
    for (const [f, n] of list.filter(([name]) => name.endsWith('.nnz'))) {
      const ms = await page.evaluate(async (file) => {
        const { unpack } = await import('./worker/packed.js');
        const bytes = new Uint8Array(await (await fetch(file)).arrayBuffer());
        // Transform 3's decoder, as download.js fetches it (once: compiled once).
        const idsWasmBytes = await (await fetch('./engine/packed_ids.wasm')).arrayBuffer();
        const idsWasm = () => idsWasmBytes;
        const times = [];
        for (let i = 0; i < 3; i++) {
          const t = performance.now();
          await unpack(bytes, file, { idsWasm });
          times.push(performance.now() - t);
        }
        return times.sort((a, b) => a - b)[1];
      }, f);
      decodeTimes.push([f, n, ms]);
    }
    await context.close();
  }
  for (const link of ['localhost', 'throttled']) {
    for (let r = 0; r < repeat; r++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      if (link === 'throttled') await throttle(context, page);
      const cold = await readyTime(page, false);
      const warm = await readyTime(page, true);
      for (const [k, v] of [['cold', cold], ['warm', warm]]) (results[`${link} ${k}`] ||= []).push(v);
      await context.close();
    }
  }
} finally {
  await browser.close();
  server.close();
}
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`ready (navigation to ready to train), median of ${repeat}; bytes as received (Content-Length):`);
for (const [k, v] of Object.entries(results)) {
  console.log(`  ${k.padEnd(16)} ${(median(v.map((x) => x.ms)) / 1000).toFixed(2).padStart(6)} s   ${MB(median(v.map((x) => x.bytes))).padStart(8)}   (${v.map((x) => (x.ms / 1000).toFixed(2)).join(', ')} s)`);
}
console.log(`test reviews in (the shard info has its test split), median of ${repeat}:`);
for (const [k, v] of Object.entries(results)) {
  console.log(`  ${k.padEnd(16)} ${(median(v.map((x) => x.testMs)) / 1000).toFixed(2).padStart(6)} s   (${v.map((x) => (x.testMs / 1000).toFixed(2)).join(', ')} s)`);
}
console.log('the page\'s decoding of each packed file (unpack(): DecompressionStream, the word transform, CRC-32), median of 3:');
for (const [f, n, ms] of decodeTimes) console.log(`  ${f.padEnd(44)} ${MB(n).padStart(8)}  ${ms.toFixed(0).padStart(5)} ms`);
console.log('targets: ready <= 1.5 s on localhost, <= 6 s throttled (20 Mbit/s, 40 ms)');
