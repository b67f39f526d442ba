// slicer.js: the one scheduler of the worker's long jobs (training and its
// test evaluation, the comparison run, diagnosis, the confusion matrix,
// word2vec pretraining): each runs in slices of about SLICE_MS of work,
// yielding to the message queue between slices, so every request is answered
// within a slice or two while jobs run side by side. Also the rule for
// replacing what a job reads (the shard, the model, the labelled texts, the
// corpus): such a request is refused while a job that must not be cut short
// reads it, and cancels the others first.
//
// A job is {name, reads, onChange, step, ...} (startJob below); step(slice)
// does up to slice.units units of work (batches, images, words) and returns
// true when the job is finished. Deliberately not here: what a job does
// (the job modules) or any message it posts.

import { RequestError, fatal, isFatal, now } from './session.js';

export const SLICE_MS = 15; // aim for slices this long, so replies come within ~50 ms

// The one adaptation rule: after `units` units took `ms`, the next slice
// gets as many as fit in SLICE_MS, at most twice as many (a slow start after
// a fast one costs one long slice, not many), within [min, max].
export function nextSliceSize(units, ms, min, max) {
  const want = ms > 0 ? Math.round((SLICE_MS * units) / ms) : units * 2;
  return Math.max(min, Math.min(max, want, units * 2));
}

const jobs = new Set(); // running or paused jobs, in start order

// Yields to the event loop without setTimeout's 4 ms clamp: a message posted
// to our own MessageChannel is queued behind any request already waiting.
const channel = new MessageChannel();
const due = []; // jobs whose next slice was posted to the channel, in order
channel.port1.onmessage = () => runSlice(due.shift());

function schedule(job) {
  if (job.scheduled || job.state !== 'running') return;
  job.scheduled = true;
  const delay = job.delayMs();
  if (delay > 0) {
    setTimeout(() => runSlice(job), delay);
  } else {
    due.push(job);
    channel.port2.postMessage(null);
  }
}

function runSlice(job) {
  if (!job) return;
  job.scheduled = false;
  if (job.state !== 'running') return; // paused, cancelled or ended meanwhile
  const slice = { units: job.units, ran: job.units, ms: undefined, adapt: true };
  const t0 = now();
  let done;
  try {
    done = job.step(slice);
  } catch (err) {
    job.end();
    if (job.reject) job.reject(err); // its request answers, then ends the worker on a crash
    else if (isFatal(err)) fatal(err);
    else job.onError(err);
    return;
  }
  if (slice.adapt) job.units = nextSliceSize(Math.max(1, slice.ran), slice.ms ?? now() - t0, job.min, job.max);
  if (done) {
    job.end();
    job.resolve?.();
  } else {
    schedule(job);
  }
}

class Job {
  constructor(spec) {
    this.name = spec.name;              // in messages: 'training', 'the diagnosis', …
    this.reads = spec.reads;            // what it reads: 'shard', 'model', 'texts', 'corpus'
    this.onChange = spec.onChange;      // 'refuse' or 'cancel' a request replacing what it reads
    this.refusal = spec.refusal ?? ((op) => `cannot ${op} during ${this.name}`);
    this.step = spec.step;
    this.units = spec.units ?? 1;       // adapted after every slice
    this.min = spec.min ?? 1;
    this.max = spec.max ?? 256;
    this.delayMs = spec.delayMs ?? (() => 0); // > 0: wait that long before the next slice
    this.onError = spec.onError ?? (() => {});
    this.onCancel = spec.onCancel ?? (() => {});
    this.state = 'running';             // 'running' | 'paused' | 'ended'
    this.scheduled = false;
  }

  pause() {
    if (this.state === 'running') this.state = 'paused';
  }

  resume() {
    if (this.state !== 'paused') return;
    this.state = 'running';
    schedule(this);
  }

  // Ends the job before its next slice; a job started by runJob rejects
  // with a RequestError(reason) (the page ignores errors that begin with
  // "cancelled").
  cancel(reason) {
    if (this.state === 'ended') return;
    this.end();
    if (this.reject) this.reject(new RequestError(reason));
    else this.onCancel(reason);
  }

  end() {
    this.state = 'ended';
    jobs.delete(this);
  }
}

// Starts a job that reports through its own events (training, the
// comparison run, pretraining). spec: {name, reads, onChange, refusal?(op),
// step(slice), units?, min?, max?, delayMs?(), onError(err), onCancel?(reason)}.
export function startJob(spec) {
  const job = new Job(spec);
  jobs.add(job);
  schedule(job);
  return job;
}

// Runs a job for a request (diagnose, confusion): resolves when step says it
// is finished; rejects with the error a slice threw, or with
// RequestError(reason) when it was cancelled.
export function runJob(spec) {
  return new Promise((resolve, reject) => {
    const job = new Job(spec);
    job.resolve = resolve;
    job.reject = reject;
    jobs.add(job);
    schedule(job);
  });
}

export function findJob(name) {
  for (const job of jobs) if (job.name === name) return job;
  return null;
}

// Cancels the job of that name, if one runs (a newer request replaces it).
export function cancelJob(name, reason) {
  findJob(name)?.cancel(reason);
}

// Refuses `verb` (e.g. 'start pretraining') while the job of that name runs.
export function refuseDuring(name, verb) {
  const job = findJob(name);
  if (job) throw new RequestError(job.refusal(verb));
}

const readers = (what) => [...jobs].filter((job) => job.reads.some((r) => what.includes(r)));

// Refuses `verb` (e.g. 'load a shard') while a job with onChange 'refuse'
// (training, pretraining) reads any of `what` (e.g. ['shard', 'model']).
export function refuseReplacing(verb, what) {
  const blocking = readers(what).find((job) => job.onChange === 'refuse');
  if (blocking) throw new RequestError(blocking.refusal(verb));
}

// Right before `request` replaces any of `what`: refuses as above, then
// cancels every other job that reads it, so that no job's next slice sees
// other data or another model than its first did.
export function beforeReplacing(request, verb, what) {
  refuseReplacing(verb, what);
  for (const job of readers(what)) {
    const replaced = job.reads.filter((r) => what.includes(r)).map((r) => `the ${r}`).join(' and ');
    job.cancel(`cancelled: ${request} replaced ${replaced} under ${job.name}`);
  }
}
