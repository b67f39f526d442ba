// datasets.js: the requests that load a dataset into the session, loadShard
// (IMDB reviews) and loadImageShard (Fashion-MNIST): the bytes from {url} or
// {bytes}, size-checked, handed to the engine's loader, and the shard's
// info kept as shared.shardInfo. A session holds one dataset: loading one
// drops the other and the model.
//
// Deliberately not here: parsing (the engine checks every byte) or the page's
// choice of which dataset to load.

import { NN_ERR_CHECKSUM, NN_ERR_FORMAT, NN_ERR_VERSION, RequestError, api, check, copyIn, json, lastError, session, shared } from './session.js';
import { beforeReplacing, refuseReplacing } from './slicer.js';
import { resetRun } from './training.js';
import { LABELLED_TEXT_MAX_BYTES, SHARD_MAX_BYTES, uploadedBytes, uploadedText } from './uploads.js';
import { prefetchPacked } from './download.js';
import { expectTest, startTestDownload } from './testsplit.js';

const REBUILD_HINT = 'Rebuild the shard with scripts/setup.sh (it writes data/imdb.shard).';
const IMAGE_REBUILD_HINT = 'Rebuild the image shard with scripts/setup.sh (it writes data/fashion.shard).';

// The bytes handed to the engine's loader export (which takes ownership, even
// on failure); the info export's JSON, kept as shared.shardInfo. Jobs that
// read the old shard or model are cancelled right before it is replaced
// (training and pretraining refuse it instead).
async function loadDataset(data, { request, loadExport, infoExport, hint }) {
  const e = api();
  refuseReplacing('load a shard', ['shard', 'model']);
  if (shared.busy) throw new RequestError(`cannot load a shard during ${shared.busy}`);
  shared.busy = request;
  try {
    const bytes = await uploadedBytes(data, { request, what: 'the shard', limit: SHARD_MAX_BYTES, progress: 'shardProgress', hint });
    beforeReplacing(request, 'load a shard', ['shard', 'model']);
    const ptr = copyIn(bytes);
    const status = e[loadExport](session(), ptr, bytes.length);
    shared.datasetGen++;
    shared.shardInfo = null;
    resetRun();
    if (status === NN_ERR_FORMAT || status === NN_ERR_VERSION || status === NN_ERR_CHECKSUM)
      check(status, hint);
    check(status);
    shared.shardInfo = json(e[infoExport](session()));
    // A static site's test reviews, when they come as a file of their own,
    // follow in the background (testsplit.js); the shard is ready now.
    if (request === 'loadShard' && data?.expectTest !== undefined) expectTest(data.expectTest);
    else if (request === 'loadShard' && typeof data?.url === 'string') startTestDownload(data.url, shared.datasetGen);
    return shared.shardInfo;
  } finally {
    shared.busy = null;
  }
}

export const datasetHandlers = {
  // Starts downloading a static site's packed shard at {url} before the
  // engine is running (download.js, prefetchPacked); the loadShard or
  // loadImageShard of that url then takes it. Replies at once; a failure is
  // the later load's to report. With {early: {entry, body}} the
  // page's data-early.js started the download: body is its stream.
  prefetchShard(data) {
    if (typeof data?.url !== 'string') throw new RequestError('prefetchShard needs {url}');
    prefetchPacked(data.url, { what: 'the shard', progress: 'shardProgress' }, data.early);
    return {};
  },

  loadShard(data) {
    return loadDataset(data, { request: 'loadShard', loadExport: '_nnw_load_shard', infoExport: '_nnw_shard_info', hint: REBUILD_HINT });
  },

  // The user's own labelled file (and test file) built into a shard by the
  // engine (nnw_build_labelled_shard), which then is the session's dataset;
  // the reply carries the shard's bytes for the page to keep. A refused file
  // replaces nothing (jobs reading the old shard are cancelled either way).
  buildLabelledShard(data) {
    const e = api();
    const format = { auto: 0, tsv: 1, txt: 1, csv: 2 }[data?.format ?? 'auto'];
    if (format === undefined) throw new RequestError(`unknown format '${data.format}': use 'auto', 'tsv', 'txt' or 'csv'`);
    const testShare = data?.testShare ?? 0, seed = data?.seed ?? 1;
    if (!(testShare >= 0 && testShare <= 0.5)) throw new RequestError('testShare must be from 0 to 0.5');
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RequestError('seed must be a whole number');
    const limits = { request: 'buildLabelledShard', limit: LABELLED_TEXT_MAX_BYTES, advice: 'split it into smaller files' };
    const bytes = uploadedText(data, { ...limits, what: 'the labelled file' });
    const hasTest = data?.testText !== undefined || data?.testBytes !== undefined;
    const testBytes = hasTest ? uploadedText({ text: data.testText, bytes: data.testBytes }, { ...limits, what: 'the test file' }) : null;
    refuseReplacing('build a shard', ['shard', 'model']);
    if (shared.busy) throw new RequestError(`cannot build a shard during ${shared.busy}`);
    beforeReplacing('buildLabelledShard', 'build a shard', ['shard', 'model']);
    const ptr = copyIn(bytes), testPtr = testBytes ? copyIn(testBytes) : 0;
    let status, ms;
    try {
      const t0 = performance.now();
      status = e._nnw_build_labelled_shard(session(), ptr, bytes.length, testPtr, testBytes ? testBytes.length : 0, format, testShare, seed);
      ms = performance.now() - t0;
    } finally {
      e._nnw_free(ptr);
      if (testPtr) e._nnw_free(testPtr);
    }
    const reportPtr = e._nnw_labelled_shard_info(session());
    const report = reportPtr ? json(reportPtr) : null;
    if (status !== 0) { // refused before anything was replaced: the dataset and model stay
      const err = new RequestError(lastError());
      err.report = report; // what was read: the page lists the skipped lines
      throw err;
    }
    resetRun();
    shared.datasetGen++;
    shared.shardInfo = json(e._nnw_shard_info(session()));
    const at = e._nnw_shard_bytes(session()), len = e._nnw_shard_len(session());
    const copy = e.HEAPU8.slice(at, at + len).buffer; // fresh view: the build allocated
    return [{ info: shared.shardInfo, report, bytes: copy, ms }, [copy]];
  },

  // The default recipe for a user's shard (nnw_labelled_shard_recipe) on
  // the loaded shard: the config the page starts a labelled-text shard with.
  labelledRecipe() {
    const at = api()._nnw_labelled_shard_recipe(session());
    if (!at) throw new RequestError(lastError());
    return { config: json(at) };
  },

  // The second kind of dataset: an image shard (fashion.shard) for model
  // "mlp". Loading it replaces a loaded text shard and its model, and the
  // other way round; configure, train, evaluate, snapshot and restore then
  // work as for text.
  async loadImageShard(data) {
    const info = await loadDataset(data, {
      request: 'loadImageShard', loadExport: '_nnw_load_image_shard', infoExport: '_nnw_image_info', hint: IMAGE_REBUILD_HINT,
    });
    info.kind = 'images';
    return info;
  },
};
