// coalesce.js: the worker's training progress handled at most once per
// animation frame. At full speed the worker posts a `batch` event every
// 50 ms and an `epoch` event every few tens of ms; handled as they arrive,
// each would be its own task between frames. Instead they wait for the next
// frame (or FALLBACK_MS, where a hidden page gets no frames), consecutive
// `batch` events become one (their points concatenated, the latest position
// kept), and everything queued is handled then, in order. Any other event,
// and any reply to a request (supervisor.js calls flush() first), flushes
// the queue before it is handled, so the order the worker sent is kept
// (`done` after the last `epoch`, a `stop` reply after the epochs before it).
//
// Deliberately not here: what an event does (views/training.js).

const QUEUED = new Set(['batch', 'epoch']);
const FALLBACK_MS = 100;

// handle(type, data) gets the events; returns {push(type, data), flush()}.
export function eventQueue(handle) {
  let queue = [];
  let frame = 0;
  let timer = 0;

  function flush() {
    if (frame) cancelAnimationFrame(frame);
    if (timer) clearTimeout(timer);
    frame = timer = 0;
    const events = queue;
    queue = [];
    for (const [type, data] of events) handle(type, data);
  }

  function push(type, data) {
    if (!QUEUED.has(type)) {
      flush();
      handle(type, data);
      return;
    }
    const last = queue.at(-1);
    if (type === 'batch' && last?.[0] === 'batch') {
      const points = (last[1].points ?? []).concat(data.points ?? []);
      last[1] = { ...data, points };
    } else {
      queue.push([type, data]);
    }
    if (!frame) frame = requestAnimationFrame(flush);
    if (!timer) timer = setTimeout(flush, FALLBACK_MS);
  }

  return { push, flush };
}
