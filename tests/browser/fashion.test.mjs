// fashion.test.mjs: the second dataset, Fashion-MNIST images, on the real
// page in headless Chromium: choosing it from the menu and by link, one
// epoch of the tutorial-mlp recipe on a subset with live curves, the test
// images' class probabilities, a drawn image, the confusion matrix, the
// model back after a reload and after an engine crash, a 375 px phone, the
// way back to the reviews, and tutorial-mlp on all 60,000 images with the
// native trainer's history.
//
//   node --test --test-concurrency=1 tests/browser/fashion.test.mjs
//   FULL_RECIPE=1 …   the whole 10-epoch recipe in the page and natively
//                     in place of its first 2 epochs (about 60 s more on
//                     2 cores; for benchmark runs and before a release)
//
// By default the recipe test trains the first 2 of the recipe's 10 epochs
// on the whole data, in the page and with build/imdb_train, and checks the
// same things on them: the page's history equals the native one within
// 1e-4, the test accuracy is the native one and above 0.84, and the
// training loss is lowest at the last epoch. The 10-epoch lesson is
// checked natively by ctest's fashion_real_data on every CI run (test
// accuracy >= 0.88, the validation loss turning up while the training loss
// falls), and in the page, with the gap between validation and training
// loss growing, by FULL_RECIPE=1.
//
// Through the shared harness (harness.mjs), with data/fashion.shard served
// beside imdb.shard. The page is read through window.__playground.
// Deliberately not here: timing assertions (the epoch time is printed).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, realpath, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT, ARTIFACTS, POSITIVE_REVIEW, startSession, pg, phaseIs, typeReview, assertClean, setControl, trainAndWatch } from './harness.mjs';

const FASHION = path.join(ROOT, 'data', 'fashion.shard');
const CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

let session;
let textModelFile = null; // a review model's file, downloaded by the first test

async function openPage(hash, options) {
  const opened = await session.openPage(hash, options);
  await phaseIs(opened.page, ['ready', 'done', 'stopped'], 120000);
  return opened;
}

// Changes a select that reloads the page, and waits for the new page to be ready.
async function selectAndReload(page, selector, value, phases = ['ready']) {
  await Promise.all([page.waitForEvent('load', { timeout: 60000 }), page.selectOption(selector, value)]);
  await phaseIs(page, phases, 120000);
}

// The image view once its predictions are in; want.slot: the shown image is
// the strip's image at that slot; want.outside: it is not in the strip.
async function imagesSettled(page, want = {}) {
  await page.waitForFunction(
    (w) => {
      const v = window.__playground.images();
      if (!v || !v.probs || v.refreshing || !v.strip.length || v.strip.some((s) => s.predicted == null) || !v.selected) return false;
      if (w.slot != null && v.selected.index !== v.strip[w.slot].index) return false;
      if (w.outside && v.strip.some((s) => s.index === v.selected.index)) return false;
      return true;
    },
    want,
    { timeout: 60000, polling: 50 },
  );
  return pg(page, () => window.__playground.images());
}

// Clicks Download model; returns the saved file's path.
async function download(page, nameRe) {
  const [file] = await Promise.all([page.waitForEvent('download'), page.click('#btn-download')]);
  assert.match(file.suggestedFilename(), nameRe);
  const to = path.join(session.dataDir, file.suggestedFilename());
  await file.saveAs(to);
  return to;
}

function checkProbs(probs, what) {
  assert.equal(probs.length, 10, `${what}: 10 probabilities`);
  assert.ok(probs.every((p) => p >= 0 && p <= 1), `${what}: each in [0, 1]`);
  const sum = probs.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum - 1) < 1e-4, `${what}: they sum to 1 (${sum})`);
  return probs.indexOf(Math.max(...probs));
}

before(async () => {
  await stat(FASHION).catch(() => {
    throw new Error(`${FASHION} is missing: build it with scripts/setup.sh`);
  });
  session = await startSession('fashion', { acceptDownloads: true });
  await symlink(await realpath(FASHION), path.join(session.dataDir, 'fashion.shard'));
});

after(async () => {
  await session?.close();
});

