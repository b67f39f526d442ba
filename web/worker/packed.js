// packed.js: reads a packed data file (.nnz), the form scripts/build-site.sh
// gives the shards on a static site: a 32-byte header, then a gzip stream
// that the browser's DecompressionStream decodes. A text shard's bytes are
// little-endian 16-bit words, mostly token ids; packed with transform 1 each
// word is first written as a varint, its high 7-bit group first and a set
// top bit on every byte but the last (ids below 128 take one byte, below
// 16,384 two, the rest three: the first byte then names a block of ids), which gzip then squeezes 1.2 MB further
// than the raw words (see README "Host it yourself" for the figures).
// Transform 2, what build-site.sh uses for text shards, gives every word one
// to three bytes so that all of an IMDB shard's ids take at most two: a word
// below 128 is that byte; a word w below 32,640 is two bytes, 128 + ((w -
// 128) >> 8) then (w - 128) & 255; any other word is 255 then its two bytes,
// low first (gzip then gives 0.25 MB less than with transform 1).
//
// Transform 3 has no outer gzip: a text shard's token ids are coded by
// engine/packed_ids.c (each id predicted from the two before it) and the rest
// of the shard is gzipped; the body (engine/cli/pack_ids.c writes it) is
//   u32 nseg, nseg times {u32 kind (0 bytes, 1 ids), u32 bytes}: the decoded
//     file cut into runs, in order;
//   u32 gz_len, then gzip of all the "bytes" runs, concatenated;
//   the ids of all "ids" runs, concatenated, in blocks of IDS_BLOCK ids (the
//     last shorter), each u32 len then len bytes,
// and the decoder is a small WebAssembly module (packed_ids.wasm, built by
// scripts/build-wasm.sh) that the caller hands over as `idsWasm`, a function
// giving its bytes (a page fetches it, Node reads it): each block is decoded
// as soon as its last byte arrives.
//
// Header (little-endian): magic "NNPACK1\0" (8 bytes), u32 version 1,
// u32 transform (0 none, 1 u16 varint, 2 u16 in 1-2 bytes, 3 ids coded), u64 decoded length, u32 CRC-32 of the
// decoded bytes, u32 reserved 0. unpack() refuses a file that is short, whose
// gzip stream is cut or damaged (gzip's own CRC and length), or whose decoded
// bytes are not exactly the length and CRC the header promises: never a half
// shard.
//
// Deliberately not here: fetching, caching or progress (download.js), and
// what the decoded bytes mean (the engine's shard reader checks them again).
// Shared with scripts/pack-shard.mjs and the Node tests, so it uses nothing
// but what browsers and Node both have.

export const PACK_MAGIC = 'NNPACK1\0';
export const PACK_VERSION = 1;
export const PACK_HEADER_BYTES = 32;
export const TRANSFORM_NONE = 0;
export const TRANSFORM_U16_VARINT = 1;
export const TRANSFORM_U16_BYTES = 2;
export const TRANSFORM_IDS = 3;
export const IDS_BLOCK = 65536; // engine/packed_ids.h's NN_IDS_BLOCK
const IDS_MAX_SEGMENTS = 64;
export const BYTES_ONE = 128; // words below: one byte
export const BYTES_ESCAPE = 255; // lead byte of a three-byte word
export const BYTES_TWO = BYTES_ONE + (BYTES_ESCAPE - BYTES_ONE) * 256; // words below: at most two bytes (32,640)

// Eight tables of 256 for CRC-32 eight bytes at a time ("slicing by 8"):
// table k gives the CRC of a byte followed by k zero bytes. Four times the
// speed of the byte-at-a-time loop, which took 0.24 s of the page's decode
// of a 24 MB shard on a loaded machine.
const CRC_TABLES = (() => {
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++)
    for (let k = 1; k < 8; k++) t[k * 256 + n] = (t[(k - 1) * 256 + n] >>> 8) ^ t[t[(k - 1) * 256 + n] & 0xff];
  return t;
})();

