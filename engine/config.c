/* config.c: the training recipe as a struct, its defaults, its JSON form and
 * its checks.
 *
 * One table below lists every nn_config field with its JSON key, its kind and
 * its allowed range; parsing, printing and checking all walk that table, so a
 * new field is one line here. JSON keys are exactly the field names; enums are
 * strings ("pre"/"post", "keras"/"masked", "adam"/"sgd", "bag"/"lstm"/...),
 * booleans are JSON true/false. The tutorials' recipes are presets: a name
 * and the fields it sets over the defaults (nn_config_preset).
 *
 * Deliberately not here: files (the tools read them), tensors (model.c) and
 * the checkpoint format (checkpoint.c, which embeds nn_config_to_json).
 */
#include "nn.h"
#include "stopwords.h"

#include <assert.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* The largest integer a JSON number (an IEEE double, also in JavaScript)
 * holds exactly: seeds above it would not survive a round trip. */
#define SEED_MAX 9007199254740991.0 /* 2^53 - 1 */

void nn_config_default(nn_config *c) {
    /* The Keras text-classification tutorial ("Text classification with
     * preprocessed text", tf.keras 2.x): imdb.load_data(num_words=10000),
     * pad_sequences(maxlen=256, padding="post") (truncating keeps Keras's
     * default "pre"), Embedding(10000, 16), GlobalAveragePooling1D,
     * Dense(16, relu), Dense(1, sigmoid), Adam() with Keras's defaults,
     * fit(epochs=40, batch_size=512) with the first 10000 reviews held out. */
    memset(c, 0, sizeof *c);
    c->vocab_size = 10000;
    c->maxlen = 256;
    c->padding = NN_PAD_POST;
    c->truncating = NN_PAD_PRE;
    c->embed_dim = 16;
    c->hidden = 16;
    c->pooling = NN_POOL_KERAS;
    c->optimizer = NN_OPT_ADAM;
    c->lr = 0.001f;
    c->beta1 = 0.9f;
    c->beta2 = 0.999f;
    c->eps = 1e-7f;
    c->batch_size = 512;
    c->epochs = 40;
    c->val_size = 10000;
    c->train_size = 0;
    c->seed = 1;
    c->model = NN_MODEL_BAG;
    c->input_dim = 784;
    c->classes = 2; /* IMDB's negative and positive; the "mlp" recipe and image shards set theirs */
    c->layers = 1;
    c->dropout = 0.0f;
    c->recurrent_dropout = 0.0f;
    c->patience = 0;
    c->monitor = NN_MONITOR_VAL_LOSS;
    c->min_delta = 0.0f;
    c->restore_best_weights = 0;
    /* Pretrained embeddings off; word2vec.c's skip-gram defaults, except
     * one pass (-iter 5 there) over the 50,000 unlabelled reviews. */
    c->embedding_init = NN_EMB_UNIFORM;
    c->trainable_embedding = 1;
    c->w2v_epochs = 1;
    c->w2v_window = 5;
    c->w2v_negative = 5;
    c->w2v_sample = 1e-3f;
    c->w2v_lr = 0.025f;
    /* "transformer": one block of 2 heads, BERT's 4 x width feed-forward
     * for the default width, no warm-up, BERT's weight decay. */
    c->heads = 2;
    c->blocks = 1;
    c->ff_dim = 64;
    c->warmup_steps = 0;
    c->weight_decay = 0.01f;
    c->alibi = 0;
    /* Pretraining at the rate and warm-up tutorial-transformer pretrained
     * with before these keys (its lr and warmup_steps). */
    c->positions = NN_POS_UNIFORM;
    c->mlm_lr = 0.001f;
    c->mlm_warmup_steps = 200;
}

/* ----------------------------------------------------------------- presets */

/* The recipe of the Keras IMDB LSTM tutorials as issue 5 states it:
 * imdb.load_data(num_words=10000), pad_sequences(maxlen=250) with Keras's
 * default 'pre' padding and truncating, Embedding(10000, 32, mask_zero=True),
 * one recurrent layer of 32 units (Bidirectional: 32 each way), Dense(1,
 * sigmoid), Adam(0.001), fit(batch_size=128, epochs=10,
 * validation_split=0.2): 20% of the 25000 training reviews, 5000, validate.
 * These models overfit fast: validation loss bottoms at epoch 2-3 and test
 * accuracy after all 10 epochs is 0.848 (LSTM), 0.840 (GRU), 0.845
 * (BiLSTM), against 0.869 and 0.870 for LSTM and BiLSTM at their best
 * epoch. So the recipe carries the callback the tutorials' readers add
 * next, EarlyStopping(patience=2, restore_best_weights=True): the curves
 * still show two epochs of overfitting, and the model kept is the best. */
static void recurrent_tutorial(nn_config *c, int model) {
    nn_config_default(c);
    c->model = model;
    c->maxlen = 250;
    c->padding = NN_PAD_PRE;
    c->truncating = NN_PAD_PRE;
    c->embed_dim = 32;
    c->hidden = 32;
    c->batch_size = 128;
    c->epochs = 10;
    c->val_size = 5000;
    c->patience = 2;
    c->restore_best_weights = 1;
}

