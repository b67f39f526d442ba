#!/usr/bin/env node
// pack-shard.mjs: writes a data file in the packed form a static site serves
// (web/worker/packed.js reads it): a 32-byte header, then gzip of the bytes,
// text shards first turned into one or two bytes per 16-bit word (transform
// "bytes", the default; "varint" is the older transform 1). Transform 3
// ("ids") codes a text shard's token ids with engine/packed_ids.c instead:
// the body is written by the native tool build/imdb_pack_ids (cmake builds
// it; NN_PACK_IDS names another), this script adds the header.
//
//   node scripts/pack-shard.mjs IN OUT [--transform ids|bytes|varint|none] [--level 1-9]
//   node scripts/pack-shard.mjs --measure IN [--keep DIR]
//   node scripts/pack-shard.mjs --manifest SITE_JSON PACKED... [--test NAME=TEST_NAME:N]...
//
// --measure prints, for each way of packing IN, its size and how long
// unpack() (the page's decoder: DecompressionStream, the varint decoder and
// the CRC-32 check) takes here in Node. Figures only. --keep DIR also writes
// each way's file there (tests/bench/site_bench.mjs times the page's decoding
// of every .nnz file under the site it serves).
//
// --manifest writes the site.json that lists PACKED files (read from their
// headers) by the name of the file each one unpacks to, which is what
// web/worker/download.js looks up; --test NAME=TEST_NAME:N adds to NAME's
// entry {test: {file: TEST_NAME, reviews: N}}: its test split comes as a
// file of its own (web/worker/testsplit.js).
//
// Deliberately not here: choosing which files a site gets (build-site.sh).

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path, { basename } from 'node:path';
import zlib from 'node:zlib';
import { performance } from 'node:perf_hooks';
import {
  BYTES_ESCAPE, BYTES_ONE, BYTES_TWO, PACK_MAGIC, PACK_VERSION, PACK_HEADER_BYTES, TRANSFORM_IDS, TRANSFORM_NONE,
  TRANSFORM_U16_BYTES, TRANSFORM_U16_VARINT, crc32, readPackHeader, unpack,
} from '../web/worker/packed.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
export const PACK_IDS_TOOL = process.env.NN_PACK_IDS || path.join(ROOT, 'build', 'imdb_pack_ids');
export const IDS_WASM = path.join(ROOT, 'web', 'engine', 'packed_ids.wasm');
// What unpack() needs for transform 3 here: packed_ids.wasm from the disk.
export const nodeUnpackOptions = { idsWasm: () => readFileSync(IDS_WASM) };

const fastCrc32 = (bytes) => (zlib.crc32 ? zlib.crc32(bytes) >>> 0 : crc32(bytes));

// The varints of bytes' little-endian 16-bit words, high 7-bit group first.
export function varintWords(bytes) {
  if (bytes.length % 2 !== 0) throw new Error('the varint transform needs an even number of bytes');
  const out = Buffer.allocUnsafe((bytes.length / 2) * 3);
  let o = 0;
  for (let i = 0; i < bytes.length; i += 2) {
    const w = bytes[i] | (bytes[i + 1] << 8);
    if (w < 0x80) {
      out[o++] = w;
    } else if (w < 0x4000) {
      out[o++] = 0x80 | (w >>> 7);
      out[o++] = w & 0x7f;
    } else {
      out[o++] = 0x80 | (w >>> 14);
      out[o++] = 0x80 | ((w >>> 7) & 0x7f);
      out[o++] = w & 0x7f;
    }
  }
  return out.subarray(0, o);
}

