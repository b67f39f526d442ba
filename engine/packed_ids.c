/* packed_ids.c: the token-id coder of packed_ids.h, a symbol-ranking model
 * (what came after these words before, most frequent first) over a binary
 * arithmetic coder.
 *
 * Each id is coded as a few yes/no decisions, cheapest first:
 *   1. the order-2 context (the two previous ids, hashed to a slot of a
 *      4-way set that is one cache line) keeps K2 successors by count:
 *      "one of these?", then which, most frequent first;
 *   2. the previous id's successors by count (O1_CAP of them, more for
 *      frequent ids): "one of these?", then the first R1 not already refused
 *      at order 2 one by one, then one further down by its position (bit
 *      length, then bits);
 *   3. otherwise the id itself, 15 decisions down a binary tree whose nodes
 *      learn the new ids' frequencies (an adaptive order-0 model; its first
 *      levels also see how many successors the previous id has).
 * Each decision's probability is an adaptive counter chosen by a small
 * context (stage, rank, the candidate's count, the list's leading count, the
 * slot's recent hits), so the coder learns how far to trust a count of 3 in
 * a context seen 40 times. The binary arithmetic coder follows the one in lpaq1 (Matt
 * Mahoney, 2007): 32-bit carryless range, 12-bit probabilities, four bytes
 * flushed per block.
 *
 * Measured on data/imdb.shard's 11.6 million ids (README "Host it
 * yourself"): 8.40 bits per id. Tried and left out, for the time they cost:
 * a move-to-front list of the last 64-256 ids before the order-0 stage
 * (-0.02 to -0.03 bits, +40% decode time), 9 order-2 successors instead of
 * 4 (no gain), asking up to 12 order-1 successors one by one (no gain).
 *
 * Deliberately not here: floats (the native encoder and the wasm decoder
 * must agree bit for bit), allocation after nn_ids_model_create, sorting
 * (lists stay ordered by swapping a counted entry with the first of its old
 * count), and any container format (packed_ids.h's blocks are the caller's
 * to frame). */
#include "packed_ids.h"

#include <stdlib.h>
#include <string.h>

#define O2_BITS 20
#define O2_SLOTS (1u << O2_BITS)
#define O2_WAYS 4u /* slots of 16 bytes per 64-byte set */
#define K2 4   /* successors kept per order-2 context */
#define R1 4  /* successors of the previous id asked about one by one */
/* Successors kept per previous id: more for frequent ids (ids are ranked by
 * frequency, so a small id is a frequent word with many successors). */
#define O1_CAP(id) ((id) < 64 ? 2048u : (id) < 512 ? 256u : (id) < 4096 ? 64u : 24u)
#define O1_POOL (64u * 2048 + 448u * 256 + 3584u * 64 + 28672u * 24)
#define RANK_LEN 12 /* bit lengths of rank + 1 below the first R1: up to 2^12 - 1 */

/* Adaptive probability: high 16 bits P(yes) in 1/65536, low 16 bits the
 * number of updates (capped), so a new counter moves fast and an old one
 * settles (rate 1/(n+1.5), as lpaq1's StateMap). */
typedef uint32_t counter;
#define COUNTER_INIT(p16) ((counter)(p16) << 16)

typedef struct {
    uint16_t check;   /* low bits of the context's hash, odd; 0 for an empty slot */
    uint8_t n;        /* successors held */
    uint8_t pad;      /* the last hit-or-miss outcomes here, latest in bit 0 */
    uint16_t id[K2];
    uint8_t cnt[K2];  /* descending */
} o2_slot;
_Static_assert(sizeof(o2_slot) * O2_WAYS == 64, "an order-2 set is one 64-byte cache line");

typedef struct {
    uint16_t id, cnt;
} o1_entry;

