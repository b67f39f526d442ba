/* threads.c: see threads.h. One mutex and two condition variables: run()
 * publishes a task with a new generation number and wakes the workers; the
 * caller and the workers take parts until none is left; the caller returns
 * when all parts are finished. A layer asks for two or three runs per batch,
 * so the cost of waking threads is small next to the work. */
#include "threads.h"

#include <pthread.h>
#include <stdlib.h>

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
};

/* Takes parts until none is left; called and returns with mu held. */
static void take_parts(nn_threads *p) {
    while (p->next < p->parts) {
        uint32_t i = p->next++;
        nn_task_fn task = p->task;
        void *arg = p->arg;
        uint32_t parts = p->parts;
        pthread_mutex_unlock(&p->mu);
        task(arg, i, parts);
        pthread_mutex_lock(&p->mu);
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
    pthread_cond_broadcast(&p->go);
    take_parts(p);
    while (p->finished < p->parts) pthread_cond_wait(&p->done, &p->mu);
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