test('choosing Fashion-MNIST from the menu loads the images, sets the recipe, hides the text panels; IMDB comes back', async () => {
  const { page, problems } = await openPage('');
  assert.equal(await page.inputValue('#dataset'), 'imdb');
  assert.ok(await page.isVisible('#review-text'));
  await selectAndReload(page, '#dataset', 'fashion');

  assert.equal(await pg(page, () => window.__playground.dataset), 'fashion');
  assert.equal(await page.inputValue('#dataset'), 'fashion');
  const hash = await pg(page, () => location.hash);
  assert.match(hash, /dataset=fashion/);
  assert.match(hash, /model=mlp/);
  assert.match(hash, /batch_size=64/);
  assert.equal(await page.inputValue('#preset'), 'tutorial-mlp');
  assert.deepEqual(await page.$$eval('#preset option', (os) => os.map((o) => o.value)), ['tutorial-mlp', 'custom']);
  assert.match(await page.textContent('#preset-hint'), /Dense\(512, ReLU\), Dense\(10\)/);
  const config = await pg(page, () => window.__playground.config);
  assert.equal(config.model, 'mlp');
  assert.equal(config.hidden, 512);
  assert.equal(config.epochs, 10);
  assert.equal(config.val_size, 10000);
  assert.match(await page.textContent('#shard-detail'), /60,000 training and 10,000 test images of 28 × 28 pixels in 10 classes/);
  assert.match(await page.textContent('#status'), /^Ready: 50,000 images to train on, 10,000 to validate, 10,000 to test\./);
  for (const id of ['#review-text', '#embed-map', '#btn-diagnose', '#stopwords-mode', '#vocab_size', '#maxlen', '#embed_dim', '#embedding_init', '#full_run'])
    assert.ok(await page.isHidden(id), `${id} is hidden for images`);
  for (const id of ['#img-big', '#img-draw', '#img-bars', '#hidden', '#lr', '#batch_size', '#train_size'])
    assert.ok(await page.isVisible(id), `${id} is shown for images`);
  assert.equal(await page.textContent('label[for="train_size"]'), 'Training images');
  assert.ok(await page.isEnabled('#checkpoint-file'), 'a model file can be loaded');
  // A setting that does not fit the images gets a message at its control.
  await setControl(page, 'val_size', 60000);
  assert.match(await page.textContent('.field-message'), /must be less than 60,000, the number of training images/);
  assert.equal(await pg(page, () => window.__playground.settings.val_size), 10000, 'the control keeps its last good value');
  await setControl(page, 'val_size', 10000);
  // The test images are there before any training; the untrained model guesses.
  const view = await imagesSettled(page);
  assert.deepEqual(view.classNames, CLASSES);
  assert.equal(view.strip.length, 8);
  checkProbs(view.probs, 'untrained model');
  assert.equal(await page.locator('#img-strip .img-thumb').count(), 8);
  assert.equal(await page.locator('#img-bars li').count(), 10);
  await page.screenshot({ path: path.join(ARTIFACTS, 'fashion-ready.png'), fullPage: true });

  // Stop ends a run at once; the dataset menu waits while training runs.
  await page.click('#btn-train');
  await page.waitForFunction(() => window.__playground.charts().loss.batch.length > 0, null, { timeout: 60000, polling: 50 });
  assert.ok(await page.isDisabled('#dataset'), 'no switching in the middle of a run');
  await page.click('#btn-stop');
  await phaseIs(page, ['stopped'], 10000);
  assert.match(await page.textContent('#status'), /^Stopped at epoch 1\/10, batch \d+\/782\. Press Train to start a new run\.$/);
  assert.ok(await page.isEnabled('#dataset'));
  assert.ok(await page.isEnabled('#btn-download'), 'a stopped model can be downloaded');

  // Back to the reviews: the text page as before.
  await selectAndReload(page, '#dataset', 'imdb');
  assert.equal(await pg(page, () => window.__playground.dataset), 'imdb');
  assert.doesNotMatch(await pg(page, () => location.hash), /dataset=|model=mlp/);
  assert.equal(await page.inputValue('#preset'), 'tutorial-bag');
  assert.ok(!(await page.$$eval('#model option', (os) => os.map((o) => o.value))).includes('mlp'), 'no image model on the review page');
  assert.ok(await page.isVisible('#review-text') && await page.isHidden('#img-big'));
  assert.match(await page.textContent('#shard-detail'), /25,000 training and 25,000 test reviews/);
  const scored = await typeReview(page, POSITIVE_REVIEW);
  assert.ok(scored.score > 0 && scored.score < 1);
  textModelFile = await download(page, /^imdb-sentiment-.*\.nnckpt$/);
  assertClean(problems, 'dataset menu');
  await page.close();
});