/* Where p's successors start in the pool (the sum of O1_CAP below p). */
static inline uint32_t o1_start(uint32_t p) {
    if (p < 64) return p * 2048u;
    if (p < 512) return 64u * 2048 + (p - 64) * 256u;
    if (p < 4096) return 64u * 2048 + 448u * 256 + (p - 512) * 64u;
    return 64u * 2048 + 448u * 256 + 3584u * 64 + (p - 4096) * 24u;
}

/* Context sizes of the decisions. */
#define Q 12 /* count buckets */
#define C_O2HIT (Q * (K2 + 1) * 4)
#define C_O2 (K2 * Q * Q)
#define C_O1HIT (Q * Q * 2)
#define C_O1 (R1 * Q * Q)
#define C_RLEN (Q * Q * 16)
#define C_RBITS ((RANK_LEN + 1) * 4 * 4) /* bit length, bit from the top (0-3+), last two bits */
#define O0_TOP 1024 /* tree nodes (the first 10 levels) that also see how well-known the previous id is */
#define C_O0 (NN_IDS_LIMIT + 3 * O0_TOP)

struct nn_ids_model {
    o2_slot o2[O2_SLOTS];
    o1_entry o1[O1_POOL];    /* per previous id p, O1_CAP(p) successors from o1_start(p), counts descending */
    uint16_t o1n[NN_IDS_LIMIT]; /* successors held per previous id */
    counter c_o2hit[C_O2HIT], c_o2[C_O2], c_o1hit[C_O1HIT], c_o1[C_O1], c_rlen[C_RLEN], c_rbits[C_RBITS], c_o0[C_O0];
    uint64_t refused[NN_IDS_LIMIT / 64]; /* bitmap of the current id's refused candidates */
    uint32_t p1, p2; /* the previous two ids */
    uint32_t touched; /* see code_id's learning step */
};

/* ----------------------------------------------------------- the coder */

typedef struct {
    uint32_t x1, x2, x;
    uint8_t *out;          /* encoding: out[0..cap), at written */
    size_t at, cap;
    const uint8_t *in;     /* decoding */
    size_t len, pos, over; /* over: bytes wanted past the end */
    int decoding;
} coder;

static const uint16_t count_limit = 1020;
#define RATE_N 256
/* 65536 * 2 / (2n + 3): the rate 1/(n+1.5) of a counter updated n times. */
static const int32_t rate_of[RATE_N] = {
#define R(n) (131072 / (2 * (n) + 3))
#define R8(n) R(n), R(n + 1), R(n + 2), R(n + 3), R(n + 4), R(n + 5), R(n + 6), R(n + 7)
#define R64(n) R8(n), R8(n + 8), R8(n + 16), R8(n + 24), R8(n + 32), R8(n + 40), R8(n + 48), R8(n + 56)
    R64(0), R64(64), R64(128), R64(192)
#undef R64
#undef R8
#undef R
};
#ifdef NN_IDS_STATS
#include <math.h>
#include <stdio.h>
double nn_ids_stat_bits[8];
long nn_ids_stat_n[8];
int nn_ids_stat_stage;
#define STAT(v, bit) do { double pp = (v >> 16) / 65536.0; nn_ids_stat_bits[nn_ids_stat_stage] -= log2(bit ? pp : 1 - pp); nn_ids_stat_n[5 + (nn_ids_stat_stage == 4)]++; } while (0)
#else
#define STAT(v, bit) ((void)0)
#endif

