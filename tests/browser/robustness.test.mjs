// robustness.test.mjs: the page under bad input, divergence, a crashed
// engine and a reload, and its security, in a real headless Chromium.
//
//   node --test tests/browser/robustness.test.mjs
//
// The shared harness (harness.mjs): scripts/serve.mjs on a free port (its
// /data/ is a temporary folder linking the real shard, plus the probe files
// and model files written here), /usr/bin/chromium with a fresh profile, and
// any console error or uncaught exception fails a test unless that test
// expects it (a CSP refusal, say). Each test starts with nothing saved. The page is read through window.__playground;
// the engine is crashed through the worker's debug-only `debugTrap` request
// (the page's `?debug`), dispatched inside the worker with Playwright.
// Deliberately not here: timing assertions. A test that needs training to
// still be running uses the 'watch' pace and waits for events, not time.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SHARD, ARTIFACTS, startSession, pg, phaseIs, typeReview, assertClean, crc32, setControl } from './harness.mjs';

const REVIEW = 'A wonderful film with brilliant acting; I loved every minute of it.';

let session; // the served page and Chromium (harness.mjs)
let server; // { url }
let dataDir; // served under /data/
let checkpointPath; // a model file trained by the first test that needs one

// ------------------------------------------------------------------ helpers

// Opens the page at `at` (a hash, or '?debug#…') with nothing saved.
const openPage = (at, options) => session.openPage(at, options);

async function fieldMessage(page, id) {
  return pg(page, (i) => {
    const el = document.getElementById(`${i}-message`);
    return el && !el.hidden ? el.textContent : '';
  }, id);
}

// The page still works: it trains one epoch and scores a review.
async function assertStillTrains(page) {
  await setControl(page, 'epochs', '1');
  await page.click('#btn-train');
  await phaseIs(page, ['done']);
  const e = await typeReview(page, REVIEW);
  assert.ok(e.score >= 0 && e.score <= 1, `a review still scores (${e.score})`);
}

// A model file: trains one epoch on a fresh page and downloads it (once).
async function modelFile() {
  if (checkpointPath) return checkpointPath;
  const { page, problems } = await openPage('#epochs=1&lr=0.01');
  await phaseIs(page, ['ready']);
  await page.click('#btn-train');
  await phaseIs(page, ['done']);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#btn-download')]);
  checkpointPath = path.join(dataDir, 'model.nnckpt');
  await download.saveAs(checkpointPath);
  assertClean(problems, 'model file page');
  await page.close();
  return checkpointPath;
}

// Dispatches a request inside the page's engine worker, as the page would
// post it (its reply goes to the page, which ignores an id it did not send).
async function postInWorker(page, type, data = {}) {
  const worker = page.workers().at(-1);
  await worker.evaluate(
    ([t, d]) => self.dispatchEvent(new MessageEvent('message', { data: { id: `test-${t}`, type: t, data: d } })),
    [type, data],
  );
}

// ---------------------------------------------------------------- fixtures

before(async () => {
  session = await startSession('robust', { acceptDownloads: true });
  server = { url: session.url };
  dataDir = session.dataDir;
});

// A failed test leaves its page open; close it, so it neither holds the
// IndexedDB database nor trains on behind the next test.
afterEach(async () => {
  for (const page of session.context.pages()) await page.close().catch(() => {});
});

after(async () => {
  await session?.close();
});

// ------------------------------------------------- 3. bad input from users