// CRC-32 (zlib's, initial 0), as engine/common.c's nn_crc32. Reads 32-bit
// words where the bytes are 4-byte aligned (little-endian, as every host
// of the page is; checked below).
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
export function crc32(bytes, crc = 0) {
  const t = CRC_TABLES;
  let c = ~crc >>> 0, i = 0;
  const n8 = bytes.length - (bytes.length % 8);
  if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0 && n8 > 0) {
    const w = new Uint32Array(bytes.buffer, bytes.byteOffset, n8 / 4);
    for (let j = 0; j < w.length; j += 2) {
      const lo = c ^ w[j], hi = w[j + 1];
      c = t[1792 + (lo & 0xff)] ^ t[1536 + ((lo >>> 8) & 0xff)] ^ t[1280 + ((lo >>> 16) & 0xff)] ^ t[1024 + (lo >>> 24)] ^
        t[768 + (hi & 0xff)] ^ t[512 + ((hi >>> 8) & 0xff)] ^ t[256 + ((hi >>> 16) & 0xff)] ^ t[hi >>> 24];
    }
    i = n8;
  } else {
    for (; i < n8; i += 8) {
      const lo = c ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
      const hi = bytes[i + 4] | (bytes[i + 5] << 8) | (bytes[i + 6] << 16) | (bytes[i + 7] << 24);
      c = t[1792 + (lo & 0xff)] ^ t[1536 + ((lo >>> 8) & 0xff)] ^ t[1280 + ((lo >>> 16) & 0xff)] ^ t[1024 + (lo >>> 24)] ^
        t[768 + (hi & 0xff)] ^ t[512 + ((hi >>> 8) & 0xff)] ^ t[256 + ((hi >>> 16) & 0xff)] ^ t[hi >>> 24];
    }
  }
  for (; i < bytes.length; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

export class PackError extends Error {}

// The header of a packed file, or a PackError saying what is wrong with it.
export function readPackHeader(bytes) {
  if (bytes.length < PACK_HEADER_BYTES)
    throw new PackError(`the packed file is truncated: ${bytes.length} bytes, shorter than its ${PACK_HEADER_BYTES}-byte header`);
  const magic = String.fromCharCode(...bytes.subarray(0, 8));
  if (magic !== PACK_MAGIC) throw new PackError('not a packed data file (bad magic); rebuild the site with scripts/build-site.sh');
  const view = new DataView(bytes.buffer, bytes.byteOffset, PACK_HEADER_BYTES);
  const version = view.getUint32(8, true);
  if (version !== PACK_VERSION)
    throw new PackError(`packed file version ${version}, this page reads version ${PACK_VERSION}; rebuild the site with scripts/build-site.sh`);
  const transform = view.getUint32(12, true);
  const length = Number(view.getBigUint64(16, true));
  const crc = view.getUint32(24, true);
  if (transform !== TRANSFORM_NONE && transform !== TRANSFORM_U16_VARINT && transform !== TRANSFORM_U16_BYTES && transform !== TRANSFORM_IDS)
    throw new PackError(`packed file with unknown transform ${transform}; rebuild the site with scripts/build-site.sh`);
  if (transform !== TRANSFORM_NONE && length % 2 !== 0)
    throw new PackError('packed file is corrupt: a 16-bit-word file of odd length');
  return { transform, length, crc };
}

// Writes decompressed chunks into `out` (length known from the header),
// undoing transform 1 or 2 across chunk boundaries. Throws on overflow or a
// varint that does not fit 16 bits. `shift` is 0 between words: the bits of
// a varint in progress, or for transform 2 the bytes of a word still to come.
class Unpacker {
  constructor(transform, length) {
    this.transform = transform;
    this.out = new Uint8Array(length);
    this.at = 0;
    this.word = 0; // varint in progress
    this.shift = 0;
  }

  push(chunk) {
    const out = this.out;
    if (this.transform === TRANSFORM_NONE) {
      if (this.at + chunk.length > out.length) throw new PackError('packed file is corrupt: it decodes to more bytes than its header says');
      out.set(chunk, this.at);
      this.at += chunk.length;
      return;
    }
    if (this.transform === TRANSFORM_U16_BYTES) {
      this.pushBytes(chunk);
      return;
    }
    let at = this.at, word = this.word, shift = this.shift;
    const end = out.length;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      word = (word << 7) | (b & 0x7f);
      if (b & 0x80) {
        shift += 7;
        if (shift > 14) throw new PackError('packed file is corrupt: a varint longer than 16 bits');
        continue;
      }
      if (word > 0xffff || at + 2 > end) throw new PackError('packed file is corrupt: it decodes to more bytes than its header says');
      out[at] = word & 0xff;
      out[at + 1] = word >>> 8;
      at += 2;
      word = 0;
      shift = 0;
    }
    this.at = at;
    this.word = word;
    this.shift = shift;
  }

  // Transform 2: shift says what the word in progress needs next: 0 a lead
  // byte, 1 the second byte of a two-byte word, 2 and 3 the low and high
  // bytes after the escape; word holds what it has so far.
  pushBytes(chunk) {
    const out = this.out, end = out.length;
    let at = this.at, word = this.word, shift = this.shift;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (shift === 0) {
        if (b < BYTES_ONE) {
          word = b;
        } else if (b < BYTES_ESCAPE) {
          word = BYTES_ONE + ((b - BYTES_ONE) << 8);
          shift = 1;
          continue;
        } else {
          word = 0;
          shift = 2;
          continue;
        }
      } else if (shift === 2) {
        word = b;
        shift = 3; // the escape's high byte is next
        continue;
      } else if (shift === 3) {
        word |= b << 8;
        shift = 0;
      } else {
        word += b;
        shift = 0;
      }
      if (at + 2 > end) throw new PackError('packed file is corrupt: it decodes to more bytes than its header says');
      out[at] = word & 0xff;
      out[at + 1] = word >>> 8;
      at += 2;
    }
    this.at = at;
    this.word = word;
    this.shift = shift;
  }
}