/* Codes one decision with probability p12/4096 of yes (1..4095); returns it. */
static inline int code_bit(coder *c, counter *ctr, int bit) {
    uint32_t v = *ctr;
    int p12 = (int)(v >> 20);
    p12 += p12 == 0;
    uint32_t xmid = c->x1 + ((c->x2 - c->x1) >> 12) * (uint32_t)p12;
    if (c->decoding) bit = c->x <= xmid;
    STAT(v, bit);
    if (bit) c->x2 = xmid; else c->x1 = xmid + 1;
    while (((c->x1 ^ c->x2) & 0xff000000u) == 0) {
        if (c->decoding) {
            uint32_t b = 0;
            if (c->pos < c->len) b = c->in[c->pos++]; else c->over++;
            c->x = (c->x << 8) | b;
        } else {
            if (c->at < c->cap) c->out[c->at] = (uint8_t)(c->x2 >> 24);
            c->at++; /* counted past cap too: the caller sees the block did not fit */
        }
        c->x1 <<= 8;
        c->x2 = (c->x2 << 8) | 255;
    }
    /* The counter: p += (target - p) / (n + 1.5), n capped. */
    uint32_t n = v & 0xffff;
    int32_t p = (int32_t)(v >> 16);
    int32_t target = bit ? 65535 : 0;
    p += (int32_t)(((int64_t)(target - p) * rate_of[n < RATE_N ? n : RATE_N - 1]) >> 16);
    if (p < 16) p = 16;
    if (p > 65535 - 16) p = 65535 - 16;
    if (n < count_limit) n++;
    *ctr = ((uint32_t)p << 16) | n;
    return bit;
}

/* Codes the low `bits` bits of value (0..2^bits-1) down a binary tree of
 * counters at tree[1..2^bits). */
static inline uint32_t code_tree(coder *c, counter *tree, int bits, uint32_t value) {
    uint32_t node = 1;
    for (int i = bits - 1; i >= 0; i--) {
        int bit = code_bit(c, &tree[node], (int)((value >> i) & 1));
        node = (node << 1) | (uint32_t)bit;
    }
    return node - (1u << bits);
}

/* ----------------------------------------------------------- the model */

/* Count buckets: 0, 1, 2, 3, 4-5, 6-8, 9-13, 14-22, 23-40, 41-80, 81-200, more. */
static inline uint32_t qcount(uint32_t n) {
    static const uint8_t q[32] = {0, 1, 2, 3, 4, 4, 5, 5, 5, 6, 6, 6, 6, 6, 7, 7,
                                  7, 7, 7, 7, 7, 7, 7, 8, 8, 8, 8, 8, 8, 8, 8, 8};
    if (n < 32) return q[n];
    if (n <= 40) return 8;
    if (n <= 80) return 9;
    if (n <= 200) return 10;
    return 11;
}

static inline uint32_t o2_hash(uint32_t p2, uint32_t p1) {
    return (p2 * 0x9E3779B1u) ^ (p1 * 0x85EBCA77u) ^ ((p2 ^ p1) >> 3);
}

void nn_ids_model_reset(nn_ids_model *m) {
    memset(m->o2, 0, sizeof m->o2);
    memset(m->o1n, 0, sizeof m->o1n);
    memset(m->refused, 0, sizeof m->refused);
    for (size_t i = 0; i < C_O2HIT; i++) m->c_o2hit[i] = COUNTER_INIT(20000);
    for (size_t i = 0; i < C_O2; i++) m->c_o2[i] = COUNTER_INIT(40000);
    for (size_t i = 0; i < C_O1HIT; i++) m->c_o1hit[i] = COUNTER_INIT(32768);
    for (size_t i = 0; i < C_O1; i++) m->c_o1[i] = COUNTER_INIT(20000);
    for (size_t i = 0; i < C_RLEN; i++) m->c_rlen[i] = COUNTER_INIT(32768);
    for (size_t i = 0; i < C_RBITS; i++) m->c_rbits[i] = COUNTER_INIT(32768);

    for (size_t i = 0; i < C_O0; i++) m->c_o0[i] = COUNTER_INIT(32768);
    m->p1 = m->p2 = 0;
}

nn_ids_model *nn_ids_model_create(void) {
    /* 64-byte aligned, so an order-2 set is one cache line. */
    nn_ids_model *m = aligned_alloc(64, (sizeof *m + 63) & ~(size_t)63);
    if (m) nn_ids_model_reset(m);
    return m;
}