for (const [name, id, value, expect] of [
  ['a learning rate of 100', 'lr', '100', /Learning rate must be a number above 0 and at most 10; keeping 0\.001/],
  ['a batch size of 0', 'batch_size', '0', /Batch size must be a whole number from 1 to 65536; keeping 512/],
  ['a max length of 0', 'maxlen', '0', /Max length \(tokens\) must be a whole number from 1 to 2048; keeping 256/],
  ['a max length of 100,000', 'maxlen', '100000', /Max length \(tokens\) must be a whole number from 1 to 2048; keeping 256/],
  ['a vocabulary larger than the shard’s', 'vocab_size', '40000', /Vocabulary size must be at most 32,768: the loaded reviews have only that many word ids/],
]) {
  test(`${name} is refused at its control, which keeps its value, and the page goes on training`, async () => {
    const { page, problems } = await openPage('#epochs=1');
    await phaseIs(page, ['ready']);
    const before = await pg(page, () => window.__playground.settings);
    await setControl(page, id, value);
    assert.match(await fieldMessage(page, id), expect, 'the message is at the control');
    assert.equal(await page.getAttribute(`#${id}`, 'aria-invalid'), 'true');
    const describedBy = await page.getAttribute(`#${id}`, 'aria-describedby');
    assert.ok(describedBy.split(' ').includes(`${id}-message`), 'the control is described by its message');
    assert.deepEqual(await pg(page, () => window.__playground.settings), before, 'the setting keeps its value');
    assert.ok(!(await pg(page, () => location.hash)).includes(`${id}=${value}`), 'the bad value is not in the link');
    await page.screenshot({ path: path.join(ARTIFACTS, `robust-control-${id}-${value}.png`) });
    // A good value clears the message; the page trains.
    await setControl(page, id, String(before[id]));
    assert.equal(await fieldMessage(page, id), '');
    assert.equal(await page.getAttribute(`#${id}`, 'aria-invalid'), null);
    await assertStillTrains(page);
    assertClean(problems, name);
    await page.close();
  });
}

test('a vocabulary larger than the shard’s in a link is reported at the control when the engine refuses it', async () => {
  const { page, problems } = await openPage('#vocab_size=40000&epochs=1');
  await phaseIs(page, ['ready']);
  assert.match(await page.textContent('#error-text'), /vocab_size is 40000 but the shard has 32768 ids/);
  assert.match(await fieldMessage(page, 'vocab_size'), /vocab_size is 40000/);
  await setControl(page, 'vocab_size', '10000');
  await assertStillTrains(page);
  assertClean(problems, 'vocabulary link');
  await page.close();
});

test('an empty (or blank) review asks for a review, without an error or a score', async () => {
  const { page, problems } = await openPage('#epochs=1');
  await phaseIs(page, ['ready']);
  await typeReview(page, REVIEW);
  for (const text of ['', '   \n\t  ']) {
    await page.fill('#review-text', text);
    await page.waitForFunction(() => window.__playground.explain === null && !window.__playground.explainBusy);
    assert.match(await page.textContent('#score-text'), /Type a review \(or pick a random one\) to see its score/);
    assert.equal(await page.locator('#words .word').count(), 0);
    assert.ok(await page.isHidden('#error'), 'no error');
  }
  await assertStillTrains(page);
  assertClean(problems, 'empty review');
  await page.close();
});

test('a 5 MB pasted review is scored whole, with a note instead of coloured words, and the page stays usable', async () => {
  const { page, problems } = await openPage('#epochs=1&lr=0.01');
  await phaseIs(page, ['ready']);
  await page.click('#btn-train');
  await phaseIs(page, ['done']);
  const length = await page.evaluate(() => {
    // What a paste does: the textarea's value changes, then an input event.
    const unit = 'This film was a complete waste of time, dull and badly acted. ';
    const text = unit.repeat(Math.ceil(5e6 / unit.length)).slice(0, 5e6);
    const area = document.getElementById('review-text');
    area.value = text;
    area.dispatchEvent(new InputEvent('input', { inputType: 'insertFromPaste' }));
    return text.length;
  });
  await page.waitForFunction((n) => window.__playground.explain?.length === n && !window.__playground.explainBusy, length, { timeout: 60000 });
  const e = await pg(page, () => window.__playground.explain);
  assert.equal(e.coloured, false);
  assert.ok(e.score >= 0 && e.score < 0.5, `the long negative review scores ${e.score}`);
  assert.match(await page.textContent('#score-text'), /negative/);
  assert.match(await page.textContent('#review-note'), /5,000,000 characters long\. It is scored \(the model reads only its last 256 tokens\)/);
  assert.equal(await page.locator('#words *').count(), 0, 'no word spans for a text this long');
  assert.ok(await page.isHidden('#error'));
  // Back to a normal review: coloured words, no note.
  const normal = await typeReview(page, REVIEW);
  assert.ok(normal.coloured && (await page.locator('#words .word').count()) > 5);
  assert.ok(await page.isHidden('#review-note'));
  assertClean(problems, '5 MB review');
  await page.close();
});

