// datasets.js: what differs between the page's two datasets, in one place:
// one object per dataset (the IMDB reviews, the Fashion-MNIST images), and
// dataset() the one this page load shows (the dataset is fixed for a load:
// choosing another reloads the page). Views read their words, files and
// recipes from it instead of branching on the dataset; the panels that only
// one dataset has are set up by app.js's setUpTextViews/setUpImageViews.

import { state } from './state.js';

export const DATASETS = {
  imdb: {
    name: 'the IMDB reviews',
    items: 'reviews',
    Items: 'Reviews',
    images: false,
    storeKey: 'current', // persist.js: each dataset keeps its own saved model
    loadRequest: 'loadShard',
    shardPath: (linkShard) => linkShard,
    fileWord: 'review file',
    builtFrom: 'the IMDB archive',
    recipe: 'tutorial-bag', // the menu's recipe when the engine's presets are not known
    model: null, // the model a link of the other dataset gets (null: the engine's default)
    ownsModel: (model) => model !== 'mlp',
    presetMenu: null, // index.html's menu as it is
    modelMenu: (options) => options.filter(([value]) => value !== 'mlp'), // index.html's, less the image model
    title: null,
    loadedDetail: (splits, info, fmtInt) =>
      `${fmtInt(splits.train || 0)} training and ${fmtInt(splits.test || 0)} test reviews; a vocabulary of ${fmtInt(info.vocab_size || 0)} ids.`,
    fileName: (epochs, s) => `imdb-sentiment-${epochs}ep-v${s.vocab_size}.nnckpt`,
  },
  fashion: {
    name: 'Fashion-MNIST',
    items: 'images',
    Items: 'Images',
    images: true,
    storeKey: 'fashion',
    loadRequest: 'loadImageShard',
    // fashion.shard, beside the link's review shard
    shardPath: (linkShard) => linkShard.replace(/[^/]*$/, 'fashion.shard'),
    fileWord: 'image file',
    builtFrom: "Debian's dataset-fashion-mnist package",
    recipe: 'tutorial-mlp',
    model: 'mlp',
    ownsModel: (model) => model === 'mlp',
    presetMenu: [['tutorial-mlp', 'Dense network (Keras basic classification)'], ['custom', 'Custom settings']],
    modelMenu: () => [['mlp', 'dense (MLP)']],
    title: 'Fashion-MNIST playground: watch a neural network learn to see',
    loadedDetail: (splits, info, fmtInt) =>
      `${fmtInt(splits.train || 0)} training and ${fmtInt(splits.test || 0)} test images of ${info.height} × ${info.width} pixels in ${info.classes} classes.`,
    fileName: (epochs) => `fashion-mlp-${epochs}ep.nnckpt`,
  },
  // The user's labelled file, built into a shard by the engine in this page
  // (views/owntext.js): its bytes come from IndexedDB, not from a URL.
  own: {
    name: 'your own labelled text',
    items: 'texts',
    Items: 'Texts',
    images: false,
    own: true,
    storeKey: 'own',
    loadRequest: 'loadShard',
    shardPath: () => 'your labelled file (kept in this browser)',
    fileWord: 'labelled file',
    builtFrom: 'your labelled file',
    recipe: 'ngram', // the default recipe for a user's shard (README, "Your own labelled text")
    model: null,
    ownsModel: (model) => model !== 'mlp',
    presetMenu: null,
    modelMenu: (options) => options.filter(([value]) => value !== 'mlp'),
    title: 'Your own text playground: train a classifier on your labelled file',
    heading: 'Watch a neural network learn your labels', // the text pages' header, replaced (views/settings.js)
    lede: 'The models of the Keras text tutorials train on your own labelled lines right here, in a Web Worker running ' +
      'a C engine compiled to WebAssembly. Your file never leaves your machine.',
    loadedDetail: (splits, info, fmtInt) =>
      `${fmtInt(splits.train || 0)} training and ${fmtInt(splits.test || 0)} test texts in ${info.classes} classes` +
      `${info.class_names ? ` (${info.class_names.join(', ')})` : ''}; a vocabulary of ${fmtInt(info.vocab_size || 0)} ids.`,
    fileName: (epochs, s) => `own-text-${s.classes}cl-${epochs}ep-v${s.vocab_size}.nnckpt`,
  },
};

export const dataset = () => DATASETS[state.dataset];
