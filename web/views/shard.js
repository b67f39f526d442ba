// shard.js: the loading panel: the shard's progress, what it holds, and what
// to do when it cannot be loaded.

import { $, ui, fmtInt, fmtBytes, showError, page } from '../page.js';
import { state, items } from '../state.js';
import { dataset } from '../datasets.js';

// loaded of total bytes; secondsLeft (a static site's packed download,
// worker/download.js) adds the time left, cached says it came from the
// browser's cache.
export function showShardProgress(loaded, total, { secondsLeft, cached } = {}) {
  if (total > 0) {
    ui.shardProgress.max = total;
    ui.shardProgress.value = Math.min(loaded, total);
    ui.shardDetail.textContent = `${fmtBytes(loaded)} of ${fmtBytes(total)}${timeLeft(secondsLeft, cached)}`;
  } else {
    ui.shardProgress.removeAttribute('value');
    ui.shardDetail.textContent = `${fmtBytes(loaded)}`;
  }
}

// What a download's progress line says after its bytes: the time left, or
// that it came from the browser's cache.
function timeLeft(secondsLeft, cached) {
  if (cached) return ' (from this browser’s cache)';
  return secondsLeft > 0.5 && Number.isFinite(secondsLeft) ? `, about ${Math.ceil(secondsLeft)} s left` : '';
}

// Shows the retry of a failed download, which reloads the page: nothing half
// downloaded was kept, and what was comes from the browser's cache.
function showRetry() {
  const retry = document.getElementById('shard-retry');
  if (!retry) return;
  retry.hidden = false;
  retry.onclick = () => location.reload();
}

export function explainShardFailure(url, message) {
  let what;
  const file = dataset().fileWord;
  const retry = document.getElementById('shard-retry');
  if (retry) retry.hidden = true;
  const downloadFailed = /truncated; retry|check the connection and retry|download it again/i.test(message);
  ui.shardHelp.classList.toggle('download-failed', downloadFailed);
  if (downloadFailed) {
    // A static site's download failed or was cut short (worker/download.js):
    // nothing was kept, so reloading downloads it again.
    what = `The download of the ${file} ${url} failed or was cut short, so nothing was loaded or kept.`;
    showRetry();
  } else if (/\b404\b|not found/i.test(message)) {
    what = `The ${file} ${url} is not there yet. It is not downloaded: it is built on your machine from ${dataset().builtFrom}.`;
  } else if (/checksum|corrupt|truncat|damaged|magic|not a shard/i.test(message)) {
    what = `The ${file} ${url} is damaged or incomplete, so the engine refused it.`;
  } else if (/version/i.test(message)) {
    what = `The ${file} ${url} was built by a different version of the engine.`;
  } else {
    what = `The ${file} ${url} could not be loaded.`;
  }
  ui.shardLabel.textContent = `The ${items()} could not be loaded.`;
  ui.shardProgress.hidden = true;
  ui.shardDetail.textContent = '';
  ui.shardHelpWhat.textContent = what;
  ui.shardHelp.hidden = false;
  showError(`Could not load ${url}: ${message}`);
}

// The diagnosis panel and the stop-word control: their own modules, given

// The shard of the page's dataset: the link's shard for IMDB, fashion.shard
// beside it for Fashion-MNIST.
export function datasetPath() {
  return dataset().shardPath(state.shard);
}
export function datasetUrl() {
  return new URL(datasetPath(), location.href).href;
}

export function showShardLoaded() {
  const pending = page.shardInfo.test_pending ?? 0;
  const splits = { ...(page.shardInfo.splits || {}), ...(pending ? { test: pending } : {}) };
  ui.shardLabel.textContent = `${dataset().Items} loaded`;
  ui.shardProgress.max = 1;
  ui.shardProgress.value = 1;
  ui.shardDetail.textContent = dataset().loadedDetail(splits, page.shardInfo, fmtInt);
  ui.shardPanel.classList.add('loaded');
  if (!pending && page.testDownload && !page.testDownload.failed) { // (a restarted engine had them already)
    page.testDownload = null;
    ui.testDetail.hidden = true;
  }
  if (pending && !page.testDownload) {
    page.testDownload = { loaded: 0, total: 0 };
    ui.testDetail.hidden = false;
    ui.testDetail.textContent = `The ${fmtInt(pending)} test ${items()} are downloading: train now, the test result follows.`;
  }
}

// A static site's test reviews, a file of their own that arrives after the
// rest (worker/testsplit.js): its progress, below the shard's line, never
// holding the page up.
export function showTestProgress({ loaded, total, secondsLeft, cached }) {
  page.testDownload = { loaded, total };
  ui.testDetail.hidden = false;
  ui.testDetail.textContent = `Test ${items()}: ${fmtBytes(loaded)} of ${fmtBytes(total)}${timeLeft(secondsLeft, cached)}. Train now; the test result follows.`;
}

// Resolves once the loaded shard's test reviews are in (at once when none
// are to come); rejects when their download failed.
const testWaiters = [];
export function whenTestReady() {
  if (page.testDownload?.failed) return Promise.reject(new Error(page.testDownload.failed));
  if (!page.shardInfo?.test_pending) return Promise.resolve();
  return new Promise((resolve, reject) => testWaiters.push({ resolve, reject }));
}

export function showTestAttached(info) {
  page.shardInfo = info;
  page.testDownload = null;
  for (const w of testWaiters.splice(0)) w.resolve();
  ui.testDetail.hidden = true;
  ui.testDetail.textContent = '';
  showShardLoaded();
}

// The test reviews could not be downloaded (or were refused): training
// works, a run's test result cannot come; the retry reloads the page (the
// rest comes from the browser's cache).
export function showTestFailure(message) {
  page.testDownload = { failed: message };
  for (const w of testWaiters.splice(0)) w.reject(new Error(message));
  ui.testDetail.hidden = false;
  ui.testDetail.textContent = `The test ${items()} could not be downloaded, so runs get no test result: ${message}`;
  ui.shardHelpWhat.textContent = `The download of the test ${items()} failed or was cut short, so nothing of it was kept.`;
  ui.shardHelp.classList.add('download-failed');
  ui.shardHelp.hidden = false;
  showRetry();
  showError(`Could not load the test ${items()}: ${message}`);
}

