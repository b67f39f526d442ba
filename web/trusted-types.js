// trusted-types.js: the page's one Trusted Types policy, the "default" one.
//
// The server's CSP says require-trusted-types-for 'script' and allows only
// this policy (trusted-types default). Every DOM sink that would turn a string
// into HTML or script (innerHTML, insertAdjacentHTML, document.write, eval,
// a <script>'s text) therefore throws: this policy defines no createHTML and
// no createScript, so user text can reach the page only as text. Script URLs
// (new Worker(url), a <script>'s src) pass only when they are on this site.
//
// Imported first by app.js, before anything creates a worker, and by
// worker/worker.js, whose two-thread engine starts its threads with new Worker(url)
// (the worker's own CSP requires Trusted Types too). Browsers without
// Trusted Types, and Node, skip it (the CSP's script-src still applies).

if (globalThis.trustedTypes && !globalThis.trustedTypes.defaultPolicy) {
  globalThis.trustedTypes.createPolicy('default', {
    createScriptURL(url) {
      const u = new URL(url, location.href);
      if (u.origin !== location.origin) throw new TypeError(`refused a script from another site: ${u.origin}`);
      return u.href;
    },
  });
}
