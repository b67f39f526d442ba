// testsplit.js: a static site's test reviews, which come as a file of their
// own after the rest (scripts/build-site.sh cuts imdb.shard in two with
// build/imdb_split_shard: the vocabulary and the training reviews, then the
// test split alone), so the page is ready to train before they arrive.
// After loadShard, when site.json's entry for the shard names its test file
// ({test: {file, reviews}}), the session is told how many test reviews are
// to come (nnw_expect_test: models made from then on count them in their
// memory budget and wait for them), and the file is downloaded in the
// background like any packed file (download.js: progress as `testProgress`
// events, checksums, the Cache API), checked and attached by the engine
// (nnw_attach_test: the vocabulary's CRC, the ids, the count), then the page
// hears `testAttached` {info} (the shard's info, now with its test split),
// or `testFailed` {message}. A run that ends first waits for them
// (training.js); a diagnosis of 'test' is refused meanwhile with a message
// that says they are still downloading (the engine's).
//
// The development server (scripts/serve.mjs) has no site.json: its
// imdb.shard holds both splits and none of this happens.
//
// Deliberately not here: the download's machinery (download.js) or any check
// of the bytes (the engine's).

import { packedBytes, packedEntry } from './download.js';
import { RequestError, api, check, copyIn, json, post, session, shared } from './session.js';
import { SHARD_MAX_BYTES, givenBytes } from './uploads.js';
import { sizeProblem } from '../limits.js';

// How often a job waiting for the test reviews (the run's test, the
// comparison run's) looks again: waiting costs a slice of no work.
export const TEST_WAIT_MS = 100;

// Why the loaded dataset's test download failed (a run then ends without a
// test result), or null.
let failure = null;
export const testFailure = () => failure;

// After the shard at url was loaded (as generation gen of the session's
// dataset): expects and downloads its test file when the site has one.
export function startTestDownload(url, gen) {
  failure = null;
  const test = packedEntry(url)?.test;
  if (!test || typeof test.file !== 'string' || !Number.isInteger(test.reviews) || test.reviews < 1) return;
  if (shared.shardInfo?.splits?.test !== undefined) return; // the shard has them (a site.json that says otherwise is wrong)
  expectTest(test.reviews);
  download(new URL(test.file, url).href, gen).catch(() => {}); // a failure is reported as an event
}

async function download(testUrl, gen) {
  let bytes;
  try {
    bytes = await packedBytes(testUrl, { what: 'the test reviews', progress: 'testProgress' });
    if (!bytes) throw new Error(`${testUrl} is not listed in site.json: rebuild the site with scripts/build-site.sh`);
    const problem = sizeProblem('the test reviews', bytes.length, SHARD_MAX_BYTES);
    if (problem) throw new Error(problem);
  } catch (err) {
    if (gen === shared.datasetGen) fail(err.message);
    throw err;
  }
  if (gen !== shared.datasetGen) return; // another dataset was loaded meanwhile
  try {
    attach(bytes);
  } catch (err) {
    fail(err.message);
    throw err;
  }
}

function fail(message) {
  failure = message;
  post({ type: 'testFailed', data: { message } });
}

// Expects n test reviews for the shard just loaded (loadShard {expectTest}).
export function expectTest(n) {
  failure = null;
  if (!Number.isInteger(n) || n < 1) throw new RequestError('expectTest must be a whole number of at least 1');
  const e = api();
  check(e._nnw_expect_test(session(), n));
  shared.shardInfo = json(e._nnw_shard_info(session()));
}

// Hands the engine the test reviews' bytes; the shard's info after.
function attach(bytes) {
  const e = api();
  check(e._nnw_attach_test(session(), copyIn(bytes), bytes.length)); // takes the bytes, even on failure
  shared.shardInfo = json(e._nnw_shard_info(session()));
  post({ type: 'testAttached', data: { info: shared.shardInfo } });
  return shared.shardInfo;
}

export const testSplitHandlers = {
  // The test reviews of the loaded shard given as {bytes} (a shard of the
  // "test" split alone, as build/imdb_split_shard writes), after
  // loadShard {bytes, expectTest: n}: what the site's download does, for a
  // caller that has the file itself (and the tests).
  attachTest(data) {
    const bytes = givenBytes(data?.bytes, { request: 'attachTest', what: 'the test reviews', limit: SHARD_MAX_BYTES });
    if (shared.busy) throw new RequestError(`cannot attach the test reviews during ${shared.busy}`);
    return { info: attach(bytes) };
  },
};

// 1 while the loaded dataset's test reviews are still to come.
export const testPending = () => api()._nnw_test_pending(session()) === 1;