test('a link to Fashion-MNIST trains one epoch of tutorial-mlp on 5,000 images with live curves, then predicts test images', async (t) => {
  const { page, problems } = await openPage('#dataset=fashion&epochs=1&train_size=5000');
  assert.equal(await page.inputValue('#preset'), 'custom');
  assert.equal(await page.inputValue('#epochs'), '1', 'the link’s settings win over the recipe');
  assert.equal(await page.inputValue('#train_size'), '5000');
  assert.equal(await page.inputValue('#batch_size'), '64', 'the rest is the recipe');
  assert.equal(await page.inputValue('#hidden'), '512');
  const live = await trainAndWatch(page);
  const charts = await pg(page, () => window.__playground.charts());
  const batches = Math.ceil(5000 / 64);
  assert.ok(live > 0, `batch points appeared while training (${live})`);
  for (const name of ['loss', 'acc']) {
    assert.equal(charts[name].batch.length, batches, `${name}: a point for each of the ${batches} batches`);
    assert.equal(charts[name].train.length, 1, `${name}: the training epoch`);
    assert.equal(charts[name].val.length, 1, `${name}: the validation epoch`);
  }
  const history = await pg(page, () => window.__playground.history);
  const testResult = await pg(page, () => window.__playground.test);
  t.diagnostic(`1 epoch of 5,000 images: val_acc ${history[0].val_acc.toFixed(4)}, test acc ${testResult.acc.toFixed(4)}, ${await pg(page, () => window.__playground.lastRunMs)} ms`);
  assert.ok(history[0].val_acc > 0.6 && testResult.acc > 0.6, `accuracy ${history[0].val_acc} / ${testResult.acc}`);
  assert.match(await page.textContent('#status'), /^Done: 1 epoch .*test accuracy \d+\.\d%/);

  // A picked test image: 10 probabilities summing to 1, the predicted class named.
  await page.click('#img-strip .img-thumb:nth-child(3)');
  const view = await imagesSettled(page, { slot: 2 });
  const best = checkProbs(view.probs, 'picked image');
  assert.equal(view.predicted, best, 'the predicted class is the most likely one');
  assert.equal(await page.getAttribute('#img-strip .img-thumb:nth-child(3)', 'aria-pressed'), 'true');
  const line = await page.textContent('#img-pred');
  assert.ok(line.includes(CLASSES[best]), `“${line}” names ${CLASSES[best]}`);
  assert.match(await page.textContent('#img-true'), new RegExp(`True class: ${CLASSES[view.selected.label].replace('/', '\\/')}`));
  assert.equal(await page.locator('#img-bars li.predicted').count(), 1);
  assert.equal(await page.textContent('#img-bars li.predicted .prob-name'), CLASSES[best]);
  const right = view.strip.filter((s) => s.predicted === s.label).length;
  assert.equal(await page.locator('#img-strip .img-thumb.right').count(), right);

  // Another random test image.
  await page.click('#img-random');
  await imagesSettled(page, { outside: true });

  // The confusion matrix of the 10,000 test images agrees with the test accuracy.
  await page.waitForFunction(() => window.__playground.images().confusion, null, { timeout: 120000, polling: 100 });
  const cm = (await pg(page, () => window.__playground.images())).confusion;
  const cmTimes = await pg(page, () => document.getElementById('cm-status').textContent.match(/\((\d+) ms in the engine\)/)?.[1]);
  t.diagnostic(`confusion matrix of the 10,000 test images: ${cmTimes} ms in the worker's engine`);
  assert.equal(cm.n, 10000);
  assert.equal(cm.matrix.reduce((a, b) => a + b, 0), 10000);
  const trace = cm.matrix.filter((_, i) => i % 11 === 0).reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(trace / 10000 - testResult.acc) < 0.002, `confusion accuracy ${trace / 10000} vs test ${testResult.acc}`);
  assert.equal(await page.locator('#img-confusion tbody tr').count(), 10);
  assert.match(await page.textContent('#cm-status'), /^Accuracy on the 10,000 test images: \d+\.\d%/);

  // Drawing on the pad: a prediction as it is drawn.
  await page.locator('#img-draw').scrollIntoViewIfNeeded();
  const box = await page.locator('#img-draw').boundingBox();
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.2);
  await page.mouse.down();
  for (const [fx, fy] of [[0.7, 0.2], [0.7, 0.8], [0.3, 0.8], [0.3, 0.2], [0.5, 0.5]])
    await page.mouse.move(box.x + box.width * fx, box.y + box.height * fy, { steps: 5 });
  await page.mouse.up();
  await page.waitForFunction(() => window.__playground.images().drawn, null, { timeout: 30000, polling: 50 });
  const drawn = (await pg(page, () => window.__playground.images())).drawn;
  checkProbs(drawn.probs, 'drawn image');
  assert.match(await page.textContent('#draw-pred'), /^The model says: /);
  await page.click('#img-clear');
  assert.equal((await pg(page, () => window.__playground.images())).drawn, null);
  await page.screenshot({ path: path.join(ARTIFACTS, 'fashion-trained.png'), fullPage: true });

  // A reload brings the model back from this browser (its weights, saved
  // as it trained): the same history, and the same predictions of every
  // test image (the confusion matrix, computed again).
  await page.waitForFunction(() => window.__playground.session?.status === 'done' && window.__playground.session.written, null, { timeout: 30000 });
  await page.reload();
  await phaseIs(page, ['done'], 120000);
  assert.deepEqual(await pg(page, () => window.__playground.history), history);
  assert.match(await page.textContent('#status'), /^Your model is back from this browser: 1 of 1 epoch/);
  await page.waitForFunction(() => window.__playground.test, null, { timeout: 60000 });
  assert.equal((await pg(page, () => window.__playground.test)).acc, testResult.acc, 'the same test accuracy');
  await imagesSettled(page);
  await page.click('#btn-confusion');
  await page.waitForFunction(() => window.__playground.images().confusion, null, { timeout: 120000, polling: 100 });
  assert.deepEqual((await pg(page, () => window.__playground.images())).confusion.matrix, cm.matrix, 'the same predictions');

  // Model files: the image model downloads and loads back; a review model's
  // file is refused with the engine's reason, and the page keeps its model.
  const imageModelFile = await download(page, /^fashion-mlp-1ep\.nnckpt$/);
  if (!textModelFile) {
    // The first test did not run (a --test-name-pattern): a review model's file from a review page.
    const other = await openPage('');
    textModelFile = await download(other.page, /^imdb-sentiment-.*\.nnckpt$/);
    await other.page.close();
  }
  await page.setInputFiles('#checkpoint-file', textModelFile);
  await page.waitForFunction(() => window.__playground.errors.length > 0, null, { timeout: 30000 });
  const refused = (await pg(page, () => window.__playground.errors)).at(-1);
  assert.match(refused, /^Could not load the model file “imdb-sentiment-.*”: .*mlp/);
  await phaseIs(page, ['done'], 10000);
  assert.deepEqual(await pg(page, () => window.__playground.history), history, 'the page keeps its model');
  await page.click('#btn-reset');
  await phaseIs(page, ['ready'], 30000);
  await page.setInputFiles('#checkpoint-file', imageModelFile);
  await phaseIs(page, ['done'], 30000);
  await page.waitForFunction(() => window.__playground.test, null, { timeout: 60000 });
  assert.equal((await pg(page, () => window.__playground.test)).acc, testResult.acc, 'the loaded model scores as before');
  assert.deepEqual(await pg(page, () => window.__playground.history), history, 'with its history');
  assert.match(await page.textContent('#status'), /^Loaded a model trained for 1 epoch/);
  // And the other way: the review page refuses the image model's file.
  const review = await openPage('');
  await review.page.setInputFiles('#checkpoint-file', imageModelFile);
  await review.page.waitForFunction(() => window.__playground.errors.length > 0, null, { timeout: 30000 });
  assert.match((await pg(review.page, () => window.__playground.errors)).at(-1), /^Could not load the model file “fashion-mlp-1ep\.nnckpt”: .*image model/);
  await phaseIs(review.page, ['ready'], 10000);
  assert.ok((await typeReview(review.page, POSITIVE_REVIEW)).score > 0, 'the review page keeps its model');
  assertClean(review.problems, 'review page given an image model');
  await review.page.close();
  assertClean(problems, 'fashion training');
  await page.close();
});