for (const [name, text, expect] of [
  ['only emoji', '😀🎬🍿 😡😡', /None of these words is among the 10,000 words the model knows/],
  ['only punctuation', '!!! ??? ... --- ;;; ***', /There are no words here, only punctuation or symbols/],
]) {
  test(`a review of ${name} is scored with a note that the model cannot read it`, async () => {
    const { page, problems } = await openPage('#epochs=1&lr=0.01');
    await phaseIs(page, ['ready']);
    await page.click('#btn-train');
    await phaseIs(page, ['done']);
    const e = await typeReview(page, text);
    assert.ok(e.score > 0 && e.score < 1, `scored ${e.score}`);
    assert.match(await page.textContent('#review-note'), expect);
    assert.match(await pg(page, () => window.__playground.reviewNote), expect);
    assert.equal(await page.textContent('#words'), text, 'the text is shown as it was typed');
    await typeReview(page, REVIEW);
    assert.ok(await page.isHidden('#review-note'), 'a normal review has no note');
    assertClean(problems, name);
    await page.close();
  });
}

// A model file changed the way a file from elsewhere would differ, with its
// checksum repaired so that the reader gets as far as the difference.
async function forgedCheckpoint(kind) {
  const bytes = Buffer.from(await readFile(await modelFile()));
  if (kind === 'version') {
    bytes.writeUInt32LE(bytes.readUInt32LE(8) + 1, 8); // the header's format version (outside the CRC)
  } else {
    const jsonLen = bytes.readUInt32LE(12);
    const json = bytes.subarray(32, 32 + jsonLen).toString('utf8');
    const m = /"vocab_crc":(\d+)/.exec(json);
    assert.ok(m, 'the checkpoint JSON has vocab_crc');
    const other = String((Number(m[1]) + 1) % 10 ** m[1].length).padStart(m[1].length, '1');
    bytes.write(`"vocab_crc":${other}`, 32 + m.index, 'utf8'); // same length
    const blobLen = Number(bytes.readBigUInt64LE(16));
    bytes.writeUInt32LE(crc32(bytes.subarray(32, 32 + jsonLen + blobLen)), 24);
  }
  const file = path.join(dataDir, `forged-${kind}.nnckpt`);
  await writeFile(file, bytes);
  return file;
}

