// packed.test.mjs: the packed data files of a static site
// (scripts/pack-shard.mjs writes them, web/worker/packed.js reads them, in
// the page and here in Node alike):
// - unpacking gives back exactly the packed bytes, for words of every varint
//   length and of every length in one to three bytes (transform 2), whole
//   or as the bytes arrive in small pieces, and for data/imdb.shard itself
//   (when scripts/setup.sh built it), with either transform;
// - a packed file cut anywhere (in the header, the gzip stream, its last
//   byte) is refused as truncated, with a message;
// - a damaged byte (past the gzip header's ignored fields), a header that promises other bytes, a bad magic or an
//   unknown version is refused with a message; nothing half-decoded returns;
// - transform 3 (token ids coded by engine/packed_ids.c, written by the native
//   build/imdb_pack_ids, decoded by web/engine/packed_ids.wasm): a synthetic
//   shard of made-up sentences and random ids (0 and 32,767 among them)
//   comes back exactly, whole and in pieces of 1 to 4099 bytes; cut short
//   anywhere (header, run table, gzip part, inside and between blocks) or
//   with a damaged byte anywhere it is refused with a message; without the
//   decoder it is refused, not misread. data/imdb.shard too, with
//   PACKED_IDS_REAL=1 (a minute on a loaded machine).

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { IDS_WASM, PACK_IDS_TOOL, nodeUnpackOptions, pack } from '../../scripts/pack-shard.mjs';
import {
  IDS_BLOCK, PACK_HEADER_BYTES, PackError, TRANSFORM_IDS, TRANSFORM_NONE, TRANSFORM_U16_BYTES, TRANSFORM_U16_VARINT, crc32,
  unpack, unpackStream,
} from '../../web/worker/packed.js';
import zlib from 'node:zlib';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHARD = path.join(ROOT, 'data', 'imdb.shard');

const view = (buf) => new Uint8Array(buf.buffer, buf.byteOffset, buf.length);

// 16-bit words of every varint length and every transform-2 length (one,
// two and three bytes, and the boundaries 127/128, 16383/16384,
// 32639/32640, 65535), from a fixed-seed generator.
function fixtureWords() {
  const words = [0, 1, 127, 128, 129, 383, 384, 16383, 16384, 32639, 32640, 32767, 65280, 65535];
  let s = 12345;
  for (let i = 0; i < 20000; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    const r = s >>> 8;
    words.push(r % 4 === 0 ? r % 65536 : r % 4 === 1 ? r % 16384 : r % 128);
  }
  return Buffer.from(new Uint16Array(words).buffer);
}

async function refused(bytes, pattern, options = {}) {
  await assert.rejects(unpack(bytes, 'the test file', options), (err) => {
    assert.ok(err instanceof PackError, `a PackError, not ${err}`);
    assert.match(err.message, pattern);
    return true;
  });
}

test('crc32 is zlib\'s (the check value of "123456789")', () => {
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
});

test('crc32 (eight bytes at a time, 32-bit words where aligned) equals zlib\'s at every offset and length', { skip: !zlib.crc32 && 'this Node has no zlib.crc32' }, () => {
  const bytes = new Uint8Array(fixtureWords().buffer.slice(0)); // a fresh, 4-byte-aligned buffer
  for (const at of [0, 1, 2, 3, 4, 5, 8]) {
    for (const n of [0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 1000, bytes.length - 8]) {
      const part = bytes.subarray(at, at + n);
      assert.equal(crc32(part), zlib.crc32(part) >>> 0, `${n} bytes at offset ${at}`);
      assert.equal(crc32(part, 0x12345678), zlib.crc32(part, 0x12345678) >>> 0, `${n} bytes at offset ${at}, continued`);
    }
  }
});

test('unpacking varint words of every length gives back the same bytes', async () => {
  const words = fixtureWords();
  const out = await unpack(view(pack(words, { transform: TRANSFORM_U16_VARINT, level: 6 })));
  assert.ok(Buffer.from(out).equals(words), 'unpacked bytes differ from the packed ones');
});

