// layouts.js: the named layouts of the float arrays the engine's exports
// return (web/PROTOCOL.md, part 1), declared once, and the decoders that read
// them by field name.
//
// The engine declares the same layouts in engine/result_layouts.h and exports
// them as JSON through nnw_layouts(); tests/wasm/layouts.test.mjs checks that
// LAYOUTS below is exactly that JSON, so a slot added or moved on one side
// fails a test instead of shifting every later field. Deliberately not here:
// arrays whose length is not a fixed row (the batch log, the embedding map,
// the diagnosis curves): their readers say how they are cut.

export const LAYOUTS = Object.freeze({
  progress: ['epoch', 'batch', 'batches', 'batch_loss', 'batch_acc', 'epoch_done', 'finished', 'loss', 'acc',
    'val_loss', 'val_acc', 'train_size', 'stopped_early', 'best_epoch', 'restored_best'],
  eval_result: ['loss', 'acc'],
  full_progress: ['epoch', 'batch', 'batches', 'epoch_done', 'finished', 'loss', 'acc', 'val_loss', 'val_acc',
    'test_done', 'test_loss', 'test_acc'],
  diagnose_summary: ['n', 'positives', 'negatives', 'auc', 'ap', 'log_loss', 'ece', 'roc_len', 'pr_len', 'bins',
    'empty_score', 'words_rated'],
  diagnose_at: ['threshold', 'tp', 'fp', 'tn', 'fn', 'accuracy', 'pos_precision', 'pos_recall', 'pos_f1',
    'pos_support', 'neg_precision', 'neg_recall', 'neg_f1', 'neg_support', 'macro_precision', 'macro_recall',
    'macro_f1', 'found_fp', 'found_fn', 'found_uncertain'],
  pretrain_progress: ['fraction', 'tokens', 'tokens_total', 'epoch', 'epochs', 'lr', 'loss', 'finished', 'pairs'],
  embed_stats_row: ['epoch', 'stored', 'rare_norm', 'frequent_norm', 'rare_share', 'base_score', 'rare_words',
    'frequent_words'],
  explain_row: ['start', 'end', 'contribution', 'id'],
  embed_changes_row: ['id', 'count', 'effect_from', 'effect_to'],
  neighbours_row: ['id', 'similarity'],
  one_vs_rest_row: ['auc', 'ap', 'positives', 'roc_len'],
  attention_token_row: ['start', 'end', 'id'],
  mlm_progress: ['fraction', 'reviews', 'reviews_total', 'pass', 'passes', 'lr', 'loss', 'accuracy', 'targets',
    'finished'],
});

// A decoder of one layout: `size` floats a record; read(heap, ptr) is the
// record at byte address ptr as {field: value}; rows(heap, ptr, k) the k
// consecutive records there. heap is a Float32Array over wasm memory (take
// HEAPF32 fresh after any call that can allocate); values are copied out.
function decoder(name) {
  const fields = LAYOUTS[name];
  const size = fields.length;
  const record = (heap, at) => {
    const out = {};
    for (let i = 0; i < size; i++) out[fields[i]] = heap[at + i];
    return out;
  };
  return Object.freeze({
    name,
    fields,
    size,
    read(heap, ptr) {
      return record(heap, ptr >> 2);
    },
    rows(heap, ptr, k) {
      const at = ptr >> 2;
      const out = new Array(k);
      for (let r = 0; r < k; r++) out[r] = record(heap, at + r * size);
      return out;
    },
  });
}

export const progress = decoder('progress');
export const evalResult = decoder('eval_result');
export const fullProgress = decoder('full_progress');
export const diagnoseSummary = decoder('diagnose_summary');
export const diagnoseAt = decoder('diagnose_at');
export const pretrainProgress = decoder('pretrain_progress');
export const mlmProgress = decoder('mlm_progress');
export const embedStatsRow = decoder('embed_stats_row');
export const explainRow = decoder('explain_row');
export const embedChangesRow = decoder('embed_changes_row');
export const neighboursRow = decoder('neighbours_row');
export const oneVsRestRow = decoder('one_vs_rest_row');
export const attentionTokenRow = decoder('attention_token_row');