test('on a 375 px phone the image view fits, and a crashed engine comes back with the images and the saved model', async () => {
  const { page, problems } = await openPage('?debug#dataset=fashion&epochs=3&train_size=2000&val_size=1000&pace=watch', { viewport: { width: 375, height: 812 } });
  const scrollWidth = await pg(page, () => document.documentElement.scrollWidth);
  assert.ok(scrollWidth <= 375, `no horizontal scroll at 375 px (scrollWidth ${scrollWidth})`);
  await imagesSettled(page);
  await page.click('#btn-train');
  await page.waitForFunction(() => window.__playground.session?.epochs === 1 && window.__playground.session.written, null, { timeout: 60000 });
  const saved = await pg(page, () => window.__playground.history.slice(0, 1));
  const worker = page.workers().at(-1);
  await worker.evaluate(() => self.dispatchEvent(new MessageEvent('message', { data: { id: 'test-trap', type: 'debugTrap', data: {} } })));
  await page.waitForFunction(() => window.__playground.restarts === 1 && window.__playground.phase === 'stopped', null, { timeout: 120000 });
  assert.match(await page.textContent('#error-text'), /and was restarted: the images and your model from epoch 1 are back\.$/);
  assert.match(await page.textContent('#status'), /^The engine was restarted and your model is back: 1 of 3 epochs .*Press Continue to train the remaining 2/);
  assert.match(await page.textContent('#shard-detail'), /60,000 training and 10,000 test images/);
  assert.deepEqual(await pg(page, () => window.__playground.history), saved);
  await imagesSettled(page);
  // Continue: epochs 2 and 3 on top of the restored weights.
  await page.click('#btn-continue');
  await phaseIs(page, ['done'], 300000);
  await page.waitForFunction(() => window.__playground.test, null, { timeout: 60000 });
  const history = await pg(page, () => window.__playground.history);
  assert.equal(history.length, 3);
  assert.deepEqual(history[0], saved[0]);
  assert.ok(history[2].val_acc > 0.7, `validation accuracy after epoch 3: ${history[2].val_acc}`);
  const charts = await pg(page, () => window.__playground.charts());
  assert.equal(charts.loss.batch.length, 3 * Math.ceil(2000 / 64), 'every batch of the three epochs is on the curve');
  await page.waitForFunction(() => window.__playground.images().confusion, null, { timeout: 120000, polling: 100 });
  const after = await pg(page, () => document.documentElement.scrollWidth);
  assert.ok(after <= 375, `still no horizontal scroll with the confusion matrix (scrollWidth ${after})`);
  await page.screenshot({ path: path.join(ARTIFACTS, 'fashion-375.png'), fullPage: true });
  assertClean(problems, 'fashion phone and crash');
  await page.close();
});

