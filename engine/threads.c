/* threads.c: see threads.h. One mutex and two condition variables: run()
 * publishes a task with a new generation number and wakes the workers; the
 * caller and the workers take parts until none is left; the caller returns
 * when all parts are finished. A layer asks for two or three runs per batch,
 * so the cost of waking threads is small next to the work. */
#ifdef NN_THREADS_STATS
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#endif
#include "threads.h"

#include <pthread.h>
#include <stdlib.h>

#ifdef NN_THREADS_STATS
/* A measuring build (-DNN_THREADS_STATS, never the shipped one): every 100
 * runs, stderr gets where the threads' time went: in runs or between them
 * (the caller alone), in parts on each side, how long a worker took from
 * the run's start to its first part (waking), and how long the caller
 * waited after its own last part for the others' (the end of a run). */
#include <stdio.h>
#include <time.h>
static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
static struct {
    double t0, in_run, caller_tasks, worker_tasks, wake, tail;
    unsigned long runs, parts, worker_parts, woke;
} st;
#endif

struct nn_threads {
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    pthread_t *tid;
    uint32_t n;          /* threads in all, the caller's included */
    uint32_t started;    /* workers started */
    uint64_t generation; /* bumped by every run */
    int quit;
    nn_task_fn task;
    void *arg;
    uint32_t parts, next, finished;
#ifdef NN_THREADS_STATS
    pthread_t caller;
    double published;
#endif
};

/* Takes parts until none is left; called and returns with mu held. */
static void take_parts(nn_threads *p) {
    while (p->next < p->parts) {
        uint32_t i = p->next++;
        nn_task_fn task = p->task;
        void *arg = p->arg;
        uint32_t parts = p->parts;
        pthread_mutex_unlock(&p->mu);
#ifdef NN_THREADS_STATS
        double a = now_ms();
        task(arg, i, parts);
        double b = now_ms();
        pthread_mutex_lock(&p->mu);
        if (pthread_equal(pthread_self(), p->caller)) st.caller_tasks += b - a;
        else st.worker_tasks += b - a, st.worker_parts++;
        st.parts++;
#else
        task(arg, i, parts);
        pthread_mutex_lock(&p->mu);
#endif
        if (++p->finished == p->parts) pthread_cond_signal(&p->done);
    }
}

static void *worker(void *arg) {
    nn_threads *p = arg;
    pthread_mutex_lock(&p->mu);
    uint64_t seen = p->generation;
    for (;;) {
        while (!p->quit && p->generation == seen) pthread_cond_wait(&p->go, &p->mu);
        if (p->quit) break;
        seen = p->generation;
#ifdef NN_THREADS_STATS
        if (p->next < p->parts) st.wake += now_ms() - p->published, st.woke++;
#endif
        take_parts(p);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void run(void *ctx, nn_task_fn task, void *arg, uint32_t parts) {
    nn_threads *p = ctx;
    pthread_mutex_lock(&p->mu);
    p->task = task;
    p->arg = arg;
    p->parts = parts;
    p->next = p->finished = 0;
    p->generation++;
#ifdef NN_THREADS_STATS
    p->caller = pthread_self();
    double t0 = now_ms();
    if (!st.t0) st.t0 = t0;
    p->published = t0;
#endif
    pthread_cond_broadcast(&p->go);
    take_parts(p);
#ifdef NN_THREADS_STATS
    double t1 = now_ms();
#endif
    while (p->finished < p->parts) pthread_cond_wait(&p->done, &p->mu);
#ifdef NN_THREADS_STATS
    double t2 = now_ms();
    st.tail += t2 - t1;
    st.in_run += t2 - t0;
    if (++st.runs % 100 == 0)
        fprintf(stderr,
                "threads: %lu runs, %.1f parts a run; %.0f ms in all, %.0f ms in runs; parts: caller %.0f ms, "
                "workers %.0f ms (%.1f%% of parts); a worker's wake %.3f ms on average; the caller waits "
                "%.3f ms a run for the last parts\n",
                st.runs, (double)st.parts / st.runs, t2 - st.t0, st.in_run, st.caller_tasks, st.worker_tasks,
                100.0 * st.worker_parts / st.parts, st.woke ? st.wake / st.woke : 0.0, st.tail / st.runs);
#endif
    pthread_mutex_unlock(&p->mu);
}

void nn_threads_free(nn_threads *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (uint32_t i = 0; i < p->started; i++) pthread_join(p->tid[i], NULL);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p->tid);
    free(p);
}

nn_threads *nn_threads_create(uint32_t n) {
    if (n <= 1) return NULL;
    nn_threads *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->tid = nn_calloc_array(n - 1, sizeof *p->tid);
    if (!p->tid) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    for (uint32_t i = 0; i + 1 < n; i++) {
        if (pthread_create(&p->tid[i], NULL, worker, p) != 0) break;
        p->started++;
    }
    p->n = p->started + 1;
    if (p->n <= 1) {
        nn_threads_free(p);
        return NULL;
    }
    return p;
}

nn_parallel nn_threads_parallel(nn_threads *p) {
    nn_parallel par = {0};
    if (p) {
        par.run = run;
        par.ctx = p;
        /* Four parts per thread, taken as threads come free: on a shared
         * machine a thread the system pauses delays only its current part,
         * and the others take the rest. (Results do not depend on it.) */
        par.parts = p->n * 4;
    }
    return par;
}