test('unpacking words of every length in one to three bytes (transform 2, the default) gives back the same bytes', async () => {
  const words = fixtureWords();
  const packed = pack(words, { level: 6 });
  assert.equal(packed.readUInt32LE(12), TRANSFORM_U16_BYTES);
  const out = await unpack(view(packed));
  assert.ok(Buffer.from(out).equals(words), 'unpacked bytes differ from the packed ones');
  const every = Buffer.from(Uint16Array.from({ length: 65536 }, (_, i) => i).buffer); // every word, once
  assert.ok(Buffer.from(await unpack(view(pack(every, { level: 1 })))).equals(every), 'every 16-bit word');
  for (const run of [new Uint16Array(50000).fill(7), new Uint16Array(50000).fill(40000)]) { // long runs
    const bytes = Buffer.from(run.buffer);
    assert.ok(Buffer.from(await unpack(view(pack(bytes, { level: 6 })))).equals(bytes), `a run of ${run[0]}`);
  }
  for (const bytes of [Buffer.alloc(0), Buffer.from([1, 0]), Buffer.from([0xff, 0xff])]) // empty, one word
    assert.ok(Buffer.from(await unpack(view(pack(bytes)))).equals(bytes), `${bytes.length} bytes`);
});

test('unpacking as the bytes arrive, in pieces of 1 to 97 bytes (headers and words split), gives back the same bytes', async () => {
  const words = fixtureWords();
  for (const transform of [TRANSFORM_U16_VARINT, TRANSFORM_U16_BYTES]) {
    const packed = view(pack(words, { transform, level: 6 }));
    for (const size of [1, 7, 97]) {
      const stream = unpackStream('the test file');
      for (let at = 0; at < packed.length; at += size) await stream.write(packed.subarray(at, at + size));
      assert.ok(Buffer.from(await stream.finish()).equals(words), `transform ${transform}, pieces of ${size} bytes`);
    }
  }
});

test('a transform-2 stream that ends inside a word, or runs past the header\'s length, is refused', async () => {
  // Valid gzip around bad transform-2 bytes: only the word decoder can tell.
  const packedOf = (body, words) => {
    const header = Buffer.from(pack(Buffer.alloc(0)).subarray(0, PACK_HEADER_BYTES));
    header.writeBigUInt64LE(BigInt(words * 2), 16);
    return view(Buffer.concat([header, zlib.gzipSync(Buffer.from(body))]));
  };
  for (const body of [[0x80], [0xff], [0xff, 0x01], [5, 0xfe]]) await refused(packedOf(body, 1 + (body[0] === 5)), /truncated|corrupt/);
  await refused(packedOf([1, 2, 3], 2), /more bytes than its header says/);
});

test('unpacking without the transform gives back the same bytes (odd length too)', async () => {
  const bytes = Buffer.from('a packed file without the varint transform, 59 bytes long.');
  const out = await unpack(view(pack(bytes, { transform: TRANSFORM_NONE })));
  assert.ok(Buffer.from(out).equals(bytes));
});

test('data/imdb.shard packed and unpacked is the same shard, byte for byte (both word transforms)', { skip: !existsSync(SHARD) && 'no data/imdb.shard (scripts/setup.sh)' }, async () => {
  const shard = readFileSync(SHARD);
  for (const transform of [TRANSFORM_U16_VARINT, TRANSFORM_U16_BYTES]) {
    const packed = pack(shard, { transform, level: 6 });
    assert.ok(packed.length < shard.length * 0.7, `transform ${transform}: packed ${packed.length} bytes of ${shard.length}`);
    const out = await unpack(view(packed));
    assert.equal(out.length, shard.length);
    assert.ok(Buffer.from(out.buffer, out.byteOffset, out.length).equals(shard), `transform ${transform}: the unpacked shard differs from data/imdb.shard`);
  }
});

test('a packed file cut short anywhere is refused as truncated', async () => {
  const packed = pack(fixtureWords(), { level: 6 });
  for (const keep of [0, 10, 31, 32, 40, Math.floor(packed.length / 2), packed.length - 9, packed.length - 1]) {
    await refused(view(packed.subarray(0, keep)), /truncated/);
  }
});

test('a damaged byte in the compressed data is refused', async () => {
  const packed = pack(fixtureWords(), { level: 6 });
  for (const at of [50, Math.floor(packed.length / 2), packed.length - 5]) {
    const bad = Buffer.from(packed);
    bad[at] ^= 0x55;
    await refused(view(bad), /corrupt|truncated/);
  }
});

