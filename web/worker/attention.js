// attention.js: the request `attention`, what the page's attention view
// draws: a text scored by a "transformer" model and every block's attention
// probabilities over its words (nnw_attention, engine/attention_view.h),
// answered at once, also while training runs (between two slices, so with
// the weights of the last finished batch).
//
// Deliberately not here: tokenizing, scoring or the attention itself (the
// engine does them) or any drawing (web/views/attention.js).

import { attentionTokenRow } from './layouts.js';
import { RequestError, api, byteToUtf16Index, floatsAt, lastError, now, readRows, session, withString } from './session.js';

export const attentionHandlers = {
  attention(data) {
    const e = api();
    const text = String(data?.text ?? '');
    const t0 = now();
    let byteLength = 0;
    const W = withString(text, (p, n) => {
      byteLength = n;
      return e._nnw_attention(session(), p, n);
    });
    if (W < 0) throw new RequestError(lastError());
    const blocks = e._nnw_attention_blocks(session());
    const heads = e._nnw_attention_heads(session());
    const score = e._nnw_attention_score(session());
    const weights = floatsAt(e._nnw_attention_data(session()), blocks * heads * W * W);
    const rows = readRows(attentionTokenRow, e._nnw_attention_tokens(session()), W);
    // Byte offsets into the UTF-8 text as UTF-16 indices into the JS string;
    // <START> (no span) keeps -1.
    const at = byteToUtf16Index(text, byteLength);
    const tokens = rows.map((r) => ({
      start: r.start < 0 ? -1 : at[r.start],
      end: r.end < 0 ? -1 : at[r.end],
      id: r.id,
    }));
    return [{ score, blocks, heads, positions: W, tokens, weights, ms: now() - t0 }, [weights.buffer]];
  },
};
