// sections.js: the menu of the page's sections below the first screen
// (settings, runs, model files, what the model learned about words, the
// diagnosis, the test images). Each has its own URL fragment, kept in the
// hash beside the settings ("#view=diagnosis&epochs=3"), so a link opens it.
// The sections are all on the page (a long page still scrolls); the menu
// marks the open one and scrolls to it.

import { setView } from '../state.js';

// view name -> the element it scrolls to
const TARGETS = {
  train: 'train-view',
  settings: 'controls',
  runs: 'runs',
  files: 'files',
  words: 'embed-section',
  diagnosis: 'diagnosis',
  images: 'images-panel',
};

export function showSection(name, { scroll = false } = {}) {
  for (const a of document.querySelectorAll('.section-nav a[data-view]')) {
    if (a.dataset.view === name) a.setAttribute('aria-current', 'true');
    else a.removeAttribute('aria-current');
  }
  const el = document.getElementById(TARGETS[name] ?? '');
  if (scroll && el && name !== 'train') el.scrollIntoView({ block: 'start' });
}

for (const a of document.querySelectorAll('.section-nav a[data-view]')) {
  a.addEventListener('click', (e) => {
    e.preventDefault();
    setView(a.dataset.view);
    showSection(a.dataset.view, { scroll: true });
    const el = document.getElementById(TARGETS[a.dataset.view]);
    const heading = el?.querySelector('h2');
    if (heading) {
      if (!heading.hasAttribute('tabindex')) heading.setAttribute('tabindex', '-1');
      heading.focus({ preventScroll: true });
    }
  });
}
