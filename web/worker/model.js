// model.js: the model's weights as the page sees them: snapshot and restore
// of the parameter buffer, checkpoint bytes out, and the copies of each
// epoch's weights that the diagnosis of a past epoch reads.
//
// Deliberately not here: starting a model (configure, importCheckpoint:
// training.js, since they start a new run) or any engine logic.

import { RequestError, api, lastError, requireModel, session } from './session.js';

// The weights at the end of each epoch are kept for the diagnosis while they
// fit in this many bytes (the default model: 0.64 MB an epoch, 26 MB for 40).
// Exact copies, not the embedding history's int8 snapshots: a past epoch's
// diagnosis must give that epoch's validation loss and accuracy (README,
// "What the model learned about words").
const EPOCH_WEIGHTS_BUDGET = 64 * 1024 * 1024;

const epochWeights = new Map(); // epoch (1-based) -> Float32Array of its parameters
let epochWeightsBytes = 0;

// A copy of the parameters at the end of an epoch, for diagnosing that
// epoch later, while the copies fit in EPOCH_WEIGHTS_BUDGET; false if not kept.
export function keepEpochWeights(epoch) {
  const e = api();
  const n = e._nnw_params_len(session());
  if (epochWeightsBytes + 4 * n > EPOCH_WEIGHTS_BUDGET) return false;
  const p = e._nnw_params(session()) >> 2;
  epochWeights.set(epoch, e.HEAPF32.slice(p, p + n));
  epochWeightsBytes += 4 * n;
  return true;
}

export function clearEpochWeights() {
  epochWeights.clear();
  epochWeightsBytes = 0;
}

// The kept weights of an epoch, or a RequestError saying which were kept.
export function epochWeightsOf(epoch) {
  const params = epochWeights.get(epoch);
  if (params) return params;
  throw new RequestError(`the weights of epoch ${epoch} were not kept` +
    (epochWeights.size ? ` (kept: epochs ${[...epochWeights.keys()].join(', ')})` : '') +
    ': diagnose the current weights (epoch 0)');
}

// The model as checkpoint bytes (a fresh ArrayBuffer, to transfer), or null
// when the engine cannot write it (an event then goes without).
export function checkpointBytes() {
  const e = api();
  const p = e._nnw_checkpoint_export(session());
  if (!p) return null;
  const n = e._nnw_checkpoint_len(session());
  return e.HEAPU8.slice(p, p + n).buffer;
}

export const modelHandlers = {
  snapshot() {
    const e = requireModel();
    const n = e._nnw_params_len(session());
    const p = e._nnw_params(session()) >> 2;
    const params = e.HEAPF32.slice(p, p + n);
    return [{ params }, [params.buffer]];
  },

  restore(data) {
    const e = requireModel();
    const n = e._nnw_params_len(session());
    const params = data?.params;
    if (!(params instanceof Float32Array))
      throw new RequestError('restore needs {params: Float32Array}');
    if (params.length !== n)
      throw new RequestError(`restore got ${params.length} parameters; this model has ${n}`);
    e.HEAPF32.set(params, e._nnw_params(session()) >> 2);
    e._nnw_temperature_clear(session()); // fitted to the weights just replaced
    return {};
  },

  exportCheckpoint() {
    const bytes = checkpointBytes();
    if (!bytes) throw new RequestError(lastError());
    return [{ bytes }, [bytes]];
  },
};