/* Our answer to the TF-Hub tutorial (whose 48-million-parameter sentence
 * embedding cannot run offline in a page): the LSTM recipe with its
 * embedding started from word2vec vectors trained on the 50,000 unlabelled
 * reviews, and fine-tuned. Pretraining pays when labelled reviews are
 * scarce, so only 1,000 of them train (the 5,000 validation reviews stay).
 * Sentiment belongs to a whole review, so the window is wide (20) and
 * frequent words are subsampled harder (1e-4): words that share reviews,
 * not only the slots of a sentence, end up close (good and bad share
 * slots). Measured with seeds 1, 2, 3: 0.80 validation accuracy at epochs
 * 5, 6, 7 and test accuracy 0.842, 0.815, 0.813; from scratch never within
 * the 10 epochs (best 0.780, 0.790, 0.798), test 0.758, 0.780, 0.775. */
static void pretrained_tutorial(nn_config *c) {
    recurrent_tutorial(c, NN_MODEL_LSTM);
    c->patience = 0; /* both curves run all 10 epochs, so they compare */
    c->train_size = 1000;
    c->embedding_init = NN_EMB_WORD2VEC;
    c->trainable_embedding = 1;
    c->w2v_window = 20;
    c->w2v_sample = 1e-4f;
}

/* The Keras basic classification tutorial ("Classify images of clothing"):
 * Flatten, Dense(512, relu), Dense(10), softmax, on Fashion-MNIST pixels
 * divided by 255; Adam(0.001), sparse categorical cross-entropy,
 * fit(batch_size=64, epochs=10). Its 60,000 training images lose 10,000 to
 * validation, so the curves can show what the test set alone cannot: the
 * validation loss turning up while the training loss keeps falling. Within
 * the recipe's 10 epochs that turn is small (seed 1: lowest at epoch 9,
 * 0.2999, then 0.3043; seeds 2 and 3 still falling, noisily); trained for
 * 20 it is plain (lowest 0.2952 at epoch 16, 0.3166-0.3325 after, while the
 * training loss falls from 0.18 to 0.16). Test accuracy after 10: 0.8808. */
static void mlp_tutorial(nn_config *c) {
    nn_config_default(c);
    c->model = NN_MODEL_MLP;
    c->input_dim = 784;
    c->classes = 10;
    c->hidden = 512;
    c->batch_size = 64;
    c->epochs = 10;
    c->val_size = 10000;
}

/* Beyond the tutorials: a bag of unigram and bigram embeddings with a
 * linear head (fastText, Joulin et al. 2017), each feature weighted by its
 * NBSVM log-count ratio (Wang & Manning 2012); engine/ngram.h. Every value
 * was chosen on the 5,000 validation reviews (the sweep is in
 * engine/ngram.c): 200,000 bigrams beat 100,000, 500,000 and 1,000,000;
 * width 8 matched 16 and beat 4; NB weighting lowered the validation loss
 * from 0.228 to 0.202; Adam 0.02 with batch 128 reached the lowest
 * validation loss (0.2000) by epoch 3. Early stopping (patience 1, best
 * weights restored) ends it after epoch 4. */
static void ngram_recipe(nn_config *c) {
    nn_config_default(c);
    c->model = NN_MODEL_NGRAM;
    c->vocab_size = 32768;
    c->maxlen = 1024;
    c->bigrams = 200000;
    c->nb_weighting = 1;
    c->embed_dim = 8;
    c->batch_size = 128;
    c->lr = 0.02f;
    c->epochs = 10;
    c->val_size = 5000;
    c->patience = 1;
    c->restore_best_weights = 1;
}

/* A small Transformer encoder (engine/transformer.h) from scratch: width
 * 32, 2 heads, one block, AdamW 0.001 (weight decay 0.01, 200 warm-up
 * steps, linear decay over 3 epochs), dropout 0.1, batch 32. Chosen on the
 * 5,000 validation reviews (README, "The Transformer"): with maxlen 256 and
 * a feed-forward of 128 (BERT's 4x) the best epoch (2) reached validation
 * loss 0.2917, accuracy 0.8818; maxlen 200 and 64 reached 0.2914 and
 * 0.8818 at a quarter less CPU (about 38 s of CPU an epoch against 50), so
 * those. Epoch 3 overfits (validation loss 0.33): early stopping on the
 * validation loss (patience 1) stops there and restores epoch 2. */
static void transformer_recipe(nn_config *c) {
    nn_config_default(c);
    c->model = NN_MODEL_TRANSFORMER;
    c->classes = 2;
    c->vocab_size = 10000;
    c->maxlen = 200;
    c->padding = NN_PAD_POST;
    c->truncating = NN_PAD_PRE;
    c->embed_dim = 32;
    c->heads = 2;
    c->blocks = 1;
    c->ff_dim = 64;
    c->dropout = 0.1f;
    c->batch_size = 32;
    c->lr = 0.001f;
    c->eps = 1e-8f;
    c->weight_decay = 0.01f;
    c->warmup_steps = 200;
    c->epochs = 3;
    c->val_size = 5000;
    c->patience = 1;
    c->restore_best_weights = 1;
}

