// map-scale.js: the word map's fixed frame, worked out once per map: the
// axes' bounds over every epoch's points (padded 6%) and the colour scale
// (the 98th percentile of the words' |effect| over every epoch). The worker
// computes it beside the map it sends (worker/embeddings.js, embedMap), so
// the page's main thread does not loop over epochs x words points when a
// run ends (those loops, run once and so never optimised, were most of a
// 40-60 ms frame); views/wordmap.js reads it from the reply.
//
// Deliberately not here: drawing, colours. Plain module, no DOM: the
// worker and Node tests import it too.

// xy: (epochs x words x 2) positions, effect: (epochs x words) -> {axes:
// {x0, x1, y0, y1}, colorScale}
export function mapScale(xy, effect) {
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i + 1 < xy.length; i += 2) {
    const x = xy[i], y = xy[i + 1];
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  const pad = (a, b) => Math.max((b - a) * 0.06, 1e-3);
  const axes = { x0: x0 - pad(x0, x1), x1: x1 + pad(x0, x1), y0: y0 - pad(y0, y1), y1: y1 + pad(y0, y1) };
  // The 98th percentile of |effect| by selection, not by sorting.
  const abs = new Float32Array(effect.length);
  let m = 0;
  for (let i = 0; i < effect.length; i++) if (Number.isFinite(effect[i])) abs[m++] = Math.abs(effect[i]);
  const colorScale = m ? kthSmallest(abs.subarray(0, m), Math.floor(0.98 * (m - 1))) : 1;
  return { axes, colorScale };
}

// The k-th smallest value of a (0-based; a is reordered): Hoare's selection,
// linear time on average.
export function kthSmallest(a, k) {
  let lo = 0, hi = a.length - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1];
    let i = lo, j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k];
  }
  return a[k];
}
