// datasets.js: the requests that load a dataset into the session, loadShard
// (IMDB reviews) and loadImageShard (Fashion-MNIST): the bytes from {url} or
// {bytes}, size-checked, handed to the engine's loader, and the shard's
// info kept as shared.shardInfo. A session holds one dataset: loading one
// drops the other and the model.
//
// Deliberately not here: parsing (the engine checks every byte) or the page's
// choice of which dataset to load.

import { NN_ERR_CHECKSUM, NN_ERR_FORMAT, NN_ERR_VERSION, RequestError, api, check, copyIn, json, session, shared } from './session.js';
import { beforeReplacing, refuseReplacing } from './slicer.js';
import { resetRun } from './training.js';
import { SHARD_MAX_BYTES, uploadedBytes } from './uploads.js';

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
    shared.shardInfo = null;
    resetRun();
    if (status === NN_ERR_FORMAT || status === NN_ERR_VERSION || status === NN_ERR_CHECKSUM)
      check(status, hint);
    check(status);
    shared.shardInfo = json(e[infoExport](session()));
    return shared.shardInfo;
  } finally {
    shared.busy = null;
  }
}

export const datasetHandlers = {
  loadShard(data) {
    return loadDataset(data, { request: 'loadShard', loadExport: '_nnw_load_shard', infoExport: '_nnw_shard_info', hint: REBUILD_HINT });
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
