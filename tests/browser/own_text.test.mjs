// own_text.test.mjs: "Your own text" (#dataset=own) end to end in headless
// Chromium: a 3-class labelled file written here (short sentences of three
// topics from word lists, seeded) is read by the engine in the page, the
// report shows its classes, a model trains on it, a typed text gets a bar
// per class (top class first), the K x K confusion matrix of the test texts
// shows, the run records the dataset, the model downloads; after a reload
// the shard is still there (IndexedDB) and the downloaded model, loaded
// back, scores the text the same. Bad files (one class, binary bytes, a
// 65 MB file, refused by its size before it is read) give
// a message and replace nothing.
//
//   node --test --test-concurrency=1 tests/browser/own_text.test.mjs

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ARTIFACTS, startSession, pg, phaseIs, typeReview, trainAndWatch, assertClean } from './harness.mjs';

const TOPICS = {
  sports: ['team', 'goal', 'match', 'coach', 'players', 'scored', 'league', 'final', 'stadium', 'season'],
  cooking: ['recipe', 'oven', 'flour', 'sauce', 'garlic', 'bake', 'dinner', 'spices', 'kitchen', 'butter'],
  weather: ['rain', 'storm', 'forecast', 'sunny', 'wind', 'clouds', 'snow', 'temperature', 'cold', 'humid'],
};
const FILLER = ['the', 'a', 'today', 'we', 'saw', 'very', 'again', 'after', 'with', 'some', 'was', 'and'];

// A seeded file of n lines "label<TAB>text": four topic words and three
// filler words a line, shuffled.
function labelledFile(n, seed = 7) {
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const pick = (list) => list[Math.floor(rand() * list.length)];
  const names = Object.keys(TOPICS);
  const lines = [];
  for (let i = 0; i < n; i++) {
    const label = names[i % names.length];
    const words = [];
    for (let k = 0; k < 4; k++) words.push(pick(TOPICS[label]));
    for (let k = 0; k < 3; k++) words.push(pick(FILLER));
    words.sort(() => rand() - 0.5);
    lines.push(`${label}\t${words.join(' ')} ${i}`);
  }
  return `${lines.join('\n')}\n`;
}

const SPORTS_TEXT = 'the coach said the team scored a late goal in the final match';

let session;

before(async () => {
  session = await startSession('own', { acceptDownloads: true });
});

after(async () => {
  await session?.close();
});

const status = (page) => page.textContent('#own-status');

async function readFile(page, file, body) {
  const at = path.join(session.dataDir, file);
  await writeFile(at, body);
  await page.setInputFiles('#own-file', at);
  const before = await status(page);
  await page.click('#own-build');
  await page.waitForFunction((b) => {
    const t = document.getElementById('own-status').textContent;
    return t !== b && t !== 'Reading…';
  }, before, { timeout: 60000, polling: 50 });
  return status(page);
}

