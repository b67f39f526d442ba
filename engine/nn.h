/* nn.h: the public interface of the engine.
 *
 * A small neural-network engine for text classification, written so that the
 * very same code runs natively (command-line tools, ctest) and inside a Web
 * Worker as WebAssembly. Therefore nothing here touches files, threads or
 * process-wide state: every function works on memory the caller hands it, and
 * every object is owned by the caller. File I/O lives in the native tools.
 *
 * Sizes are named once, here, and every shape comment uses these letters:
 *   B  batch (reviews in a mini-batch)
 *   T  tokens per review after padding/truncating (maxlen)
 *   V  vocabulary (token ids 0..V-1)
 *   E  embedding width
 *   H  hidden units
 *   C  inputs of a dense layer, OC its outputs
 *
 * Two kinds of error. A programmer error (a bad shape, an id out of range)
 * stops at an assert. Anything a user or a file can cause returns a status
 * code and fills an nn_error the caller owns, with a message saying what to do.
 */
#ifndef NN_H
#define NN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ errors */

enum {
    NN_OK = 0,
    NN_ERR_ARG,       /* a bad value from the user: config, flag, text */
    NN_ERR_FORMAT,    /* a file that is truncated, corrupted or not ours */
    NN_ERR_VERSION,   /* a file from another version of the engine */
    NN_ERR_CHECKSUM,  /* a file whose checksum does not match its contents */
    NN_ERR_NOMEM,     /* an allocation failed */
    NN_ERR_DIVERGED,  /* the loss became NaN or infinite */
    NN_ERR_STATE,     /* an operation that is not valid right now */
    NN_ERR_IO         /* native tools only: a file could not be read/written */
};

typedef struct nn_error {
    int code;       /* one of NN_* above; NN_OK when nothing failed */
    char msg[512];  /* what went wrong and what to do about it */
} nn_error;

