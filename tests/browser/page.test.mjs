// page.test.mjs: the playground page, end to end, in a real headless Chromium.
//
// Starts scripts/serve.mjs on a free port (serving a temporary data folder
// that holds a link to data/imdb.shard plus damaged copies of it), opens the
// page with playwright-core driving the system Chromium (/usr/bin/chromium,
// never a downloaded browser, a fresh profile every run), and fails on ANY
// console error or uncaught exception in the page or its worker.
//
//   node --test tests/browser/            (scripts/test-browser.sh does the setup)
//   SKIP_FULL_RECIPE=1 node --test tests/browser/   skips the 40-epoch test
//   CHROMIUM=/path/to/chromium            another Chromium binary
//
// It reads the page through window.__playground, a read-only hook that
// returns copies of the page's state; it never changes the page through it.
// Deliberately not here: timing assertions (the full recipe prints its time).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  SHARD, ARTIFACTS, POSITIVE_REVIEW, NEGATIVE_REVIEW,
  startSession, pg, phaseIs, typeReview, assertClean, crc32, nativeHistory, historyDifference,
} from './harness.mjs';

let session; // the served page and Chromium (harness.mjs)
let server; // { url }
const openPage = (...args) => session.openPage(...args);

// ---------------------------------------------------------------- fixtures

before(async () => {
  session = await startSession('page', { acceptDownloads: true });
  server = { url: session.url };
  // Beside the real shard: a bit-flipped copy and a copy from a "future"
  // format version.
  const bytes = await readFile(SHARD);
  const corrupt = Buffer.from(bytes);
  corrupt[Math.floor(corrupt.length / 2)] ^= 0x10;
  await writeFile(path.join(session.dataDir, 'corrupt.shard'), corrupt);
  const stale = Buffer.from(bytes);
  // A format version the engine does not read: versions 1 and 2 both load since
  // labelled-text shards (version 2), so one past the newest, not past the file's.
  stale.writeUInt32LE(Math.max(stale.readUInt32LE(8), 2) + 1, 8); // format version
  stale.writeUInt32LE(crc32(stale.subarray(0, 60)), 60); // keep the header checksum right
  await writeFile(path.join(session.dataDir, 'stale.shard'), stale);
});

after(async () => {
  await session?.close();
});

// ------------------------------------------------------------------- tests

test('serve.mjs sends the isolation and security headers and refuses path traversal', async () => {
  const res = await fetch(`${server.url}index.html`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('cross-origin-opener-policy'), 'same-origin');
  assert.equal(res.headers.get('cross-origin-embedder-policy'), 'require-corp');
  assert.equal(res.headers.get('cross-origin-resource-policy'), 'same-origin');
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  const csp = res.headers.get('content-security-policy');
  for (const part of ["default-src 'self'", "script-src 'self' 'wasm-unsafe-eval'", "object-src 'none'", "frame-ancestors 'none'"]) {
    assert.ok(csp.includes(part), `CSP has ${part}: ${csp}`);
  }
  assert.ok(!csp.includes('unsafe-inline') && !csp.includes("'unsafe-eval'"), `CSP allows no inline code or eval: ${csp}`);

  const wasm = await fetch(`${server.url}engine/engine.wasm`, { method: 'HEAD' });
  assert.equal(wasm.headers.get('content-type'), 'application/wasm');
  const js = await fetch(`${server.url}app.js`, { method: 'HEAD' });
  assert.match(js.headers.get('content-type'), /^text\/javascript/);
  const shard = await fetch(`${server.url}data/imdb.shard`, { method: 'HEAD' });
  assert.equal(Number(shard.headers.get('content-length')), (await stat(SHARD)).size);
  assert.equal(shard.headers.get('cache-control'), 'no-cache');

  for (const evil of ['data/..%2f..%2fpackage.json', 'data/%2e%2e/%2e%2e/package.json', '..%2fpackage.json', 'data/..%5c..%5cpackage.json']) {
    const r = await fetch(`${server.url}${evil}`);
    assert.ok(r.status === 403 || r.status === 404, `${evil} is refused (got ${r.status})`);
    assert.ok(!(await r.text()).includes('"devDependencies"'), `${evil} does not leak package.json`);
  }
});