/* "transformer-pretrained": to be started from an encoder pretrained as
 * a masked-language model (engine/mlm.h; imdb_pretrain, imdb_train --init,
 * the page's pretrained encoder), then fine-tuned as tutorial-transformer
 * over 2 epochs with the same early stopping. Chosen on the validation
 * reviews (README, "Masked-language-model pretraining"):
 * - a pretrained encoder's best epoch is the first, and the rate decaying
 *   to 0 over 2 epochs instead of 4 gave it a lower validation loss with
 *   both encoders tried (0.3047 against 0.3091, 0.2938 against 0.2960);
 * - pretraining at tutorial-transformer's rate stays on the unigram
 *   plateau (masked-token loss 5.8-6.0 after 1-3 passes); ALiBi's distance
 *   penalty, a peak rate of 0.003 over 500 warm-up steps and sinusoid
 *   positions leave it (5.17 after one pass at width 64);
 * - width 64, 4 heads, feed-forward 128: validation loss 0.2704 after one
 *   pass (0.2695 after two), against 0.2930 at width 32 with the same
 *   pretraining and 0.2758 for width 64 from scratch;
 * - the same recipe pretrained for 8 and 12 passes (imdb_pretrain
 *   --passes N; passes are the run's, not the config's): 0.2570, 0.2544. */
static void transformer_pretrained_recipe(nn_config *c) {
    transformer_recipe(c);
    c->embed_dim = 64;
    c->heads = 4;
    c->ff_dim = 128;
    c->alibi = 1;
    c->positions = NN_POS_SINUSOID;
    c->mlm_lr = 0.003f;
    c->mlm_warmup_steps = 500;
    c->epochs = 2;
}

static const char *const PRESETS[] = {"tutorial-bag", "tutorial-lstm", "tutorial-gru",
                                      "tutorial-bilstm", "tutorial-pretrained", "tutorial-mlp",
                                      "ngram", "tutorial-transformer", "transformer-pretrained"};
static const int PRESET_MODEL[] = {NN_MODEL_BAG, NN_MODEL_LSTM, NN_MODEL_GRU, NN_MODEL_BILSTM, -1,
                                   NN_MODEL_MLP, NN_MODEL_NGRAM, NN_MODEL_TRANSFORMER, -2};

const char *nn_config_preset_name(uint32_t i) {
    return i < sizeof PRESETS / sizeof PRESETS[0] ? PRESETS[i] : NULL;
}

int nn_config_preset(nn_config *c, const char *name) {
    for (uint32_t i = 0; name && i < sizeof PRESETS / sizeof PRESETS[0]; i++) {
        if (strcmp(name, PRESETS[i]) != 0) continue;
        if (PRESET_MODEL[i] == NN_MODEL_BAG) nn_config_default(c);
        else if (PRESET_MODEL[i] == -2) transformer_pretrained_recipe(c);
        else if (PRESET_MODEL[i] < 0) pretrained_tutorial(c);
        else if (PRESET_MODEL[i] == NN_MODEL_MLP) mlp_tutorial(c);
        else if (PRESET_MODEL[i] == NN_MODEL_NGRAM) ngram_recipe(c);
        else if (PRESET_MODEL[i] == NN_MODEL_TRANSFORMER) transformer_recipe(c);
        else recurrent_tutorial(c, PRESET_MODEL[i]);
        return NN_OK;
    }
    return NN_ERR_ARG;
}

/* ------------------------------------------------------------ field table */

enum kind { K_U32, K_U64, K_F32, K_ENUM, K_BOOL, K_STR };

typedef struct field {
    const char *name;
    size_t off;
    enum kind kind;
    /* numbers: allowed [lo, hi], an open end when lo_open/hi_open */
    double lo, hi;
    int lo_open, hi_open;
    const char *range;     /* the allowed range in words, for messages */
    const char *names[8];  /* enums: the string of value 0, 1, ... (up to hi) */
    const char *doc;       /* one line for people: the page's settings table */
} field;