// bytes' little-endian 16-bit words in one to three bytes (packed.js,
// transform 2): below 128 one byte, below 32,640 two, else the escape byte
// and the word, low byte first.
export function byteWords(bytes) {
  if (bytes.length % 2 !== 0) throw new Error('the bytes transform needs an even number of bytes');
  const out = Buffer.allocUnsafe((bytes.length / 2) * 3);
  let o = 0;
  for (let i = 0; i < bytes.length; i += 2) {
    const w = bytes[i] | (bytes[i + 1] << 8);
    if (w < BYTES_ONE) {
      out[o++] = w;
    } else if (w < BYTES_TWO) {
      out[o++] = BYTES_ONE + ((w - BYTES_ONE) >>> 8);
      out[o++] = (w - BYTES_ONE) & 0xff;
    } else {
      out[o++] = BYTES_ESCAPE;
      out[o++] = bytes[i];
      out[o++] = bytes[i + 1];
    }
  }
  return out.subarray(0, o);
}

// The body of transform 3 for a text shard's bytes, from the native tool;
// `stats` gets its JSON line (sizes, bits per id, encode time).
export function idsBody(bytes, stats = {}) {
  if (!existsSync(PACK_IDS_TOOL))
    throw new Error(`${PACK_IDS_TOOL} is missing: build it (cmake --build build --target imdb_pack_ids) or set NN_PACK_IDS`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pack-ids-'));
  try {
    writeFileSync(path.join(dir, 'in.shard'), bytes);
    const line = execFileSync(PACK_IDS_TOOL, [path.join(dir, 'in.shard'), path.join(dir, 'body')], { encoding: 'utf8' });
    Object.assign(stats, JSON.parse(line));
    return readFileSync(path.join(dir, 'body'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// The packed file of `bytes` (a Buffer).
export function pack(bytes, { transform = TRANSFORM_U16_BYTES, level = 9, stats = {} } = {}) {
  const header = packHeader(bytes, transform);
  if (transform === TRANSFORM_IDS) return Buffer.concat([header, idsBody(bytes, stats)]);
  const body = transform === TRANSFORM_U16_VARINT ? varintWords(bytes) : transform === TRANSFORM_U16_BYTES ? byteWords(bytes) : bytes;
  return Buffer.concat([header, zlib.gzipSync(body, { level, memLevel: 9 })]);
}

function packHeader(bytes, transform) {
  const header = Buffer.alloc(PACK_HEADER_BYTES);
  header.write(PACK_MAGIC, 0, 'latin1');
  header.writeUInt32LE(PACK_VERSION, 8);
  header.writeUInt32LE(transform, 12);
  header.writeBigUInt64LE(BigInt(bytes.length), 16);
  header.writeUInt32LE(fastCrc32(bytes), 24);
  return header;
}

async function measure(file, keep) {
  const bytes = readFileSync(file);
  console.log(`${file}: ${bytes.length} bytes`);
  console.log('packing                 bytes      of raw  pack s  unpack ms (Node)');
  const ways = [
    ['gzip -1', TRANSFORM_NONE, 1], ['gzip -6', TRANSFORM_NONE, 6], ['gzip -9', TRANSFORM_NONE, 9],
    ['varint + gzip -1', TRANSFORM_U16_VARINT, 1], ['varint + gzip -6', TRANSFORM_U16_VARINT, 6],
    ['varint + gzip -9', TRANSFORM_U16_VARINT, 9], ['bytes + gzip -6', TRANSFORM_U16_BYTES, 6],
    ['bytes + gzip -9', TRANSFORM_U16_BYTES, 9], ['ids coded', TRANSFORM_IDS, 0],
  ];
  for (const [name, transform, level] of ways) {
    if (transform !== TRANSFORM_NONE && bytes.length % 2) continue;
    let t = performance.now();
    let packed;
    try {
      packed = pack(bytes, { transform, level });
    } catch (err) {
      if (transform !== TRANSFORM_IDS) throw err;
      console.log(`${name.padEnd(20)} not measured: ${err.message.split('\n')[0]}`);
      continue;
    }
    const packS = (performance.now() - t) / 1000;
    t = performance.now();
    const back = await unpack(new Uint8Array(packed.buffer, packed.byteOffset, packed.length), 'the packed file', nodeUnpackOptions);
    const ms = performance.now() - t;
    if (!Buffer.from(back.buffer, back.byteOffset, back.length).equals(bytes)) throw new Error(`${name}: unpacked bytes differ`);
    if (keep) writeFileSync(path.join(keep, `${basename(file)}.${name.replace(/[^a-z0-9]+/g, '')}.nnz`), packed);
    console.log(`${name.padEnd(20)} ${String(packed.length).padStart(10)}  ${(packed.length / bytes.length * 100).toFixed(1).padStart(5)}%  ${packS.toFixed(1).padStart(6)}  ${ms.toFixed(0).padStart(8)}`);
  }
}

function usage(code) {
  console.error('usage: node scripts/pack-shard.mjs IN OUT [--transform ids|bytes|varint|none] [--level 1-9]\n       node scripts/pack-shard.mjs --measure IN [--keep DIR]\n       node scripts/pack-shard.mjs --manifest SITE_JSON PACKED... [--test NAME=TEST_NAME:N]...');
  process.exit(code);
}

// tests: [{of, file, reviews}] from --test OF=FILE:N: the test reviews of
// OF come as the file FILE (a shard of the "test" split alone, N reviews;
// build-site.sh and build/imdb_split_shard), which the page downloads after
// OF (web/worker/testsplit.js).
function writeManifest(out, packedFiles, tests = []) {
  const files = {};
  for (const file of packedFiles) {
    const bytes = readFileSync(file);
    const header = readPackHeader(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
    const name = basename(file).replace(/\.nnz$/, '');
    files[name] = { packed: basename(file), packed_bytes: bytes.length, bytes: header.length, crc32: header.crc, transform: header.transform };
  }
  for (const { of, file, reviews } of tests) {
    if (!files[of] || !files[file]) throw new Error(`--test ${of}=${file}: both files must be among the packed files`);
    files[of].test = { file, reviews };
  }
  writeFileSync(out, JSON.stringify({ format: 'nn-site-data', version: 1, files }, null, 1) + '\n');
}

async function main(argv) {
  if (argv[0] === '--manifest') {
    const packed = [], tests = [];
    for (let i = 2; i < argv.length; i++) {
      if (argv[i] !== '--test') {
        packed.push(argv[i]);
        continue;
      }
      const m = /^([^=]+)=([^:]+):(\d+)$/.exec(argv[++i] ?? '');
      if (!m) usage(2);
      tests.push({ of: m[1], file: m[2], reviews: Number(m[3]) });
    }
    if (!argv[1] || packed.length < 1) usage(2);
    writeManifest(argv[1], packed, tests);
    return;
  }
  if (argv[0] === '--measure') {
    if (argv.length !== 2 && !(argv.length === 4 && argv[2] === '--keep')) usage(2);
    if (argv[3]) mkdirSync(argv[3], { recursive: true });
    await measure(argv[1], argv[3]);
    return;
  }
  const files = [];
  let transform = TRANSFORM_U16_BYTES, level = 9;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--transform') {
      const v = argv[++i];
      if (v === 'ids') transform = TRANSFORM_IDS;
      else if (v === 'bytes') transform = TRANSFORM_U16_BYTES;
      else if (v === 'varint') transform = TRANSFORM_U16_VARINT;
      else if (v === 'none') transform = TRANSFORM_NONE;
      else usage(2);
    } else if (argv[i] === '--level') {
      level = Number(argv[++i]);
      if (!Number.isInteger(level) || level < 1 || level > 9) usage(2);
    } else if (argv[i] === '-h' || argv[i] === '--help') usage(0);
    else files.push(argv[i]);
  }
  if (files.length !== 2) usage(2);
  const bytes = readFileSync(files[0]);
  const stats = {};
  const packed = pack(bytes, { transform, level, stats });
  writeFileSync(files[1], packed);
  console.log(JSON.stringify({ bytes: bytes.length, crc32: packed.readUInt32LE(24), packed_bytes: packed.length, transform, ...(stats.bits_per_id ? { bits_per_id: stats.bits_per_id, encode_s: stats.encode_s } : {}) }));
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main(process.argv.slice(2)).catch((err) => {
    console.error(`pack-shard: ${err.message}`);
    process.exit(1);
  });
}
