// site.test.mjs: the static site of scripts/build-site.sh, as a plain host
// serves it. Builds the site (with only imdb.shard, to keep the run short)
// into a temporary folder and serves it with the few lines of node below,
// which send no COOP/COEP, no CSP and no caching headers, and count every
// request. On that page:
// - the IMDB shard is packed with transform 2 (web/worker/packed.js), or
//   with SITE_PACKING=ids transform 3 (build-site.sh --ids: token ids coded,
//   decoded by dist/engine/packed_ids.wasm; needs build/imdb_pack_ids);
// - imdb.shard goes as two files (build/imdb_split_shard): the vocabulary
//   and the training reviews, and the test reviews alone, which the page
//   downloads after it is ready (web/worker/testsplit.js);
// - the page itself starts the shard's download before its modules load
//   (data-early.js) and the worker reads that download: one request;
// - with the test file held back by the server, the page is ready and
//   trains; the run waits at its end, says so, and gives its test result
//   once the file arrives; a reload takes both files from the cache;
// - the page loads (one thread, and the footer says why), trains the
//   default recipe (3 epochs at lr 0.01, as page.test.mjs's quick run) and
//   scores a typed review;
// - a reload starts from the browser's cache: the packed shard is not
//   requested again, not even when site.json cannot be fetched; the kept
//   copy is the unpacked shard, and one damaged is downloaded again;
// - a download cut short, or one with a damaged byte, is refused with a
//   message and a retry button; after the retry (the file whole again) the
//   page is ready.
//
//   node --test tests/browser/site.test.mjs   (needs web/engine/, data/imdb.shard)
//   SITE_PACKING=ids node --test tests/browser/site.test.mjs

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, stat, symlink, realpath } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { startPlainServer } from './plain-server.mjs';
import { ROOT, SHARD, CHROMIUM, CHROMIUM_ARGS, POSITIVE_REVIEW, NEGATIVE_REVIEW, phaseIs, pg, typeReview, trainAndWatch, assertClean } from './harness.mjs';

const run = promisify(execFile);
let tmp, site, server, url, browser, manifest;
const requests = new Map(); // path -> count
const IDS = process.env.SITE_PACKING === 'ids';
const damage = { mode: 'none' }; // 'cut' or 'flip': what the server does to the packed shard; 'cutTest' to the test file
// The test file held back: hold.promise is what its answer waits for (none: at once).
const hold = { promise: null, release: () => {} };
function holdTestFile() {
  hold.promise = new Promise((resolve) => { hold.release = () => { hold.promise = null; resolve(); }; });
}
const TEST_FILE = '/data/imdb-test.shard.nnz';

function alter(p, body) {
  if (p === TEST_FILE && damage.mode === 'cutTest') return body.subarray(0, Math.floor(body.length / 2));
  if (!p.endsWith('.nnz') || damage.mode === 'none' || p === TEST_FILE || damage.mode === 'cutTest') return body;
  if (damage.mode === 'cut') return body.subarray(0, Math.floor(body.length / 2));
  const bad = Buffer.from(body);
  bad[Math.floor(bad.length / 2)] ^= 0x55;
  return bad;
}

