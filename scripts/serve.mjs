#!/usr/bin/env node
// serve.mjs: a tiny static server for the playground page, for development
// and the browser tests. It serves web/ at /, the built shard folder at
// /data/, and Chart.js straight from node_modules at /vendor/chart.umd.js
// (unless scripts/build-web.sh has copied it into web/vendor/).
//
// Every response carries the isolation and security headers the page is
// written for (COOP/COEP/CORP, a strict CSP without inline script or eval),
// so anything that works here also works behind a production server sending
// the same headers. It deliberately is not a production server: no caching
// logic beyond no-cache, no range requests, no compression, no dependencies.
//
//   node scripts/serve.mjs [--port 8000] [--host 127.0.0.1] [--data-dir data]
//                          [--web-dir web]
// The port also comes from PORT; --port 0 picks a free one. The first line
// printed is the URL ("Serving http://127.0.0.1:8000/"), which the tests read.

import { createServer } from 'node:http';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.shard': 'application/octet-stream',
  '.nnckpt': 'application/octet-stream',
};

const CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "worker-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  // Trusted Types: only the page's "default" policy (web/trusted-types.js)
  // may exist, and it turns no string into HTML or script, so every DOM sink
  // that would parse one (innerHTML, insertAdjacentHTML, document.write, a
  // script's text) throws: user text can reach the page only as text,
  // whatever a future edit does. It lets same-site script URLs through
  // (new Worker).
  "require-trusted-types-for 'script'",
  "trusted-types default",
].join('; ');

const SECURITY_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Content-Security-Policy': CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

function parseArgs(argv) {
  const opts = {
    port: process.env.PORT !== undefined ? Number(process.env.PORT) : 8000,
    host: '127.0.0.1',
    webDir: path.join(ROOT, 'web'),
    dataDir: path.join(ROOT, 'data'),
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [key, inline] = arg.includes('=') ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    const value = () => (inline !== undefined ? inline : argv[++i]);
    if (key === '--port') opts.port = Number(value());
    else if (key === '--host') opts.host = value();
    else if (key === '--data-dir') opts.dataDir = path.resolve(value());
    else if (key === '--web-dir') opts.webDir = path.resolve(value());
    else if (key === '--help' || key === '-h') {
      console.log('usage: node scripts/serve.mjs [--port N] [--host H] [--data-dir DIR] [--web-dir DIR]');
      process.exit(0);
    } else {
      console.error(`serve.mjs: unknown option ${arg} (try --help)`);
      process.exit(2);
    }
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    console.error('serve.mjs: --port (or PORT) must be an integer from 0 to 65535');
    process.exit(2);
  }
  return opts;
}

// Maps a URL path below a mount point to a file inside root, or null when the
// path tries to leave root (../, encoded slashes, NUL, absolute parts).
// The check is lexical: a symlink placed inside root by whoever runs the
// server is followed, which is how the tests serve a temporary shard folder.
function resolveInside(root, relUrlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(relUrlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const parts = decoded.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) return null;
  const file = path.join(root, ...parts);
  const rel = path.relative(root, file);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return null;
  return file;
}

function route(opts, urlPath) {
  if (urlPath === '/data' || urlPath.startsWith('/data/')) {
    return { file: resolveInside(opts.dataDir, urlPath.slice('/data'.length)), noCache: true };
  }
  if (urlPath === '/vendor/chart.umd.js') {
    return {
      file: path.join(opts.webDir, 'vendor', 'chart.umd.js'),
      fallback: path.join(ROOT, 'node_modules', 'chart.js', 'dist', 'chart.umd.js'),
    };
  }
  return { file: resolveInside(opts.webDir, urlPath) };
}

async function fileStat(file) {
  try {
    return await stat(file);
  } catch {
    return null;
  }
}

function sendText(res, status, text, extra = {}) {
  const body = Buffer.from(text + '\n', 'utf8');
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': body.length,
    'Cache-Control': 'no-cache',
    ...extra,
  });
  res.end(body);
}

async function handle(opts, req, res) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendText(res, 405, 'Only GET and HEAD are served.', { Allow: 'GET, HEAD' });
    return;
  }
  let urlPath;
  try {
    urlPath = new URL(req.url, 'http://localhost').pathname;
  } catch {
    sendText(res, 400, 'Bad request URL.');
    return;
  }
  const r = route(opts, urlPath);
  if (!r.file) {
    sendText(res, 403, 'Forbidden path.');
    return;
  }
  let file = r.file;
  let st = await fileStat(file);
  if (st && st.isDirectory()) {
    if (!urlPath.endsWith('/')) {
      res.writeHead(301, { ...SECURITY_HEADERS, Location: urlPath + '/', 'Content-Length': 0 });
      res.end();
      return;
    }
    file = path.join(file, 'index.html');
    st = await fileStat(file);
  }
  if ((!st || !st.isFile()) && r.fallback) {
    file = r.fallback;
    st = await fileStat(file);
  }
  if (!st || !st.isFile()) {
    const hint = urlPath.startsWith('/data/')
      ? ' Build the shard with scripts/setup.sh.'
      : urlPath.startsWith('/engine/')
        ? ' Build the engine with scripts/build-wasm.sh.'
        : urlPath.startsWith('/vendor/')
          ? ' Run npm install (or scripts/build-web.sh).'
          : '';
    sendText(res, 404, `Not found: ${urlPath}.${hint}`);
    return;
  }
  const type = MIME[path.extname(file).toLowerCase()] || 'application/octet-stream';
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    'Content-Type': type,
    'Content-Length': st.size,
    'Cache-Control': 'no-cache',
    'Last-Modified': st.mtime.toUTCString(),
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = createReadStream(file);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

export function startServer(opts) {
  const server = createServer((req, res) => {
    handle(opts, req, res).catch((err) => {
      if (!res.headersSent) sendText(res, 500, `Server error: ${err.message}`);
      else res.destroy();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      const { port } = server.address();
      resolve({ server, url: `http://${opts.host}:${port}/` });
    });
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const opts = parseArgs(process.argv.slice(2));
  startServer(opts).then(
    ({ url }) => {
      const alias = opts.host === '127.0.0.1' ? ` (or http://localhost:${new URL(url).port}/)` : '';
      console.log(`Serving ${url}${alias}`);
      console.log(`  page:  ${opts.webDir}`);
      console.log(`  /data: ${opts.dataDir}`);
    },
    (err) => {
      console.error(`serve.mjs: cannot listen on ${opts.host}:${opts.port}: ${err.message}`);
      process.exit(1);
    },
  );
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
}