// Three epochs of the exact recipe (lr 0.001) only reach about 70% validation
// accuracy (the tutorial needs ~10 epochs to pass 80%), so the quick run
// raises the learning rate to 0.01, which passes 85% in three epochs.
// It trains at the 'watch' pace (about 1.5 s per epoch), so pausing after
// the first batch is not a race with a run that takes ~60 ms at full speed.
const QUICK = '#epochs=3&lr=0.01&pace=watch';

test('the page trains 3 epochs, pauses and resumes, scores typed reviews, and round-trips a model file', async () => {
  const { page, problems } = await openPage(QUICK);
  await phaseIs(page, ['ready'], 120000);
  assert.equal(await page.inputValue('#epochs'), '3', 'the hash set the epochs control');
  assert.equal(await page.inputValue('#lr'), '0.01', 'the hash set the learning rate control');
  assert.equal(await page.inputValue('#vocab_size'), '10000', 'other controls keep their defaults');
  assert.ok(await page.isHidden('#hash-note'), 'a valid hash gives no note');

  // Train, and pause right after the first batch arrives (from inside the
  // page, so a fast engine cannot finish first).
  await page.click('#btn-train');
  await page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const t0 = performance.now();
        const poll = () => {
          const p = window.__playground;
          if (p.phase === 'training' && p.progress && p.progress.batch >= 1) {
            document.getElementById('btn-pause').click();
            resolve();
          } else if (p.phase === 'done' || performance.now() - t0 > 60000) {
            reject(new Error(`could not pause: phase ${p.phase}`));
          } else {
            setTimeout(poll, 1);
          }
        };
        poll();
      }),
  );
  await phaseIs(page, ['paused']);
  assert.match(await page.textContent('#status'), /Paused/);
  const pausedAt = await pg(page, () => window.__playground.progress);
  const pausedBatches = await pg(page, () => window.__playground.charts().loss.batch.length);
  await page.waitForTimeout(800);
  assert.deepEqual(await pg(page, () => window.__playground.progress), pausedAt, 'no batches while paused');
  assert.equal(await pg(page, () => window.__playground.charts().loss.batch.length), pausedBatches);
  assert.ok(await page.isEnabled('#btn-resume'));
  await page.click('#btn-resume');
  await phaseIs(page, ['training', 'done']);
  await phaseIs(page, ['done'], 300000);

  // Both charts hold training and validation points for every epoch.
  const charts = await pg(page, () => window.__playground.charts());
  for (const name of ['loss', 'acc']) {
    assert.equal(charts[name].train.length, 3, `${name} chart has 3 training epoch points`);
    assert.equal(charts[name].val.length, 3, `${name} chart has 3 validation epoch points`);
    // Every batch of every epoch reaches the per-batch line (the worker
    // bundles them): 3 epochs of 30 batches (15,000 reviews, batch 512).
    assert.equal(charts[name].batch.length, 90, `${name} chart has a per-batch point for every batch`);
    assert.ok(charts[name].batch.every((p, i, a) => i === 0 || p.x >= a[i - 1].x), `${name} batch x is sorted`);
  }
  assert.ok(charts.bestEpoch >= 1 && charts.bestEpoch <= 3, `best epoch marked (${charts.bestEpoch})`);
  const history = await pg(page, () => window.__playground.history);
  assert.equal(history.length, 3);
  const valAcc = history[2].val_acc;
  console.log(`3 epochs: val_acc ${valAcc.toFixed(4)}, history ${JSON.stringify(history)}`);
  assert.ok(valAcc > 0.75, `validation accuracy after 3 epochs is ${valAcc}, expected > 0.75`);
  const testResult = await pg(page, () => window.__playground.test);
  assert.ok(testResult && testResult.acc > 0.7, `test accuracy shown (${JSON.stringify(testResult)})`);
  assert.match(await page.textContent('#status'), /test accuracy \d+\.\d%/);

  // Typed reviews land on the right sides of 0.5, with coloured words.
  const neg = await typeReview(page, NEGATIVE_REVIEW);
  assert.ok(neg.score < 0.5, `negative review scores ${neg.score}`);
  assert.match(await page.textContent('#score-text'), /negative/);
  assert.ok((await page.locator('#words .word.neg').count()) > 0, 'negative words are coloured');
  const pos = await typeReview(page, POSITIVE_REVIEW);
  assert.ok(pos.score > 0.5, `positive review scores ${pos.score}`);
  assert.match(await page.textContent('#score-text'), /positive/);
  const words = page.locator('#words .word');
  assert.ok((await words.count()) >= 20, 'each word of the review is wrapped');
  assert.ok((await page.locator('#words .word.pos').count()) > 0, 'positive words are coloured');
  assert.equal(await page.textContent('#words'), POSITIVE_REVIEW, 'the coloured copy is the text itself');
  assert.equal(await page.getAttribute('#score', 'aria-live'), 'polite');
  await page.screenshot({ path: path.join(ARTIFACTS, 'page-trained.png'), fullPage: true });

  // Typing fast: only the newest text ends up scored.
  await page.fill('#review-text', 'bad');
  await page.fill('#review-text', 'awful');
  const last = await typeReview(page, 'great');
  assert.equal(last.text, 'great');

  // A random test review comes with its true label.
  await page.click('#btn-random');
  await page.waitForFunction(() => /True label: (positive|negative)/.test(document.getElementById('true-label').textContent));
  assert.ok((await page.inputValue('#review-text')).length > 20);

  // Download the model and load it back: config and history come back.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#btn-download')]);
  const ckptPath = path.join(session.dataDir, 'model.nnckpt');
  await download.saveAs(ckptPath);
  assert.ok((await stat(ckptPath)).size > 10000 * 16 * 4, 'the model file holds the embedding');
  await page.click('#btn-reset');
  await phaseIs(page, ['ready']);
  assert.equal((await pg(page, () => window.__playground.charts())).loss.val.length, 0, 'reset clears the charts');
  await page.fill('#epochs', '7');
  await page.dispatchEvent('#epochs', 'change');
  assert.match(await pg(page, () => location.hash), /epochs=7/, 'controls are mirrored to the hash');
  await page.setInputFiles('#checkpoint-file', ckptPath);
  await page.waitForFunction(() => window.__playground.phase === 'done' && window.__playground.test, null, { timeout: 60000 });
  assert.equal(await page.inputValue('#epochs'), '3', 'the checkpoint restored its config');
  assert.equal(await page.inputValue('#lr'), '0.01', 'the checkpoint restored its learning rate');
  assert.deepEqual(await pg(page, () => window.__playground.history), history, 'the checkpoint restored its history');
  assert.equal((await pg(page, () => window.__playground.charts())).acc.val.length, 3, 'the charts show it');
  const reloadedTest = await pg(page, () => window.__playground.test);
  assert.ok(Math.abs(reloadedTest.acc - testResult.acc) < 1e-6, `same test accuracy after reload (${reloadedTest.acc} vs ${testResult.acc})`);

  assertClean(problems, 'trained page');
  await page.close();
});

