// layout.test.mjs: the first screen and the runs (issue 12). After training,
// at 1280 x 800 the review box, its score and both charts are on screen
// without scrolling; at 375 px nothing is wider than the screen; two runs of
// different recipes are kept, ticked runs are drawn on the loss chart, and
// both are still listed in the Runs view after a reload.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startSession, ARTIFACTS, POSITIVE_REVIEW } from './harness.mjs';

let session;
before(async () => {
  session = await startSession('layout');
});
after(async () => {
  await session?.close();
});

const SMALL = '#epochs=3&train_size=2000&val_size=1000&batch_size=256';

async function waitPhase(page, phases, timeout = 120000) {
  await page.waitForFunction((p) => p.includes(window.__playground?.phase), phases, { timeout });
}

async function trainToEnd(page) {
  await page.click('#btn-train');
  await page.waitForFunction(() => window.__playground.phase === 'done' && window.__playground.test, null, { timeout: 180000 });
}

// Elements whose box lies (partly) outside the viewport's width, skipping
// those inside a scrolling or clipping container (a wide table scrolls).
function overflowing(page) {
  return page.evaluate(() => {
    const out = [];
    const clipped = (el) => {
      for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
        const o = getComputedStyle(p).overflowX;
        if (o === 'auto' || o === 'scroll' || o === 'hidden') return true;
      }
      return false;
    };
    for (const el of document.body.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      if (getComputedStyle(el).visibility === 'hidden') continue;
      if (r.right > innerWidth + 0.5 && !clipped(el)) out.push(`${el.tagName.toLowerCase()}#${el.id}.${el.className} right=${r.right.toFixed(1)}`);
    }
    return { scrollWidth: document.documentElement.scrollWidth, innerWidth, out: out.slice(0, 10) };
  });
}

test('first screen at 1280 x 800 holds the review box, its score and both charts; at 375 px nothing is wider than the screen; two runs overlay and survive a reload', async () => {
  const { page, problems } = await session.openPage(SMALL, { viewport: { width: 1280, height: 800 } });
  await waitPhase(page, ['ready']);
  await page.fill('#review-text', POSITIVE_REVIEW);
  await trainToEnd(page);
  await page.waitForFunction(() => !window.__playground.explainBusy && window.__playground.explain, null, { timeout: 30000 });

  // One screen, no scrolling.
  assert.equal(await page.evaluate(() => window.scrollY), 0, 'the page is not scrolled');
  for (const sel of ['#preset', '#btn-train', '#btn-pause', '#btn-stop', '#chart-loss', '#chart-acc', '#review-text', '#score-text', '#score-bar', '#words']) {
    const box = await page.locator(sel).boundingBox();
    assert.ok(box, `${sel} is shown`);
    assert.ok(box.y >= 0 && box.y + box.height <= 800 && box.x >= 0 && box.x + box.width <= 1280,
      `${sel} is inside the 1280 x 800 viewport (${JSON.stringify(box)})`);
  }
  assert.match(await page.textContent('#score-text'), /^Score \d\.\d{3}/, 'the score is shown');
  assert.ok((await page.locator('#words span.word').count()) > 5, 'the review\'s words are coloured');
  await page.screenshot({ path: path.join(ARTIFACTS, 'layout-1280x800.png') });

  // The review box is a few Tab presses from the top.
  await page.evaluate(() => document.activeElement?.blur());
  await page.evaluate(() => window.scrollTo(0, 0));
  let presses = 0;
  for (; presses < 15; presses++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(() => document.activeElement?.id === 'review-text')) break;
  }
  assert.ok(presses < 15, `the review box is reached within 15 Tab presses (${presses + 1})`);

  // A second run with another recipe (masked pooling).
  await page.selectOption('#pooling', 'masked');
  await trainToEnd(page);
  await page.waitForFunction(() => window.__playground.runs()?.filter((r) => r.status === 'done').length === 2, null, { timeout: 30000 });
  const runs = await page.evaluate(() => window.__playground.runs());
  assert.equal(runs.length, 2, 'two runs are kept');
  assert.deepEqual(runs.map((r) => r.config.pooling).sort(), ['keras', 'masked'], 'with different recipes');
  assert.notEqual(runs[0].color, runs[1].color, 'each run has its own colour');

  // Tick both: both are drawn on the loss chart.
  const boxes = page.locator('#runs-root tbody input[type=checkbox]');
  assert.equal(await boxes.count(), 2, 'the Runs table lists both runs');
  for (let i = 0; i < 2; i++) await boxes.nth(i).check();
  await page.waitForFunction(() => window.__playground.charts().overlays.length === 2, null, { timeout: 10000 });
  const charts = await page.evaluate(() => window.__playground.charts());
  assert.deepEqual(charts.overlays.map((o) => o.id).sort(), runs.map((r) => r.id).sort(), 'both ticked runs are overlaid');
  assert.equal(charts.lossDatasets, 7 + 2 * 2, 'the loss chart has two datasets per overlaid run');
  for (const o of charts.overlays) assert.equal(o.valLoss.length, 3, `run ${o.id}'s 3 validation losses are drawn`);
  assert.deepEqual(charts.overlays.map((o) => o.color).sort(), runs.map((r) => r.color).sort(), 'each in its run\'s colour');

  // 375 px: one column, nothing wider than the screen.
  await page.setViewportSize({ width: 375, height: 800 });
  await page.waitForTimeout(300);
  const narrow = await overflowing(page);
  assert.ok(narrow.scrollWidth <= narrow.innerWidth, `the page is not wider than 375 px (${narrow.scrollWidth})`);
  assert.deepEqual(narrow.out, [], 'no visible element reaches past the right edge');
  await page.screenshot({ path: path.join(ARTIFACTS, 'layout-375x800.png') });

  // A reload keeps both runs in the Runs view.
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.reload();
  await waitPhase(page, ['ready', 'done', 'stopped']);
  await page.waitForFunction(() => window.__playground.runs()?.length === 2, null, { timeout: 20000 });
  assert.equal(await page.locator('#runs-root h2', { hasText: 'Runs' }).count(), 1, 'the Runs view has its heading');
  assert.equal(await page.locator('#runs-root tbody tr').count(), 2, 'both runs are still listed after a reload');
  assert.deepEqual(problems, [], 'no console errors');
});

test('a link with #view=diagnosis opens the page at the diagnosis', async () => {
  const { page, problems } = await session.openPage(`${SMALL}&view=diagnosis`, { viewport: { width: 1280, height: 800 } });
  await waitPhase(page, ['ready']);
  await page.waitForFunction(() => {
    const r = document.getElementById('diagnosis').getBoundingClientRect();
    return r.top >= -1 && r.top < innerHeight;
  }, null, { timeout: 10000 });
  assert.match(await page.evaluate(() => location.hash), /view=diagnosis/, 'the hash keeps the view');
  assert.equal(await page.getAttribute('.section-nav a[data-view=diagnosis]', 'aria-current'), 'true', 'the menu marks it');
  assert.deepEqual(problems, [], 'no console errors');
});