void nn_ids_model_free(nn_ids_model *m) { free(m); }
size_t nn_ids_model_bytes(void) { return sizeof(nn_ids_model); }

static inline void refuse(nn_ids_model *m, uint32_t id) { m->refused[id >> 6] |= 1ull << (id & 63); }
static inline int is_refused(const nn_ids_model *m, uint32_t id) { return (int)((m->refused[id >> 6] >> (id & 63)) & 1); }
static inline void unrefuse(nn_ids_model *m, uint32_t id) { m->refused[id >> 6] &= ~(1ull << (id & 63)); }

/* Counts id's entry at i in a list sorted by descending counts, keeping it
 * sorted: the entry swaps with the first one of its old count (found by
 * binary search), so a long list of ones costs log n, not n. */
static inline void count_up(o1_entry *e, uint32_t n, uint32_t i) {
    if (e[i].cnt == 65535)
        for (uint32_t j = 0; j < n; j++) e[j].cnt = (uint16_t)((e[j].cnt + 1) >> 1);
    uint16_t c = e[i].cnt;
    uint32_t lo = 0, hi = i; /* first k with e[k].cnt == c */
    while (lo < hi) {
        uint32_t mid = (lo + hi) >> 1;
        if (e[mid].cnt > c) lo = mid + 1; else hi = mid;
    }
    o1_entry t = e[i];
    e[i] = e[lo];
    e[lo] = t;
    e[lo].cnt = (uint16_t)(c + 1);
}

#ifdef NN_IDS_STATS
#define STAGE(k) (nn_ids_stat_stage = (k))
#define ENDED(k) (nn_ids_stat_n[k]++)
#else
#define STAGE(k) ((void)0)
#define ENDED(k) ((void)0)
#endif

static inline uint32_t bit_length(uint32_t v) { return v ? 32u - (uint32_t)__builtin_clz(v) : 0; }

