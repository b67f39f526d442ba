/* threads.h: a small pool of POSIX threads to lend to the engine
 * (nn_parallel, nn.h), for the native tools and the wasm build with
 * pthreads. Not part of the engine proper, which starts no threads: only
 * those two link it. */
#ifndef NN_THREADS_H
#define NN_THREADS_H
#include "nn.h"

typedef struct nn_threads nn_threads;

/* A pool of n threads in all, the caller's included (so n - 1 are started).
 * NULL when n <= 1 or the threads cannot be started: then work runs in the
 * calling thread, with the same results. */
nn_threads *nn_threads_create(uint32_t n);
void nn_threads_free(nn_threads *p);
/* The nn_parallel that runs work on the pool (four parts per thread, taken
 * as threads come free); with p == NULL, one that runs nothing in parallel. */
nn_parallel nn_threads_parallel(nn_threads *p);
#endif
