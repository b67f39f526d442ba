// dataset-early.js: marks <html data-dataset> from the link before the page
// is first drawn, so that a Fashion-MNIST page (#dataset=fashion) never
// flashes the review page's header and panels while app.js, a deferred
// module, loads. A classic script in <head>, run before <body> is parsed.
// app.js reads the link properly (and corrects this mark if it must); this
// only spares the first frames.
'use strict';
try {
  const dataset = new URLSearchParams(location.hash.replace(/^#/, '')).get('dataset');
  document.documentElement.dataset.dataset = dataset === 'fashion' || dataset === 'own' ? dataset : 'imdb';
} catch {
  // Without it the page still works: app.js sets the mark.
}
