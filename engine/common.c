/* common.c: errors, checked allocation sizes (every product or sum of
 * run-time values the engine allocates goes through them), the seeded random
 * generator and CRC-32.
 * Deliberately tiny and dependency-free: everything else builds on it. */
#include "nn.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int nn_fail(nn_error *err, int code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int nn_size_mul(size_t a, size_t b, size_t *out) {
    if (b != 0 && a > SIZE_MAX / b) {
        *out = SIZE_MAX;
        return 0;
    }
    *out = a * b;
    return 1;
}

int nn_size_add(size_t a, size_t b, size_t *out) {
    if (a > SIZE_MAX - b) {
        *out = SIZE_MAX;
        return 0;
    }
    *out = a + b;
    return 1;
}

size_t nn_size_mul_sat(size_t a, size_t b) {
    size_t out;
    nn_size_mul(a, b, &out);
    return out;
}

size_t nn_size_add_sat(size_t a, size_t b) {
    size_t out;
    nn_size_add(a, b, &out);
    return out;
}

/* n * size bytes if the product fits and no larger than PTRDIFF_MAX: no C
 * object may be larger (glibc's malloc refuses it, ASan aborts on it), and
 * a saturated size (SIZE_MAX) is refused here whatever it is multiplied by.
 * Never 0, so a NULL from the allocators below always means failure. */
static int array_bytes(size_t n, size_t size, size_t *bytes) {
    if (!nn_size_mul(n, size, bytes) || *bytes > PTRDIFF_MAX) return 0; /* wasm32: 32-bit size_t wraps */
    if (*bytes == 0) *bytes = 1;
    return 1;
}

void *nn_malloc_array(size_t n, size_t size) {
    size_t bytes;
    return array_bytes(n, size, &bytes) ? malloc(bytes) : NULL;
}

void *nn_calloc_array(size_t n, size_t size) {
    size_t bytes;
    return array_bytes(n, size, &bytes) ? calloc(1, bytes) : NULL;
}

void *nn_realloc_array(void *p, size_t n, size_t size) {
    size_t bytes;
    return array_bytes(n, size, &bytes) ? realloc(p, bytes) : NULL;
}

/* PCG32 (XSH-RR), the reference parameters from pcg-random.org. */
void nn_rng_seed(nn_rng *r, uint64_t seed) {
    r->state = 0;
    r->inc = (seed << 1u) | 1u;
    nn_rng_u32(r);
    r->state += 0x853c49e6748fea9bULL ^ seed;
    nn_rng_u32(r);
}

uint32_t nn_rng_u32(nn_rng *r) {
    uint64_t old = r->state;
    r->state = old * 6364136223846793005ULL + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
}

uint32_t nn_rng_below(nn_rng *r, uint32_t n) {
    /* Rejection sampling keeps the result unbiased (pcg32_boundedrand_r). */
    uint32_t threshold = (uint32_t)(-n) % n;
    for (;;) {
        uint32_t x = nn_rng_u32(r);
        if (x >= threshold) return x % n;
    }
}

float nn_rng_uniform(nn_rng *r, float lo, float hi) {
    /* 24 random bits: every float in [0,1) this can produce is exact. */
    float u = (float)(nn_rng_u32(r) >> 8) * (1.0f / 16777216.0f);
    return lo + (hi - lo) * u;
}

void nn_rng_shuffle_u32(nn_rng *r, uint32_t *a, size_t n) {
    for (size_t i = n; i > 1; i--) {
        uint32_t j = nn_rng_below(r, (uint32_t)i);
        uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

/* CRC-32 (IEEE 802.3, the zlib/PNG polynomial), table built on first use
 * from a constant: the table is the same every time, so no state leaks. */
static uint32_t crc_table_entry(uint32_t c) {
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    return c;
}

/* Slicing-by-8 (Kankovski and Dyachenko, Intel 2006): table[k][b] is the
 * CRC of byte b followed by k zero bytes, so eight bytes cost eight lookups
 * and no loop-carried shift chain; about five times faster than a byte at a
 * time, which matters for the 24 MB shard the page checks on load. Bytes are
 * assembled explicitly, so the result does not depend on endianness. */
uint32_t nn_crc32(uint32_t crc, const void *data, size_t n) {
    static uint32_t table[8][256];
    static int ready;
    if (!ready) {
        for (uint32_t i = 0; i < 256; i++) table[0][i] = crc_table_entry(i);
        for (int k = 1; k < 8; k++)
            for (uint32_t i = 0; i < 256; i++)
                table[k][i] = (table[k - 1][i] >> 8) ^ table[0][table[k - 1][i] & 0xFF];
        ready = 1;
    }
    const uint8_t *p = data;
    crc = ~crc;
    for (; n >= 8; n -= 8, p += 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        crc = table[7][lo & 0xFF] ^ table[6][(lo >> 8) & 0xFF] ^ table[5][(lo >> 16) & 0xFF] ^
              table[4][lo >> 24] ^ table[3][hi & 0xFF] ^ table[2][(hi >> 8) & 0xFF] ^
              table[1][(hi >> 16) & 0xFF] ^ table[0][hi >> 24];
    }
    for (; n > 0; n--, p++) crc = table[0][(crc ^ *p) & 0xFF] ^ (crc >> 8);
    return ~crc;
}
