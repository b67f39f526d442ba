// engine_probe.mjs: the built engine alone, without the worker, for tests
// that check what an export returns (layouts.test.mjs). Run in a Node worker
// thread by web_worker_shim.mjs (startWorker(PROBE_URL) in worker_client.mjs)
// and spoken to like the worker: {id, type: 'string', data: {engineUrl, fn}}
// answers {id, type: 'ok', data: the string fn() returns}, fn being an export
// that takes no argument and returns a C string (e.g. '_nnw_layouts').
// Not a test file (node --test runs only *.test.mjs).

let engine = null;

async function handle({ id, type, data }) {
  try {
    if (type !== 'string') throw new Error(`engine_probe: unknown request type '${type}'`);
    if (!engine) {
      const { default: createEngine } = await import(data.engineUrl);
      engine = await createEngine({});
    }
    const fn = engine[data.fn];
    if (typeof fn !== 'function') throw new Error(`the engine has no export ${data.fn.replace(/^_/, '')}: rebuild it (scripts/build-wasm.sh)`);
    self.postMessage({ id, type: 'ok', data: engine.UTF8ToString(fn()) });
  } catch (err) {
    self.postMessage({ id, type: 'error', data: { op: type, message: err?.message ?? String(err) } });
  }
}

self.addEventListener('message', (event) => { handle(event.data); });