#define F(name) #name, offsetof(nn_config, name)
static const field FIELDS[] = {
    {F(vocab_size), K_U32, 5, 65536, 0, 0, "5..65536 (4 special ids plus at least one word; ids are 16-bit)", {0}, "words kept; rarer ones become <UNK>"},
    {F(maxlen), K_U32, 1, NN_SHARD_MAX_TOKENS, 0, 0, "1..2048 (NN_SHARD_MAX_TOKENS, the longest review a shard keeps)", {0}, "tokens per review after padding/truncating"},
    {F(padding), K_ENUM, 0, 1, 0, 0, "\"pre\" or \"post\"", {"pre", "post"}, "where short reviews get padding"},
    {F(truncating), K_ENUM, 0, 1, 0, 0, "\"pre\" or \"post\"", {"pre", "post"}, "which end of long reviews is cut"},
    {F(stopwords), K_STR, 0, NN_STOPWORDS_SPEC_MAX - 1, 0, 0, "a stop-word list such as \"@english -not\" (engine/stopwords.h), or \"\" for none", {0}, "stop words removed before training and scoring: \"@english\", words, \"-word\""},
    {F(model), K_ENUM, 0, 7, 0, 0, "\"bag\", \"lstm\", \"gru\", \"bilstm\", \"bigru\", \"mlp\", \"ngram\" or \"transformer\"",
     {"bag", "lstm", "gru", "bilstm", "bigru", "mlp", "ngram", "transformer"}, "the architecture (mlp: images; ngram: words and bigrams; transformer: self-attention)"},
    {F(input_dim), K_U32, 1, NN_IMAGE_MAX_PIXELS, 0, 0, "1..16777216 (values per image; \"mlp\" only)", {0}, "values per image (mlp only; the image shard sets it)"},
    {F(classes), K_U32, 2, NN_IMAGE_MAX_CLASSES, 0, 0, "2..50 for text models (NN_MAX_TEXT_CLASSES), 2..256 for \"mlp\"", {0}, "classes K: the shard sets it (2: one sigmoid output; more: K softmax outputs)"},
    {F(embed_dim), K_U32, 1, 1024, 0, 0, "1..1024", {0}, "embedding width"},
    {F(hidden), K_U32, 1, 4096, 0, 0, "1..4096", {0}, "hidden units: dense (bag) or recurrent"},
    {F(layers), K_U32, 1, NN_MAX_LAYERS, 0, 0, "1..4 (NN_MAX_LAYERS stacked recurrent layers)", {0}, "stacked recurrent layers"},
    {F(dropout), K_F32, 0, 1, 0, 1, "at least 0 and below 1 (0: no dropout)", {0}, "dropout on the recurrent layers' inputs"},
    {F(recurrent_dropout), K_F32, 0, 1, 0, 1, "at least 0 and below 1 (0: no recurrent dropout)", {0}, "dropout on the recurrent state"},
    {F(pooling), K_ENUM, 0, 1, 0, 0, "\"keras\" or \"masked\"", {"keras", "masked"}, "average over all positions or real tokens"},
    {F(optimizer), K_ENUM, 0, 1, 0, 0, "\"adam\" or \"sgd\"", {"adam", "sgd"}, "optimizer"},
    {F(lr), K_F32, 0, 10, 1, 0, "greater than 0 and at most 10 (the recipe uses 0.001)", {0}, "learning rate"},
    {F(beta1), K_F32, 0, 1, 0, 1, "at least 0 and below 1 (the recipe uses 0.9)", {0}, "Adam's decay of the mean of the gradients"},
    {F(beta2), K_F32, 0, 1, 0, 1, "at least 0 and below 1 (the recipe uses 0.999)", {0}, "Adam's decay of the mean of the squared gradients"},
    {F(eps), K_F32, 0, 1e30, 1, 0, "greater than 0 and finite (the recipe uses 1e-7)", {0}, "Adam's epsilon, added to the denominator"},
    {F(batch_size), K_U32, 1, 65536, 0, 0, "1..65536", {0}, "reviews per batch"},
    {F(epochs), K_U32, 1, 10000, 0, 0, "1..10000", {0}, "passes over the training reviews"},
    {F(patience), K_U32, 0, 10000, 0, 0, "0..10000 (0: no early stopping)", {0}, "early stopping: epochs without a better monitored value before stopping (0: off)"},
    {F(monitor), K_ENUM, 0, 1, 0, 0, "\"val_loss\" or \"val_accuracy\"", {"val_loss", "val_accuracy"}, "what decides the best epoch and early stopping"},
    {F(min_delta), K_F32, 0, 1e30, 0, 0, "at least 0 and finite (Keras's default is 0)", {0}, "the smallest change that counts as an improvement"},
    {F(restore_best_weights), K_BOOL, 0, 1, 0, 0, "true or false", {0}, "early stopping: go back to the best epoch's weights when it stops"},
    {F(embedding_init), K_ENUM, 0, 1, 0, 0, "\"uniform\" or \"word2vec\"", {"uniform", "word2vec"}, "random embedding, or word2vec vectors"},
    {F(trainable_embedding), K_BOOL, 0, 1, 0, 0, "true or false", {0}, "fine-tune the embedding (false: frozen)"},
    {F(w2v_epochs), K_U32, 1, 100, 0, 0, "1..100", {0}, "word2vec passes over the unlabelled reviews"},
    {F(w2v_window), K_U32, 1, 50, 0, 0, "1..50 (word2vec's default is 5)", {0}, "word2vec context window"},
    {F(w2v_negative), K_U32, 1, 50, 0, 0, "1..50 (word2vec's default is 5)", {0}, "word2vec negative samples"},
    {F(w2v_sample), K_F32, 0, 1, 0, 0, "0..1 (0: no subsampling; word2vec's default is 1e-3)", {0}, "word2vec subsampling threshold"},
    {F(w2v_lr), K_F32, 0, 10, 1, 0, "greater than 0 and at most 10 (word2vec's default is 0.025)", {0}, "word2vec learning rate"},
    {F(val_size), K_U32, 0, 4294967295.0, 0, 0, "0..4294967295 (and less than the training split)", {0}, "training reviews held out for validation"},
    {F(train_size), K_U32, 0, 4294967295.0, 0, 0, "0..4294967295 (0: all reviews left after validation)", {0}, "training reviews (0: all left after validation)"},
    {F(seed), K_U64, 0, SEED_MAX, 0, 0, "0..9007199254740991 (2^53-1, the largest integer JSON keeps exactly)", {0}, "seed for shuffling and initialisation"},
    {F(bigrams), K_U32, 0, 4000000, 0, 0, "0..4000000 (\"ngram\" only; 0: unigrams only)", {0},
     "ngram model: the most frequent bigrams of the training reviews that get their own embedding rows"},
    {F(nb_weighting), K_BOOL, 0, 1, 0, 0, "true or false (\"ngram\" only)", {0},
     "ngram model: weigh each word and bigram by how much more often it appears in one class (NBSVM)"},
    {F(heads), K_U32, 1, 64, 0, 0, "1..64 (\"transformer\" only; embed_dim must be a multiple)", {0},
     "transformer: attention heads per block"},
    {F(blocks), K_U32, 1, NN_TFM_MAX_BLOCKS, 0, 0, "1..4 (\"transformer\" only; NN_TFM_MAX_BLOCKS)", {0},
     "transformer: encoder blocks (attention, then feed-forward)"},
    {F(ff_dim), K_U32, 1, 8192, 0, 0, "1..8192 (\"transformer\" only; BERT uses 4 x embed_dim)", {0},
     "transformer: width of the feed-forward layer of each block"},
    {F(warmup_steps), K_U32, 0, 4294967295.0, 0, 0, "0..4294967295 (\"transformer\" only; 0: no warm-up)", {0},
     "transformer: steps over which the learning rate rises to lr, before it falls linearly to 0"},
    {F(weight_decay), K_F32, 0, 1, 0, 0, "0..1 (\"transformer\" only; BERT uses 0.01)", {0},
     "transformer: AdamW's weight decay of the weight matrices and embeddings"},
    {F(alibi), K_BOOL, 0, 1, 0, 0, "true or false (\"transformer\" only)", {0},
     "transformer: each attention head scores a word lower the farther it is (ALiBi), so heads find neighbours"},
    {F(positions), K_ENUM, 0, 1, 0, 0, "\"uniform\" or \"sinusoid\" (\"transformer\" only)", {"uniform", "sinusoid"},
     "transformer: the position table starts as noise, or as sinusoids (a shift is then one linear map)"},
    {F(mlm_lr), K_F32, 0, 10, 1, 0, "greater than 0 and at most 10 (\"transformer\" only)", {0},
     "transformer: masked-language-model pretraining's peak learning rate"},
    {F(mlm_warmup_steps), K_U32, 0, 4294967295.0, 0, 0, "0..4294967295 (\"transformer\" only; 0: no warm-up)", {0},
     "transformer: pretraining's warm-up steps, before its rate falls linearly to 0"},
};
#undef F
#define NFIELDS (sizeof FIELDS / sizeof FIELDS[0])

