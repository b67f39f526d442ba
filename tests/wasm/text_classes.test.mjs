// text_classes.test.mjs: a K-class text model in the real wasm module,
// through web/worker/worker.js (in a Node worker thread): the predict answer
// carries every class's probability, top class first, explain says which
// class its contributions are about, a checkpoint keeps K, and what reads
// one probability (the diagnosis) refuses the model with a message.
//
//   node --no-experimental-fetch --test tests/wasm/text_classes.test.mjs
//
// Needs web/engine/engine.js (scripts/build-wasm.sh) with the labelled-text
// shard format (version 2: classes and their names, datasets/README.md).
// The shard is written here byte by byte from sentences made up for it:
// four topics, each with its own words, and filler shared by all.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pathToFileURL } from 'node:url';
import { startWorker, findEngine, rng } from './worker_client.mjs';

// ---------------------------------------------------------------- fixture

const CLASSES = ['sport', 'food', 'weather', 'music'];
const TOPIC = [
  ['goal', 'match', 'team', 'referee', 'striker', 'league', 'stadium', 'coach'],
  ['bread', 'cheese', 'soup', 'oven', 'recipe', 'salad', 'butter', 'spices'],
  ['rain', 'snow', 'storm', 'sunny', 'clouds', 'forecast', 'wind', 'frost'],
  ['guitar', 'song', 'drums', 'chorus', 'melody', 'concert', 'piano', 'singer'],
];
const FILLER = ['the', 'a', 'was', 'and', 'we', 'it', 'on', 'today', 'very', 'this', 'of', 'after', 'all', 'our'];
const SPECIALS = ['<PAD>', '<START>', '<UNK>', '<UNUSED>'];
const WORDS = [...SPECIALS, ...FILLER, ...TOPIC.flat()];
const ID = new Map(WORDS.map((w, i) => [w, i]));

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// Little-endian arrays, each padded with zeros to a multiple of 4 bytes.
const u32 = (values) => Buffer.from(new Uint32Array(values).buffer);
const u16 = (values) => pad4(Buffer.from(new Uint16Array(values).buffer));
const pad4 = (b) => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);

// Reviews of one split: [label, ids] with ids <START> first.
function makeReviews(n, seed, K) {
  const next = rng(seed);
  const pick = (list) => list[Math.floor(next() * list.length)];
  const out = [];
  for (let i = 0; i < n; i++) {
    const label = i % K;
    const ids = [1];
    const len = 6 + Math.floor(next() * 8);
    for (let t = 0; t < len; t++) ids.push(ID.get(next() < 0.4 ? pick(TOPIC[label]) : pick(FILLER)));
    out.push([label, ids]);
  }
  return out;
}

function split(name, reviews) {
  const n = reviews.length;
  const nameBytes = Buffer.alloc(16);
  nameBytes.write(name);
  const offsets = [0];
  for (const [, ids] of reviews) offsets.push(offsets.at(-1) + ids.length);
  return Buffer.concat([
    nameBytes, u32([n]),
    pad4(Buffer.from(reviews.map(([label]) => label))),
    pad4(Buffer.alloc(n)), // ratings: 0, none
    u32(reviews.map((_, i) => i)),
    u32(offsets),
    u16(reviews.flatMap(([, ids]) => ids)),
  ]);
}

// A text shard, format version 2 (datasets/README.md): header, vocabulary,
// class names, splits.
function writeShard(K, seed) {
  const wordBytes = WORDS.map((w) => Buffer.from(w));
  const wordOffsets = [0];
  for (const b of wordBytes) wordOffsets.push(wordOffsets.at(-1) + b.length);
  const vocab = Buffer.concat([
    u32(WORDS.map((w, i) => (i < 4 ? 0 : 1000 - i))),
    u32(wordOffsets),
    pad4(Buffer.concat(wordBytes)),
  ]);
  const nameBytes = CLASSES.slice(0, K).map((w) => Buffer.from(w));
  const nameOffsets = [0];
  for (const b of nameBytes) nameOffsets.push(nameOffsets.at(-1) + b.length);
  const names = Buffer.concat([u32(nameOffsets), pad4(Buffer.concat(nameBytes))]);
  const payload = Buffer.concat([vocab, names, split('train', makeReviews(240, seed, K)),
    split('test', makeReviews(80, seed + 1, K))]);
  const head = Buffer.alloc(64);
  head.write('NNSHARD1', 0, 'latin1');
  head.writeUInt32LE(2, 8); // version
  head.writeUInt32LE(64, 12);
  head.writeUInt32LE(1, 16); // tokenizer version
  head.writeUInt32LE(64, 20); // max_tokens
  head.writeUInt32LE(WORDS.length, 24);
  head.writeUInt32LE(crc32(vocab), 28);
  head.writeUInt32LE(2, 32); // splits
  head.writeUInt32LE(K, 36); // classes
  head.writeBigUInt64LE(BigInt(payload.length), 40);
  head.writeUInt32LE(crc32(payload), 48);
  head.writeUInt32LE(crc32(head.subarray(0, 60)), 60);
  const file = Buffer.concat([head, payload]);
  return file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength);
}

