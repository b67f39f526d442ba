/* json.h: the engine's one way in to cJSON (natively from libcjson-dev, in
 * wasm from cJSON's source folder) and what its JSON writers share. */
#ifndef NN_JSON_H
#define NN_JSON_H

#if __has_include(<cjson/cJSON.h>)
#include <cjson/cJSON.h>
#else
#include <cJSON.h>
#endif

/* The shortest decimal that reads back as the same float, as a double, so
 * the JSON says 0.001 rather than 0.0010000000474974513 and still
 * round-trips (config.c). */
double nn_json_float(float f);
#endif