static double field_get(const nn_config *c, const field *f) {
    const char *p = (const char *)c + f->off;
    switch (f->kind) {
    case K_U32: return (double)*(const uint32_t *)p;
    case K_U64: return (double)*(const uint64_t *)p;
    case K_F32: return (double)*(const float *)p;
    case K_ENUM:
    case K_BOOL: return (double)*(const int *)p;
    case K_STR: return 0; /* checked by check_string */
    }
    return 0;
}

static int in_range(const field *f, double x) {
    if (!isfinite(x)) return 0;
    if (f->lo_open ? !(x > f->lo) : !(x >= f->lo)) return 0;
    if (f->hi_open ? !(x < f->hi) : !(x <= f->hi)) return 0;
    return 1;
}

/* "vocab_size, maxlen, ..." for messages: every key, in FIELDS order. */
static const char *valid_keys(char *out, size_t cap) {
    size_t n = 0;
    out[0] = 0;
    for (size_t i = 0; i < NFIELDS && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? ", " : "", FIELDS[i].name);
    return out;
}

/* See json.h. */
double nn_json_float(float f) {
    char buf[40];
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, (double)f);
        double d = strtod(buf, NULL);
        if ((float)d == f) return d;
    }
    return (double)f;
}

/* --------------------------------------------------------------- checking */

/* A string field: NUL-terminated inside its array, and (the one string,
 * stopwords) a valid stop-word list. */
static int check_string(const nn_config *c, const field *f, nn_error *err) {
    const char *p = (const char *)c + f->off;
    if (!memchr(p, 0, NN_STOPWORDS_SPEC_MAX))
        return nn_fail(err, NN_ERR_ARG, "config \"%s\" is longer than %d bytes; allowed: %s",
                       f->name, NN_STOPWORDS_SPEC_MAX - 1, f->range);
    nn_error e = {0};
    if (nn_stopwords_check(p, &e) != NN_OK)
        return nn_fail(err, NN_ERR_ARG, "config \"%s\": %s", f->name, e.msg);
    return NN_OK;
}

static int check_field(const nn_config *c, const field *f, nn_error *err) {
    if (f->kind == K_STR) return check_string(c, f, err);
    double x = field_get(c, f);
    if (in_range(f, x)) return NN_OK;
    if (f->kind == K_ENUM || f->kind == K_BOOL)
        return nn_fail(err, NN_ERR_ARG, "config \"%s\" is %d, not a valid choice; allowed: %s",
                       f->name, *(const int *)((const char *)c + f->off), f->range);
    if (f->kind == K_F32)
        return nn_fail(err, NN_ERR_ARG, "config \"%s\" is %g; allowed: %s; set %s within that range",
                       f->name, x, f->range, f->name);
    return nn_fail(err, NN_ERR_ARG, "config \"%s\" is %.0f; allowed: %s; set %s within that range",
                   f->name, x, f->range, f->name);
}