test('a header that promises other bytes, a bad magic or another version is refused', async () => {
  const packed = pack(fixtureWords(), { level: 6 });
  const longer = Buffer.from(packed);
  longer.writeBigUInt64LE(longer.readBigUInt64LE(16) + 2n, 16);
  await refused(view(longer), /truncated|corrupt/);
  const shorter = Buffer.from(packed);
  shorter.writeBigUInt64LE(shorter.readBigUInt64LE(16) - 2n, 16);
  await refused(view(shorter), /corrupt/);
  const crc = Buffer.from(packed);
  crc.writeUInt32LE((crc.readUInt32LE(24) ^ 1) >>> 0, 24);
  await refused(view(crc), /CRC-32/);
  const magic = Buffer.from(packed);
  magic[0] = 0x58;
  await refused(view(magic), /bad magic/);
  const version = Buffer.from(packed);
  version.writeUInt32LE(2, 8);
  await refused(view(version), /version 2/);
});

// ------------------------------------------------------------ transform 3

const NO_IDS_CODER = !existsSync(PACK_IDS_TOOL) ? `no ${PACK_IDS_TOOL} (cmake --build build)`
  : !existsSync(IDS_WASM) ? `no ${IDS_WASM} (scripts/build-wasm.sh)` : false;

const u32le = (values) => Buffer.from(new Uint32Array(values).buffer);
const pad4 = (b) => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);

// A text shard (datasets/README.md, version 2, two unnamed classes) with a
// 32,768-word vocabulary of made-up words and `reviews` reviews per split:
// made-up sentences, and now and then random ids (0 and 32,767 among them).
function syntheticShard(reviews) {
  const V = 32768;
  const words = Array.from({ length: V }, (_, i) => Buffer.from(['<PAD>', '<START>', '<UNK>', '<UNUSED>'][i] ?? `w${i}`));
  const offsets = [0];
  for (const w of words) offsets.push(offsets.at(-1) + w.length);
  const vocab = Buffer.concat([u32le(words.map((_, i) => (i < 4 ? 0 : V - i))), u32le(offsets), pad4(Buffer.concat(words))]);
  let s = 99;
  const rand = (n) => {
    s = (s * 1103515245 + 12345) >>> 0;
    return (s >>> 8) % n;
  };
  const sentence = [[10, 11, 12], [40, 41], [7, 300, 5000], [9]];
  const split = (name) => {
    const ids = [], offs = [0];
    for (let r = 0; r < reviews; r++) {
      ids.push(1);
      const len = 1 + rand(60);
      for (let k = 0; k < len; k++) {
        const pick = rand(10);
        if (pick < 7) ids.push(...sentence[rand(4)]);
        else if (pick < 9) ids.push(4 + rand(V - 4));
        else ids.push([0, 32767, 2, 3][rand(4)]);
      }
      offs.push(ids.length);
    }
    const nameBytes = Buffer.alloc(16);
    nameBytes.write(name);
    return Buffer.concat([nameBytes, u32le([reviews]), pad4(Buffer.from(Array.from({ length: reviews }, (_, i) => i % 2))),
      pad4(Buffer.alloc(reviews)), u32le(Array.from({ length: reviews }, (_, i) => i)), u32le(offs),
      pad4(Buffer.from(new Uint16Array(ids).buffer))]);
  };
  const payload = Buffer.concat([vocab, split('train'), split('test')]);
  const head = Buffer.alloc(64);
  head.write('NNSHARD1', 0, 'latin1');
  head.writeUInt32LE(2, 8);
  head.writeUInt32LE(64, 12);
  head.writeUInt32LE(1, 16);
  head.writeUInt32LE(2048, 20);
  head.writeUInt32LE(V, 24);
  head.writeUInt32LE(crc32(vocab), 28);
  head.writeUInt32LE(2, 32);
  head.writeUInt32LE(0, 36);
  head.writeBigUInt64LE(BigInt(payload.length), 40);
  head.writeUInt32LE(crc32(payload), 48);
  head.writeUInt32LE(crc32(head.subarray(0, 60)), 60);
  return Buffer.concat([head, payload]);
}

