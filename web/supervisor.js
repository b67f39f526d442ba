// supervisor.js: the page's line to the engine worker, kept alive.
//
// EngineWorker is one worker (web/worker/worker.js) and its {id, type, data}
// requests (web/PROTOCOL.md): request() resolves with the reply's data or
// rejects with the worker's message; events (messages without an id) go to
// onEvent. The worker is dead when it reports `fatal` (a trap or an abort in
// the engine: the wasm instance cannot be trusted any more), fails to load,
// crashes, or sends a message the page cannot read; then every pending
// request is rejected and it is terminated.
//
// EngineSupervisor keeps one EngineWorker at a time. When it dies, the
// supervisor says so (onCrash), starts a new one and lets the page set it up
// again (setUp: init, the shard, the last saved weights), then reports
// onRecovered; after maxRestarts deaths within windowMs it gives up
// (onGiveUp), so a fault that recurs at once cannot loop for ever. Nothing
// is restarted before the page arms it (its first set-up worked).
//
// Deliberately not here: what is saved or restored (app.js and persist.js
// decide), and anything shown on the page.

export class EngineWorker {
  constructor(url, onEvent, onDeath) {
    this.pending = new Map();
    this.nextId = 1;
    this.dead = null;
    this.worker = new Worker(url, { type: 'module' });
    this.worker.onmessage = (e) => {
      const msg = e.data || {};
      if (msg.id != null && this.pending.has(msg.id)) {
        const { resolve, reject, type } = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.type === 'error') {
          const d = msg.data || {};
          reject(new Error(d.message || `the worker could not do “${d.op || type}”`));
        } else {
          resolve(msg.data);
        }
      } else if (msg.type === 'fatal') {
        this.die((msg.data && msg.data.message) || 'the engine crashed');
      } else if (msg.id == null) {
        onEvent(msg.type, msg.data || {});
      }
    };
    this.onDeath = onDeath;
    this.worker.onerror = (e) => {
      // Shown on the page instead of only in the console.
      e.preventDefault();
      this.die(e.message ? `the engine worker failed: ${e.message}` : 'the engine worker failed to start or crashed');
    };
    this.worker.onmessageerror = () => this.die('the engine worker sent a message the page could not read');
  }

  die(why) {
    if (this.dead) return;
    this.dead = why;
    this.worker.terminate();
    for (const { reject } of this.pending.values()) reject(new Error(why));
    this.pending.clear();
    this.onDeath(why);
  }

  request(type, data = {}, transfer = []) {
    if (this.dead) return Promise.reject(new Error(this.dead));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, type });
      this.worker.postMessage({ id, type, data }, transfer);
    });
  }
}

export class EngineSupervisor {
  // url: the worker script; onEvent(type, data): worker events;
  // setUp(worker): prepares a new worker (after a crash), resolving with
  // whatever onRecovered should get; onCrash(why), onRecovered(result, why),
  // onGiveUp(why): what the page shows.
  constructor({ url, onEvent, setUp, onCrash, onRecovered, onGiveUp, maxRestarts = 3, windowMs = 120000 }) {
    Object.assign(this, { url, onEvent, setUp, onCrash, onRecovered, onGiveUp, maxRestarts, windowMs });
    this.deaths = [];
    this.recovering = false;
    this.gaveUp = null;
    this.restarts = 0;
    this.armed = false;
    this.current = this.spawn();
  }

  spawn() {
    const w = new EngineWorker(this.url, (type, data) => {
      if (w === this.current) this.onEvent(type, data);
    }, (why) => {
      if (w === this.current) this.crashed(why);
    });
    return w;
  }

  // Like EngineWorker.request, on whichever worker is current; refused
  // while a new one is being set up.
  request(type, data = {}, transfer = []) {
    if (this.gaveUp) return Promise.reject(new Error(this.gaveUp));
    if (this.recovering) return Promise.reject(new Error('the engine is restarting'));
    return this.current.request(type, data, transfer);
  }

  // Called once the page has set up the first worker: a worker that dies
  // before that (the engine files are missing, say) is not restarted, since
  // a new one would fail the same way.
  arm() {
    this.armed = true;
  }

  get dead() {
    return this.gaveUp;
  }

  async crashed(why) {
    if (this.gaveUp) return;
    if (!this.armed) {
      this.gaveUp = why;
      this.onGiveUp(why);
      return;
    }
    const t = performance.now();
    this.deaths = this.deaths.filter((d) => t - d < this.windowMs);
    this.deaths.push(t);
    if (this.deaths.length > this.maxRestarts) {
      this.gaveUp = `${why} (the engine stopped ${this.deaths.length} times in ${Math.round(this.windowMs / 60000)} minutes, so it is not restarted again)`;
      this.recovering = false;
      this.onGiveUp(this.gaveUp);
      return;
    }
    this.recovering = true;
    this.restarts++;
    this.onCrash(why);
    const w = this.spawn();
    this.current = w;
    try {
      const result = await this.setUp(w);
      if (w !== this.current || w.dead) return; // it died again while being set up
      this.recovering = false;
      this.onRecovered(result, why);
    } catch (err) {
      if (w !== this.current) return;
      if (w.dead) return; // its own death handler has taken over
      this.recovering = false;
      this.gaveUp = `the engine could not be restarted: ${err.message}`;
      this.onGiveUp(this.gaveUp);
    }
  }
}