// The compiled packed_ids.wasm, once per idsWasm function.
const compiledIds = new WeakMap();
function compileIds(idsWasm) {
  if (!compiledIds.has(idsWasm))
    compiledIds.set(idsWasm, Promise.resolve(idsWasm()).then((bytes) => (bytes instanceof WebAssembly.Module ? bytes : WebAssembly.compile(bytes))));
  return compiledIds.get(idsWasm);
}

// A fresh decoder (its own instance: the model is 22 MB that go when the
// file is decoded).
async function idsDecoder(idsWasm) {
  const instance = await WebAssembly.instantiate(await compileIds(idsWasm), {});
  const x = instance.exports;
  x._initialize?.();
  const model = x.nn_ids_model_create();
  const bound = x.nn_ids_block_bound(IDS_BLOCK);
  const input = x.malloc(bound), output = x.malloc(IDS_BLOCK * 2);
  if (!model || !input || !output) throw new PackError('out of memory for the decoder of the packed ids; close other tabs and reload');
  return {
    bound: (n) => x.nn_ids_block_bound(n),
    heap: () => new Uint8Array(x.memory.buffer),
    input,
    output,
    decode: (len, n) => x.nn_ids_decode_block(model, input, len, output, n),
  };
}

const u32 = (b, at) => (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;

// Transform 3, as the bytes after the header arrive: the run table, the
// gzipped runs (gunzipped when complete, awaited at the end), then each block
// of ids decoded when its bytes are all in and copied to the runs it fills.
class IdsUnpacker {
  constructor(length, decoder) {
    this.out = new Uint8Array(length);
    this.dec = decoder;
    this.pending = new Uint8Array(0); // bytes of the table, gz or a block length still incomplete
    this.phase = 'count'; // count, table, gzlen, gz, blocklen, block, done
    this.need = 4;
    this.idRuns = []; // [{at, bytes}]
    this.rawRuns = [];
    this.idsLeft = 0;
    this.run = 0; // id run being filled, and bytes of it filled
    this.runAt = 0;
    this.gz = null;
    this.gzHave = 0;
    this.gunzipped = null; // promise of the raw runs' bytes
    this.blockLen = 0;
    this.blockHave = 0;
    this.blocks = 0;
  }

  corrupt(why) {
    return new PackError(`packed file is corrupt: ${why}`);
  }

  // The header-like parts: gathers `need` bytes, then parse() them.
  gather(chunk, i) {
    const n = Math.min(this.need - this.pending.length, chunk.length - i);
    const grown = new Uint8Array(this.pending.length + n);
    grown.set(this.pending);
    grown.set(chunk.subarray(i, i + n), this.pending.length);
    this.pending = grown;
    if (this.pending.length === this.need) {
      const bytes = this.pending;
      this.pending = new Uint8Array(0);
      this.parse(bytes);
    }
    return i + n;
  }

  parse(b) {
    if (this.phase === 'count') {
      const nseg = u32(b, 0);
      if (nseg < 1 || nseg > IDS_MAX_SEGMENTS) throw this.corrupt(`${nseg} runs`);
      this.phase = 'table';
      this.need = 8 * nseg;
    } else if (this.phase === 'table') {
      let at = 0;
      for (let k = 0; k < b.length; k += 8) {
        const kind = u32(b, k), bytes = u32(b, k + 4);
        if (kind > 1 || (kind === 1 && bytes % 2)) throw this.corrupt('a bad run');
        (kind ? this.idRuns : this.rawRuns).push({ at, bytes });
        if (kind) this.idsLeft += bytes / 2;
        at += bytes;
      }
      if (at !== this.out.length) throw this.corrupt(`its runs hold ${at} bytes, its header says ${this.out.length}`);
      this.idRuns = this.idRuns.filter((r) => r.bytes > 0);
      this.phase = 'gzlen';
      this.need = 4;
    } else if (this.phase === 'gzlen') {
      const rawBytes = this.rawRuns.reduce((sum, r) => sum + r.bytes, 0);
      const len = u32(b, 0);
      if (len > rawBytes + 1024 + rawBytes / 2) throw this.corrupt('a gzip part longer than it can be');
      this.gz = new Uint8Array(len);
      this.phase = 'gz';
      if (len === 0) this.startGunzip();
    } else if (this.phase === 'blocklen') {
      this.blockLen = u32(b, 0);
      const n = Math.min(IDS_BLOCK, this.idsLeft);
      if (this.blockLen < 4 || this.blockLen > this.dec.bound(n)) throw this.corrupt(`block ${this.blocks} of the ids has a bad length`);
      this.blockHave = 0;
      this.phase = 'block';
    }
  }

  startGunzip() {
    const gz = this.gz, expect = this.rawRuns.reduce((sum, r) => sum + r.bytes, 0);
    this.gz = null;
    this.gunzipped = (async () => {
      if (gz.length === 0) {
        if (expect) throw this.corrupt('its gzip part is empty');
        return new Uint8Array(0);
      }
      const raw = new Uint8Array(expect);
      let at = 0;
      const reader = new Blob([gz]).stream().pipeThrough(new DecompressionStream('gzip')).getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (at + value.length > expect) throw this.corrupt('its gzip part decodes to more bytes than its runs hold');
        raw.set(value, at);
        at += value.length;
      }
      if (at !== expect) throw this.corrupt('its gzip part decodes to fewer bytes than its runs hold');
      return raw;
    })();
    this.gunzipped.catch(() => {}); // reported by finish()
    this.phase = this.idsLeft ? 'blocklen' : 'done';
    this.need = 4;
  }

  // Decodes the block in the decoder's input, and copies its ids to the runs.
  decodeBlock() {
    const n = Math.min(IDS_BLOCK, this.idsLeft);
    if (this.dec.decode(this.blockLen, n) !== 0) throw this.corrupt(`block ${this.blocks} of the ids does not decode`);
    const ids = this.dec.heap().subarray(this.dec.output, this.dec.output + 2 * n);
    let i = 0;
    while (i < ids.length) {
      const r = this.idRuns[this.run];
      const take = Math.min(r.bytes - this.runAt, ids.length - i);
      this.out.set(ids.subarray(i, i + take), r.at + this.runAt);
      i += take;
      this.runAt += take;
      if (this.runAt === r.bytes) {
        this.run++;
        this.runAt = 0;
      }
    }
    this.idsLeft -= n;
    this.blocks++;
    this.phase = this.idsLeft ? 'blocklen' : 'done';
    this.need = 4;
  }

  push(chunk) {
    let i = 0;
    while (i < chunk.length) {
      if (this.phase === 'gz') {
        const n = Math.min(this.gz.length - this.gzHave, chunk.length - i);
        this.gz.set(chunk.subarray(i, i + n), this.gzHave);
        this.gzHave += n;
        i += n;
        if (this.gzHave === this.gz.length) this.startGunzip();
      } else if (this.phase === 'block') {
        const n = Math.min(this.blockLen - this.blockHave, chunk.length - i);
        this.dec.heap().set(chunk.subarray(i, i + n), this.dec.input + this.blockHave);
        this.blockHave += n;
        i += n;
        if (this.blockHave === this.blockLen) this.decodeBlock();
      } else if (this.phase === 'done') {
        throw this.corrupt('it has bytes after its last block of ids');
      } else {
        i = this.gather(chunk, i);
      }
    }
  }

  // The decoded bytes once everything has arrived, or a PackError.
  async finish() {
    if (this.phase !== 'done')
      throw new PackError(`packed file is truncated: it stops short of its ${this.phase === 'block' || this.phase === 'blocklen' ? `block ${this.blocks} of ids` : 'run table and gzip part'}`);
    const raw = await this.gunzipped;
    let at = 0;
    for (const r of this.rawRuns) {
      this.out.set(raw.subarray(at, at + r.bytes), r.at);
      at += r.bytes;
    }
    return this.out;
  }
}

