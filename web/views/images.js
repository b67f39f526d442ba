// images.js: the Fashion-MNIST view, in place of the review box on a page
// whose dataset is the images (app.js, #dataset=fashion): a strip of test
// images to pick from, the picked one drawn enlarged with the model's
// probability for each of the 10 classes as labelled bars, a 28 x 28 pad to
// draw an image on (predicted as it is drawn), and the confusion matrix of
// the test images.
//
// Everything is computed in the worker (web/PROTOCOL.md: image,
// predictImage, confusion); the model is read as it is right now, so the
// bars move while it trains. Only the newest request matters: while one is
// in flight, later refreshes just mark the view stale.
//
// Deliberately not here: training, the dataset choice (app.js), HTML built
// from strings (class names reach the page through textContent).

const STRIP = 8; // test images in the strip
const BRUSH = 2.2; // the drawing brush's radius, in image pixels

// Draws 0-255 pixels (0 = background) on a canvas of the image's size,
// dark on light like the Keras tutorial's plots (the CSS scales it up).
function drawPixels(canvas, pixels, width, height) {
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(width, height);
  for (let i = 0; i < width * height; i++) {
    const g = 255 - pixels[i];
    img.data[4 * i] = g;
    img.data[4 * i + 1] = g;
    img.data[4 * i + 2] = g;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

export class ImagesView {
  // ctx: {$, request(type, data), announce, showError, fmtPct, haveModel(), phase()}
  constructor(ctx) {
    this.ctx = ctx;
    const $ = ctx.$;
    this.ui = {
      strip: $('img-strip'),
      newStrip: $('img-new-strip'),
      random: $('img-random'),
      big: $('img-big'),
      truth: $('img-true'),
      pred: $('img-pred'),
      bars: $('img-bars'),
      draw: $('img-draw'),
      clear: $('img-clear'),
      drawPred: $('draw-pred'),
      drawBars: $('draw-bars'),
      cmButton: $('btn-confusion'),
      cmStatus: $('cm-status'),
      cmTable: $('img-confusion'),
    };
    this.info = null;
    this.strip = []; // [{index, label, pixels, predicted}]
    this.selected = null; // {index, label, className, pixels}
    this.shown = null; // {probs, predicted} of the selected image
    this.drawn = new Uint8Array(0); // the drawing pad's pixels
    this.drawnInk = false;
    this.drawnResult = null;
    this.confusion = null;
    this.confusionRunning = false;
    this.refreshing = false;
    this.stale = false;
    this.drawBusy = false;
    this.drawAgain = false;
    this.stripGeneration = 0;
    this.modelGeneration = 0; // a new model makes answers about the old one stale

    this.ui.newStrip.addEventListener('click', () => this.newStrip().catch((err) => this.fail('fetch test images', err)));
    this.ui.random.addEventListener('click', () => this.pickRandom().catch((err) => this.fail('fetch a test image', err)));
    this.ui.clear.addEventListener('click', () => this.clearDrawing());
    this.ui.cmButton.addEventListener('click', () => this.computeConfusion());
    this.setUpDrawing();
    this.ui.pred.textContent = 'The test images appear here once they are loaded.';
  }

  fail(what, err) {
    if (this.ctx.phase() === 'recovering' || this.ctx.phase() === 'failed') return;
    this.ctx.showError(`Could not ${what}: ${err.message}`);
  }

  // The shard's info (loadImageShard's reply): sizes, class names.
  setInfo(info) {
    this.info = info;
    const { width, height } = info;
    for (const c of [this.ui.big, this.ui.draw]) {
      c.width = width;
      c.height = height;
    }
    this.drawn = new Uint8Array(width * height * info.channels);
    drawPixels(this.ui.draw, this.drawn, width, height);
    this.ui.drawPred.textContent = 'Draw in the box to see what the model makes of it.';
    this.renderBars(this.ui.drawBars, null, -1, -1);
    this.newStrip().catch((err) => this.fail('fetch test images', err));
  }

  phaseChanged(phase, haveModel) {
    const live = this.info && !['starting', 'loading', 'recovering', 'failed'].includes(phase);
    this.ui.newStrip.disabled = !live;
    this.ui.random.disabled = !live;
    this.ui.clear.disabled = !live;
    this.ui.cmButton.disabled = !live || !haveModel || this.confusionRunning;
  }

  async fetchImage(index) {
    const r = await this.ctx.request('image', { split: 'test', ...(index == null ? {} : { index }) });
    return { index: r.index, label: r.label, className: r.className, pixels: r.pixels };
  }

  // A new strip of random test images; the first is shown.
  async newStrip() {
    if (!this.info) return;
    const generation = ++this.stripGeneration;
    const images = [];
    for (let i = 0; i < STRIP; i++) images.push(await this.fetchImage());
    if (generation !== this.stripGeneration) return;
    this.strip = images.map((im) => ({ ...im, predicted: null }));
    this.renderStrip();
    this.select(this.strip[0]);
  }

  async pickRandom() {
    if (!this.info) return;
    this.select(await this.fetchImage());
  }

  // Shows one test image and predicts it.
  select(image) {
    this.selected = image;
    this.shown = null;
    drawPixels(this.ui.big, image.pixels, this.info.width, this.info.height);
    this.ui.big.setAttribute('aria-label', `Test image ${image.index}: ${image.className}`);
    this.ui.truth.textContent = `Test image ${image.index}. True class: ${image.className}.`;
    for (const b of this.ui.strip.children) b.setAttribute('aria-pressed', String(Number(b.dataset.index) === image.index));
    this.refresh();
  }

  renderStrip() {
    const buttons = this.strip.map((im, i) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'img-thumb';
      b.dataset.index = String(im.index);
      b.setAttribute('aria-pressed', 'false');
      const c = document.createElement('canvas');
      c.width = this.info.width;
      c.height = this.info.height;
      c.setAttribute('aria-hidden', 'true');
      drawPixels(c, im.pixels, this.info.width, this.info.height);
      const mark = document.createElement('span');
      mark.className = 'img-thumb-mark';
      b.append(c, mark);
      b.addEventListener('click', () => this.select(this.strip[i]));
      return b;
    });
    this.ui.strip.replaceChildren(...buttons);
    this.renderStripMarks();
  }

  renderStripMarks() {
    for (const [i, b] of [...this.ui.strip.children].entries()) {
      const im = this.strip[i];
      if (!im) continue;
      const mark = b.querySelector('.img-thumb-mark');
      const p = im.predicted;
      b.classList.toggle('right', p != null && p === im.label);
      b.classList.toggle('wrong', p != null && p !== im.label);
      mark.textContent = p == null ? '' : p === im.label ? '✓' : '✗';
      const guess = p == null ? '' : `; predicted ${this.info.class_names[p]}`;
      b.setAttribute('aria-label', `Test image ${im.index}: ${im.className}${guess}`);
      b.title = `${im.className}${guess}`;
    }
  }

  // Predicts the shown image, the strip and the drawing with the model as it
  // is now. Called after each epoch, at the end, and on a new model.
  async refresh() {
    if (!this.info) return;
    if (this.refreshing) {
      this.stale = true;
      return;
    }
    this.refreshing = true;
    try {
      do {
        this.stale = false;
        await this.predictAll();
      } while (this.stale);
    } catch (err) {
      this.fail('predict the test images', err);
    } finally {
      this.refreshing = false;
    }
  }

  async predictAll() {
    if (!this.ctx.haveModel()) {
      this.ui.pred.textContent = 'The probabilities appear here once the model is ready.';
      return;
    }
    const image = this.selected;
    if (image) {
      const r = await this.ctx.request('predictImage', { split: 'test', index: image.index });
      if (image === this.selected) {
        this.shown = { probs: r.probs, predicted: r.class };
        this.renderPrediction(this.ui.pred, this.ui.bars, r, image.label);
      }
    }
    for (const im of this.strip) {
      const r = await this.ctx.request('predictImage', { split: 'test', index: im.index });
      im.predicted = r.class;
    }
    this.renderStripMarks();
    if (this.drawnInk) await this.predictDrawing();
  }

  renderPrediction(line, bars, r, label) {
    const name = this.info.class_names[r.class];
    const sure = this.ctx.fmtPct(r.probs[r.class]);
    if (label == null || label < 0) line.textContent = `The model says: ${name} (${sure}).`;
    else if (r.class === label) line.textContent = `The model says: ${name} (${sure}): right.`;
    else line.textContent = `The model says: ${name} (${sure}): wrong, it is ${this.info.class_names[label]}.`;
    line.dataset.verdict = label == null || label < 0 ? '' : r.class === label ? 'right' : 'wrong';
    this.renderBars(bars, r.probs, r.class, label ?? -1);
  }

  // One labelled bar per class: the probability as a width (--p) and a number.
  renderBars(list, probs, predicted, label) {
    const names = this.info?.class_names ?? [];
    const rows = names.map((name, k) => {
      const li = document.createElement('li');
      const p = probs ? probs[k] : 0;
      li.className = `prob${k === predicted ? ' predicted' : ''}${k === label ? ' truth' : ''}`;
      const n = document.createElement('span');
      n.className = 'prob-name';
      n.textContent = name;
      const track = document.createElement('span');
      track.className = 'prob-track';
      track.setAttribute('aria-hidden', 'true');
      const fill = document.createElement('span');
      fill.className = 'prob-fill';
      fill.style.setProperty('--p', Math.min(1, Math.max(0, p)).toFixed(4));
      track.append(fill);
      const v = document.createElement('span');
      v.className = 'prob-value';
      v.textContent = probs ? this.ctx.fmtPct(p) : '–';
      li.append(n, track, v);
      return li;
    });
    list.replaceChildren(...rows);
  }

  // ------------------------------------------------------------- drawing

  setUpDrawing() {
    const c = this.ui.draw;
    let last = null;
    const at = (e) => {
      const r = c.getBoundingClientRect();
      return [((e.clientX - r.left) / r.width) * c.width, ((e.clientY - r.top) / r.height) * c.height];
    };
    c.addEventListener('pointerdown', (e) => {
      if (!this.info) return;
      e.preventDefault();
      c.setPointerCapture(e.pointerId);
      last = at(e);
      this.ink(last, last);
    });
    c.addEventListener('pointermove', (e) => {
      if (!last) return;
      const p = at(e);
      this.ink(last, p);
      last = p;
    });
    const end = () => {
      last = null;
    };
    c.addEventListener('pointerup', end);
    c.addEventListener('pointercancel', end);
  }

  // Ink along the segment a-b with a soft round brush.
  ink(a, b) {
    const { width, height } = this.info;
    const steps = Math.max(1, Math.ceil(Math.hypot(b[0] - a[0], b[1] - a[1]) * 2));
    for (let s = 0; s <= steps; s++) {
      const x = a[0] + ((b[0] - a[0]) * s) / steps;
      const y = a[1] + ((b[1] - a[1]) * s) / steps;
      for (let j = Math.max(0, Math.floor(y - BRUSH)); j <= Math.min(height - 1, Math.ceil(y + BRUSH)); j++) {
        for (let i = Math.max(0, Math.floor(x - BRUSH)); i <= Math.min(width - 1, Math.ceil(x + BRUSH)); i++) {
          const d = Math.hypot(i + 0.5 - x, j + 0.5 - y);
          const v = Math.round(255 * Math.min(1, Math.max(0, BRUSH - d)));
          if (v > this.drawn[j * width + i]) this.drawn[j * width + i] = v;
        }
      }
    }
    this.drawnInk = true;
    drawPixels(this.ui.draw, this.drawn, width, height);
    this.predictDrawing().catch((err) => this.fail('predict the drawing', err));
  }

  clearDrawing() {
    if (!this.info) return;
    this.drawn.fill(0);
    this.drawnInk = false;
    this.drawnResult = null;
    drawPixels(this.ui.draw, this.drawn, this.info.width, this.info.height);
    this.ui.drawPred.textContent = 'Draw in the box to see what the model makes of it.';
    this.ui.drawPred.dataset.verdict = '';
    this.renderBars(this.ui.drawBars, null, -1, -1);
  }

  // The newest drawing only: strokes during a request wait for its reply.
  async predictDrawing() {
    if (!this.drawnInk || !this.ctx.haveModel()) return;
    if (this.drawBusy) {
      this.drawAgain = true;
      return;
    }
    this.drawBusy = true;
    try {
      do {
        this.drawAgain = false;
        const r = await this.ctx.request('predictImage', { pixels: this.drawn.slice() });
        if (!this.drawnInk) break;
        this.drawnResult = { probs: r.probs, predicted: r.class };
        this.renderPrediction(this.ui.drawPred, this.ui.drawBars, r, -1);
      } while (this.drawAgain);
    } finally {
      this.drawBusy = false;
    }
  }

  // ---------------------------------------------------- confusion matrix

  // A new, reset or loaded model: the matrix was the old model's.
  modelChanged() {
    this.modelGeneration++;
    this.confusion = null;
    this.ui.cmTable.hidden = true;
    this.ui.cmTable.replaceChildren();
    this.ui.cmStatus.textContent = 'Computed when training ends (or now, with the button).';
  }

  trainingDone() {
    this.refresh();
    this.computeConfusion();
  }

  async computeConfusion() {
    if (!this.info || !this.ctx.haveModel()) return;
    this.confusionRunning = true;
    this.ui.cmButton.disabled = true;
    this.ui.cmStatus.textContent = `Predicting the ${this.info.splits.test.toLocaleString('en-US')} test images…`;
    const generation = this.modelGeneration;
    try {
      const r = await this.ctx.request('confusion', { split: 'test' });
      if (generation !== this.modelGeneration) return;
      this.confusion = r;
      this.renderConfusion(r);
    } catch (err) {
      if (generation !== this.modelGeneration) return;
      if (/cancelled/.test(err.message)) {
        // A newer request says what it does itself; a shard or model
        // replaced under the job is said here, not left as "Predicting…".
        if (!/newer confusion request/.test(err.message))
          this.ui.cmStatus.textContent = `The confusion matrix was not finished (${err.message}); press the button to compute it again.`;
        return;
      }
      this.ui.cmStatus.textContent = '';
      this.fail('compute the confusion matrix', err);
    } finally {
      this.confusionRunning = false;
      this.phaseChanged(this.ctx.phase(), this.ctx.haveModel());
    }
  }

  renderConfusion(r) {
    const K = r.classes;
    const names = r.classNames;
    const m = r.matrix;
    const rowSum = (t) => {
      let s = 0;
      for (let p = 0; p < K; p++) s += m[t * K + p];
      return s;
    };
    const cell = (tag, text, cls) => {
      const el = document.createElement(tag);
      el.textContent = text;
      if (cls) el.className = cls;
      return el;
    };
    const head = document.createElement('tr');
    head.append(cell('td', 'true ↓ predicted →', 'cm-corner'));
    for (let p = 0; p < K; p++) {
      const th = cell('th', String(p));
      th.scope = 'col';
      th.title = names[p];
      head.append(th);
    }
    const thead = document.createElement('thead');
    thead.append(head);
    const tbody = document.createElement('tbody');
    let worst = null;
    for (let t = 0; t < K; t++) {
      const tr = document.createElement('tr');
      const th = cell('th', `${t} ${names[t]}`);
      th.scope = 'row';
      tr.append(th);
      const total = rowSum(t) || 1;
      for (let p = 0; p < K; p++) {
        const n = m[t * K + p];
        const td = cell('td', String(n), t === p ? 'cm-cell cm-right' : 'cm-cell cm-wrong');
        td.style.setProperty('--strength', (n / total).toFixed(3));
        td.title = `${names[t]} predicted as ${names[p]}: ${n} of ${total} (${this.ctx.fmtPct(n / total)})`;
        tr.append(td);
        if (t !== p && (!worst || n > worst.n)) worst = { t, p, n };
      }
      tbody.append(tr);
    }
    const caption = cell('caption', 'Test images by true class (rows) and predicted class (columns); shade: share of the row');
    this.ui.cmTable.replaceChildren(caption, thead, tbody);
    this.ui.cmTable.hidden = false;
    const worstText = worst && worst.n > 0 ? ` Most often confused: ${names[worst.t]} taken for ${names[worst.p]} (${worst.n} times).` : '';
    this.ui.cmStatus.textContent = `Accuracy on the ${r.n.toLocaleString('en-US')} test images: ${this.ctx.fmtPct(r.accuracy)} (${Math.round(r.ms)} ms in the engine).${worstText}`;
  }

  // A copy of what the view shows, for tests (window.__playground.images()).
  snapshot() {
    return structuredClone({
      classNames: this.info?.class_names ?? null,
      selected: this.selected ? { index: this.selected.index, label: this.selected.label, className: this.selected.className } : null,
      probs: this.shown?.probs ?? null,
      predicted: this.shown?.predicted ?? null,
      predictedText: this.ui.pred.textContent,
      strip: this.strip.map((im) => ({ index: im.index, label: im.label, predicted: im.predicted })),
      drawn: this.drawnResult,
      refreshing: this.refreshing,
      confusion: this.confusion ? { n: this.confusion.n, accuracy: this.confusion.accuracy, matrix: Array.from(this.confusion.matrix) } : null,
      confusionRunning: this.confusionRunning,
    });
  }
}