/* Codes (or decodes, when c->decoding) one id and learns from it. */
static uint32_t code_id(nn_ids_model *m, coder *c, uint32_t id) {
    /* The order-2 slot: one of the 4 in the context's 64-byte set (one cache
     * line), else the set's least used one is taken over. */
    uint32_t h = o2_hash(m->p2, m->p1);
    o2_slot *set = &m->o2[(h >> (32 - O2_BITS)) & ~(O2_WAYS - 1)], *s = NULL, *victim = set;
    uint16_t check = (uint16_t)((h & 0xffff) | 1);
    for (uint32_t k = 0; k < O2_WAYS; k++) {
        if (set[k].check == check) { s = &set[k]; break; }
        if ((set[k].n ? set[k].cnt[0] : 0) < (victim->n ? victim->cnt[0] : 0)) victim = &set[k];
    }
    if (!s) {
        s = victim;
        s->check = check;
        s->n = 0;
        s->pad = 0;
    }
    uint32_t p1 = m->p1;
    o1_entry *l = m->o1 + o1_start(p1);
    uint32_t ln = m->o1n[p1], cap = O1_CAP(p1);
    uint32_t found = NN_IDS_LIMIT;
    int o2_at = -1, o1_at = -1;

    /* 1. order 2: "one of these?", then which, most frequent first. */
    uint32_t top2 = qcount(s->n ? s->cnt[0] : 0);
    uint32_t top1 = qcount(ln ? l[0].cnt : 0);
    if (s->n) {
        STAGE(0);
        uint32_t want = NN_IDS_LIMIT;
        if (!c->decoding)
            for (uint32_t i = 0; i < s->n; i++)
                if (s->id[i] == id) { want = i; break; }
        counter *hit = &m->c_o2hit[(top2 * (K2 + 1) + s->n) * 4 + (s->pad & 3)];
        int yes = code_bit(c, hit, want != NN_IDS_LIMIT);
        s->pad = (uint8_t)((s->pad << 1) | (uint8_t)yes);
        if (yes) {
            uint32_t i = 0;
            for (; i + 1 < s->n; i++) {
                counter *ctr = &m->c_o2[(i * Q + qcount(s->cnt[i])) * Q + top2];
                if (code_bit(c, ctr, want == i)) break;
            }
            found = s->id[i];
            o2_at = (int)i;
            ENDED(0);
        }
    }
    uint32_t nrefused = o2_at < 0 ? s->n : 0;
    for (uint32_t i = 0; i < nrefused; i++) refuse(m, s->id[i]);

    /* 2. order 1: "one of these?", then which: the first R1 (not refused)
     * one by one, then further down the list by position (refused entries
     * included, so decoding it is one step), as bit length then bits. */
    if (found == NN_IDS_LIMIT && ln) {
        STAGE(1);
        uint32_t want = NN_IDS_LIMIT;
        if (!c->decoding)
            for (uint32_t j = 0; j < ln; j++)
                if (l[j].id == id) { want = j; break; }
        counter *hit = &m->c_o1hit[(qcount(ln) * Q + top1) * 2 + (s->n > 0)];
        if (code_bit(c, hit, want != NN_IDS_LIMIT)) {
            uint32_t r = 0, i = 0;
            for (; i < ln && r < R1; i++) {
                if (is_refused(m, l[i].id)) continue;
                counter *ctr = &m->c_o1[(r * Q + qcount(l[i].cnt)) * Q + top1];
                r++;
                if (code_bit(c, ctr, want == i)) {
                    found = l[i].id;
                    o1_at = (int)i;
                    ENDED(1);
                    break;
                }
            }
            if (found == NN_IDS_LIMIT) {
                STAGE(3);
                uint32_t left = i < ln ? ln - i : 1;
                uint32_t v = want - i + 1, len = bit_length(v);
                len = code_tree(c, &m->c_rlen[(qcount(left) * Q + qcount(i < ln ? l[i].cnt : 0)) * 16], 4, len);
                if (len < 1) len = 1; /* only corrupt input gets here */
                if (len > RANK_LEN) len = RANK_LEN;
                uint32_t value = 1;
                for (int b = (int)len - 2; b >= 0; b--) {
                    uint32_t from_top = len - 2 - (uint32_t)b;
                    counter *cb = &m->c_rbits[(len * 4 + (from_top < 3 ? from_top : 3)) * 4 + (value & 3)];
                    value = (value << 1) | (uint32_t)code_bit(c, cb, (int)((v >> b) & 1));
                }
                uint32_t j = i + value - 1;
                if (j >= ln) j = ln - 1; /* only corrupt input gets here */
                found = l[j].id;
                o1_at = (int)j;
                ENDED(3);
            }
        }
    }
    for (uint32_t i = 0; i < nrefused; i++) unrefuse(m, s->id[i]);

    /* 3. order 0 */
    if (found == NN_IDS_LIMIT) {
        STAGE(4);
        /* The first levels split by the previous id's successors: after a
         * rare word a new word is another kind of word than after "the". */
        uint32_t kind = ln < 4 ? 0 : ln < 24 ? 1 : ln < 256 ? 2 : 3;
        uint32_t node = 1;
        for (int b = 14; b >= 0; b--) {
            counter *ctr = node < O0_TOP && kind ? &m->c_o0[NN_IDS_LIMIT + (kind - 1) * O0_TOP + node] : &m->c_o0[node];
            node = (node << 1) | (uint32_t)code_bit(c, ctr, (int)((id >> b) & 1));
        }
        found = node - NN_IDS_LIMIT;
        ENDED(4);
    }

    /* The next id's order-2 slot and order-1 list are known now: read them
     * before learning, so that their cache misses (the slot table does not
     * fit the cache; they were half the decode time) overlap the learning
     * work and each other. A plain load, kept because its value is stored:
     * wasm has no prefetch. */
    m->touched += m->o2[(o2_hash(p1, found) >> (32 - O2_BITS)) & ~(O2_WAYS - 1)].check + m->o1[o1_start(found)].cnt;

    /* Learn: count the id in both lists, keeping them in order. */
    if (o2_at >= 0) {
        uint32_t i = (uint32_t)o2_at;
        if (s->cnt[i] == 255)
            for (uint32_t j = 0; j < s->n; j++) s->cnt[j] = (uint8_t)((s->cnt[j] + 1) >> 1);
        s->cnt[i]++;
        while (i > 0 && s->cnt[i] > s->cnt[i - 1]) {
            uint16_t t = s->id[i]; s->id[i] = s->id[i - 1]; s->id[i - 1] = t;
            uint8_t u = s->cnt[i]; s->cnt[i] = s->cnt[i - 1]; s->cnt[i - 1] = u;
            i--;
        }
    } else {
        uint32_t i = s->n < K2 ? s->n++ : K2 - 1;
        s->id[i] = (uint16_t)found;
        s->cnt[i] = 1;
    }
    /* Found at order 2: where is it in the order-1 list? (Found at order 0,
     * it is in no list: the order-1 stage said so.) */
    if (o2_at >= 0)
        for (uint32_t j = 0; j < ln; j++)
            if (l[j].id == found) { o1_at = (int)j; break; }
    if (o1_at >= 0) {
        count_up(l, ln, (uint32_t)o1_at);
    } else {
        uint32_t i = ln < cap ? ln : cap - 1;
        if (ln < cap) m->o1n[p1] = (uint16_t)(ln + 1);
        l[i].id = (uint16_t)found;
        l[i].cnt = 1;
    }
    m->p2 = m->p1;
    m->p1 = found;
    return found;
}