for (const [kind, expect] of [
  ['vocabulary', /trained on another vocabulary .* than the loaded shard's/],
  ['version', /format version \d+, but this engine reads version \d+; it is newer than the engine/],
]) {
  test(`a model file from another ${kind} is refused with the engine's reason, and the page keeps its model`, async () => {
    const file = await forgedCheckpoint(kind);
    const { page, problems } = await openPage('#epochs=1&lr=0.01');
    await phaseIs(page, ['ready']);
    await page.click('#btn-train');
    await phaseIs(page, ['done']);
    const before = await typeReview(page, REVIEW);
    const history = await pg(page, () => window.__playground.history);
    await page.setInputFiles('#checkpoint-file', file);
    await page.waitForFunction(() => /Could not load the model file/.test(document.getElementById('error-text').textContent));
    assert.match(await page.textContent('#error-text'), expect);
    await phaseIs(page, ['done']);
    assert.deepEqual(await pg(page, () => window.__playground.history), history, 'the history is unchanged');
    await page.fill('#review-text', '');
    const after = await typeReview(page, REVIEW);
    assert.equal(after.score, before.score, 'the model is unchanged');
    assert.ok(await page.isEnabled('#btn-train'));
    assertClean(problems, `${kind} checkpoint`);
    await page.close();
  });
}

// ---------------------------------------------------------- 4. divergence

// SGD at the highest learning rate the page allows, two reviews per batch:
// with seed 1 the loss is 3.3e34 at batch 8 and NaN at batch 9, natively and
// in wasm alike (the engine is deterministic).
const DIVERGES = '#optimizer=sgd&lr=10&batch_size=2&epochs=1';

test('a diverging run stops with advice to lower the learning rate, marks the curves and keeps weights that still score', async () => {
  const { page, problems } = await openPage(DIVERGES);
  await phaseIs(page, ['ready']);
  await page.click('#btn-train');
  await phaseIs(page, ['stopped']);
  const status = await page.textContent('#status');
  assert.match(status, /^Training diverged: the loss became NaN at epoch 1, batch 9 \(the batch before had [0-9.]+e\+\d+\); the model keeps the last weights that gave a finite loss\. Lower the learning rate \(now 10\) and train again\.$/);
  assert.match(await fieldMessage(page, 'lr'), /Training diverged at 10 with SGD: try 1 or lower/);
  assert.equal(await page.getAttribute('#lr', 'aria-invalid'), null, 'advice, not an invalid value');
  assert.ok(await page.isHidden('#error'), 'a divergence is an outcome, not a page error');

  const charts = await pg(page, () => window.__playground.charts());
  assert.ok(Math.abs(charts.divergedAt - 9 / 7500) < 1e-9, `the mark is at batch 9 of 7500 (${charts.divergedAt})`);
  assert.equal(charts.lossScale, 'logarithmic', 'the loss axis is logarithmic');
  assert.equal(charts.loss.batch.length, 8, 'the 8 batches before it are on the curve');
  assert.ok(charts.loss.batch.every((p) => p.x < charts.divergedAt));
  assert.ok(charts.loss.batch.at(-1).y > 1e20, `the curve shows the loss exploding (${charts.loss.batch.at(-1).y})`);
  await page.locator('.charts').first().screenshot({ path: path.join(ARTIFACTS, 'robust-diverged.png') });

  // The kept weights: all finite, and they score reviews (saturated, since
  // they had already grown to ~1e13, but a probability, not NaN).
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#btn-download')]);
  const file = path.join(dataDir, 'diverged.nnckpt');
  await download.saveAs(file);
  const bytes = await readFile(file);
  const jsonLen = bytes.readUInt32LE(12);
  const blobLen = Number(bytes.readBigUInt64LE(16));
  const params = new Float32Array(bytes.buffer.slice(bytes.byteOffset + 32 + jsonLen, bytes.byteOffset + 32 + jsonLen + blobLen));
  assert.ok(params.length > 160000);
  assert.ok(params.every(Number.isFinite), 'every kept weight is finite');
  for (const text of [REVIEW, 'Awful, boring and far too long.']) {
    const e = await typeReview(page, text);
    assert.ok(e.score >= 0 && e.score <= 1, `“${text}” scores ${e.score}`);
  }
  const session = await pg(page, () => window.__playground.session);
  assert.equal(session.status, 'diverged', 'the kept model is saved');

  // A lower learning rate trains, and the mark goes away.
  await setControl(page, 'lr', '0.1');
  await setControl(page, 'batch_size', '512');
  await page.click('#btn-train');
  await phaseIs(page, ['done']);
  assert.equal(await fieldMessage(page, 'lr'), '', 'the advice goes with the new run');
  const after = await pg(page, () => window.__playground.charts());
  assert.equal(after.divergedAt, null);
  assert.equal(after.lossScale, 'linear');
  assertClean(problems, 'divergence');
  await page.close();
});

// --------------------------------------------------------- 5. worker faults

test('when the engine traps, the page says so, restarts it with the shard and the last saved model, and training continues', async () => {
  const { page, problems } = await openPage('?debug#epochs=3&lr=0.01&pace=watch');
  await phaseIs(page, ['ready']);
  await page.click('#btn-train');
  // The first epoch ends and its model is written; training goes on.
  await page.waitForFunction(() => window.__playground.session?.epochs === 1 && window.__playground.session.written, null, { timeout: 60000 });
  const saved = await pg(page, () => window.__playground.history.slice(0, 1));
  const workersBefore = page.workers().length;
  await postInWorker(page, 'debugTrap');
  await page.waitForFunction(() => window.__playground.restarts === 1 && window.__playground.phase === 'stopped', null, { timeout: 120000 });
  assert.ok(page.workers().length >= workersBefore, 'a new worker runs');
  assert.match(await page.textContent('#error-text'), /^The engine stopped \(a WebAssembly trap \(unreachable\)\) and was restarted: the reviews and your model from epoch 1 are back\.$/);
  assert.match(await page.textContent('#status'), /^The engine was restarted and your model is back: 1 of 3 epochs \(saved [0-9:]+\)\. Press Continue to train the remaining 2, or Train to start a new run\.$/);
  assert.deepEqual(await pg(page, () => window.__playground.history), saved, 'the saved epoch is back');
  assert.equal((await pg(page, () => window.__playground.charts())).loss.train.length, 1, 'and on the curves');
  assert.match(await page.textContent('#shard-detail'), /25,000 training and 25,000 test reviews/);
  const restored = await typeReview(page, REVIEW);
  assert.ok(restored.score > 0 && restored.score < 1, 'the restored model scores reviews');
  await page.screenshot({ path: path.join(ARTIFACTS, 'robust-restarted.png'), fullPage: true });

  // Continue: epochs 2 and 3 on top of epoch 1.
  assert.ok(await page.isVisible('#btn-continue'));
  await page.click('#btn-continue');
  await phaseIs(page, ['done'], 300000);
  await page.waitForFunction(() => window.__playground.test, null, { timeout: 60000 });
  const history = await pg(page, () => window.__playground.history);
  assert.equal(history.length, 3);
  assert.deepEqual(history[0], saved[0], 'epoch 1 is the restored one');
  assert.ok(history[2].val_acc > 0.75, `validation accuracy after epoch 3: ${history[2].val_acc}`);
  const charts = await pg(page, () => window.__playground.charts());
  assert.equal(charts.loss.val.length, 3);
  assert.equal(charts.loss.batch.length, 90, 'every batch of the three epochs is on the curve');
  assert.ok(charts.loss.batch.every((p, i, a) => i === 0 || p.x > a[i - 1].x), 'in order');
  assert.match(await page.textContent('#status'), /^Done: 3 epochs · validation accuracy/);
  assertClean(problems, 'restarted engine');
  await page.close();
});

test('the trap hook is refused without ?debug, and the engine keeps running', async () => {
  const { page, problems } = await openPage('#epochs=1&lr=0.01');
  await phaseIs(page, ['ready']);
  await postInWorker(page, 'debugTrap');
  // Requests are answered in order, so once this review is scored the trap
  // request has been refused (or it would have ended the worker first).
  await typeReview(page, REVIEW);
  assert.equal(await pg(page, () => window.__playground.restarts), 0);
  await assertStillTrains(page);
  assertClean(problems, 'no debug');
  await page.close();
});

// ---------------------------------------------------------- 6. nothing lost

// The training curves (the word map's marks are its own: not saved).
async function curves(page) {
  const c = await pg(page, () => window.__playground.charts());
  return { loss: c.loss, acc: c.acc, bestEpoch: c.bestEpoch, divergedAt: c.divergedAt, lossScale: c.lossScale };
}

test('a reload brings back the trained model, its curves and settings, and a typed review scores the same', async () => {
  const { page, problems } = await openPage('#epochs=3&lr=0.01&seed=7');
  await phaseIs(page, ['ready']);
  await page.click('#btn-train');
  await phaseIs(page, ['done']);
  await page.waitForFunction(() => window.__playground.test && window.__playground.session?.status === 'done' && window.__playground.session.written);
  const before = {
    score: (await typeReview(page, REVIEW)).score,
    history: await pg(page, () => window.__playground.history),
    charts: await curves(page),
    settings: await pg(page, () => window.__playground.settings),
    test: await pg(page, () => window.__playground.test),
  };
  assert.match(await page.textContent('#saved-note'), /Saved in this browser: the finished model, 3 epochs/);

  await page.reload();
  await phaseIs(page, ['done']);
  assert.match(await page.textContent('#status'), /^Your model is back from this browser: 3 of 3 epochs .* test accuracy/);
  assert.deepEqual(await pg(page, () => window.__playground.history), before.history);
  assert.deepEqual(await curves(page), before.charts, 'the curves, every batch included');
  assert.deepEqual(await pg(page, () => window.__playground.settings), before.settings);
  assert.deepEqual(await pg(page, () => window.__playground.test), before.test);
  assert.equal((await typeReview(page, REVIEW)).score, before.score, 'the typed review scores the same');

  // The bare address (no settings in the link) takes the saved settings too.
  await page.goto(server.url);
  await phaseIs(page, ['done']);
  assert.equal(await page.inputValue('#seed'), '7');
  assert.equal(await page.inputValue('#epochs'), '3');
  assert.match(await pg(page, () => location.hash), /seed=7/);

  // Forget: nothing saved; the next load starts fresh.
  await page.click('#btn-forget');
  await page.waitForFunction(() => window.__playground.session === null && /Nothing saved/.test(document.getElementById('saved-note').textContent));
  await page.reload();
  await phaseIs(page, ['ready']);
  assert.deepEqual(await pg(page, () => window.__playground.history), []);
  assertClean(problems, 'reload');
  await page.close();
});

test('a reload during training brings back the last finished epoch, ready to continue', async () => {
  const { page, problems } = await openPage('#epochs=3&lr=0.01&pace=watch');
  await phaseIs(page, ['ready']);
  await page.click('#btn-train');
  await page.waitForFunction(() => window.__playground.session?.epochs === 1 && window.__playground.session.written, null, { timeout: 60000 });
  const epoch1 = await pg(page, () => window.__playground.history.slice(0, 1));
  await page.reload();
  await phaseIs(page, ['stopped']);
  const h = await pg(page, () => window.__playground.history);
  assert.ok(h.length >= 1 && h.length < 3, `the saved epochs are back (${h.length})`);
  assert.deepEqual(h[0], epoch1[0]);
  assert.ok(await page.isVisible('#btn-continue'), 'Continue is offered');
  assert.match(await page.textContent('#status'), /^Your model is back from this browser: [12] of 3 epochs .* Press Continue/);
  assertClean(problems, 'reload while training');
  await page.close();
});

// ------------------------------------------------------------- 7. security

const XSS = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script><svg onload="window.__pwned=3">';

test('HTML in a typed review, a link or a file name stays text: no element is created, nothing runs', async () => {
  const { page, problems } = await openPage(`#epochs=1&lr=0.01&${encodeURIComponent(XSS)}=1`);
  await phaseIs(page, ['ready']);
  const count = () => pg(page, () => document.querySelectorAll('img, script, svg, iframe, object, embed').length);
  const baseline = await count();
  assert.match(await page.textContent('#hash-note'), /<img src=x onerror=/, 'the link’s key is shown as text');
  await page.click('#btn-train');
  await phaseIs(page, ['done']);
  const e = await typeReview(page, `Great film! ${XSS}`);
  assert.equal(await page.textContent('#words'), `Great film! ${XSS}`, 'the review is shown as its text');
  assert.deepEqual(
    await pg(page, () => [...document.getElementById('words').children].map((c) => `${c.tagName}.${c.className.split(' ')[0]}`).filter((t) => t !== 'SPAN.word')),
    [],
    'only word spans are created',
  );
  assert.ok(e.tokens.length > 5);
  const evil = path.join(dataDir, `${XSS.replace(/[/"]/g, '_')}.nnckpt`);
  await writeFile(evil, '<html><script>window.__pwned=4</script></html>');
  await page.setInputFiles('#checkpoint-file', evil);
  await page.waitForFunction(() => /Could not load the model file/.test(document.getElementById('error-text').textContent));
  assert.match(await page.textContent('#error-text'), /<img src=x onerror=.*this is not a checkpoint/);
  assert.equal(await count(), baseline, 'no new image, script, svg or frame element');
  assert.equal(await pg(page, () => window.__pwned), undefined, 'nothing ran');
  // A Trusted Types backstop: even the page's own code cannot parse HTML.
  const sink = await pg(page, () => {
    try {
      document.getElementById('words').innerHTML = '<img src=x>';
      return 'assigned';
    } catch (err) {
      return err.name;
    }
  });
  assert.equal(sink, 'TypeError', 'innerHTML with a string is refused');
  assertClean(
    problems.filter((p) => !/requires 'TrustedHTML' assignment/.test(p)),
    'HTML as text',
  );
  await page.close();
});

test('an uploaded file is read as bytes and never run: a script or page renamed as a model is refused', async () => {
  const { page, problems } = await openPage('#epochs=1&lr=0.01');
  await phaseIs(page, ['ready']);
  const scripts = await pg(page, () => document.scripts.length);
  for (const [name, content] of [
    ['model.js.nnckpt', 'window.__pwned = 5; postMessage("pwned");'],
    ['page.html', '<!doctype html><script>window.__pwned = 6</script>'],
    ['shard-as-model.nnckpt', await readFile(SHARD).then((b) => b.subarray(0, 4096))],
  ]) {
    const file = path.join(dataDir, name);
    await writeFile(file, content);
    await page.setInputFiles('#checkpoint-file', file);
    await page.waitForFunction((n) => document.getElementById('error-text').textContent.includes(n), name);
    assert.match(await page.textContent('#error-text'), name.startsWith('shard') ? /this is a dataset shard, not a checkpoint/ : /this is not a checkpoint/);
    await phaseIs(page, ['ready']);
  }
  assert.equal(await pg(page, () => window.__pwned), undefined, 'nothing ran');
  assert.equal(await pg(page, () => document.scripts.length), scripts, 'no script was added');
  await assertStillTrains(page);
  assertClean(problems, 'uploads');
  await page.close();
});

test('the served CSP forbids inline script, inline handlers and eval, and requires Trusted Types', async () => {
  const res = await fetch(`${server.url}index.html`);
  const csp = res.headers.get('content-security-policy');
  const directives = Object.fromEntries(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v]));
  assert.deepEqual(directives['script-src'], ["'self'", "'wasm-unsafe-eval'"], 'scripts only from this site, and wasm');
  assert.deepEqual(directives['require-trusted-types-for'], ["'script'"]);
  assert.deepEqual(directives['trusted-types'], ['default']);
  assert.ok(!/unsafe-inline|'unsafe-eval'/.test(csp), csp);

  // A probe page served by the same server (so with the same headers)
  // tries every way to run a string as code.
  await writeFile(
    path.join(dataDir, 'csp-probe.html'),
    '<!doctype html><meta charset="utf-8"><title>probe</title>' +
      '<script>window.inlineRan = true;</script>' +
      '<div id="handler" onclick="window.handlerRan = true">x</div>' +
      '<script src="csp-probe.js"></script>',
  );
  await writeFile(
    path.join(dataDir, 'csp-probe.js'),
    `const results = {};
     const attempt = (name, fn) => { try { fn(); results[name] = 'ran'; } catch (err) { results[name] = err.name; } };
     attempt('eval', () => eval('window.evalRan = true'));
     attempt('Function', () => new Function('window.functionRan = true')());
     attempt('setTimeoutString', () => setTimeout('window.timeoutRan = true', 0));
     document.getElementById('handler').click();
     attempt('innerHTML', () => { document.body.innerHTML += '<img src=x onerror="window.imgRan = true">'; });
     window.probe = results;`,
  );
  const { page } = await openPage('data/csp-probe.html', { allowConsole: [/./] });
  await page.waitForFunction(() => window.probe);
  // A timer set after the probe's string timer fires after it (were it allowed).
  await pg(page, () => new Promise((resolve) => setTimeout(resolve, 50)));
  const r = await pg(page, () => ({
    probe: window.probe,
    ran: ['inlineRan', 'handlerRan', 'evalRan', 'functionRan', 'timeoutRan', 'imgRan'].filter((k) => window[k]),
  }));
  assert.deepEqual(r.ran, [], 'no string ran as code');
  assert.equal(r.probe.eval, 'EvalError');
  assert.equal(r.probe.Function, 'EvalError');
  assert.equal(r.probe.innerHTML, 'TypeError');
  await page.close();
});