/* Fills err (if not NULL) with code and a printf-style message; returns code. */
int nn_fail(nn_error *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ------------------------------------------------------------------ random */

/* A seeded generator (PCG32, O'Neill 2014): the same seed gives the same
 * numbers on every platform, natively and in wasm. */
typedef struct nn_rng { uint64_t state, inc; } nn_rng;

void nn_rng_seed(nn_rng *r, uint64_t seed);
uint32_t nn_rng_u32(nn_rng *r);
uint32_t nn_rng_below(nn_rng *r, uint32_t n);      /* uniform in [0, n), unbiased */
float nn_rng_uniform(nn_rng *r, float lo, float hi); /* uniform in [lo, hi) */
void nn_rng_shuffle_u32(nn_rng *r, uint32_t *a, size_t n); /* Fisher-Yates */

/* ---------------------------------------------------------------- checksum */

uint32_t nn_crc32(uint32_t crc, const void *data, size_t n); /* start with crc = 0 */

/* --------------------------------------------------- tokenizer and vocabulary
 *
 * The tokenizer (version NN_TOKENIZER_VERSION): ASCII letters are lowercased,
 * the HTML line break "<br />" (any case, "<br/>" and "<br>" too) is a space,
 * a token is a maximal run of [a-z0-9'] and non-ASCII bytes (so UTF-8 words
 * such as "café" and emoji survive), and leading/trailing apostrophes are
 * stripped (a token of only apostrophes is dropped). Every other byte
 * separates tokens. Any byte sequence is accepted: invalid UTF-8 is kept as
 * bytes, NUL is a separator. */
#define NN_TOKENIZER_VERSION 1

/* Token ids follow the Keras IMDB convention. */
/* NN_UNUSED is no word of a shard: the masked-language model (engine/mlm.h)
 * uses it as [MASK], and nn_encode_text turns the literal "[MASK]" into it. */
enum { NN_PAD = 0, NN_START = 1, NN_UNK = 2, NN_UNUSED = 3, NN_FIRST_WORD = 4 };

/* Called once per token; tok is lowercased, not NUL-terminated, valid only
 * during the call. */
typedef void (*nn_token_fn)(const char *tok, size_t len, void *user);

/* Like nn_token_fn, plus where the token lies in the original text: bytes
 * [start, end), after apostrophe stripping and the length cut, so the span
 * covers exactly the bytes the token was made from. Colours words on the page. */
typedef void (*nn_span_fn)(const char *tok, size_t len, size_t start, size_t end, void *user);
size_t nn_tokenize_spans(const char *text, size_t len, nn_span_fn emit, void *user);

/* Tokenizes text[0..len); returns the number of tokens emitted. Allocates
 * nothing: lowercasing uses a caller-free internal scheme (tokens longer
 * than NN_MAX_TOKEN_BYTES are cut to that length). */
#define NN_MAX_TOKEN_BYTES 64
size_t nn_tokenize(const char *text, size_t len, nn_token_fn emit, void *user);

/* A vocabulary: id -> word and word -> id. Words are sorted by descending
 * training count, ties broken by byte order of the word; ids 0-3 are the
 * special tokens above (their words are "<PAD>", "<START>", "<UNK>",
 * "<UNUSED>") and count 0. */
typedef struct nn_vocab {
    uint32_t V;            /* number of ids, specials included */
    const uint32_t *count; /* (V) training occurrences of each id */
    const uint32_t *offset;/* (V+1) word i is bytes[offset[i] .. offset[i+1]) */
    const char *bytes;
    /* lookup table, built by nn_vocab_index */
    uint32_t *slots;       /* (nslots) id+1, or 0 for an empty slot */
    uint32_t nslots;       /* a power of two, at least 2*V */
} nn_vocab;

/* Builds the hash index of a vocabulary whose count/offset/bytes are set. */
int nn_vocab_index(nn_vocab *v, nn_error *err);
void nn_vocab_free_index(nn_vocab *v);
/* The id of word[0..len), or NN_UNK. */
uint32_t nn_vocab_lookup(const nn_vocab *v, const char *word, size_t len);
/* Word of an id as (pointer, length). */
const char *nn_vocab_word(const nn_vocab *v, uint32_t id, size_t *len);

/* Encodes text as ids the way the shard stores reviews: NN_START, then one id
 * per token (NN_UNK for unknown words, and for ids >= num_words when
 * num_words > 0); the literal "[MASK]" (any case) is NN_UNUSED, the masked-
 * language model's [MASK]. Writes at most cap ids; returns the number of
 * ids the full text has (which may exceed cap). */
size_t nn_encode_text(const nn_vocab *v, const char *text, size_t len,
                      uint32_t num_words, uint32_t *ids, size_t cap);

/* ------------------------------------------------------------------ shards
 *
 * A shard is one binary file: a header, optionally a vocabulary, and named
 * splits of reviews as token ids. The format is documented in
 * datasets/README.md. Readers parse from memory (the page fetches the file);
 * a reader checks magic, version, every size and the checksum before it
 * trusts anything, and the parsed shard points into the caller's buffer. */
#define NN_SHARD_MAGIC "NNSHARD1"
#define NN_SHARD_VERSION 2  /* written; version 1 (no class names) is still read */
#define NN_SHARD_MAX_TOKENS 2048  /* reviews are cut to this many ids */
#define NN_SHARD_MAX_SPLITS 4
/* Classes of a text model and of a labelled-text shard (why 50:
 * engine/labelled_text.h). */
#define NN_MAX_TEXT_CLASSES 50

typedef struct nn_split {
    char name[16];           /* "train", "test", "unsup" */
    uint32_t n;              /* reviews */
    const uint8_t *label;    /* (n) 0 negative, 1 positive (a labelled-text shard: the class,
                              * below nn_shard.classes), 255 unlabelled */
    const uint8_t *rating;   /* (n) IMDB stars 1-10, 0 unlabelled */
    const uint32_t *review_id;/* (n) the <id> of <id>_<rating>.txt */
    const uint32_t *offset;  /* (n+1) review i is tokens[offset[i]..offset[i+1]) */
    const uint16_t *tokens;  /* (offset[n]) ids, each review starting with NN_START */
} nn_split;

typedef struct nn_shard {
    uint32_t version;
    uint32_t tokenizer_version;
    uint32_t max_tokens;     /* cap used when building */
    uint32_t vocab_crc;      /* identifies the vocabulary these ids refer to */
    nn_vocab vocab;          /* V == 0 in a shard without a vocabulary */
    uint32_t nsplits;
    nn_split split[NN_SHARD_MAX_SPLITS];
    uint32_t classes; /* 2 for IMDB shards (no names stored); K for a labelled-text shard */
    const char *class_name[NN_MAX_TEXT_CLASSES]; /* (classes) not NUL-terminated; NULL when unnamed */
    uint32_t class_name_len[NN_MAX_TEXT_CLASSES]; /* bytes of each name; 0 when unnamed */
    uint32_t test_pending;   /* reviews of a "test" split still to come (0 for a parsed shard):
                              * the static site sends the test reviews as a shard of their own
                              * after the rest (nn_session_expect_test); trainers count them in
                              * their memory budget and pad them when they arrive
                              * (nn_trainer_attach_test) */
} nn_shard;

/* Parses buf[0..len) (which must stay alive and 4-byte aligned while the
 * shard is used). Builds the vocabulary index (free with nn_shard_free). */
int nn_shard_parse(nn_shard *s, const uint8_t *buf, size_t len, nn_error *err);
void nn_shard_free(nn_shard *s);
const nn_split *nn_shard_find(const nn_shard *s, const char *name);

/* Serialises a shard (vocabulary, class names when class_name[0] is set,
 * and splits as described by s) into a newly malloc'd buffer; *out_len gets
 * its size. Without names, classes must be 0 or 2 (an IMDB shard). */
int nn_shard_write(const nn_shard *s, uint8_t **out, size_t *out_len, nn_error *err);

/* ------------------------------------------------------------ image shards
 *
 * The sibling of the text shard for images (datasets/README.md, "Image shard
 * format"): a 64-byte header with its own magic, version, sizes and CRCs,
 * the class names, and named splits of labelled uint8 images. Parsed in
 * place like a text shard (the buffer must stay alive and 4-byte aligned). */
#define NN_IMAGE_MAGIC "NNIMAGE1"
#define NN_IMAGE_VERSION 1
#define NN_IMAGE_MAX_CLASSES 256       /* labels are u8 */
#define NN_IMAGE_CLASS_NAME_BYTES 32   /* each name: 1-31 printable bytes, NUL-padded */
#define NN_IMAGE_MAX_PIXELS (1 << 24)  /* values per image: height*width*channels */

typedef struct nn_image_split {
    char name[16];           /* "train", "test" */
    uint32_t n;              /* images */
    const uint8_t *label;    /* (n) class 0..classes-1 */
    const uint8_t *pixels;   /* (n,D) D = height*width*channels, row-major, 0-255 */
} nn_image_split;

typedef struct nn_image_shard {
    uint32_t version;
    uint32_t height, width, channels;
    uint32_t classes;        /* K */
    const char *class_names; /* (K, NN_IMAGE_CLASS_NAME_BYTES) NUL-padded */
    uint32_t nsplits;
    nn_image_split split[NN_SHARD_MAX_SPLITS];
} nn_image_shard;

int nn_image_shard_parse(nn_image_shard *s, const uint8_t *buf, size_t len, nn_error *err);
/* Serialises s (class_names as K NUL-padded 32-byte fields) into a newly
 * malloc'd buffer, checked the reader's way before it is returned. */
int nn_image_shard_write(const nn_image_shard *s, uint8_t **out, size_t *out_len, nn_error *err);
const nn_image_split *nn_image_shard_find(const nn_image_shard *s, const char *name);
/* Class k's name (NUL-terminated), or NULL when k >= classes. */
const char *nn_image_class_name(const nn_image_shard *s, uint32_t k);
uint32_t nn_image_shard_pixels(const nn_image_shard *s); /* D */

/* ------------------------------------------------------------------ config */

enum { NN_POOL_KERAS = 0, NN_POOL_MASKED = 1 };  /* average over all T / real tokens */
enum { NN_PAD_PRE = 0, NN_PAD_POST = 1 };
enum { NN_OPT_ADAM = 0, NN_OPT_SGD = 1 };
/* The architecture (see "model" below). */
enum { NN_MODEL_BAG = 0, NN_MODEL_LSTM = 1, NN_MODEL_GRU = 2, NN_MODEL_BILSTM = 3, NN_MODEL_BIGRU = 4,
       NN_MODEL_MLP = 5 /* images: trains on an nn_image_shard */,
       NN_MODEL_NGRAM = 6 /* a bag of unigram and bigram embeddings (engine/ngram.h) */,
       NN_MODEL_TRANSFORMER = 7 /* a Transformer encoder (engine/transformer.h) */ };
enum { NN_MONITOR_VAL_LOSS = 0, NN_MONITOR_VAL_ACC = 1 };
/* Where the embedding starts (see "embedding_init" below). */
enum { NN_EMB_UNIFORM = 0, NN_EMB_WORD2VEC = 1 };
enum { NN_POS_UNIFORM = 0, NN_POS_SINUSOID = 1 }; /* a transformer's first position table */
#define NN_MAX_LAYERS 4
/* Bytes of the "stopwords" setting, its NUL included (engine/stopwords.h). */
#define NN_STOPWORDS_SPEC_MAX 2048

typedef struct nn_config {
    uint32_t vocab_size;   /* V: ids >= V become NN_UNK (Keras num_words) */
    uint32_t maxlen;       /* T */
    int padding;           /* NN_PAD_PRE or NN_PAD_POST (Keras pad_sequences) */
    int truncating;        /* NN_PAD_PRE or NN_PAD_POST */
    int model;             /* NN_MODEL_*: "bag", "lstm", "gru", "bilstm", "bigru", "mlp", "ngram",
                            * "transformer" */
    uint32_t input_dim;    /* "mlp" only: D, values per image (784 for 28 x 28) */
    uint32_t classes;      /* K: classes of the output (2..NN_MAX_TEXT_CLASSES for text,
                            * the shard's; 2: one sigmoid logit; more: K softmax logits) */
    uint32_t embed_dim;    /* E */
    uint32_t hidden;       /* H: the bag's dense units, or the recurrent units
                            * (per direction when bidirectional) */
    uint32_t layers;       /* stacked recurrent layers (1..NN_MAX_LAYERS); not "bag" */
    float dropout;         /* [0,1): Keras LSTM/GRU(dropout=) on every recurrent
                            * layer's inputs, the embeddings first; not "bag" */
    float recurrent_dropout; /* [0,1): Keras recurrent_dropout on h_prev; not "bag" */
    int pooling;           /* NN_POOL_*; "bag" only */
    int optimizer;         /* NN_OPT_* */
    float lr;
    float beta1, beta2, eps; /* Adam */
    uint32_t batch_size;   /* B */
    uint32_t epochs;
    /* Early stopping (Keras EarlyStopping): stop when the monitored
     * validation metric has not improved by more than min_delta for
     * patience epochs; patience 0 turns it off. */
    uint32_t patience;
    int monitor;           /* NN_MONITOR_VAL_LOSS (Keras's default) or _VAL_ACC */
    float min_delta;
    int restore_best_weights; /* 0/1: on stopping, go back to the best epoch's weights */
    /* Pretrained embeddings (engine/word2vec.h). */
    int embedding_init;    /* NN_EMB_UNIFORM: Keras's uniform +-0.05; NN_EMB_WORD2VEC:
                            * word vectors trained on the unlabelled reviews with the
                            * w2v_* settings below, given to nn_trainer_set_embedding */
    int trainable_embedding; /* 0/1 (Keras trainable=): 0 freezes the embedding */
    uint32_t w2v_epochs;   /* word2vec: passes over the unlabelled reviews */
    uint32_t w2v_window;   /* word2vec: the largest context distance */
    uint32_t w2v_negative; /* word2vec: negative samples per (context, word) pair */
    float w2v_sample;      /* word2vec: subsampling threshold t (0: off) */
    float w2v_lr;          /* word2vec: starting SGD rate, falling linearly to 1e-4 of it */
    uint32_t val_size;     /* reviews held out of the shuffled training split */
    uint32_t train_size;   /* 0: all remaining training reviews */
    uint64_t seed;
    /* Stop words removed from every review before padding and from every
     * text before scoring (engine/stopwords.h): "" for none, "@english" for
     * the built-in list, words to add, "-word" to take one out. */
    char stopwords[NN_STOPWORDS_SPEC_MAX];
    uint32_t bigrams;      /* "ngram": the N most frequent training bigrams get rows (0: unigrams only) */
    int nb_weighting;      /* "ngram", 0/1: each feature weighted by its NBSVM log-count ratio */
    /* "transformer" (engine/transformer.h): embed_dim is its width E,
     * maxlen its positions T, dropout its residual dropout. */
    uint32_t heads;        /* attention heads NH (embed_dim a multiple of it) */
    uint32_t blocks;       /* encoder blocks (1..NN_TFM_MAX_BLOCKS) */
    uint32_t ff_dim;       /* F: the feed-forward block's width */
    uint32_t warmup_steps; /* AdamW's learning rate rises linearly over these steps, then
                            * falls linearly to 0 at the last step of the last epoch */
    float weight_decay;    /* AdamW's decoupled decay of the weight matrices and embeddings */
    int alibi;             /* 0/1: ALiBi's distance penalty in every attention head (layers_attn.h) */
    int positions;         /* NN_POS_UNIFORM: the position table starts as uniform noise, as every
                            * other weight; NN_POS_SINUSOID: as Vaswani et al.'s sinusoids (still learned) */
    /* Masked-language-model pretraining (engine/mlm.h) of a "transformer":
     * its own peak rate and warm-up; lr and warmup_steps are fine-tuning's. */
    float mlm_lr;
    uint32_t mlm_warmup_steps;
} nn_config;

/* The tutorial recipe: V 10000, T 256 post padding, E 16, H 16, Keras
 * pooling, Adam 0.001, B 512, 40 epochs, 10000 validation, seed 1; model
 * "bag", 1 layer, no dropout, no early stopping. */
void nn_config_default(nn_config *c);
/* The recipes of the tutorials, by name, set over the defaults:
 *   "tutorial-bag"     the defaults (Keras text classification tutorial);
 *   "tutorial-lstm"    Embedding(10000,32) -> LSTM(32) -> Dense(1): maxlen
 *                      250, 'pre' padding and truncating, batch 128, Adam
 *                      0.001, 5000 (20%) of the training reviews validate,
 *                      10 epochs, early stopping on validation loss with
 *                      patience 2, restoring the best epoch's weights;
 *   "tutorial-gru"     the same with GRU(32);
 *   "tutorial-bilstm"  the same with Bidirectional(LSTM(32));
 *   "tutorial-mlp"     the Keras basic (image) classification tutorial on
 *                      Fashion-MNIST: Dense(512, relu) -> Dense(10) +
 *                      softmax on pixels / 255, sparse categorical
 *                      cross-entropy, batch 64, Adam 0.001, 10 epochs,
 *                      10000 of the 60000 training images validate
 *                      (trains on an image shard: nn_trainer_create_images);
 *   "tutorial-pretrained" "tutorial-lstm" trained on 1000 labelled reviews
 *                      with its embedding started from word2vec vectors
 *                      (embedding_init "word2vec", window 20, sample 1e-4)
 *                      and fine-tuned, all 10 epochs (no early stopping):
 *                      our answer to the TF-Hub tutorial.
 *   "tutorial-transformer" a small Transformer encoder ("transformer": width
 *                      32, 2 heads, 1 block, feed-forward 64, maxlen 200,
 *                      batch 32, AdamW 0.001 with 200 warm-up steps, 3
 *                      epochs, early stopping on validation loss with
 *                      patience 1 restoring the best epoch).
 *   "transformer-pretrained" tutorial-transformer's recipe at width 64
 *                      (4 heads, feed-forward 128) with ALiBi, 2 epochs,
 *                      meant to start from an encoder pretrained as a
 *                      masked-language model (engine/mlm.h; imdb_train
 *                      --init encoder.ckpt) at its own rate: mlm_lr
 *                      0.003, 500 warm-up steps, sinusoid positions.
 * NN_OK, or NN_ERR_ARG for an unknown name (c is then unchanged). */
int nn_config_preset(nn_config *c, const char *name);
/* The i-th preset's name, or NULL past the last (for menus and messages). */
const char *nn_config_preset_name(uint32_t i);
/* Overrides fields of c from a JSON object; unknown keys and bad values are
 * reported by name. */
int nn_config_from_json(nn_config *c, const char *json, nn_error *err);
/* Checks ranges (and, when shard != NULL, against the shard). */
int nn_config_check(const nn_config *c, const nn_shard *shard, nn_error *err);
/* A malloc'd JSON object with every field. */
char *nn_config_to_json(const nn_config *c);
/* The config table as a malloc'd JSON array, one object per key in table
 * order: {"key", "kind" ("int"|"float"|"enum"|"bool"|"string"), "min",
 * "max", "min_open", "max_open", "choices" (enums only), "default"
 * (nn_config_default's), "range" (in words), "doc" (one line)}. NULL when
 * out of memory. */
char *nn_config_schema_json(void);


/* ------------------------------------------------------------ memory budget
 *
 * One estimate of what a configuration will hold, computed in 64-bit
 * arithmetic (saturating: a product that would overflow becomes UINT64_MAX)
 * BEFORE anything is allocated, and one budget per platform (engine/budget.c
 * says why these figures). nn_model_create and the trainer's create
 * functions check it themselves, so a link, a config or a checkpoint's
 * config over the budget is refused with a message naming the figure and
 * the setting to change, before the first byte is allocated. */

/* The examples a trainer pads or copies: the shard's "train" split (val_size
 * + train_size of it become the validation and training sets) and "test".
 * A model without a trainer (nn_model_create alone) has none. */
typedef struct nn_data_size {
    uint32_t train;  /* examples in the shard's "train" split */
    uint32_t test;   /* examples in its "test" split (0 when it has none) */
    uint64_t train_tokens; /* ids in the "train" split's reviews (0: unknown, taken
                            * as maxlen each): a recurrent batch skips the padding */
} nn_data_size;

/* Bytes by purpose; total is their sum. The set-up cost counts the
 * operations of configure (initialisation, padding) and of the first batch,
 * for the check that keeps configure under a second (budget.c). */
typedef struct nn_memory {
    uint64_t nparams;      /* floats of the parameter buffer (model.c's tensor table) */
    uint64_t parameters;   /* the parameter buffer */
    uint64_t gradients;    /* its gradients */
    uint64_t optimizer;    /* both Adam moments (the first also the orthogonal
                            * initialisation's scratch) */
    uint64_t previous;     /* trainer: the double-buffered parameters (divergence guard) */
    uint64_t best;         /* trainer: the best epoch's weights (restore_best_weights) */
    uint64_t activations;  /* everything sized by the batch: activations, their
                            * gradients, dropout masks, sorted ids, work */
    uint64_t data;         /* trainer: padded/copied sets, batch buffers, history */
    uint64_t page;         /* trainer, text: what the page keeps per run (the
                            * embedding history: snapshots within
                            * NN_EMBED_HISTORY_BUDGET and its view model) */
    uint64_t total;
    /* Estimated seconds in the page's engine (wasm SIMD, one thread) on the
     * 2-core machine the rates in budget.c were measured on: */
    double init_seconds;   /* configure: allocating and zeroing, initial draws,
                            * orthogonal initialisation, padding the sets */
    double ortho_seconds;  /* the orthogonal initialisation's part of it */
    double batch_seconds;  /* one training batch, forward and backward */
} nn_memory;

/* Bytes of embedding snapshots the page keeps per run (nn_embed_history_create's
 * budget_bytes in the wasm boundary). */
#define NN_EMBED_HISTORY_BUDGET ((uint64_t)64 << 20)
/* The budgets: wasm32 and any 32-bit build, and natively on 64 bits. */
#define NN_MEMORY_BUDGET_32 ((uint64_t)1 << 30)
#define NN_MEMORY_BUDGET_64 ((uint64_t)8 << 30)

/* What a configuration may cost: bytes, and estimated seconds of configure
 * and of one training batch (0: no time limit). */
typedef struct nn_limits {
    uint64_t bytes;
    double init_seconds;
    double batch_seconds;
} nn_limits;
/* The page's: NN_MEMORY_BUDGET_32, configure within 1 s, a batch within 2 s. */
nn_limits nn_memory_limits_page(void);
/* This build's: the page's where size_t is 32 bits (wasm32, and a -m32
 * build, which stands in for it natively); else NN_MEMORY_BUDGET_64 and no
 * time limits (the native tools run what they are asked to, however long). */
nn_limits nn_memory_limits(void);

/* The estimate for cfg (checked or not: no field is trusted to be in
 * range); data NULL for a model alone (then previous, best, data, page and
 * batch_seconds are 0, and init_seconds is the model's alone). Returns out->total. */
uint64_t nn_memory_estimate(const nn_config *cfg, const nn_data_size *data, nn_memory *out);
/* NN_OK; or NN_ERR_NOMEM when the estimate exceeds limits->bytes ("this
 * model needs 20.6 GB (...), over the 1.0 GB budget: lower hidden or layers
 * (at most hidden 650 fits)"); or, with data (a trainer), NN_ERR_ARG when
 * configure or the first batch would take longer than the limits (the
 * message gives the estimate and the setting to lower, with the largest
 * value that fits). */
int nn_memory_check(const nn_config *cfg, const nn_data_size *data, const nn_limits *limits,
                    nn_error *err);
/* The engine's checked allocations: every size that is a product or sum of
 * run-time values goes through these (wasm32's size_t is 32 bits, so an
 * unchecked product wraps to a small block that is then overrun).
 * n * size bytes, or NULL when the product overflows size_t or exceeds
 * PTRDIFF_MAX, or memory runs out; at least 1 byte, so NULL always means
 * failure. nn_calloc_array zeroes; nn_realloc_array leaves p untouched (and
 * allocated) when it returns NULL. */
void *nn_malloc_array(size_t n, size_t size);
void *nn_calloc_array(size_t n, size_t size);
void *nn_realloc_array(void *p, size_t n, size_t size);
/* *out = a * b; returns 0 (and *out = SIZE_MAX) when it overflows size_t. */
int nn_size_mul(size_t a, size_t b, size_t *out);
/* *out = a + b; returns 0 (and *out = SIZE_MAX) when it overflows size_t. */
int nn_size_add(size_t a, size_t b, size_t *out);
/* The same, saturating: SIZE_MAX on overflow, which stays SIZE_MAX through
 * further products and sums (by anything but 0) and which the allocators
 * above refuse, so nn_malloc_array(nn_size_add_sat(n, 1), 4) is checked
 * whole. */
size_t nn_size_mul_sat(size_t a, size_t b);
size_t nn_size_add_sat(size_t a, size_t b);

/* ------------------------------------------------------------------- model
 *
 * cfg.model chooses the architecture:
 *   "bag": the bag-of-embeddings model of the Keras text-classification
 *     tutorial: ids (B,T) -> Embedding (V,E) -> average pooling (B,E)
 *     -> Dense (H) + ReLU (B,H) -> Dense (1) logit (B) -> sigmoid.
 *   "lstm", "gru": ids -> Embedding (V,E), padding masked (Keras
 *     mask_zero=True) -> cfg.layers recurrent layers of H units (sequences
 *     between them) -> Dense (1) on the final state -> sigmoid.
 *   "bilstm", "bigru": the same with every recurrent layer wrapped in Keras
 *     Bidirectional: a forward and a backward layer whose final states (or
 *     outputs, between layers) are concatenated, so 2H wide.
 *   "mlp": images, the Keras basic-classification tutorial: pixels (B,D)
 *     uint8 / 255 -> Dense (H) + ReLU -> Dense (K) logits (B,K) -> softmax,
 *     sparse categorical cross-entropy; kernels in Keras's (C,OC) layout.
 *   "ngram": a bag of unigram and bigram embeddings (fastText): ids (B,T)
 *     -> the ids and the known bigrams of adjacent ids -> the mean of their
 *     rows of the table (V+N,E) (optionally NB-weighted) -> Dense (1) logit
 *     -> sigmoid; its lazy optimizer and bigram table: engine/ngram.h.
 * The text models' head is over cfg.classes K (engine/model_head.c): with
 * K == 2 the one logit and sigmoid above, binary cross-entropy (the
 * tutorials' recipes); with 3 <= K <= NN_MAX_TEXT_CLASSES the last Dense
 * has K outputs instead of 1 (O = K below, else O = 1): logits (B,K),
 * softmax cross-entropy by log-sum-exp as the MLP's, accuracy = argmax.
 *   "transformer": ids (B,T) -> token + learned position embeddings (B,T,E)
 *     -> cfg.blocks pre-LN encoder blocks (cfg.heads-head self-attention
 *     with the padding mask, GELU feed-forward of cfg.ff_dim, residual
 *     dropout) -> layer norm -> masked mean (B,E) -> Dense (1) logit ->
 *     sigmoid; AdamW with warm-up and linear decay: engine/transformer.h.
 * A batch's inputs x are ids (B,T) uint16 for the text models, pixels (B,D)
 * uint8 for "mlp"; labels are 0/1 (text) or the class 0..K-1 (as floats).
 * All parameters live in one float buffer carved into named tensors; the
 * gradients and both Adam moments mirror it, so the optimizer is one loop and
 * a checkpoint is one blob. */
/* Encoder blocks of a "transformer" at most; each has 12 tensors, and the
 * embeddings, final layer norm and head 6 more. */
#define NN_TFM_MAX_BLOCKS 4
#define NN_MAX_TENSORS (6 + 12 * NN_TFM_MAX_BLOCKS)

typedef struct nn_tensor {
    char name[16];
    uint32_t rows, cols;   /* a vector has rows == 1 */
    size_t offset;         /* in floats, into params/grads/m/v */
} nn_tensor;

/* Lending threads to the engine. The engine starts none (see the top of
 * this file); a caller that has some can lend them through run(), which must
 * call task(arg, i, parts) once for every i in [0, parts), on any threads in
 * any order, and return when all have finished. The recurrent layers split
 * their work into parts that write disjoint memory and keep every sum in the
 * order one thread would use, so the results are the same bit for bit with
 * any number of parts: a seed gives one history whatever the threads. */
typedef void (*nn_task_fn)(void *arg, uint32_t part, uint32_t parts);
typedef struct nn_parallel {
    void (*run)(void *ctx, nn_task_fn task, void *arg, uint32_t parts);
    void *ctx;
    uint32_t parts;  /* parts to split work into (usually the threads); <= 1: none */
} nn_parallel;

/* One recurrent layer in one direction: its weights, its dropout masks, and
 * what its forward pass saves for backward (shapes: engine/layers.h). GH is
 * 4H for LSTM, 3H for GRU; C is E for the first layer, D*H above (D = 2
 * directions when bidirectional, else 1). */
typedef struct nn_rnn_layer {
    int cell;              /* NN_CELL_LSTM (0) or NN_CELL_GRU (1), layers.h */
    int reverse;           /* the backward half of a bidirectional layer */
    uint32_t C;
    uint32_t tensor;       /* index of its wx in the table; wh and b follow */
    float *wx;             /* (C,GH) views into params */
    float *wh;             /* (H,GH) */
    float *b;              /* (GH) LSTM, (2,GH) GRU */
    const float *xin;      /* (T,B,C) the inputs the last forward pass used */
    float *xdrop;          /* (T,B,C) inputs after dropout (NULL without dropout) */
    float *xkeep;          /* (B,C) dropout mask (NULL without dropout) */
    float *hkeep;          /* (B,H) recurrent dropout mask (NULL without) */
    float *hin;            /* (T,B,H) h_prev after recurrent dropout (NULL without) */
    float *hs;             /* (T+1,B,H) states */
    float *cs;             /* (T+1,B,H) LSTM cell states (NULL for GRU) */
    float *gates;          /* (T,B,GH) */
    float *tanhc;          /* (T,B,H) LSTM only */
    float *rech;           /* (T,B,H) GRU only */
} nn_rnn_layer;

typedef struct nn_model {
    nn_config cfg;
    uint32_t ntensors;
    nn_tensor tensor[NN_MAX_TENSORS];
    size_t nparams;
    float *params, *grads, *m, *v;  /* each (nparams), 64-byte aligned */
    /* NULL, or (nn_model_keep_previous) the other buffer of double-buffered
     * parameters: each step reads params, writes the new weights here and
     * swaps the two, so after a step this holds the weights before it. */
    float *params_prev;
    int prev_valid;                 /* params_prev holds the weights before the last step */
    uint64_t step;                  /* optimizer steps taken (Adam's t) */
    /* views into params (and the same offsets into grads) */
    float *emb;   /* (V,E) */
    float *w1;    /* (H,E) "bag"; (D,H) "mlp" */
    float *b1;    /* (H) "bag", "mlp" */
    float *w2;    /* (O,H) "bag", (O,D*H) recurrent, (O,E) "ngram": the output layer; (H,K) "mlp" */
    float *b2;    /* (O); (K) "mlp" */
    /* activations for up to cfg.batch_size reviews */
    uint32_t Bmax;
    float *pooled;  /* (B,E) "bag" */
    uint32_t *runs; /* (B,2) "bag": each review's real tokens [start, end), for backward */
    float *hidden;  /* (B,H) after ReLU, "bag" */
    float *logit;   /* (B,O); (B,K) "mlp" */
    float *xin;     /* (B,D) "mlp": the pixels / 255 */
    float *w2t;     /* (K,H) "mlp": scratch, w2 transposed */
    float *dpooled; /* (B,E) "bag" */
    float *dhidden; /* (B,H) gradient of the ReLU output, "bag" */
    float *dhpre;   /* (B,H) gradient of the ReLU input, "bag" */
    float *dlogit;  /* (B,O); (B,K) "mlp" */
    uint16_t *ids1; /* (T) scratch for scoring one review */
    /* recurrent models only (all NULL/0 for "bag") */
    uint32_t nlayers, ndirs;        /* cfg.layers; D = 2 when bidirectional */
    nn_rnn_layer rnn[NN_MAX_LAYERS][2];
    /* The batch is processed longest review first (so the padding of every
     * step is a tail of rows the layers skip): row i of every activation
     * below is review order[i] of the batch. */
    uint32_t *order;   /* (B) */
    uint32_t *lens;    /* (B) real tokens per review; and (T+1) counts */
    uint16_t *ids_sorted; /* (B,T) the batch in that order */
    float *zs, *dzs;   /* (B,O) logits and their gradients in that order */
    uint8_t *mask;     /* (B,T) 1 where ids != NN_PAD */
    float *seq;        /* (T,B,E) the embeddings */
    float *seq_out[NN_MAX_LAYERS]; /* (T,B,2H) outputs of bidirectional layer l
                                    * (below the top), both directions */
    float *final;      /* (B,D*H) the final states */
    float *dfinal;     /* (B,D*H) */
    float *dhs;        /* (T+1,B,H) */
    float *dseq[2];    /* (T,B,max(E,D*H)) gradients of layer inputs, ping-pong */
    float *dxdrop;     /* (T,B,max(E,D*H)) gradient of inputs after dropout */
    float *work;       /* nn_rnn_work_floats of the largest layer */
    uint16_t *ids_batch; /* (B,T) occluded copies of one review (explain) */
    nn_rng dropout_rng;  /* the dropout masks, seeded from cfg.seed by init */
    nn_parallel par;     /* threads lent by the caller (nn_model_set_parallel); parts 0: none */
    struct nn_ngram *ngram; /* "ngram" only: bigram index, features, lazy update (engine/ngram.h) */
    struct nn_transformer *tfm; /* "transformer" only: activations, chunks, schedule (engine/transformer.h) */
} nn_model;

/* Allocates a model for cfg (parameters zero; call nn_model_init). */
int nn_model_create(nn_model **out, const nn_config *cfg, nn_error *err);
void nn_model_free(nn_model *m);
/* Keras initialisation: embedding uniform +-0.05, Glorot-uniform dense and
 * recurrent input kernels, orthogonal recurrent kernels, zero biases except
 * the LSTM forget gate's (1, unit_forget_bias); resets the optimizer state.
 * The dropout generator is seeded from cfg.seed, not drawn from rng. */
void nn_model_init(nn_model *m, nn_rng *rng);
/* Logits for the inputs x (ids (B,T) or pixels (B,D), see above), B <=
 * Bmax, into m->logit; evaluation: no dropout. */
void nn_model_forward(nn_model *m, const void *x, uint32_t B);
/* Forward (training: dropout on, new masks every call), the loss against
 * labels (B) (mean over B; binary cross-entropy, or softmax cross-entropy
 * for "mlp" and K-class text models), and backward adding into m->grads.
 * Returns the mean loss; *correct gets the number of reviews on the right
 * side of 0.5 (K classes, images: whose largest logit is the label's). */
float nn_model_forward_backward(nn_model *m, const void *x, const float *labels,
                                uint32_t B, uint32_t *correct);
/* The loss of the last nn_model_forward's B rows, SUMMED over them, against
 * labels (B); adds the right ones to *correct. (What evaluation adds up.) */
float nn_model_loss_sum(const nn_model *m, const float *labels, uint32_t B, uint32_t *correct);
/* "mlp": the class probabilities (K) of one image of D pixels (0-255);
 * returns the most likely class. Uses the model's activations as scratch. */
uint32_t nn_model_predict_image(nn_model *m, const uint8_t *pixels, float *probs);
/* Width O of the output layer: 1 for a two-class text model (one sigmoid
 * logit), else cfg.classes (K softmax logits; "mlp" too). */
uint32_t nn_config_outputs(const nn_config *c);
/* K, the classes the model tells apart (2 for the sigmoid text models). */
uint32_t nn_model_classes(const nn_model *m);
/* "mlp": the most likely class of each of n images (n, D) into classes
 * (n), Bmax images per forward pass through the batch buffers, as
 * evaluation does: the classes nn_model_predict_image gives one by one,
 * several times faster. Uses the model's activations as scratch. */
void nn_model_predict_images(nn_model *m, const uint8_t *pixels, uint32_t n, uint32_t *classes);
void nn_model_zero_grad(nn_model *m);
/* Lends threads to the recurrent layers (NULL or parts <= 1: work in the
 * calling thread). Results do not depend on it. */
void nn_model_set_parallel(nn_model *m, const nn_parallel *p);
/* One optimizer step over the whole parameter buffer. Returns 1 when every
 * new weight is finite, 0 when any is infinite or NaN (checked on the way;
 * the step is taken either way). */
int nn_model_update(nn_model *m);
/* Double-buffers the parameters (allocates params_prev): from then on each
 * nn_model_update writes the new weights into the other buffer and swaps
 * the two, re-pointing params and every view into it (emb, w1, b1, w2, b2,
 * the recurrent layers' wx, wh, b), so the weights from before the step
 * stay at hand without a copy. A pointer into params taken before a step
 * is stale after it: read m->params (and the views) afresh. The trainer
 * does this, for its divergence guard. NN_ERR_NOMEM when out of memory. */
int nn_model_keep_previous(nn_model *m, nn_error *err);
/* Undoes the last step of a double-buffered model: the weights from before
 * it come back (the optimizer's moments and step count stay as they are).
 * Returns 0 (and changes nothing) when there is no step to undo: none was
 * taken since nn_model_keep_previous or nn_model_init, or it was undone. */
int nn_model_undo_update(nn_model *m);

/* Pads/truncates a review of n ids to T ids the Keras pad_sequences way,
 * mapping ids >= V to NN_UNK. */
void nn_pad_review(uint16_t *out, const uint16_t *ids, size_t n, const nn_config *cfg);
void nn_pad_review_u32(uint16_t *out, const uint32_t *ids, size_t n, const nn_config *cfg);
/* Where id i of an n-id review lands after nn_pad_review, or -1 when
 * truncation cuts it: the one truncation rule (review_text.c marks cut words
 * with it). */
long nn_padded_position(size_t i, size_t n, const nn_config *cfg);
/* For the files that build a model's parts (model.c, ngram.c): zeroed
 * float buffers on 64-byte lines (NULL when n floats do not fit size_t or
 * memory is short), and a named tensor appended to the one parameter
 * buffer, 16-byte aligned. */
void *nn_alloc_floats(size_t n);
void nn_model_add_tensor(nn_model *m, const char *name, uint32_t rows, uint32_t cols);

/* Probability that text is positive, P(class 1) (NaN for model "mlp", which reads images;
 * a K-class model: P(class 1) too, see nn_model_score_text_classes):
 * tokenized, encoded against v, without the stop words of stop (NULL: none;
 * engine/stopwords.h), truncated and padded as in training, then scored.
 * The one place every caller that scores a text goes through. */
struct nn_stopwords;
float nn_model_score_text(nn_model *m, const nn_vocab *v, const struct nn_stopwords *stop,
                          const char *text, size_t len);
/* Per-token contributions by occlusion: contrib[i] = score(review) -
 * score(review with ids[i] replaced by <PAD>); returns the score. ("bag":
 * a closed form per token; recurrent models: a full forward pass per token,
 * batched, where <PAD> is skipped by the mask as if the word were removed.
 * "ngram": not occlusion but each word's linear share of the logit, a
 * bigram's split half to each of its words, scaled so the shares add up to
 * score - sigmoid(bias); engine/ngram.h.) ids are
 * the encoded review (NN_START first, so contrib[0] belongs to <START> and
 * contrib[k] to the k-th word); contrib has n entries, 0 for ids cut by
 * maxlen. contrib may be NULL (score only). */
float nn_model_explain(nn_model *m, const uint32_t *ids, size_t n, float *contrib);
/* K classes (engine/model_head.c). The class probabilities (K) of text,
 * scored as nn_model_score_text does; returns the top class (the first on
 * ties). For K == 2, probs = {1 - p, p} with p nn_model_score_text's.
 * "mlp": probs all NaN, returns 0. */
uint32_t nn_model_score_text_classes(nn_model *m, const nn_vocab *v, const struct nn_stopwords *stop,
                                     const char *text, size_t len, float *probs /* (K) */);
/* nn_model_explain toward class cls < K: returns P(cls | review) and
 * contrib[i] = P(cls | review) - P(cls | review without ids[i]) (the same
 * occlusion; "ngram": the linear shares of the logit of cls minus the mean
 * logit, scaled to add up to P(cls) - P(cls | no features)). For K == 2 and
 * cls 1 exactly nn_model_explain; cls 0 its negation, 1 - p. */
float nn_model_explain_class(nn_model *m, const uint32_t *ids, size_t n, uint32_t cls, float *contrib);

/* ----------------------------------------------------------------- trainer
 *
 * Holds the model, the padded training, validation and test matrices and the
 * history. Training advances in slices (nn_trainer_run) so a caller in a Web
 * Worker can answer messages between them. */
typedef struct nn_epoch_log {
    float loss, acc;           /* training, averaged over the epoch's batches */
    float val_loss, val_acc;   /* NaN when there is no validation set */
} nn_epoch_log;

typedef struct nn_progress {
    uint32_t epoch;        /* 1-based epoch the last batch belonged to */
    uint32_t batch;        /* batches finished in that epoch */
    uint32_t batches;      /* batches per epoch */
    float batch_loss, batch_acc;
    int epoch_done;        /* this call finished an epoch (history has it) */
    int finished;          /* all cfg.epochs epochs are done, or stopped early */
    int stopped_early;     /* early stopping ended training (cfg.patience) */
    uint32_t best_epoch;   /* 1-based epoch of the best monitored value so far
                            * (cfg.monitor, min_delta), for every run with
                            * validation, patience 0 too; 0 before the first
                            * validated epoch or without validation */
    int restored_best;     /* early stopping restored the best epoch's weights */
} nn_progress;

typedef struct nn_trainer nn_trainer;

/* Splits the shard's "train" split (shuffled with cfg.seed: the first
 * val_size reviews validate, the next train_size train) and pads "test". */
int nn_trainer_create(nn_trainer **out, const nn_config *cfg, const nn_shard *shard, nn_error *err);
/* When the shard has no "test" split but shard->test_pending reviews of one
 * are to come, nn_trainer_create counts them in the budget and makes a
 * trainer whose test set is pending: it trains and validates as any other
 * (the test set takes no part in either), and nn_trainer_attach_test pads
 * the split (test->n must be what was counted) into it when it arrives,
 * exactly as nn_trainer_create would have, so the test result is the same
 * bit for bit. NN_ERR_STATE when no test set is pending. */
int nn_trainer_attach_test(nn_trainer *t, const nn_split *test, nn_error *err);
int nn_trainer_test_pending(const nn_trainer *t); /* 1: its test set is still to come */
/* The same for an image shard and cfg.model "mlp" (cfg.input_dim and
 * cfg.classes must match the shard): the images of "train" are shuffled
 * and split the same way, "test" kept; pixels are copied, so the shard may
 * be freed afterwards. Everything below works alike for both, except what
 * is about words (count_tokens, set_embedding, stopwords: nothing/none). */
int nn_trainer_create_images(nn_trainer **out, const nn_config *cfg, const nn_image_shard *shard,
                             nn_error *err);
void nn_trainer_free(nn_trainer *t);
nn_model *nn_trainer_model(nn_trainer *t);
/* Runs up to max_batches training batches, stopping early at the end of an
 * epoch (after validating it). NN_ERR_DIVERGED if a loss (training or
 * validation) is not finite or an update makes a weight infinite or NaN: the
 * model then holds the last good weights, those the last finite training
 * loss was computed with (all finite; they score text), p->batch_loss the
 * bad loss (infinite for an overflowing update) and p->epoch, p->batch where
 * it happened (batches finished before it). The run is over: later calls
 * return NN_ERR_STATE; create a new trainer (with a lower learning rate).
 * With cfg.patience > 0, early stopping (Keras EarlyStopping semantics) may
 * end training before cfg.epochs: p->finished and p->stopped_early are set,
 * the history has the epochs trained, and with restore_best_weights the
 * model holds the best epoch's weights again. */
int nn_trainer_run(nn_trainer *t, uint32_t max_batches, nn_progress *p, nn_error *err);
/* The loss and accuracy of each training batch of the epoch in progress (or
 * just finished), in order: *n batches so far. For the per-batch curve. */
typedef struct nn_batch_log { float loss, acc; } nn_batch_log;
const nn_batch_log *nn_trainer_batch_log(const nn_trainer *t, uint32_t *n);
/* Pretrained word vectors (V,E) for the embedding (cfg.embedding_init
 * "word2vec"): copies the rows of the words (ids NN_FIRST_WORD up to
 * min(V, cfg.vocab_size)) minus their mean vector; the special ids keep
 * their initialisation. E must be cfg.embed_dim. Only before the first batch (NN_ERR_STATE after); until
 * it is called, nn_trainer_run refuses a "word2vec" config. */
int nn_trainer_set_embedding(nn_trainer *t, const float *vectors, uint32_t V, uint32_t E, nn_error *err);
/* History so far: *n epochs. */
const nn_epoch_log *nn_trainer_history(const nn_trainer *t, uint32_t *n);
/* Loss and accuracy on "val" or "test". */
int nn_trainer_evaluate(nn_trainer *t, const char *split, float *loss, float *acc, nn_error *err);
/* The same evaluation in slices, for a caller that must stay responsive
 * (a recurrent model needs seconds for the 25,000 test reviews): begin, then
 * step until it returns 1, then read the result. */
typedef struct nn_eval {
    const void *set;     /* the padded set being evaluated */
    uint32_t pos;        /* reviews done */
    uint32_t correct;
    double loss_sum;
} nn_eval;
int nn_trainer_eval_begin(nn_trainer *t, const char *split, nn_eval *e, nn_error *err);
/* Evaluates up to max_batches batches; returns 1 when the set is done. */
int nn_trainer_eval_step(nn_trainer *t, nn_eval *e, uint32_t max_batches);
void nn_trainer_eval_result(const nn_eval *e, float *loss, float *acc);
uint32_t nn_trainer_count(const nn_trainer *t, const char *split); /* reviews in "train", "val", "test" */
/* counts (V): occurrences of each id in the padded "train", "val" or "test"
 * matrix (what the model sees: after maxlen, ids >= V as NN_UNK; padding not
 * counted). All zero for an unknown split. */
void nn_trainer_count_tokens(const nn_trainer *t, const char *split, uint32_t *counts);
/* Called at the end of every epoch (after its validation pass and the best
 * epoch's update, before early stopping can restore the best weights) with
 * the model as the epoch left it and the 1-based epoch. NULL removes it.
 * Used for embedding snapshots. */
typedef void (*nn_epoch_hook_fn)(void *user, const nn_model *m, uint32_t epoch);
void nn_trainer_set_epoch_hook(nn_trainer *t, nn_epoch_hook_fn fn, void *user);
/* The best epoch so far, as nn_progress.best_epoch (0: none yet). */
uint32_t nn_trainer_best_epoch(const nn_trainer *t);

/* A run trained to its end, then evaluated on "test", in slices
 * (engine/run.c): each nn_run_step trains up to max_batches batches, or,
 * once training finished, evaluates up to max_batches test batches. */
typedef struct nn_run_progress {
    uint32_t epoch, batch, batches; /* as nn_progress */
    int epoch_done, finished;       /* epoch_done: this step ended an epoch */
    uint32_t best_epoch;
    float loss, acc, val_loss, val_acc; /* the last finished epoch's */
    int test_done;                  /* the test result is in (NaN without a test set) */
    float test_loss, test_acc;
    int test_waiting;               /* trained, waiting for the test set (nn_trainer_attach_test) */
} nn_run_progress;
typedef struct nn_run {
    nn_trainer *trainer;            /* owned */
    nn_eval test;                   /* the test evaluation in progress */
    int testing;
    nn_run_progress p;
} nn_run;
/* Takes ownership of t (created, not yet trained by the caller). */
void nn_run_init(nn_run *r, nn_trainer *t);
/* NN_OK, or the trainer's error (the run stops there). */
int nn_run_step(nn_run *r, uint32_t max_batches, nn_error *err);
void nn_run_free(nn_run *r);
/* The padded ids (n,T) of "train", "val" or "test" as the model reads them
 * (stop words removed), their labels (n), and for each review its index in
 * the shard split it came from ("train" for train and val, "test" for
 * test). NULL for an unknown split. For the diagnosis (engine/diagnosis.h). */
const uint16_t *nn_trainer_set(const nn_trainer *t, const char *split, uint32_t *n,
                               const float **label, const uint32_t **source);
/* The stop words the trainer removes (built from cfg.stopwords against the
 * shard's vocabulary; engine/stopwords.h), or NULL when there are none. */
struct nn_stopwords;
const struct nn_stopwords *nn_trainer_stopwords(const nn_trainer *t);

/* -------------------------------------------------------------- embeddings
 *
 * What the model learned about words, epoch by epoch (engine/embedding_stats.c):
 * compact per-epoch snapshots of the model, and what the page computes on
 * them. A word's *score* is the model's probability for a review of just that
 * word ([<START>, w]); its *effect* is that score minus the score of the empty
 * review ([<START>] alone), which moves with the bias from epoch to epoch. */

/* Rows as int8 with one scale per row (symmetric: scale = max|row| / 127):
 * q (V,E), scale (V). x ~= q * scale with |error| <= scale / 2. A row with a
 * NaN or infinity gets scale NaN (and dequantises to NaN: the truth). */
void nn_quantize_rows_i8(int8_t *q, float *scale, const float *x, uint32_t V, uint32_t E);
void nn_dequantize_rows_i8(float *x, const int8_t *q, const float *scale, uint32_t V, uint32_t E);

/* out (n): the score of a review of just the word ids[i], for each i; *base
 * (if not NULL) the score of the empty review. Uses m's activation buffers
 * as scratch (its parameters are unchanged). The bag model with maxlen >= 2
 * takes a closed form (one head evaluation per word; within a few ulps of
 * the forward pass, 2e-6 in tests); other models take
 * nn_word_scores_forward, batched by m->Bmax. */
void nn_word_scores(float *out, float *base, nn_model *m, const uint32_t *ids, uint32_t n);
/* The same scores through nn_model_forward for every model, up to cap
 * (<= m->Bmax) one-word reviews per call, *base (if not NULL) as row 0 of
 * the first: each bit-identical to nn_model_explain of [<START>, ids[i]]
 * (and of [<START>]). rows: scratch for cap padded reviews (cap * maxlen
 * ids). The diagnosis rates its words with this, in slices. */
void nn_word_scores_forward(float *out, float *base, nn_model *m, const uint32_t *ids, uint32_t n,
                            uint16_t *rows, uint32_t cap);

/* Eigenpairs of a symmetric n x n matrix A (row-major; destroyed), in order
 * of decreasing eigenvalue: evals (k), evecs (k,n) unit rows.
 * Jacobi: all n pairs, the cyclic Jacobi method (Golub & Van Loan, Matrix
 * Computations, 4th ed., section 8.5); for small n (the PCA uses it up to
 * E = 64). Power: the k largest of a positive semi-definite A by power
 * iteration, each vector kept orthogonal to the ones before (at most iters
 * steps each); for wide embeddings. */
void nn_sym_eigen_jacobi(double *evals, double *evecs, double *A, uint32_t n);
void nn_sym_eigen_power(double *evals, double *evecs, double *A, uint32_t n, uint32_t k, uint32_t iters);

/* Principal components of the N rows of X (N,E): mean (E), components (K,E)
 * unit vectors in order of decreasing variance, variance (K) along each
 * (population covariance, divided by N). Each component's largest entry is
 * positive, so the answer is deterministic. work: nn_pca_work_doubles(E). */
size_t nn_pca_work_doubles(uint32_t E);
void nn_pca(float *mean, float *components, float *variance, const float *X, uint32_t N,
            uint32_t E, uint32_t K, double *work);
/* out (N,K) = (X (N,E) - mean (E)) . components (K,E)^T */
void nn_pca_project(float *out, const float *X, const float *mean, const float *components,
                    uint32_t N, uint32_t E, uint32_t K);

/* The k ids in [first, V) other than query whose rows of emb (V,E) have the
 * largest cosine similarity with row query (a zero row has similarity 0):
 * ids (k), sims (k), most similar first, ties by smaller id. Returns how
 * many were found (fewer than k only when the range is smaller). */
uint32_t nn_nearest_cosine(uint32_t *ids, float *sims, const float *emb, uint32_t V, uint32_t E,
                           uint32_t query, uint32_t first, uint32_t k);

/* The k ids in [first, V) seen in training (counts >= 1), and seen fewer
 * than count_below times when count_below > 0, whose value changed most
 * from before (V) to after (V) in absolute terms: ids (k), largest change
 * first, ties by smaller id; NaN values are skipped. Returns how many. */
uint32_t nn_top_changes(uint32_t *ids, const float *before, const float *after,
                        const uint32_t *counts, uint32_t V, uint32_t first,
                        uint32_t count_below, uint32_t k);

/* Statistics of one epoch's embedding that explain the gap between the
 * curves. Words are ids >= NN_FIRST_WORD seen in training (counts >= 1);
 * rare ones were seen fewer than rare_below times, frequent ones at least
 * frequent_from times. A mean over an empty group is NaN. */
typedef struct nn_embed_stats {
    uint32_t epoch;
    uint32_t rare_words, frequent_words; /* group sizes */
    float rare_norm;      /* mean L2 norm of the rare words' embeddings */
    float frequent_norm;  /* the same for the frequent words */
    float rare_share;     /* sum of |effect| over rare words / over all seen words */
    float base_score;     /* the score of the empty review */
} nn_embed_stats;
/* emb (V,E), effect (V), counts (V); s->epoch and s->base_score are left
 * for the caller. */
void nn_embed_stats_compute(nn_embed_stats *s, const float *emb, const float *effect,
                            const uint32_t *counts, uint32_t V, uint32_t E,
                            uint32_t rare_below, uint32_t frequent_from);

/* The embedding history of one training run: a snapshot of the model at the
 * end of every epoch (embedding rows quantised as above, every other
 * parameter exactly), the statistics of every recorded epoch, and a "view"
 * model any stored epoch can be loaded into. Snapshots stay within a byte
 * budget: when it is full, a recorded epoch is dropped to make room (never
 * the first, nor keep_epoch; the one whose neighbours are closest, so the
 * epochs kept stay evenly spread). Statistics of dropped epochs are kept. */
typedef struct nn_embed_history nn_embed_history;

/* For models with m's config; counts (V) the training occurrences of each
 * id (copied), e.g. from nn_trainer_count_tokens. NN_ERR_NOMEM when not even
 * one snapshot fits the budget, or memory runs out. */
int nn_embed_history_create(nn_embed_history **out, const nn_model *m, const uint32_t *counts,
                            size_t budget_bytes, uint32_t rare_below, uint32_t frequent_from,
                            nn_error *err);
void nn_embed_history_free(nn_embed_history *h);
/* Snapshots m as the state at the end of epoch (larger than any recorded
 * before) and appends that epoch's statistics. */
int nn_embed_history_record(nn_embed_history *h, const nn_model *m, uint32_t epoch,
                            uint32_t keep_epoch, nn_error *err);
/* Changes the groups of the statistics and recomputes them for every stored
 * epoch (a dropped epoch's become NaN). */
void nn_embed_history_set_groups(nn_embed_history *h, uint32_t rare_below, uint32_t frequent_from);
/* Statistics of every recorded epoch, in order: *n entries. */
const nn_embed_stats *nn_embed_history_stats(const nn_embed_history *h, uint32_t *n);
/* The stored epochs, in increasing order: *n entries. */
const uint32_t *nn_embed_history_epochs(const nn_embed_history *h, uint32_t *n);
const uint32_t *nn_embed_history_counts(const nn_embed_history *h); /* (V) */
/* Bytes held: by the snapshots, and by everything else (view model, scratch). */
size_t nn_embed_history_snapshot_bytes(const nn_embed_history *h);
size_t nn_embed_history_other_bytes(const nn_embed_history *h);
size_t nn_embed_history_bytes_per_snapshot(const nn_embed_history *h);
/* The view model holding a stored epoch's parameters (embedding dequantised),
 * or NULL when that epoch is not stored. Valid until the next call that
 * loads another epoch; use it for scoring and reading only. */
nn_model *nn_embed_history_view(nn_embed_history *h, uint32_t epoch);
/* effect (n) of words ids (n) at a stored epoch, and *base its empty-review
 * score. NN_ERR_ARG when the epoch is not stored. */
int nn_embed_history_effects(nn_embed_history *h, uint32_t epoch, const uint32_t *ids, uint32_t n,
                             float *effect, float *base, nn_error *err);
/* The map: the N most frequent words (ids NN_FIRST_WORD .. NN_FIRST_WORD+N-1)
 * projected on the two principal axes of their vectors at basis_epoch, for
 * every stored epoch (one basis for all, so points move meaningfully):
 * xy (nepochs,N,2), effect (nepochs,N), in the order of
 * nn_embed_history_epochs. The first axis is oriented so that positive
 * words lie to the right (at the basis epoch); variance (2) along the axes
 * and total (1) of the N vectors at the basis epoch, for "% explained".
 * With basis_only, only the basis epoch: xy (1,N,2), effect (1,N). */
int nn_embed_history_map(nn_embed_history *h, uint32_t basis_epoch, uint32_t N, int basis_only,
                         float *xy, float *effect, float *variance, float *total, nn_error *err);

/* The answers the page reads, as float arrays in the layouts of
 * engine/result_layouts.h (the wasm boundary only sizes the buffer).
 * Each returns the number of rows/epochs/words written, or -1 with the
 * message in err. */
/* Every recorded epoch's statistics: rows (nstats, NN_EMBED_STATS_ROW_LEN). */
int nn_embed_history_stats_rows(const nn_embed_history *h, float *out);
/* The k nearest words of id at a stored epoch: rows (<= k, NN_NEIGHBOURS_ROW_LEN). */
int nn_embed_history_neighbour_rows(nn_embed_history *h, uint32_t epoch, uint32_t id, uint32_t k, float *out,
                                    nn_error *err);
/* The k words whose effect changed most from epoch `from` to `to` (only
 * words seen fewer than count_below times, when count_below > 0): rows
 * (<= k, NN_EMBED_CHANGES_ROW_LEN). */
int nn_embed_history_change_rows(nn_embed_history *h, uint32_t from, uint32_t to, uint32_t count_below,
                                 uint32_t k, float *out, nn_error *err);
/* Every word after the special ids (n = V - NN_FIRST_WORD): out holds the
 * empty review's score (1), the training counts (n), the effects (n). */
int nn_embed_history_word_effects(nn_embed_history *h, uint32_t epoch, float *out, nn_error *err);
/* nn_embed_history_map for the n most frequent words packed as: epochs (k),
 * xy (k,n,2), effect (k,n), counts (n), variance (2), total (1); returns k. */
int nn_embed_history_map_floats(nn_embed_history *h, uint32_t basis_epoch, uint32_t n, int basis_only,
                                float *out, nn_error *err);

/* -------------------------------------------------------------- checkpoint
 *
 * One header, one JSON document (config, tensor table, vocabulary words,
 * history), one blob of float32 parameters. See engine/checkpoint.c. */
#define NN_CKPT_MAGIC "NNCKPT01"
#define NN_CKPT_VERSION 3 /* 3: "class_names"; 2: "classes" is every model's K; 1 and 2 still read (1: text K = 2) */

/* Serialises model (and vocab's first V words, and history if given). A
 * model "mlp" reads images and keeps no words: vocab may be NULL (and
 * vocab_crc 0); its checkpoint's vocabulary is empty. */
int nn_checkpoint_write(const nn_model *m, const nn_vocab *vocab, uint32_t vocab_crc,
                        const nn_epoch_log *hist, uint32_t nhist,
                        uint8_t **out, size_t *out_len, nn_error *err);
/* nn_checkpoint_write that also keeps the class names of names (a
 * labelled-text shard, whose classes must be the model's K), so that the
 * file alone says what each class is; names NULL or unnamed: none kept. */
int nn_checkpoint_write_named(const nn_model *m, const nn_vocab *vocab, uint32_t vocab_crc,
                              const nn_epoch_log *hist, uint32_t nhist, const nn_shard *names,
                              uint8_t **out, size_t *out_len, nn_error *err);
/* A loaded checkpoint: the model and its own copy of the vocabulary. */
typedef struct nn_checkpoint {
    nn_model *model;
    nn_vocab vocab;          /* owns its arrays; index built */
    uint32_t nclass_names;   /* 0, or K: the class names a version-3 file keeps */
    char *class_name[NN_MAX_TEXT_CLASSES]; /* (nclass_names) owned, NUL-terminated */
    uint32_t vocab_crc;
    uint32_t nhist;
    nn_epoch_log *hist;
} nn_checkpoint;
int nn_checkpoint_read(nn_checkpoint *c, const uint8_t *buf, size_t len, nn_error *err);
void nn_checkpoint_free(nn_checkpoint *c);
/* Bytes of JSON a checkpoint may hold (config, vocabulary, history: an IMDB
 * model's take under 1 MB); the reader and the writer refuse more, so a
 * file's head (header and JSON) is at most this much larger than 32 bytes. */
#define NN_CKPT_JSON_MAX (64 << 20)
/* What nn_checkpoint_read checks first, from a file's first n bytes (len in
 * all), so that the page can refuse a file before copying it whole into
 * memory: with n >= 32, the header (magic, version, sizes against len); with
 * n >= 32 + json_len as well, the JSON's format, config and parameter count
 * (then has_config is 1). Not checked: the CRC and the vocabulary, which
 * need the whole file. */
typedef struct nn_checkpoint_head {
    uint32_t json_len;   /* from the header: the head is 32 + json_len bytes */
    int has_config;
    nn_config cfg;
    uint32_t vocab_crc;
} nn_checkpoint_head;
int nn_checkpoint_read_head(nn_checkpoint_head *h, const uint8_t *buf, size_t n, uint64_t len,
                            nn_error *err);
/* A trainer built from checkpoint ck's config against the loaded data (the
 * text shard, or for an "mlp" the image shard: pass the one loaded, the
 * other NULL), carrying ck's weights (engine/train.c). Refuses a checkpoint
 * of another vocabulary (vocab_crc), an image model without images, and a
 * parameter count that does not match the config. */
int nn_trainer_from_checkpoint(nn_trainer **out, const nn_checkpoint *ck, const nn_shard *shard,
                               const nn_image_shard *images, nn_error *err);
/* nn_trainer_from_checkpoint's checks before it allocates anything, from a
 * checkpoint's head: the data it needs, the vocabulary, the config against
 * the shard, and the memory and time budget of the trainer it would build. */
int nn_trainer_checkpoint_fits(const nn_checkpoint_head *h, const nn_shard *shard,
                               const nn_image_shard *images, nn_error *err);

#ifdef __cplusplus
}
#endif
#endif