static const nn_split *find_split(const nn_shard *s, const char *name) {
    for (uint32_t i = 0; i < s->nsplits && i < NN_SHARD_MAX_SPLITS; i++)
        if (strncmp(s->split[i].name, name, sizeof s->split[i].name) == 0) return &s->split[i];
    return NULL;
}

int nn_config_check(const nn_config *c, const nn_shard *shard, nn_error *err) {
    for (size_t i = 0; i < NFIELDS; i++) {
        int rc = check_field(c, &FIELDS[i], err);
        if (rc) return rc;
    }
    if (c->patience > 0 && c->val_size == 0)
        return nn_fail(err, NN_ERR_ARG,
                       "early stopping (patience %u) watches the validation set, but val_size "
                       "is 0; set val_size above 0 or patience to 0",
                       c->patience);
    if (c->model != NN_MODEL_MLP && c->classes > NN_MAX_TEXT_CLASSES)
        return nn_fail(err, NN_ERR_ARG,
                       "config \"classes\" is %u, but a text model tells at most %d classes apart "
                       "(NN_MAX_TEXT_CLASSES); set classes within 2..%d",
                       c->classes, NN_MAX_TEXT_CLASSES, NN_MAX_TEXT_CLASSES);
    if (c->model == NN_MODEL_TRANSFORMER && c->embed_dim % c->heads != 0)
        return nn_fail(err, NN_ERR_ARG,
                       "model \"transformer\" splits embed_dim %u among %u heads, which does not "
                       "divide it; choose embed_dim a multiple of heads",
                       c->embed_dim, c->heads);
    /* The transformer's head is one sigmoid logit (two classes) for now. */
    if (c->model == NN_MODEL_TRANSFORMER && c->classes > 2)
        return nn_fail(err, NN_ERR_ARG,
                       "model \"transformer\" has a sigmoid head for 2 classes, but classes is %u; "
                       "set classes to 2 (more classes are not supported by it yet)",
                       c->classes);
    if (!shard) return NN_OK;
    if (c->model == NN_MODEL_MLP)
        return nn_fail(err, NN_ERR_ARG,
                       "model \"mlp\" trains on images, but this is a text shard; load an image "
                       "shard (data/fashion.shard, built by scripts/setup.sh) or choose a text "
                       "model (\"bag\", \"lstm\", ...)");

    uint32_t shard_classes = shard->classes ? shard->classes : 2; /* 0: a shard built by hand */
    if (c->classes != shard_classes)
        return nn_fail(err, NN_ERR_ARG,
                       "classes is %u but the shard's labels have %u classes; set classes to %u "
                       "(the shard's)",
                       c->classes, shard_classes, shard_classes);
    if (shard->vocab.V > 0 && c->vocab_size > shard->vocab.V)
        return nn_fail(err, NN_ERR_ARG,
                       "vocab_size is %u but the shard has %u ids; rebuild it with a larger "
                       "--vocab-size or choose at most %u",
                       c->vocab_size, shard->vocab.V, shard->vocab.V);
    if (shard->max_tokens > 0 && c->maxlen > shard->max_tokens)
        return nn_fail(err, NN_ERR_ARG,
                       "maxlen is %u but the shard keeps at most %u ids per review, so longer "
                       "reviews were already cut; rebuild it with a larger --max-tokens "
                       "or choose maxlen at most %u",
                       c->maxlen, shard->max_tokens, shard->max_tokens);
    const nn_split *train = find_split(shard, "train");
    if (!train)
        return nn_fail(err, NN_ERR_ARG,
                       "the shard has no \"train\" split; rebuild it with imdb_build_shard "
                       "from the aclImdb archive");
    uint64_t n = train->n;
    if ((uint64_t)c->val_size + 1 > n)
        return nn_fail(err, NN_ERR_ARG,
                       "val_size is %u but the shard's \"train\" split has %u reviews, which "
                       "leaves none to train on; choose val_size at most %u",
                       c->val_size, train->n, train->n > 0 ? train->n - 1 : 0);
    if (c->train_size > 0 && (uint64_t)c->val_size + c->train_size > n)
        return nn_fail(err, NN_ERR_ARG,
                       "val_size %u plus train_size %u is more than the %u reviews of the "
                       "shard's \"train\" split; choose train_size at most %u, or 0 for all "
                       "the reviews left after validation",
                       c->val_size, c->train_size, train->n, (uint32_t)(n - c->val_size));
    return NN_OK;
}

/* ------------------------------------------------------------------- JSON */

static const char *json_type_name(const cJSON *x) {
    if (cJSON_IsString(x)) return "a string";
    if (cJSON_IsNumber(x)) return "a number";
    if (cJSON_IsBool(x)) return "a boolean";
    if (cJSON_IsNull(x)) return "null";
    if (cJSON_IsArray(x)) return "an array";
    if (cJSON_IsObject(x)) return "an object";
    return "an unknown value";
}