// The native trainer's history for tutorial-mlp (build/imdb_train), for
// the recipe's first `epochs` epochs.
async function nativeHistory(epochs) {
  const dir = await mkdtemp(path.join(tmpdir(), 'native-fashion-'));
  const out = path.join(dir, 'history.json');
  const trainer = path.join(ROOT, 'build', 'imdb_train');
  const t0 = Date.now();
  await new Promise((resolve, reject) => {
    const args = ['--shard', FASHION, '--preset', 'tutorial-mlp', '--epochs', String(epochs), '--history', out, '--quiet'];
    const child = spawn(trainer, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', (err) => reject(new Error(`cannot run ${trainer} (run scripts/setup.sh): ${err.message}`)));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${trainer} exited with ${code}`))));
  });
  const ms = Date.now() - t0;
  const history = JSON.parse(await readFile(out, 'utf8'));
  await rm(dir, { recursive: true, force: true });
  return { history, ms };
}

// FULL_RECIPE=1: the recipe's 10 epochs; by default its first 2 (see the
// header). MIN_ACC is for the test accuracy, on the 10,000 test images the
// run never trains or stops on. For 10 epochs it is the tutorial's (0.8808
// measured). After 2 epochs the page and imdb_train both reach 0.8547
// (seed 1; a seeded run gives that figure every time), so 0.84 is 1.5
// points below it and still fails a model that learns the images worse
// than it should (one epoch of 5,000 images reaches 0.79).
const FULL = Boolean(process.env.FULL_RECIPE);
const EPOCHS = FULL ? 10 : 2;
const MIN_ACC = FULL ? 0.87 : 0.84;

test(
  FULL
    ? 'the full tutorial-mlp recipe (60,000 - 10,000 images, 10 epochs) in the page: the native history, test accuracy above 0.87'
    : 'tutorial-mlp on all 60,000 - 10,000 images, its first 2 epochs, in the page: the native history, test accuracy above 0.84',
  { timeout: 20 * 60 * 1000 },
  async (t) => {
    const { page, problems } = await openPage(FULL ? '#dataset=fashion' : `#dataset=fashion&epochs=${EPOCHS}`);
    if (FULL) {
      assert.equal(await page.inputValue('#preset'), 'tutorial-mlp');
    } else {
      assert.equal(await page.inputValue('#epochs'), String(EPOCHS));
      const config = await pg(page, () => window.__playground.config);
      assert.deepEqual([config.model, config.hidden, config.batch_size, config.lr, config.val_size, config.train_size],
        ['mlp', 512, 64, 0.001, 10000, 0], 'the rest is the recipe, on all the images');
    }
    await trainAndWatch(page, 20 * 60 * 1000);
    const history = await pg(page, () => window.__playground.history);
    const testResult = await pg(page, () => window.__playground.test);
    const times = await pg(page, () => window.__playground.epochTimes);
    const runMs = await pg(page, () => window.__playground.lastRunMs);
    const sorted = [...times].sort((a, b) => a - b);
    t.diagnostic(`page worker: ms per epoch ${times.map((x) => Math.round(x)).join(', ')} (median ${Math.round(sorted[Math.floor(EPOCHS / 2)])}); run ${Math.round(runMs)} ms; test accuracy ${testResult.acc.toFixed(4)}, loss ${testResult.loss.toFixed(4)}`);
    assert.equal(history.length, EPOCHS);
    assert.ok(testResult.acc >= MIN_ACC, `test accuracy ${testResult.acc} >= ${MIN_ACC}`);
    const loss = history.map((h) => h.loss);
    assert.equal(loss.indexOf(Math.min(...loss)), EPOCHS - 1, 'training loss is lowest at the last epoch');
    if (FULL)
      assert.ok(history[9].val_loss - history[9].loss > history[0].val_loss - history[0].loss, 'the gap between validation and training loss grows');

    // The page's engine is the native engine compiled to wasm: the same history.
    const native = await nativeHistory(EPOCHS);
    let worst = 0;
    for (let i = 0; i < EPOCHS; i++) {
      for (const [key, nkey] of [['loss', 'loss'], ['val_loss', 'val_loss'], ['acc', 'accuracy'], ['val_acc', 'val_accuracy']])
        worst = Math.max(worst, Math.abs(history[i][key] - native.history.history[nkey][i]));
    }
    t.diagnostic(`native imdb_train (load, ${EPOCHS} epochs, test): ${native.ms} ms wall; browser vs native history: largest difference ${worst.toExponential(2)}`);
    assert.equal(native.history.history.loss.length, EPOCHS, `the native trainer ran ${EPOCHS} epochs`);
    assert.ok(worst <= 1e-4, `the browser's history equals the native trainer's within 1e-4 (worst ${worst})`);
    assert.ok(Math.abs(testResult.acc - native.history.test.accuracy) <= 1e-4, 'and so does the test accuracy');
    assertClean(problems, 'full fashion recipe');
    await page.close();
  },
);

test('early stopping on Fashion-MNIST: the run ends early, the status and the curves say where', async () => {
  // A tiny subset overfits at once: the validation loss turns up within a few epochs.
  const { page, problems } = await openPage('#dataset=fashion&epochs=30&train_size=500&val_size=2000&patience=1&lr=0.003');
  await trainAndWatch(page);
  const history = await pg(page, () => window.__playground.history);
  assert.ok(history.length < 30, `stopped after ${history.length} of 30 epochs`);
  const valLoss = history.map((h) => h.val_loss);
  const best = valLoss.indexOf(Math.min(...valLoss)) + 1;
  assert.equal(best, history.length - 1, 'patience 1: one epoch without improvement ends it');
  assert.match(await page.textContent('#status'), new RegExp(`early stopping ended the run; best epoch ${best}, its weights restored`));
  const charts = await pg(page, () => window.__playground.charts());
  assert.equal(charts.bestEpoch, best, 'the chart marks the best epoch');
  assertClean(problems, 'fashion early stopping');
  await page.close();
});
