// worker_page.mjs: what the benches that time the page's worker on its own
// share: the page served by scripts/serve.mjs (web/ and data/, with the
// isolation headers, so the worker may take the two-thread engine), Debian's
// Chromium headless through playwright-core, and a blank same-origin page
// (/__bench__/blank.html) with `startBenchWorker()` in it (installBenchWorker,
// for a bench that opens its own pages: browser_bench.mjs): it starts
// web/worker/worker.js unchanged and returns
//   { worker, req(type, data) -> Promise of the reply's data, onEvent(fn) }
// where fn(message) hears every event (a message without a pending id).
//
// Deliberately not here: what each bench times or prints.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

// Runs in the page (addInitScript): the worker and its request client.
export function installBenchWorker() {
  globalThis.startBenchWorker = () => {
    const worker = new Worker('/worker/worker.js', { type: 'module' });
    const pending = new Map();
    let nextId = 1;
    let listener = () => {};
    worker.onmessage = (e) => {
      const m = e.data;
      if (m.id !== undefined && pending.has(m.id)) {
        const { resolve, reject } = pending.get(m.id);
        pending.delete(m.id);
        if (m.type === 'ok') resolve(m.data);
        else reject(new Error(`${m.data.op}: ${m.data.message}`));
        return;
      }
      listener(m);
    };
    const req = (type, data) => new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, type, data });
    });
    return { worker, req, onEvent: (fn) => { listener = fn; } };
  };
}

// Serves the page, opens the blank page; close() ends both.
export async function openWorkerPage({ log = () => {} } = {}) {
  // WEB_DIR=<a copy of web/ with its engine/ and vendor/>: another build of
  // the page's engine (an old one, for before/after figures in turn).
  const webDir = process.env.WEB_DIR ? path.resolve(process.env.WEB_DIR) : path.join(ROOT, 'web');
  const { server, url } = await startServer({ port: 0, host: '127.0.0.1', webDir, dataDir: path.join(ROOT, 'data') });
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
  const close = async () => {
    await browser.close();
    server.close();
  };
  try {
    const page = await browser.newPage();
    page.on('console', (m) => log(`page: ${m.text()}`));
    await page.addInitScript(installBenchWorker);
    await page.route('**/__bench__/blank.html', (route) =>
      route.fulfill({ status: 200, headers: { ...ISOLATION, 'Content-Type': 'text/html' }, body: '<!doctype html><title>bench</title>' }));
    await page.goto(`${url}__bench__/blank.html`);
    return { page, close };
  } catch (err) {
    await close();
    throw err;
  }
}