before(async () => {
  await stat(SHARD).catch(() => { throw new Error(`${SHARD} is missing: build it with scripts/setup.sh`); });
  tmp = await mkdtemp(path.join(tmpdir(), 'imdb-site-'));
  const data = path.join(tmp, 'data');
  site = path.join(tmp, 'dist');
  await mkdir(data);
  await symlink(await realpath(SHARD), path.join(data, 'imdb.shard'));
  const { stdout } = await run(path.join(ROOT, 'scripts', 'build-site.sh'), ['--out', site, '--data', data, ...(IDS ? ['--ids'] : [])], { cwd: ROOT, maxBuffer: 1 << 20 });
  assert.match(stdout, /^\s*\d+ {2}data\/imdb\.shard\.nnz$/m, 'build-site.sh lists the packed shard and its size');
  assert.match(stdout, /^\s*\d+ {2}data\/imdb-test\.shard\.nnz$/m, 'and the packed test reviews');
  assert.match(stdout, /^\s*\d+ {2}engine\/engine-mt\.wasm$/m, 'build-site.sh lists the two-thread engine');
  assert.match(stdout, /^\s*\d+ {2}vendor\/chart\.umd\.js$/m, 'build-site.sh lists Chart.js');
  assert.match(stdout, /^\s*\d+ {2}total \(/m, 'build-site.sh prints the total');
  manifest = JSON.parse(await readFile(path.join(site, 'data', 'site.json'), 'utf8'));
  assert.deepEqual(manifest.files['imdb.shard']?.test, { file: 'imdb-test.shard', reviews: 25000 }, 'site.json names the test file of imdb.shard');
  assert.ok(manifest.files['imdb-test.shard']?.bytes > 0, 'and lists it');
  assert.equal(manifest.files['imdb.shard'].bytes + manifest.files['imdb-test.shard'].bytes > (await stat(SHARD)).size, true, 'the two hold the whole shard');
  if (IDS) {
    assert.equal(manifest.files['imdb.shard']?.transform, 3, 'the IMDB shard is packed with transform 3 (coded ids)');
    assert.match(stdout, /^\s*\d+ {2}engine\/packed_ids\.wasm$/m, 'build-site.sh lists the ids decoder');
  } else {
    assert.equal(manifest.files['imdb.shard']?.transform, 2, 'the IMDB shard is packed with transform 2 (one or two bytes per id)');
  }
  ({ server, url } = await startPlainServer(await realpath(site), {
    onRequest: (p) => requests.set(p, (requests.get(p) || 0) + 1), alter, hold: (p) => (p === TEST_FILE && hold.promise) || null,
  }));
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  server?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function openPage(context, hash, allowConsole = []) {
  const page = await context.newPage();
  const problems = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !allowConsole.some((re) => re.test(msg.text()))) problems.push(`console.error: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page exception: ${err.message}`));
  await page.goto(url + hash);
  return { page, problems };
}

test('the built site on a plain server: loads with one thread, trains, scores, and a reload takes the shard from the cache', async () => {
  const context = await browser.newContext();
  const { page, problems } = await openPage(context, '#epochs=3&lr=0.01');
  await phaseIs(page, ['ready'], 120000);
  assert.equal(requests.get('/data/imdb.shard.nnz'), 1, 'the packed shard was downloaded once');
  assert.equal(requests.get('/data/imdb.shard') || 0, 0, 'the raw shard was never requested');
  // The page itself (data-early.js, before any module) fetched it, and the
  // worker read that download: the document's resource timeline has it.
  assert.ok(await pg(page, () => performance.getEntriesByType('resource').some((e) => e.name.endsWith('/data/imdb.shard.nnz'))),
    'the page started the download before its modules loaded');
  assert.equal(await pg(page, () => self.crossOriginIsolated), false, 'the plain server gives no isolation');
  assert.match(await page.textContent('#engine-threads'), /one thread \(this host does not send the COOP\/COEP headers/);
  await phaseIs(page, ['ready'], 120000);
  await page.waitForFunction(() => window.__playground?.shardInfo?.splits?.test === 25000, null, { timeout: 120000, polling: 100 });
  assert.equal(requests.get(TEST_FILE), 1, 'the test reviews were downloaded once, after');
  await trainAndWatch(page);
  const testResult = await pg(page, () => window.__playground.test);
  assert.ok(testResult && testResult.acc > 0.7, `test accuracy ${JSON.stringify(testResult)}`);
  const neg = await typeReview(page, NEGATIVE_REVIEW);
  assert.ok(neg.score < 0.5, `negative review scores ${neg.score}`);
  const pos = await typeReview(page, POSITIVE_REVIEW);
  assert.ok(pos.score > 0.5, `positive review scores ${pos.score}`);

  await page.reload();
  await phaseIs(page, ['ready', 'done'], 120000);
  assert.equal(requests.get('/data/imdb.shard.nnz'), 1, 'the reload took the packed shard from the cache, not the network');
  await page.waitForFunction(() => window.__playground?.shardInfo?.splits?.test === 25000, null, { timeout: 120000, polling: 100 });
  assert.equal(requests.get(TEST_FILE), 1, 'and the test reviews too');
  assert.match(await page.textContent('#shard-detail'), /reviews|cache/);

  // Without site.json (the connection lost), the kept copy still starts it,
  // and the test reviews come from theirs (the entry kept beside the shard
  // names their file).
  const manifests = requests.get('/data/site.json');
  await context.route('**/data/site.json', (route) => route.abort('internetdisconnected'));
  await page.reload();
  await phaseIs(page, ['ready', 'done'], 120000);
  assert.equal(requests.get('/data/site.json'), manifests, 'site.json did not reach the server');
  assert.equal(requests.get('/data/imdb.shard.nnz'), 1, 'the kept copy was used');
  await page.waitForFunction(() => window.__playground?.shardInfo?.splits?.test === 25000, null, { timeout: 120000, polling: 100 });
  assert.equal(requests.get(TEST_FILE), 1, 'offline, the test reviews came from their kept copy');
  await context.unroute('**/data/site.json');

  // The copy is kept unpacked (a warm start decodes nothing), and one that
  // fails its CRC-32 is dropped and the shard downloaded again.
  const kept = await pg(page, async () => {
    const cache = await caches.open('nn-playground-data');
    const keys = (await cache.keys()).filter((r) => r.url.includes('imdb.shard.nnz'));
    const bytes = new Uint8Array(await (await cache.match(keys[0])).arrayBuffer());
    bytes[bytes.length >> 1] ^= 0x40;
    await cache.put(keys[0], new Response(bytes));
    return { keys: keys.map((r) => r.url), length: bytes.length };
  });
  assert.equal(kept.keys.length, 1, `one kept copy: ${kept.keys}`);
  assert.match(kept.keys[0], /imdb\.shard\.nnz\?crc32=\d+&form=unpacked$/);
  assert.equal(kept.length, manifest.files['imdb.shard'].bytes, 'the kept copy is the unpacked shard (the vocabulary and training reviews)');
  await page.reload();
  await phaseIs(page, ['ready', 'done'], 120000);
  assert.equal(requests.get('/data/imdb.shard.nnz'), 2, 'the damaged kept copy was dropped and the shard downloaded again');
  assertClean(problems.filter((p) => !/ERR_INTERNET_DISCONNECTED/.test(p)), 'the built site');
  await context.close();
});

for (const [mode, what] of [['cut', /cut short/], ['flip', /cut short/]]) {
  test(`a ${mode === 'cut' ? 'truncated' : 'corrupted'} download is refused with a message and a retry that works`, async () => {
    const context = await browser.newContext(); // a new, empty cache
    damage.mode = mode;
    const { page, problems } = await openPage(context, '', [/.*/]);
    try {
      await phaseIs(page, ['failed'], 120000);
      const error0 = await page.textContent('#error-text');
      assert.match(await page.textContent('#shard-help-what'), what, error0);
      const error = await page.textContent('#error-text');
      assert.match(error, mode === 'cut' ? /stopped after \d+ of \d+ bytes: it is truncated/ : /corrupt/);
      assert.ok(await page.isVisible('#shard-retry'), 'a retry button is offered');
      assert.ok(await page.isHidden('#shard-help pre.build-help'), 'no build instructions for a failed download');
      assert.equal(await pg(page, () => window.__playground.phase), 'failed', 'no half-loaded shard: the page is not ready');
      damage.mode = 'none';
      await Promise.all([page.waitForNavigation(), page.click('#shard-retry')]); // the retry reloads the page
      await page.waitForFunction(() => window.__playground?.phase === 'ready', null, { timeout: 120000, polling: 50 });
    } finally {
      damage.mode = 'none';
    }
    assert.ok(problems.every((p) => !/page exception/.test(p)), problems.join('\n'));
    await context.close();
  });
}

test('with the test reviews held back the page is ready and trains; the run waits for them, then gives its test result; a reload takes both from the cache', async () => {
  const context = await browser.newContext(); // a new, empty cache
  const before = requests.get(TEST_FILE) || 0;
  holdTestFile();
  try {
    const { page, problems } = await openPage(context, '#epochs=1&lr=0.01');
    await phaseIs(page, ['ready'], 120000);
    assert.equal(await pg(page, () => window.__playground.shardInfo.splits.test ?? 0), 0, 'ready without the test reviews');
    assert.equal(await pg(page, () => window.__playground.shardInfo.test_pending), 25000, 'and says 25,000 are coming');
    assert.match(await page.textContent('#test-detail'), /test reviews/i, 'the page shows the test download');
    assert.match(await page.textContent('#status'), /to test \(downloading\)/);
    await page.click('#btn-train');
    await page.waitForFunction(() => /Waiting for the test reviews/.test(document.getElementById('status')?.textContent), null, { timeout: 300000, polling: 50 });
    assert.equal(await pg(page, () => window.__playground.phase), 'training', 'the run waits at its end');
    hold.release();
    await page.waitForFunction(() => window.__playground.phase === 'done' && window.__playground.test, null, { timeout: 300000, polling: 50 });
    const testResult = await pg(page, () => window.__playground.test);
    assert.ok(testResult.acc > 0.6, `test accuracy after the wait ${JSON.stringify(testResult)}`);
    assert.equal(requests.get(TEST_FILE), before + 1, 'the test file was downloaded once');

    await page.reload();
    await phaseIs(page, ['ready', 'done'], 120000);
    await page.waitForFunction(() => window.__playground?.shardInfo?.splits?.test === 25000, null, { timeout: 120000, polling: 100 });
    assert.equal(requests.get(TEST_FILE), before + 1, 'the reload took the test reviews from the cache');
    assertClean(problems, 'the page with the test reviews held back');
  } finally {
    hold.release();
    await context.close();
  }
});

test('a test file cut short: the page still trains, says the test reviews could not be downloaded, offers the retry, and the run ends without a test result', async () => {
  const context = await browser.newContext(); // a new, empty cache
  damage.mode = 'cutTest';
  try {
    const { page, problems } = await openPage(context, '#epochs=1&lr=0.01', [/test reviews|Failed to load/]);
    await phaseIs(page, ['ready'], 120000);
    await page.waitForFunction(() => /could not be downloaded/.test(document.getElementById('test-detail')?.textContent), null, { timeout: 120000, polling: 50 });
    assert.match(await page.textContent('#test-detail'), /stopped after \d+ of \d+ bytes: it is truncated/);
    assert.ok(await page.isVisible('#shard-retry'), 'the retry button is offered');
    assert.equal(await pg(page, () => window.__playground.phase), 'ready', 'the page is still ready to train');
    await page.click('#btn-train');
    await page.waitForFunction(() => window.__playground.phase === 'done', null, { timeout: 300000, polling: 50 });
    assert.equal(await pg(page, () => window.__playground.test), null, 'no test result');
    assert.match(await page.textContent('#status'), /no test result: the test reviews could not be downloaded/);
    damage.mode = 'none';
    await Promise.all([page.waitForNavigation(), page.click('#shard-retry')]); // the retry reloads the page
    await phaseIs(page, ['ready', 'done'], 120000);
    await page.waitForFunction(() => window.__playground?.shardInfo?.splits?.test === 25000, null, { timeout: 120000, polling: 100 });
    assert.ok(problems.every((p) => !/page exception/.test(p)), problems.join('\n'));
  } finally {
    damage.mode = 'none';
    await context.close();
  }
});