const decodeProblem = (what, err) =>
  err instanceof PackError
    ? new PackError(`${what}: ${err.message}; download it again`)
    : // DecompressionStream's TypeError: a cut or damaged gzip stream.
      new PackError(`${what} is truncated or corrupt (its compressed data does not decode: ${err?.message ?? err}); download it again`);

// Unpacks a packed file as its bytes arrive, so that decoding overlaps the
// download: write(chunk) each piece in order (awaiting it), then finish()
// gives the decoded bytes, checked as unpack() says; abort() drops it all.
// `what` names the file in messages; `idsWasm` (a function giving
// packed_ids.wasm's bytes or module) is needed for transform 3 only.
export function unpackStream(what = 'the packed file', { idsWasm = null } = {}) {
  const head = new Uint8Array(PACK_HEADER_BYTES);
  let have = 0, header = null, unpacker = null, writer = null, drained = null, failure = null;
  let ids = null; // transform 3: a promise of its IdsUnpacker
  const fail = (err) => {
    failure ||= decodeProblem(what, err);
    return failure;
  };
  async function drain(reader) {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      unpacker.push(value);
    }
  }
  function start() {
    header = readPackHeader(head);
    if (header.transform === TRANSFORM_IDS) {
      if (!idsWasm) throw new PackError(`${what} is packed with transform 3 (coded ids), which this reader was not given a decoder for`);
      ids = idsDecoder(idsWasm).then((dec) => new IdsUnpacker(header.length, dec));
      ids.catch(() => {}); // reported by the next write or finish
      return;
    }
    unpacker = new Unpacker(header.transform, header.length);
    const ds = new DecompressionStream('gzip');
    writer = ds.writable.getWriter();
    const reader = ds.readable.getReader();
    drained = drain(reader).catch((err) => {
      fail(err);
      reader.cancel().catch(() => {});
      writer.abort().catch(() => {});
    });
  }
  return {
    async write(chunk) {
      if (failure) throw failure;
      if (!header) {
        const n = Math.min(PACK_HEADER_BYTES - have, chunk.length);
        head.set(chunk.subarray(0, n), have);
        have += n;
        chunk = chunk.subarray(n);
        if (have < PACK_HEADER_BYTES) return;
        start();
      }
      if (chunk.length === 0) return;
      if (ids) {
        try {
          (await ids).push(chunk);
        } catch (err) {
          throw fail(err);
        }
        return;
      }
      try {
        await writer.write(chunk);
      } catch (err) {
        await drained;
        throw fail(err);
      }
      if (failure) throw failure;
    },
    async finish() {
      if (failure) throw failure;
      if (!header) readPackHeader(head.subarray(0, have)); // throws: truncated
      let out;
      if (ids) {
        try {
          out = await (await ids).finish();
        } catch (err) {
          throw fail(err);
        } finally {
          ids = Promise.reject(new PackError(`${what}: already finished`)); // drops the decoder
          ids.catch(() => {});
        }
      } else {
        try {
          await writer.close();
        } catch (err) {
          await drained;
          throw fail(err);
        }
        await drained;
        if (failure) throw failure;
        if (unpacker.at !== header.length || unpacker.shift !== 0)
          throw new PackError(`${what} is truncated or corrupt: it decodes to ${unpacker.at} of the ${header.length} bytes its header says; download it again`);
        out = unpacker.out;
      }
      if (crc32(out) !== header.crc)
        throw new PackError(`${what} is corrupt: its decoded bytes fail their CRC-32 check; download it again`);
      return out;
    },
    abort() {
      failure ||= new PackError(`${what}: the download was abandoned`);
      writer?.abort().catch(() => {});
      if (ids) {
        ids = Promise.reject(failure);
        ids.catch(() => {});
      }
    },
  };
}

// The decoded bytes of a whole packed file (a Uint8Array), checked against
// the header's length and CRC-32; PackError otherwise. `what` names the file
// in messages; options as unpackStream's.
export async function unpack(bytes, what = 'the packed file', options = {}) {
  const stream = unpackStream(what, options);
  await stream.write(bytes);
  return stream.finish();
}
