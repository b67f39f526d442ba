// images.js: the requests about the image dataset (Fashion-MNIST): one image,
// the model's prediction for one image, and the confusion matrix of a whole
// split, computed as a job of the slicer beside training.
//
// Deliberately not here: loading the image shard (datasets.js), training
// (training.js, the same requests as for text) or anything about the page.

import { RequestError, api, copyIn, encoder, floatsAt, lastError, now, session, shared, withString } from './session.js';
import { cancelJob, runJob } from './slicer.js';

const CONFUSION = 'the confusion matrix';
const CONFUSION_CHUNK = 128; // images per nnw_predict_images call (a few ms); a slice does one or more

// The loaded image shard's info, or the error the image requests answer.
function imageShard() {
  const info = shared.shardInfo;
  if (info?.kind !== 'images') throw new RequestError('no image shard is loaded: send loadImageShard first');
  return info;
}

// The image shard and the split a request names (default 'test'), with its size.
function imageSplit(data) {
  const info = imageShard();
  const split = data?.split ?? 'test';
  const n = info.splits?.[split];
  if (n === undefined) throw new RequestError(`the image shard has no split '${split}'`);
  return { info, split, n };
}

export const imageHandlers = {
  // One image of the loaded image shard: its pixels (0-255, row-major) and label.
  image(data) {
    const e = api();
    const { info, split, n } = imageSplit(data);
    let index = data?.index;
    if (index === undefined || index === null) index = Math.floor(Math.random() * n);
    if (!Number.isInteger(index) || index < 0 || index >= n)
      throw new RequestError(`image index ${index} is out of range: '${split}' has ${n} images`);
    const size = info.height * info.width * info.channels;
    const ptr = withString(split, (p) => e._nnw_image(session(), p, index));
    if (!ptr) throw new RequestError(lastError());
    const pixels = e.HEAPU8.slice(ptr, ptr + size);
    const label = withString(split, (p) => e._nnw_image_label(session(), p, index));
    return [{ split, index, label, className: info.class_names[label], height: info.height,
      width: info.width, channels: info.channels, pixels }, [pixels.buffer]];
  },

  // The model's class probabilities for one image: {pixels} (D values 0-255,
  // e.g. drawn on the page) or {split, index} of the loaded shard.
  predictImage(data) {
    const e = api();
    const info = imageShard();
    const size = info.height * info.width * info.channels;
    const t0 = now();
    let cls;
    if (data?.pixels) {
      const px = data.pixels instanceof Uint8Array ? data.pixels : Uint8Array.from(data.pixels);
      if (px.length !== size) throw new RequestError(`an image of ${px.length} values; the model reads ${size}`);
      const ptr = copyIn(px);
      try {
        cls = e._nnw_predict_image(session(), ptr);
      } finally {
        e._nnw_free(ptr);
      }
    } else {
      const split = data?.split ?? 'test', index = data?.index ?? 0;
      const ptr = withString(split, (p) => e._nnw_image(session(), p, index));
      if (!ptr) throw new RequestError(lastError());
      cls = e._nnw_predict_image(session(), ptr);
    }
    if (cls < 0) throw new RequestError(lastError());
    const probs = Array.from(floatsAt(e._nnw_predict_probs(session()), info.classes));
    return { probs, class: cls, className: info.class_names[cls], ms: now() - t0 };
  },

  // The model's predictions on a whole split of the loaded image shard
  // (default 'test'): the K x K confusion matrix (rows: true class, columns:
  // predicted) and the accuracy. A job of the slicer (its units: chunks of
  // CONFUSION_CHUNK images), so it runs beside training and other requests;
  // a newer confusion request cancels one in flight, and so does a new
  // shard or model (every slice also checks the split it reads is the same).
  async confusion(data) {
    const e = api();
    const { info, split, n } = imageSplit(data);
    cancelJob(CONFUSION, 'cancelled: a newer confusion request replaced this one');
    const K = info.classes;
    const matrix = new Uint32Array(K * K);
    const t0 = now();
    let ms = 0, correct = 0, i = 0;
    const name = copyIn(encoder.encode(split), true);
    const classes = e._nnw_alloc(CONFUSION_CHUNK * 4);
    try {
      if (!classes) throw new RequestError('out of memory for the predicted classes');
      await runJob({
        name: CONFUSION,
        reads: ['shard', 'model'],
        onChange: 'cancel',
        max: 64,
        step(slice) {
          // Nothing read before this slice is trusted: the shard and its
          // sizes are looked up again.
          const current = imageSplit({ split });
          if (current.info !== info || current.n !== n || current.info.classes !== K)
            throw new RequestError('cancelled: the image shard changed during the confusion matrix');
          const start = now();
          for (let c = 0; c < slice.units && i < n; c++) {
            const count = Math.min(n - i, CONFUSION_CHUNK); // batch_size images per forward pass
            const ptr = e._nnw_image(session(), name, i);
            if (!ptr || e._nnw_predict_images(session(), ptr, count, classes) !== count) throw new RequestError(lastError());
            const predicted = e.HEAPU32.subarray(classes >> 2, (classes >> 2) + count); // fresh view
            for (let j = 0; j < count; j++, i++) {
              const label = e._nnw_image_label(session(), name, i);
              if (label < 0) throw new RequestError(lastError());
              matrix[label * K + predicted[j]]++;
              if (label === predicted[j]) correct++;
            }
          }
          slice.ms = now() - start;
          ms += slice.ms;
          return i >= n;
        },
      });
    } finally {
      e._nnw_free(name);
      e._nnw_free(classes);
    }
    return [{ split, n, classes: K, classNames: info.class_names, matrix, accuracy: n ? correct / n : NaN, ms, wallMs: now() - t0 },
      [matrix.buffer]];
  },
};