// A static host may send no CSP header: index.html carries the same policy
// in a <meta> tag, less what a browser ignores there (frame-ancestors,
// report-uri, sandbox).
const parseCsp = (csp) => Object.fromEntries(csp.split(';').map((d) => d.trim().split(/\s+/)).filter(([k]) => k).map(([k, ...v]) => [k, v]));
const HEADER_ONLY = ['frame-ancestors', 'report-uri', 'sandbox'];

test('index.html carries the served CSP in a <meta> tag, and the page keeps it when served without the header', async () => {
  const res = await fetch(`${server.url}index.html`);
  const header = parseCsp(res.headers.get('content-security-policy'));
  const meta = (await res.text()).match(/<meta http-equiv="Content-Security-Policy" content="([^"]*)">/);
  assert.ok(meta, 'a CSP <meta> tag');
  const inMeta = parseCsp(meta[1]);
  assert.deepEqual(inMeta, Object.fromEntries(Object.entries(header).filter(([k]) => !HEADER_ONLY.includes(k))),
    'the header\'s directives, less the header-only ones');
  assert.deepEqual(inMeta['require-trusted-types-for'], ["'script'"]);

  // The page served as a host without the header would serve it.
  let stripped = 0;
  const isPage = (url) => ['/', '/index.html'].includes(url.pathname);
  const withoutCsp = async (route) => {
    const response = await route.fetch();
    const headers = { ...response.headers() };
    delete headers['content-security-policy'];
    stripped++;
    await route.fulfill({ response, headers });
  };
  await session.context.route(isPage, withoutCsp);
  try {
    const { page, problems } = await openPage('#epochs=1&lr=0.01', { allowConsole: [/TrustedHTML|TrustedScript|Content Security Policy/] });
    await phaseIs(page, ['ready']);
    assert.ok(stripped > 0, 'the page came without its CSP header');
    assertClean(problems, 'the page under its <meta> CSP');
    const r = await pg(page, () => {
      const attempt = (fn) => { try { fn(); return 'ran'; } catch (err) { return err.name; } };
      return {
        html: attempt(() => document.body.insertAdjacentHTML('beforeend', '<img src=x id=meta-probe>')),
        script: attempt(() => { document.createElement('script').textContent = 'window.metaRan = true'; }),
        probe: !!document.getElementById('meta-probe'),
      };
    });
    assert.deepEqual(r, { html: 'TypeError', script: 'TypeError', probe: false }, 'Trusted Types are required by the <meta> policy');
    await assertStillTrains(page);
    await page.close();
  } finally {
    await session.context.unroute(isPage, withoutCsp);
  }
});
