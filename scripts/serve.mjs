#!/usr/bin/env node
// serve.mjs: a tiny static server for the playground page, for development
// and the browser tests. It serves web/ at /, the built shard folder at
// /data/, and Chart.js straight from node_modules at /vendor/chart.umd.js
// (unless scripts/build-web.sh has copied it into web/vendor/).
//
// It answers only requests whose Host names a loopback name or the address
// it listens on (421 otherwise), so a web page whose DNS name is rebound to
// 127.0.0.1 cannot read it; it serves no file whose real path (symlinks
// resolved) is outside the folders it serves (the repository's data/ folder
// counts, since the tests link its shards into temporary data folders); and
// its redirects are built from the normalised path, so a Location never
// starts with "//" (which a browser reads as another host).
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
import { realpath, stat } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
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

// The segments of a URL path, decoded, without empty and "." ones, or null
// when the path is not one a file can have (bad escapes, NUL, backslashes,
// "..").
function pathParts(urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const parts = decoded.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) return null;
  return parts;
}

// The canonical form of a URL path: one "/" between segments, each
// re-encoded, so it always starts with a single "/" and never "//" (a
// browser would follow Location: //engine/ to http://engine/).
export function normalisedPath(urlPath) {
  const parts = pathParts(urlPath);
  return parts === null ? null : '/' + parts.map(encodeURIComponent).join('/');
}

// Maps a URL path below a mount point to a file inside root, or null when the
// path tries to leave root (../, encoded slashes, NUL, absolute parts).
// The check is lexical; symlinks are checked after (realInside).
function resolveInside(root, relUrlPath) {
  const parts = pathParts(relUrlPath);
  if (parts === null) return null;
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

// The real folders files may come from: the web and data folders and the
// repository's own data/ folder (the tests link its shards into temporary
// data folders), each with symlinks resolved.
async function realRoots(opts) {
  const roots = [];
  for (const dir of [opts.webDir, opts.dataDir, path.join(ROOT, 'data')]) {
    try {
      roots.push(await realpath(dir));
    } catch {
      // a folder that does not exist serves nothing
    }
  }
  return roots;
}

// 1 when file's real path (symlinks resolved) lies inside one of roots.
async function realInside(roots, file) {
  let real;
  try {
    real = await realpath(file);
  } catch {
    return false;
  }
  return roots.some((root) => {
    const rel = path.relative(root, real);
    return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
  });
}

// The Host names this server answers to: loopback names and the address it
// listens on (every local interface's address when that is a wildcard).
// Anything else, such as a rebound attacker's name, is refused, which is
// what stops DNS rebinding (a page of evil.example whose name now points at
// 127.0.0.1 sends "Host: evil.example").
function allowedHosts(listenHost) {
  const names = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);
  const bare = listenHost.replace(/^\[|\]$/g, '');
  if (bare === '0.0.0.0' || bare === '::') {
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list || []) names.add(a.family === 'IPv6' || a.family === 6 ? `[${a.address}]` : a.address);
    }
  } else {
    names.add(bare.toLowerCase());
    if (bare.includes(':')) names.add(`[${bare.toLowerCase()}]`);
  }
  return names;
}

// null when the Host header names this server on its port, else why not.
export function hostProblem(hostHeader, hosts, port) {
  if (!hostHeader) return 'no Host header';
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\[\]]+)(?::(\d+))?$/.exec(hostHeader.trim());
  if (!m) return `malformed Host ${JSON.stringify(hostHeader)}`;
  const name = m[1].toLowerCase().replace(/\.$/, '');
  if (!hosts.has(name)) return `Host ${JSON.stringify(hostHeader)} is not this server (loopback names or the address it listens on only)`;
  if (m[2] !== undefined && Number(m[2]) !== port) return `Host ${JSON.stringify(hostHeader)} names another port`;
  return null;
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

async function handle(opts, ctx, req, res) {
  const badHost = hostProblem(req.headers.host, ctx.hosts, ctx.port);
  if (badHost) {
    sendText(res, req.headers.host ? 421 : 400, `Misdirected request: ${badHost}.`);
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendText(res, 405, 'Only GET and HEAD are served.', { Allow: 'GET, HEAD' });
    return;
  }
  let urlPath;
  try {
    // Origin-form only ("/path?query"). Parsed after a fixed origin, so
    // "//engine" stays a path instead of becoming a host.
    if (!req.url.startsWith('/')) throw new Error('not a path');
    urlPath = new URL('http://localhost' + req.url).pathname;
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
  if (st && !(await realInside(ctx.roots, file))) {
    sendText(res, 403, 'Forbidden path (a link out of the served folders).');
    return;
  }
  if (st && st.isDirectory()) {
    if (!urlPath.endsWith('/')) {
      const to = normalisedPath(urlPath);
      if (to === null) {
        sendText(res, 403, 'Forbidden path.');
        return;
      }
      res.writeHead(301, { ...SECURITY_HEADERS, Location: to === '/' ? '/' : to + '/', 'Content-Length': 0 });
      res.end();
      return;
    }
    file = path.join(file, 'index.html');
    st = await fileStat(file);
  }
  // A symlink inside a served folder must not lead out of the served folders
  // (checked on the folder above and on its index.html here).
  if (st && !(await realInside(ctx.roots, file))) {
    sendText(res, 403, 'Forbidden path (a link out of the served folders).');
    return;
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

export async function startServer(opts) {
  const ctx = { roots: await realRoots(opts), hosts: allowedHosts(opts.host), port: 0 };
  const server = createServer((req, res) => {
    handle(opts, ctx, req, res).catch((err) => {
      if (!res.headersSent) sendText(res, 500, `Server error: ${err.message}`);
      else res.destroy();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      const { port } = server.address();
      ctx.port = port;
      const shown = opts.host.includes(':') && !opts.host.startsWith('[') ? `[${opts.host}]` : opts.host;
      resolve({ server, url: `http://${shown}:${port}/` });
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