test('the layout works at 375 px: one column, no sideways scrolling, charts fit', async () => {
  const { page, problems } = await openPage('#epochs=1', { viewport: { width: 375, height: 812 } });
  await phaseIs(page, ['ready'], 120000);
  await page.click('#btn-train');
  await phaseIs(page, ['done'], 300000);
  await typeReview(page, POSITIVE_REVIEW);
  const layout = await page.evaluate(async () => {
    // Every canvas that is shown (a hidden one, e.g. the second word map, has
    // no layout), looked at as a reader would: scrolled into view, since the
    // panels below the first screen are laid out, and their charts sized,
    // when they come into view (content-visibility: auto; style.css).
    const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
    const canvases = [];
    for (const c of document.querySelectorAll('canvas')) {
      if (c.getClientRects().length === 0) continue;
      c.scrollIntoView({ block: 'center' });
      for (let i = 0; i < 30 && c.getBoundingClientRect().width === 0; i++) await frame();
      canvases.push(c.getBoundingClientRect().width);
    }
    window.scrollTo(0, 0);
    return {
      scrollWidth: document.documentElement.scrollWidth,
      canvases,
      controlsRight: document.getElementById('controls').getBoundingClientRect().right,
      resultsLeft: document.querySelector('.results').getBoundingClientRect().left,
    };
  });
  assert.ok(layout.scrollWidth <= 375, `no horizontal scroll (scrollWidth ${layout.scrollWidth})`);
  for (const w of layout.canvases) assert.ok(w > 250 && w <= 375, `chart width ${w} fits the phone`);
  assert.ok(layout.resultsLeft < layout.controlsRight, 'results stack under the controls');
  await page.screenshot({ path: path.join(ARTIFACTS, 'page-375.png'), fullPage: true });
  assertClean(problems, '375 px page');
  await page.close();
});