// Where a transform-3 file's parts start: [run table, gzip part, first block, ...blocks, end].
function idsLayout(packed) {
  let at = PACK_HEADER_BYTES;
  const nseg = packed.readUInt32LE(at);
  const table = at;
  at += 4 + 8 * nseg;
  const gz = at;
  at += 4 + packed.readUInt32LE(at);
  const blocks = [];
  while (at < packed.length) {
    blocks.push(at);
    at += 4 + packed.readUInt32LE(at);
  }
  return { table, gz, blocks };
}

test('transform 3: a synthetic shard (more than one block of ids) packed by imdb_pack_ids comes back exactly from packed_ids.wasm, whole and in pieces', { skip: NO_IDS_CODER }, async () => {
  const shard = syntheticShard(1500);
  const packed = pack(shard, { transform: TRANSFORM_IDS });
  assert.equal(packed.readUInt32LE(12), TRANSFORM_IDS);
  const { blocks } = idsLayout(packed);
  assert.ok(blocks.length >= 2, `${blocks.length} blocks of ${IDS_BLOCK} ids: the model must carry over from one to the next`);
  assert.ok(packed.length < shard.length * 0.6, `packed ${packed.length} bytes of ${shard.length}`);
  assert.ok(Buffer.from(await unpack(view(packed), 'the test file', nodeUnpackOptions)).equals(shard), 'whole: the unpacked shard differs');
  for (const size of [1, 97, 4099]) {
    const stream = unpackStream('the test file', nodeUnpackOptions);
    const bytes = view(packed);
    // Pieces of one byte through the header, run table and gzip part and
    // into the first block, then larger ones (a byte at a time is slow).
    for (let at = 0, step = size; at < bytes.length; at += step) {
      step = size === 1 && at > blocks[0] + 600 ? 65536 : size;
      await stream.write(bytes.subarray(at, at + step));
    }
    assert.ok(Buffer.from(await stream.finish()).equals(shard), `pieces of ${size} bytes: the unpacked shard differs`);
  }
});

test('transform 3: a file cut short anywhere, or with a damaged byte anywhere, is refused with a message', { skip: NO_IDS_CODER }, async () => {
  const shard = syntheticShard(1500);
  const packed = pack(shard, { transform: TRANSFORM_IDS });
  const { table, gz, blocks } = idsLayout(packed);
  const cuts = [0, 31, 32, table + 3, table + 4, gz + 2, gz + 10, blocks[0], blocks[0] + 3, blocks[0] + 4, blocks[0] + 100,
    blocks[1] - 1, blocks[1], blocks[1] + 2, blocks.at(-1) + 8, packed.length - 1];
  for (const keep of cuts) await refused(view(packed.subarray(0, keep)), /truncated/, nodeUnpackOptions);
  let s = 7;
  const spots = [8, 13, 17, 26, table, table + 4, table + 9, gz + 1, gz + 30, blocks[0] + 1, blocks[0] + 5, blocks[1] + 6, packed.length - 1, packed.length - 5];
  for (let i = 0; i < 20; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    spots.push(32 + ((s >>> 8) % (packed.length - 32)));
  }
  for (const at of spots) {
    const bad = Buffer.from(packed);
    bad[at] ^= 0x24;
    await refused(view(bad), /corrupt|truncated|bad magic|version|transform|CRC-32/, nodeUnpackOptions);
  }
  const longer = Buffer.concat([packed, Buffer.from([1])]);
  await refused(view(longer), /after its last block/, nodeUnpackOptions);
  await refused(view(packed), /transform 3/); // no decoder given
});

test('data/imdb.shard packed with transform 3 and unpacked by packed_ids.wasm is the same shard (PACKED_IDS_REAL=1)', {
  skip: NO_IDS_CODER || (!existsSync(SHARD) && 'no data/imdb.shard (scripts/setup.sh)') || (!process.env.PACKED_IDS_REAL && 'set PACKED_IDS_REAL=1 (a minute)'),
}, async () => {
  const shard = readFileSync(SHARD);
  const packed = pack(shard, { transform: TRANSFORM_IDS });
  assert.ok(packed.length < 14e6, `packed ${packed.length} bytes`);
  const out = await unpack(view(packed), 'data/imdb.shard', nodeUnpackOptions);
  assert.ok(Buffer.from(out.buffer, out.byteOffset, out.length).equals(shard), 'the unpacked shard differs from data/imdb.shard');
});