/* ----------------------------------------------------------- blocks */

size_t nn_ids_block_bound(size_t n) {
    /* At most 21 decisions per id (an order-2 miss, then order 1: "one of
     * these?", R1 = 4 asked, a 4-decision length and 11 bits; or 2 and the
     * 15 of order 0), each narrowing the range by at most 12 bits (a
     * probability is clamped to 1..4095 of 4096) plus rounding; 34 such is
     * room to spare, then the 4-byte flush. The encoder checks it anyway. */
    return n * (34 * 12 / 8 + 1) + 8;
}

int nn_ids_encode_block(nn_ids_model *m, const uint16_t *ids, size_t n, uint8_t *out, size_t *out_len) {
    *out_len = 0;
    if (n > NN_IDS_BLOCK) return NN_IDS_BAD_ARG;
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= NN_IDS_LIMIT) return NN_IDS_BAD_ARG;
    coder c = {.x1 = 0, .x2 = 0xffffffffu, .out = out, .cap = nn_ids_block_bound(n), .decoding = 0};
    for (size_t i = 0; i < n; i++) code_id(m, &c, ids[i]);
    for (int k = 0; k < 4; k++, c.at++)
        if (c.at < c.cap) c.out[c.at] = (uint8_t)(c.x1 >> (24 - 8 * k));
    if (c.at > c.cap) return NN_IDS_TOO_BIG;
    *out_len = c.at;
    return NN_IDS_OK;
}

int nn_ids_decode_block(nn_ids_model *m, const uint8_t *in, size_t len, uint16_t *out, size_t n) {
    if (n > NN_IDS_BLOCK) return NN_IDS_BAD_ARG;
    coder c = {.x1 = 0, .x2 = 0xffffffffu, .in = in, .len = len, .decoding = 1};
    for (int k = 0; k < 4; k++) {
        uint32_t b = 0;
        if (c.pos < c.len) b = c.in[c.pos++]; else c.over++;
        c.x = (c.x << 8) | b;
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = (uint16_t)code_id(m, &c, 0);
        if (c.over) return NN_IDS_CORRUPT;
    }
    return c.pos == c.len ? NN_IDS_OK : NN_IDS_CORRUPT;
}