/* Sets one field of c from a JSON value, checking type and range. */
static int set_field(nn_config *c, const field *f, const cJSON *x, nn_error *err) {
    char *p = (char *)c + f->off;
    if (f->kind == K_STR) {
        if (!cJSON_IsString(x))
            return nn_fail(err, NN_ERR_ARG,
                           "config key \"%s\" must be a string, not %s; e.g. \"%s\": \"@english\"",
                           f->name, json_type_name(x), f->name);
        size_t n = strlen(x->valuestring);
        if (n > (size_t)f->hi)
            return nn_fail(err, NN_ERR_ARG, "config key \"%s\" is %zu bytes long; allowed: at most "
                           "%.0f bytes, %s", f->name, n, f->hi, f->range);
        nn_error e = {0};
        if (nn_stopwords_check(x->valuestring, &e) != NN_OK)
            return nn_fail(err, NN_ERR_ARG, "config key \"%s\": %s", f->name, e.msg);
        memcpy(p, x->valuestring, n + 1);
        return NN_OK;
    }
    if (f->kind == K_BOOL) {
        if (!cJSON_IsBool(x))
            return nn_fail(err, NN_ERR_ARG,
                           "config key \"%s\" must be true or false, not %s; write it without "
                           "quotes, e.g. \"%s\": true",
                           f->name, json_type_name(x), f->name);
        *(int *)p = cJSON_IsTrue(x) ? 1 : 0;
        return NN_OK;
    }
    if (f->kind == K_ENUM) {
        if (!cJSON_IsString(x))
            return nn_fail(err, NN_ERR_ARG,
                           "config key \"%s\" must be the string %s, not %s; write it in quotes, "
                           "e.g. \"%s\": \"%s\"",
                           f->name, f->range, json_type_name(x), f->name, f->names[0]);
        for (int v = 0; v <= (int)f->hi; v++)
            if (strcmp(x->valuestring, f->names[v]) == 0) {
                *(int *)p = v;
                return NN_OK;
            }
        return nn_fail(err, NN_ERR_ARG, "config key \"%s\" is \"%.64s\"; allowed: %s", f->name,
                       x->valuestring, f->range);
    }
    if (!cJSON_IsNumber(x)) {
        nn_config example;
        nn_config_default(&example);
        return nn_fail(err, NN_ERR_ARG,
                       "config key \"%s\" must be a number, not %s; write it without quotes, "
                       "e.g. \"%s\": %g",
                       f->name, json_type_name(x), f->name,
                       f->kind == K_F32 ? nn_json_float(*(const float *)((const char *)&example + f->off))
                                        : field_get(&example, f));
    }
    double d = x->valuedouble;
    if (f->kind == K_F32) {
        /* Range-check the float actually stored: 1e-50 becomes 0. */
        float v = (float)d;
        if (!in_range(f, d) || !in_range(f, (double)v))
            return nn_fail(err, NN_ERR_ARG,
                           "config key \"%s\" is %.9g; allowed: %s; set it within that range",
                           f->name, d, f->range);
        *(float *)p = v;
        return NN_OK;
    }
    if (!in_range(f, d) || d != floor(d))
        return nn_fail(err, NN_ERR_ARG,
                       "config key \"%s\" is %.17g; allowed: a whole number in %s; set it "
                       "within that range",
                       f->name, d, f->range);
    if (f->kind == K_U32) *(uint32_t *)p = (uint32_t)d;
    else *(uint64_t *)p = (uint64_t)d;
    return NN_OK;
}

/* Line and column (1-based) of byte pos in text. */
static void line_col(const char *text, size_t pos, size_t *line, size_t *col) {
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < pos && text[i]; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

int nn_config_from_json(nn_config *c, const char *json, nn_error *err) {
    if (!json)
        return nn_fail(err, NN_ERR_ARG, "no config JSON was given; pass an object such as "
                                        "{\"epochs\": 10}");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json, &end, 1);
    if (!root) {
        size_t len = strlen(json);
        size_t pos = end && end >= json && (size_t)(end - json) <= len ? (size_t)(end - json) : len;
        size_t line, col;
        line_col(json, pos, &line, &col);
        if (len == 0)
            return nn_fail(err, NN_ERR_ARG, "config JSON is empty; pass an object such as "
                                            "{\"epochs\": 10}");
        int near = 0; /* up to 20 bytes of context, on one line */
        while (near < 20 && json[pos + near] && json[pos + near] != '\n' && json[pos + near] != '\r')
            near++;
        return nn_fail(err, NN_ERR_ARG,
                       "config is not valid JSON: syntax error at line %zu, column %zu (byte %zu)%s"
                       "%.*s%s; fix the JSON there",
                       line, col, pos, near ? " near \"" : " at the end", near, json + pos,
                       near ? "\"" : "");
    }
    if (!cJSON_IsObject(root)) {
        int rc = nn_fail(err, NN_ERR_ARG,
                         "config JSON must be an object such as {\"epochs\": 10}, not %s",
                         json_type_name(root));
        cJSON_Delete(root);
        return rc;
    }
    /* Work on a copy: on any error c is left as it was. */
    nn_config tmp = *c;
    int rc = NN_OK;
    for (const cJSON *x = root->child; x && rc == NN_OK; x = x->next) {
        const field *f = NULL;
        for (size_t i = 0; i < NFIELDS; i++)
            if (x->string && strcmp(x->string, FIELDS[i].name) == 0) f = &FIELDS[i];
        if (!f) {
            char keys[1024];
            rc = nn_fail(err, NN_ERR_ARG, "unknown config key \"%.64s\"; valid keys are: %s",
                         x->string ? x->string : "", valid_keys(keys, sizeof keys));
            break;
        }
        rc = set_field(&tmp, f, x, err);
    }
    cJSON_Delete(root);
    if (rc == NN_OK) *c = tmp;
    return rc;
}

