// limits.js: the largest files the page takes, in one place: the page checks
// a chosen File's size against them before reading it (views/modelfiles.js,
// views/diagnosis.js), and the worker checks the bytes it is given or
// fetches against the same figures (worker/uploads.js) before any of them is
// copied into wasm memory, which only grows: a 1.5 GB file copied in and
// then refused would keep the page's memory 1.5 GB larger for good.
//
// Deliberately not here: what the bytes mean (the engine's readers check
// them). Plain module, no DOM: the worker and Node tests import it too.

const MB = 1024 * 1024;
// Shards (imdb.shard 24 MB, imdb-unsup.shard 24 MB, fashion.shard 55 MB
// today) and the corpus: twenty times today's largest.
export const SHARD_MAX_BYTES = 512 * MB;
// A checkpoint holds one model's weights, its vocabulary and history: a
// trainer keeps six copies of the weights (with the gradients, two Adam
// moments, the previous and the best weights; engine/budget.c), so the
// engine's 1 GB budget admits at most about 170 MB of them.
export const CHECKPOINT_MAX_BYTES = 256 * MB;
// The engine's own cap on labelled text (engine/labelled_text.c).
export const LABELLED_TEXT_MAX_BYTES = 64 * MB;

// A size for messages: "100.0 MB" or "512 bytes".
export const sizeText = (n) => (n >= MB ? `${(n / MB).toFixed(1)} MB` : `${n} bytes`);

// The message refusing `n` bytes of `what` (e.g. 'the checkpoint') over
// `limit`, naming both, or '' when n is within it.
export function sizeProblem(what, n, limit, advice = '') {
  if (n <= limit) return '';
  return `${what} is ${sizeText(n)}, over the limit of ${sizeText(limit)}${advice ? `: ${advice}` : ''}`;
}
