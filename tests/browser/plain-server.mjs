// plain-server.mjs: a static server as a plain host is one (python3 -m
// http.server, a bucket): the files of a folder with a Content-Type and a
// Last-Modified, and no COOP/COEP, CSP or Cache-Control headers. For
// tests/browser/site.test.mjs and tests/bench/site_bench.mjs; onRequest(path)
// sees every request, alter(path, bytes) may change a file's bytes (a test
// that cuts or damages a download), and the answer waits for hold(path)'s
// promise (a test that holds a file back).
//
// Not a test file (node --test runs only *.test.mjs), and not a server to
// deploy: no range requests, no HEAD, no directory listings.

import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm',
  '.json': 'application/json', '.svg': 'image/svg+xml',
};

// Listens on a free loopback port; resolves {server, url}.
export function startPlainServer(dir, { onRequest = () => {}, alter = (p, bytes) => bytes, hold = async () => {} } = {}) {
  const root = path.resolve(dir);
  const server = createServer(async (req, res) => {
    const p = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
    onRequest(p);
    await hold(p);
    const file = path.join(root, p.endsWith('/') ? p + 'index.html' : p);
    if (!file.startsWith(root + path.sep)) return res.writeHead(403).end();
    let body, st;
    try {
      st = await stat(file);
      body = alter(p, await readFile(file));
    } catch {
      return res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
    }
    res.writeHead(200, {
      'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream',
      'Content-Length': body.length,
      'Last-Modified': st.mtime.toUTCString(),
    });
    res.end(body);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${server.address().port}/` }));
  });
}
