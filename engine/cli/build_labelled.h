/* build_labelled.h: imdb_build_shard's --labelled mode (build_labelled.c). */
#ifndef NN_BUILD_LABELLED_H
#define NN_BUILD_LABELLED_H
/* The whole tool when --labelled is among the arguments: 0, 1 on a
 * refused file or failed write, 2 on a usage error. */
int nn_cli_build_labelled(int argc, char **argv);
#endif