// ------------------------------------------------------------------ worker

let w;

const CONFIG = {
  model: 'bag', classes: 4, vocab_size: WORDS.length, maxlen: 16, embed_dim: 8, hidden: 16,
  batch_size: 16, epochs: 25, val_size: 40, lr: 0.02, seed: 5, padding: 'post',
};

before(async () => {
  w = startWorker();
  await w.request('init', { engineUrl: pathToFileURL(findEngine()).href });
});

after(async () => {
  await w?.worker.terminate();
});

async function train(config) {
  await w.request('configure', config);
  const done = w.waitFor('done');
  await w.request('train', {});
  return (await done).data;
}

const SPORT = 'the team scored a goal after the match and the coach was very happy';
const MUSIC = 'a song on the piano with drums and a singer';

test('a 4-class shard written by hand loads; the default 2 classes are refused with a message', async () => {
  const shard = writeShard(4, 11);
  const info = await w.request('loadShard', { bytes: shard }, [shard]);
  assert.equal(info.vocab_size, WORDS.length);
  await assert.rejects(w.request('configure', { ...CONFIG, classes: 2 }), (e) => /classes/.test(e.message) && /4/.test(e.message));
});

test('a 4-class bag learns the topics; predict gives every class, top class first', async (t) => {
  const done = await train(CONFIG);
  const last = done.history.at(-1);
  t.diagnostic(`val_acc ${last.val_acc}, val_loss ${last.val_loss}, test ${JSON.stringify(done.test)}`);
  assert.ok(last.val_acc >= 0.9, `val_acc ${last.val_acc}`);
  assert.ok(done.test.acc >= 0.9, `test accuracy ${done.test.acc}`);
  for (const [text, want] of [[SPORT, 0], [MUSIC, 3]]) {
    const r = await w.request('predict', { text });
    assert.equal(r.classes.length, 4, 'four probabilities');
    assert.ok(Math.abs(r.classes.reduce((s, c) => s + c.p, 0) - 1) < 1e-5, 'they add up to 1');
    for (let i = 1; i < 4; i++) assert.ok(r.classes[i - 1].p >= r.classes[i].p, 'top class first, then in decreasing order');
    assert.deepEqual(r.classes.map((c) => c.class).sort(), [0, 1, 2, 3]);
    assert.equal(r.class, want, `"${text}" is ${CLASSES[want]}: ${JSON.stringify(r.classes)}`);
    assert.equal(r.class, r.classes[0].class);
    assert.equal(r.score, r.classes[0].p);
    for (const c of r.classes) assert.ok(c.name === null || c.name === CLASSES[c.class], `name ${c.name}`);
    const x = await w.request('explain', { text });
    assert.equal(x.class, r.class, 'explain is about the top class');
    assert.ok(Math.abs(x.score - r.score) < 1e-6, `explain score ${x.score} = P(top) ${r.score}`);
    const goal = x.tokens.find((tok) => text.slice(tok.start, tok.end) === (want === 0 ? 'goal' : 'piano'));
    assert.ok(goal && goal.contribution > 0, `the topic word pushes toward its class: ${goal?.contribution}`);
  }
});

test('a 4-class model: the diagnosis is refused with a message; a checkpoint keeps K and its scores', async () => {
  await assert.rejects(w.request('diagnose', { split: 'val' }), (e) => /classes/.test(e.message));
  const before = await w.request('predict', { text: SPORT });
  const { bytes } = await w.request('exportCheckpoint', {});
  await w.request('importCheckpoint', { bytes }, [bytes]);
  const after = await w.request('predict', { text: SPORT });
  assert.deepEqual(after.classes, before.classes, 'the same probabilities after export and import');
});

test('an ngram model learns the 4 classes too', async () => {
  const done = await train({ ...CONFIG, model: 'ngram', bigrams: 100, nb_weighting: true, lr: 0.05, epochs: 15 });
  assert.ok(done.test.acc >= 0.9, `test accuracy ${done.test.acc}`);
  const r = await w.request('predict', { text: MUSIC });
  assert.equal(r.class, 3);
});

test('a 2-class shard with names keeps the one-probability answers', async () => {
  const shard = writeShard(2, 12);
  await w.request('loadShard', { bytes: shard }, [shard]);
  await train({ ...CONFIG, classes: 2, epochs: 10 });
  const r = await w.request('predict', { text: 'bread and cheese in the oven' });
  assert.equal(r.classes, undefined, 'no class list for two classes');
  assert.ok(r.score > 0.5, `P(class 1) of a food text (class 1 is food): ${r.score}`);
  const d = await w.request('diagnose', { split: 'val' });
  assert.equal(d.n, CONFIG.val_size, 'a 2-class model is diagnosed');
});