test('your own 3-class file: read, trained, scored per class, K x K confusion, model downloaded and restored after a reload', async () => {
  const { page, problems } = await session.openPage('#dataset=own');
  await phaseIs(page, ['loading']);
  await page.waitForFunction(() => document.getElementById('own-status').textContent === 'No file yet.', null, { timeout: 60000 });

  // Bad files first: a message, the report, and nothing replaced (still waiting for a file).
  const oneClass = await readFile(page, 'one.tsv', 'sports\tthe team won\nsports\ta goal late\nsports\tthe coach smiled\n');
  assert.match(oneClass, /^Not used: .*class/i, `one class refused: ${oneClass}`);
  console.log(`ok one class refused: ${oneClass}`);
  const binary = await readFile(page, 'binary.tsv', Buffer.from([0x73, 0x09, 0x61, 0x0a, 0x74, 0x09, 0x00, 0xff, 0xfe, 0x0a]));
  assert.match(binary, /^Not used: .*line 2/i, `binary bytes refused with their line: ${binary}`);
  console.log(`ok binary refused: ${binary}`);
  // A file over the upload limit (web/limits.js, 64 MB) is refused by its size, before it is read.
  const big = path.join(session.dataDir, 'big.tsv');
  await writeFile(big, '');
  await truncate(big, 65 * 1024 * 1024); // sparse: nothing is written
  await page.setInputFiles('#own-file', big);
  const statusBefore = await status(page);
  await page.click('#own-build');
  await page.waitForFunction((b) => !['Reading…', b].includes(document.getElementById('own-status').textContent), statusBefore);
  const tooBig = await status(page);
  assert.match(tooBig, /^Not used: the file big\.tsv is 65\.0 MB, over the limit of 64\.0 MB/, tooBig);
  console.log(`ok too big refused: ${tooBig}`);
  assert.equal(await pg(page, () => window.__playground.phase), 'loading', 'still waiting for a usable file');

  // The good file.
  const text = labelledFile(360);
  const ok = await readFile(page, 'topics.tsv', text);
  assert.match(ok, /^Built in \d+ ms from topics\.tsv/, ok);
  await phaseIs(page, ['ready'], 60000);
  const classRows = await page.$$eval('#own-report .own-classes tr', (rows) => rows.slice(1).map((r) => r.children[0].textContent));
  assert.deepEqual(classRows.sort(), ['cooking', 'sports', 'weather'], 'the report lists the three classes');
  assert.match(await pg(page, () => location.hash), /dataset=own/, 'the link says own');
  const settings = await pg(page, () => window.__playground.settings);
  assert.ok(settings.val_size > 40 && settings.val_size < 70, `validation share 20% of the training texts: ${settings.val_size}`);
  console.log(`ok read 360 lines, 3 classes, val_size ${settings.val_size}`);

  // Train: live curves, a test accuracy well above chance (1/3).
  const live = await trainAndWatch(page, 300000);
  const testResult = await pg(page, () => window.__playground.test);
  assert.ok(testResult.acc > 0.8, `test accuracy ${testResult.acc}`);
  const charts = await pg(page, () => window.__playground.charts());
  assert.ok(charts.acc.val.length >= 2 && charts.loss.batch.length > 0,
    `the curves show the run: ${charts.acc.val.length} epochs, ${charts.loss.batch.length} batch points`);
  console.log(`ok trained: test accuracy ${testResult.acc.toFixed(3)}, ${charts.acc.val.length} epochs, ${live} batch points seen while training`);

  // The review box: a bar per class, top class first, named.
  const explained = await typeReview(page, SPORTS_TEXT);
  assert.equal(explained.classes.length, 3, 'three class probabilities');
  assert.equal(explained.classes[0].name, 'sports', `top class: ${JSON.stringify(explained.classes)}`);
  assert.ok(explained.tokens.some((t) => t.contribution > 0), 'words coloured toward the top class');
  const bars = await page.$$eval('#class-bars li .class-name', (els) => els.map((e) => e.textContent));
  assert.equal(bars.length, 3);
  assert.equal(bars[0], 'sports', 'the first bar is the top class');
  assert.match(await page.textContent('#score-text'), /Top class: sports/);
  console.log(`ok per-class bars: ${bars.join(', ')}`);

  // The K x K diagnosis, computed when training ended.
  await page.waitForFunction(() => window.__playground.diagnosis?.matrix, null, { timeout: 60000, polling: 50 });
  const d = await pg(page, () => window.__playground.diagnosis);
  assert.equal(d.classes, 3);
  assert.equal(d.matrix.reduce((a, b) => a + b, 0), d.n, 'the cells add up to the test texts');
  const shown = await page.$$eval('#class-confusion tr', (rows) => rows.slice(1).map((r) => [...r.querySelectorAll('td')].map((c) => Number(c.textContent))));
  assert.deepEqual(shown.flat(), d.matrix, 'the page shows the 3 x 3 counts');
  assert.equal(await page.$$eval('#class-metrics tr', (rows) => rows.length), 1 + 3 + 2, 'a row per class, macro and micro');
  assert.ok(Math.abs(d.micro.f1 - d.accuracy) < 1e-9, 'micro F1 is the accuracy for single-label texts');
  assert.equal(await page.isVisible('#diag-results'), false, 'the two-class diagnosis is not shown');
  // Each class against the rest: AUC and AP in the table, one ROC line per class on the chart.
  assert.equal(d.oneVsRest.length, 3);
  const ovrCells = await page.$$eval('#class-metrics tr', (rows) => rows.slice(1, 4).map((r) => [...r.querySelectorAll('td')].slice(5).map((c) => Number(c.textContent))));
  ovrCells.forEach(([auc, ap], k) => {
    assert.ok(Math.abs(auc - d.oneVsRest[k].auc) < 6e-4 && Math.abs(ap - d.oneVsRest[k].ap) < 6e-4, `class ${k}: the table shows AUC ${auc}, AP ${ap}`);
    assert.ok(auc > 0.5, `class ${k}: better than chance against the rest (AUC ${auc})`);
  });
  const macroAuc = Number(await page.$$eval('#class-metrics tr.average td', (tds) => tds[5].textContent));
  const mean = d.oneVsRest.reduce((a, o) => a + o.auc, 0) / 3;
  assert.ok(Math.abs(macroAuc - mean) < 6e-4, `the macro AUC ${macroAuc} is the mean of the classes' ${mean}`);
  assert.equal(await page.isVisible('#chart-class-roc'), true, 'the one-vs-rest ROC chart is shown');
  const lines = await page.evaluate(() => globalThis.Chart.getChart('chart-class-roc').data.datasets.map((ds) => ds.data.length));
  assert.equal(lines.length, 3 + 1, 'a line per class and the chance diagonal');
  console.log(`ok one vs rest: AUC ${d.oneVsRest.map((o) => o.auc.toFixed(3)).join(', ')}, macro ${macroAuc}`);
  console.log(`ok 3 x 3 confusion ${JSON.stringify(d.matrix)}, accuracy ${d.accuracy.toFixed(3)}, macro F1 ${d.macro.f1.toFixed(3)}`);

  // Runs record the dataset.
  const runs = await pg(page, () => window.__playground.runs());
  assert.equal(runs[0].dataset, 'own', 'the run records the dataset');

  // A bad file now loses nothing: the model and its score stay.
  const after = await readFile(page, 'one-again.tsv', 'a\tx y\na\ty z\n');
  assert.match(after, /^Not used:/);
  assert.equal(await pg(page, () => window.__playground.phase), 'done', 'the trained model is still there');

  // Download the model.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#btn-download')]);
  const ckptPath = path.join(session.dataDir, 'own.nnckpt');
  await download.saveAs(ckptPath);
  await page.screenshot({ path: path.join(ARTIFACTS, 'own-text-trained.png'), fullPage: true });

  // Reload: the shard is kept; forget the saved model, load the downloaded one, score again.
  await page.reload();
  await phaseIs(page, ['ready', 'done', 'imported'], 120000);
  assert.match(await status(page), /kept in this browser/, 'the shard came back from IndexedDB');
  await page.click('#btn-reset');
  await phaseIs(page, ['ready']);
  await page.setInputFiles('#checkpoint-file', ckptPath);
  await page.waitForFunction(() => window.__playground.phase === 'done' && window.__playground.test, null, { timeout: 60000 });
  const again = await typeReview(page, SPORTS_TEXT);
  assert.deepEqual(again.classes.map((c) => c.name), explained.classes.map((c) => c.name), 'the same class order');
  for (const [i, c] of again.classes.entries())
    assert.ok(Math.abs(c.p - explained.classes[i].p) < 1e-6, `class ${c.name}: ${c.p} vs ${explained.classes[i].p}`);
  console.log('ok the downloaded model scores the text the same after a reload');
  const restored = await pg(page, () => ({ charts: window.__playground.charts(), history: window.__playground.history }));
  assert.equal(restored.charts.acc.val.length, restored.history.length, 'the loaded model\'s curves are shown');

  assertClean(problems, 'own text page');
  await page.close();

  // On a phone (the same browser: the shard and the model come back): the file
  // panel, the class bars and the K x K tables fit, no sideways scroll.
  const phone = await session.openPage('#dataset=own', { viewport: { width: 375, height: 812 }, keepSaved: true });
  await phaseIs(phone.page, ['done', 'ready', 'imported'], 120000);
  await typeReview(phone.page, SPORTS_TEXT);
  await phone.page.click('#btn-class-diag');
  await phone.page.waitForFunction(() => window.__playground.diagnosis?.matrix && !window.__playground.diagnosis.running, null, { timeout: 60000 });
  const width = await pg(phone.page, () => document.documentElement.scrollWidth);
  assert.ok(width <= 375, `no horizontal scroll at 375 px (scrollWidth ${width})`);
  await phone.page.screenshot({ path: path.join(ARTIFACTS, 'own-text-375.png'), fullPage: true });
  assertClean(phone.problems, 'own text page at 375 px');
  await phone.page.close();
});
