// serve.test.mjs: scripts/serve.mjs as a link or another site would reach it.
// Starts the server on a free port with a temporary web folder (a page and a
// folder "engine/") and a temporary data folder (a file, a link to a file
// outside every served folder, a link to a folder outside, a link into the
// repository's data/ folder as the browser tests make), then checks with raw
// HTTP requests (node:http, so the Host header and redirects are ours):
// - no redirect goes to another host: "/.//engine" and "//engine" answer
//   Location "/engine/", never "//engine/";
// - a symlink out of the served folders is refused (403), one into data/ is
//   served;
// - a Host that is not a loopback name or the listening address gets 421, a
//   request without Host 400, and the right ones 200.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm, symlink, writeFile, realpath, readdir } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SECRET = 'a file outside every served folder';

let server;
let base; // {host, port}
let tmp;

function startServer(webDir, dataDir) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'serve.mjs'), '--port', '0',
      '--web-dir', webDir, '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`serve.mjs printed no URL in 10 s: ${out}${err}`)), 10000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/Serving http:\/\/([^:/]+):(\d+)\//);
      if (m) {
        clearTimeout(timer);
        resolve({ child, host: m[1], port: Number(m[2]) });
      }
    });
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve.mjs exited with ${code}: ${err}`));
    });
  });
}

// One raw GET: {status, headers, body}. headers may set or (null) drop Host.
function get(pathname, headers = {}) {
  return new Promise((resolve, reject) => {
    const h = { Host: `127.0.0.1:${base.port}`, ...headers };
    const setHost = h.Host !== null;
    if (!setHost) delete h.Host;
    const req = request({ host: base.host, port: base.port, path: pathname, method: 'GET', headers: h,
      setHost }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'serve-test-'));
  const web = path.join(tmp, 'web');
  const data = path.join(tmp, 'data');
  const outside = path.join(tmp, 'outside');
  await mkdir(path.join(web, 'engine'), { recursive: true });
  await mkdir(data);
  await mkdir(outside);
  await writeFile(path.join(web, 'index.html'), '<!doctype html><title>page</title>\n');
  await writeFile(path.join(web, 'engine', 'index.html'), 'engine folder\n');
  await writeFile(path.join(data, 'plain.txt'), 'served\n');
  await writeFile(path.join(outside, 'secret.txt'), SECRET + '\n');
  await symlink(path.join(outside, 'secret.txt'), path.join(data, 'escape.txt'));
  await symlink(outside, path.join(data, 'escape-dir'));
  await symlink(outside, path.join(web, 'escape-dir'));
  // The browser tests' case: a link to a file of the repository's data/.
  const repoData = await realpath(path.join(ROOT, 'data'));
  const shard = (await readdir(repoData)).find((f) => f.endsWith('.json') || f.endsWith('.shard'));
  assert.ok(shard, `${repoData} holds a shard or manifest (scripts/setup.sh builds them)`);
  await symlink(path.join(repoData, shard), path.join(data, 'linked-' + shard));
  base = await startServer(web, data);
  server = base.child;
  base.linked = 'linked-' + shard;
});

after(async () => {
  if (server) server.kill();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('a folder without its slash redirects to the same host, never to "//name"', async () => {
  for (const [from, to] of [['/engine', '/engine/'], ['/.//engine', '/engine/'], ['//engine', '/engine/'],
    ['/./engine', '/engine/'], ['/%2e//engine', '/engine/'], ['//./engine', '/engine/']]) {
    const r = await get(from);
    assert.equal(r.status, 301, `${from} redirects (got ${r.status})`);
    assert.equal(r.headers.location, to, `${from} redirects to ${to}`);
    assert.ok(!/^\/\/|^\\|^[a-z][a-z0-9+.-]*:/i.test(r.headers.location), `${from}: Location is a path on this host`);
  }
  for (const p of ['/.//engine/', '/engine/']) {
    const r = await get(p);
    assert.equal(r.status, 200, `${p} serves the folder's index.html`);
    assert.equal(r.body, 'engine folder\n');
  }
  for (const p of ['/\\engine', '/%5cengine', '/..//engine', '/%2e%2e/engine']) {
    const r = await get(p);
    assert.ok(r.status === 403 || r.status === 404 || (r.status === 301 && r.headers.location === '/engine/'),
      `${p} is refused or stays on this host (got ${r.status} ${r.headers.location || ''})`);
  }
});

test('a symlink out of the served folders is refused; one into the repository data/ is served', async () => {
  for (const p of ['/data/escape.txt', '/data/escape-dir/secret.txt', '/escape-dir/secret.txt', '/data/escape-dir']) {
    const r = await get(p);
    assert.equal(r.status, 403, `${p} is refused (got ${r.status})`);
    assert.ok(!r.body.includes(SECRET), `${p} does not leak the file`);
  }
  const plain = await get('/data/plain.txt');
  assert.equal(plain.status, 200, 'a plain data file is served');
  assert.equal(plain.body, 'served\n');
  const linked = await get(`/data/${base.linked}`);
  assert.equal(linked.status, 200, `a link into the repository's data/ (${base.linked}) is served`);
});

test('a Host that is not this server is refused (DNS rebinding), the loopback names are served', async () => {
  for (const host of ['evil.example', `evil.example:${base.port}`, 'attacker.test:80', '127.0.0.1.evil.example',
    `localhost.evil.example:${base.port}`, `127.0.0.1:${base.port + 1 > 65535 ? 1 : base.port + 1}`, 'a b', '[::1']) {
    const r = await get('/index.html', { Host: host });
    assert.equal(r.status, 421, `Host ${host} gets 421 (got ${r.status})`);
    assert.ok(!r.body.includes('<title>page'), `Host ${host} does not get the page`);
  }
  const none = await get('/index.html', { Host: null });
  assert.equal(none.status, 400, `a request without Host gets 400 (got ${none.status})`);
  for (const host of [`127.0.0.1:${base.port}`, `localhost:${base.port}`, `LOCALHOST:${base.port}`, 'localhost',
    `[::1]:${base.port}`]) {
    const r = await get('/index.html', { Host: host });
    assert.equal(r.status, 200, `Host ${host} is served (got ${r.status})`);
    assert.ok(r.body.includes('<title>page'), `Host ${host} gets the page`);
  }
});