test('every control has a label and the page works from the keyboard', async () => {
  const { page, problems } = await openPage('');
  await phaseIs(page, ['ready'], 120000);
  const unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll('input, select, textarea, button')]
      .filter((el) => !(el.labels && el.labels.length) && !el.textContent.trim() && !el.getAttribute('aria-label'))
      .map((el) => el.id || el.outerHTML.slice(0, 60)),
  );
  assert.deepEqual(unlabelled, []);
  // Tab to the Train button and press Enter.
  let focused = '';
  for (let i = 0; i < 40 && focused !== 'btn-train'; i++) {
    await page.keyboard.press('Tab');
    focused = await page.evaluate(() => document.activeElement.id);
  }
  assert.equal(focused, 'btn-train', 'Train is reachable with Tab');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, 'none', 'focus is visible');
  await page.keyboard.press('Enter');
  await phaseIs(page, ['training', 'done']);
  await page.click('#btn-stop');
  await phaseIs(page, ['stopped', 'done']);
  assertClean(problems, 'keyboard page');
  await page.close();
});

test('a bad value in the link falls back to its default with a visible note', async () => {
  const { page, problems } = await openPage('#epochs=abc&lr=-1&bogus=1&maxlen=128');
  await phaseIs(page, ['ready'], 120000);
  assert.equal(await page.inputValue('#epochs'), '40');
  assert.equal(await page.inputValue('#lr'), '0.001');
  assert.equal(await page.inputValue('#maxlen'), '128');
  assert.ok(await page.isVisible('#hash-note'));
  const note = await page.textContent('#hash-note');
  assert.match(note, /epochs/);
  assert.match(note, /lr/);
  assert.match(note, /bogus/);
  assertClean(problems, 'bad-hash page');
  await page.close();
});

for (const [name, file, expect] of [
  ['corrupted (one bit flipped)', 'corrupt.shard', /damaged/],
  ['stale (another format version)', 'stale.shard', /different version/],
  ['missing', 'missing.shard', /not there yet/],
]) {
  test(`a ${name} shard shows how to build it, not a blank page`, async () => {
    const { page, problems } = await openPage(`#epochs=3&shard=data/${file}`, {
      // The browser itself logs a failed fetch of the missing file.
      allowConsole: file === 'missing.shard' ? [/404/] : [],
    });
    await phaseIs(page, ['failed'], 120000);
    assert.ok(await page.isVisible('#error'), 'the error region is shown');
    assert.equal(await page.getAttribute('#error', 'role'), 'alert');
    assert.ok((await page.textContent('#error-text')).length > 20, 'the engine message is shown');
    assert.ok(await page.isVisible('#shard-help'), 'the build explanation is shown');
    assert.match(await page.textContent('#shard-help'), /scripts\/setup\.sh/);
    assert.match(await page.textContent('#shard-help-what'), expect);
    assert.ok(await page.isDisabled('#btn-train'));
    assertClean(problems, `${name} shard page`);
    await page.close();
  });
}