char *nn_config_to_json(const nn_config *c) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    int ok = 1;
    for (size_t i = 0; i < NFIELDS && ok; i++) {
        const field *f = &FIELDS[i];
        const char *p = (const char *)c + f->off;
        cJSON *x = NULL;
        switch (f->kind) {
        case K_ENUM: {
            int v = *(const int *)p;
            /* An out-of-range enum cannot be written as a valid string; write
             * its number so nn_config_from_json reports it by name. */
            x = (v >= 0 && v <= (int)f->hi) ? cJSON_AddStringToObject(root, f->name, f->names[v])
                                            : cJSON_AddNumberToObject(root, f->name, v);
            break;
        }
        case K_BOOL: {
            int v = *(const int *)p;
            x = (v == 0 || v == 1) ? cJSON_AddBoolToObject(root, f->name, v)
                                   : cJSON_AddNumberToObject(root, f->name, v);
            break;
        }
        case K_F32: {
            float v = *(const float *)p;
            x = isfinite(v) ? cJSON_AddNumberToObject(root, f->name, nn_json_float(v))
                            : cJSON_AddNullToObject(root, f->name);
            break;
        }
        case K_STR: {
            /* Never past the array, even for a config that fails its check. */
            char text[NN_STOPWORDS_SPEC_MAX];
            const char *q = (const char *)c + f->off;
            const char *nul = memchr(q, 0, NN_STOPWORDS_SPEC_MAX);
            size_t n = nul ? (size_t)(nul - q) : NN_STOPWORDS_SPEC_MAX - 1;
            memcpy(text, q, n);
            text[n] = 0;
            x = cJSON_AddStringToObject(root, f->name, text);
            break;
        }
        case K_U32:
        case K_U64: {
            /* Written as raw digits: cJSON prints numbers with 15 significant
             * digits when that reads back "close enough", which loses seeds
             * above 10^15. */
            char digits[24];
            unsigned long long v = f->kind == K_U32 ? *(const uint32_t *)p : *(const uint64_t *)p;
            snprintf(digits, sizeof digits, "%llu", v);
            x = cJSON_AddRawToObject(root, f->name, digits);
            break;
        }
        }
        ok = x != NULL;
    }
    char *s = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return s;
}

/* The FIELDS table as JSON for the page's settings table (nnw_config_schema):
 * [{"key", "kind", "min", "max", "min_open", "max_open", "choices" (enums),
 *   "default", "range", "doc"}, ...] in FIELDS order. The defaults are
 * nn_config_default's, as nn_config_to_json writes them; a string's
 * min/max are its length in bytes. */
char *nn_config_schema_json(void) {
    static const char *const KIND_NAMES[] = {[K_U32] = "int", [K_U64] = "int", [K_F32] = "float",
                                             [K_ENUM] = "enum", [K_BOOL] = "bool", [K_STR] = "string"};
    nn_config def;
    nn_config_default(&def);
    char *def_text = nn_config_to_json(&def);
    cJSON *defaults = def_text ? cJSON_Parse(def_text) : NULL;
    free(def_text);
    cJSON *root = cJSON_CreateArray();
    int ok = root && defaults;
    for (size_t i = 0; i < NFIELDS && ok; i++) {
        const field *f = &FIELDS[i];
        cJSON *o = cJSON_CreateObject();
        ok = o && cJSON_AddItemToArray(root, o);
        if (!ok) {
            cJSON_Delete(o);
            break;
        }
        ok &= cJSON_AddStringToObject(o, "key", f->name) != NULL;
        ok &= cJSON_AddStringToObject(o, "kind", KIND_NAMES[f->kind]) != NULL;
        ok &= cJSON_AddNumberToObject(o, "min", f->lo) != NULL;
        ok &= cJSON_AddNumberToObject(o, "max", f->hi) != NULL;
        ok &= cJSON_AddBoolToObject(o, "min_open", f->lo_open) != NULL;
        ok &= cJSON_AddBoolToObject(o, "max_open", f->hi_open) != NULL;
        if (f->kind == K_ENUM) {
            cJSON *choices = cJSON_AddArrayToObject(o, "choices");
            ok &= choices != NULL;
            for (int v = 0; ok && v <= (int)f->hi; v++) {
                cJSON *c = cJSON_CreateString(f->names[v]);
                ok &= c && cJSON_AddItemToArray(choices, c);
            }
        }
        cJSON *d = cJSON_DetachItemFromObjectCaseSensitive(defaults, f->name);
        ok &= d && cJSON_AddItemToObject(o, "default", d);
        ok &= cJSON_AddStringToObject(o, "range", f->range) != NULL;
        ok &= cJSON_AddStringToObject(o, "doc", f->doc) != NULL;
    }
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    cJSON_Delete(defaults);
    return text;
}