test(
  'the full Keras recipe (40 epochs) reaches 86.5% test accuracy and overfits the way the tutorial shows',
  { skip: process.env.SKIP_FULL_RECIPE ? 'SKIP_FULL_RECIPE is set' : false, timeout: 30 * 60 * 1000 },
  async () => {
    const { page, problems } = await openPage('');
    await phaseIs(page, ['ready'], 120000);
    assert.equal(await page.inputValue('#epochs'), '40');
    const t0 = Date.now();
    await page.click('#btn-train');
    await phaseIs(page, ['done'], 30 * 60 * 1000);
    const wallMs = Date.now() - t0;
    const history = await pg(page, () => window.__playground.history);
    const testResult = await pg(page, () => window.__playground.test);
    const runMs = await pg(page, () => window.__playground.lastRunMs);
    console.log(`full recipe: 40 epochs in ${Math.round(runMs ?? wallMs)} ms (engine), ${wallMs} ms (wall); test acc ${testResult.acc.toFixed(4)}, loss ${testResult.loss.toFixed(4)}`);
    assert.equal(history.length, 40);
    assert.ok(testResult.acc >= 0.865, `test accuracy ${testResult.acc} >= 0.865`);
    const valLoss = history.map((h) => h.val_loss);
    const best = valLoss.indexOf(Math.min(...valLoss));
    console.log(`lowest val_loss ${valLoss[best].toFixed(4)} at epoch ${best + 1}; last ${valLoss[39].toFixed(4)}`);
    assert.ok(best < 39, `val_loss is lowest before the last epoch (epoch ${best + 1})`);
    const loss = history.map((h) => h.loss);
    assert.equal(loss.indexOf(Math.min(...loss)), 39, 'training loss is lowest at the last epoch');
    assert.ok(loss[39] < loss[best], 'training loss keeps falling after the best validation epoch');
    assert.equal((await pg(page, () => window.__playground.charts())).bestEpoch, best + 1, 'the chart marks that epoch');

    // At full speed an epoch ends every few ms and the charts redraw at
    // their own pace, yet every point arrives: 40 epoch points on each
    // chart, every batch of every epoch on the per-batch line, and, once
    // the pacer has drawn them, 40 drawn points on both charts.
    const charts = await pg(page, () => window.__playground.charts());
    const batches = Math.ceil(15000 / 512) * 40;
    for (const name of ['loss', 'acc']) {
      assert.equal(charts[name].train.length, 40, `${name}: a training point for every epoch`);
      assert.equal(charts[name].val.length, 40, `${name}: a validation point for every epoch`);
      assert.equal(charts[name].batch.length, batches, `${name}: a per-batch point for each of the ${batches} batches`);
    }
    const drawn = () => ['chart-loss', 'chart-acc'].map((id) => globalThis.Chart.getChart(document.getElementById(id)).getDatasetMeta(1).data.length);
    await page.waitForFunction(() => ['chart-loss', 'chart-acc'].every((id) => globalThis.Chart.getChart(document.getElementById(id)).getDatasetMeta(1).data.length === 40), null, { timeout: 10000, polling: 50 }).catch(() => {});
    assert.deepEqual(await pg(page, drawn), [40, 40], 'both charts draw all 40 epochs');

    // The charts below the fold are drawn once they are scrolled into view:
    // the embedding statistics (a point per epoch) and the word map.
    const statsDrawn = () => globalThis.Chart.getChart(document.getElementById('embed-stats')).getDatasetMeta(0).data.length;
    const mapDrawn = () => globalThis.Chart.getChart(document.getElementById('embed-map')).getDatasetMeta(0).data.length;
    await page.locator('#embed-stats').scrollIntoViewIfNeeded();
    await page.waitForFunction(() => globalThis.Chart.getChart(document.getElementById('embed-stats')).getDatasetMeta(0).data.length === 40, null, { timeout: 10000, polling: 50 }).catch(() => {});
    assert.equal(await pg(page, statsDrawn), 40, 'the embedding statistics chart draws all 40 epochs in view');
    await page.locator('#embed-map').scrollIntoViewIfNeeded();
    const words = await pg(page, () => window.__playground.embeddings().points.length);
    await page.waitForFunction((n) => globalThis.Chart.getChart(document.getElementById('embed-map')).getDatasetMeta(0).data.length === n, words, { timeout: 10000, polling: 50 }).catch(() => {});
    assert.ok(words > 0, 'the word map has words');
    assert.equal(await pg(page, mapDrawn), words, 'the word map draws its words in view');

    // The same seed gives the same history natively: the page's engine is
    // the native engine, compiled to wasm (every epoch's losses within 1e-4).
    const native = await nativeHistory();
    const worst = historyDifference(history, native);
    console.log(`browser vs native history: largest difference ${worst.toExponential(2)}`);
    assert.ok(worst <= 1e-4, `the browser's history equals the native trainer's within 1e-4 (worst ${worst})`);
    assert.ok(Math.abs(testResult.acc - native.test.accuracy) <= 1e-4, 'and so does the test accuracy');
    assertClean(problems, 'full recipe page');
    await page.close();
  },
);
