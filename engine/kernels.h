/* kernels.h: the engine's hot loops, each in two versions.
 *
 * nn_k_*        the SIMD kernel, written with wasm_simd128.h intrinsics
 *               (natively compiled through SIMDe's simde/wasm/simd128.h), in
 *               kernels_simd.c. This is what the layers call.
 * nn_k_*_ref    the scalar reference, in kernels_ref.c: plain loops, the
 *               definition the SIMD kernel is tested against.
 *
 * Kernels know nothing of layers or models: pointers and sizes only. No
 * pointer needs any alignment; tails are handled without reading or writing
 * past n. Reductions use four accumulators, so a SIMD result may differ from
 * the reference by rounding only.
 *
 * Shapes use the letters of nn.h: T tokens, E embedding width, V vocabulary.
 */
#ifndef NN_KERNELS_H
#define NN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* out (E) = sum over t of table[ids[t]] (E); table (V,E) */
void nn_k_gather_sum(float *out, const float *table, const uint16_t *ids, size_t T, size_t E);
void nn_k_gather_sum_ref(float *out, const float *table, const uint16_t *ids, size_t T, size_t E);

/* table[ids[t]] (E) += scale * row (E), for every t */
void nn_k_scatter_add(float *table, const float *row, float scale, const uint16_t *ids, size_t T, size_t E);
void nn_k_scatter_add_ref(float *table, const float *row, float scale, const uint16_t *ids, size_t T, size_t E);

/* [*start, *end): the span from the first to the last nonzero id of ids (n),
 * where padding (id 0) only fills the ends of a padded review; both n (an
 * empty span) when every id is 0. */
void nn_k_nonzero_span(const uint16_t *ids, size_t n, size_t *start, size_t *end);
void nn_k_nonzero_span_ref(const uint16_t *ids, size_t n, size_t *start, size_t *end);

/* A dense layer's forward pass: out (B,OC) = b (OC) + the dot products of
 * every row of x (B,C) with every row of w (OC,C). Each out[i,o] is bit for
 * bit b[o] + nn_k_dot(x_i, w_o, C) (the SIMD dot: four accumulators), computed
 * four outputs at a time, so the layers may call either. The reference uses
 * nn_k_dot_ref and so differs from the SIMD kernel by rounding only. */
void nn_k_dense_forward(float *out, const float *x, const float *w, const float *b,
                        size_t B, size_t C, size_t OC);
void nn_k_dense_forward_ref(float *out, const float *x, const float *w, const float *b,
                            size_t B, size_t C, size_t OC);

/* A dense layer's backward pass, adding into dinp (B,C) (unless NULL), dw
 * (OC,C), db (OC) from dout (B,OC), inp (B,C), w (OC,C): for each row i in
 * order, each output o with dout[i,o] != 0 (a ReLU zeroes many):
 * db[o] += g, dw[o] += g * inp[i] and dinp[i] += g * w[o] (axpys). */
void nn_k_dense_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                         const float *w, size_t B, size_t C, size_t OC);
void nn_k_dense_backward_ref(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                             const float *w, size_t B, size_t C, size_t OC);

/* y (n) += a * x (n) */
void nn_k_axpy(float *y, float a, const float *x, size_t n);
void nn_k_axpy_ref(float *y, float a, const float *x, size_t n);

/* The n-gram model's rows (engine/ngram.c), without a call per row: in wasm
 * a memcpy or memset of a variable size is memory.copy/fill, which V8 runs
 * as a call into the host, and a call per 8-float row cost more than the
 * row itself.
 * rows_axpy: for k = 0, 1, ..., n-1 in order, out (E) += w_k * table[feat[k]]
 * (E floats), w_k = weight ? weight[feat[k]] : 1: nn_k_axpy per row, bit for bit.
 * scatter_rows_axpy: for k in order, table[feat[k]] (E) += a_k * row (E),
 * a_k = weight ? scale * weight[feat[k]] : scale: nn_k_axpy per row.
 * copy / zero: dst (n) = src (n); p (n) = 0 (memcpy / memset of n floats). */
void nn_k_rows_axpy(float *out, const float *table, const uint32_t *feat, const float *weight,
                    size_t n, size_t E);
void nn_k_rows_axpy_ref(float *out, const float *table, const uint32_t *feat, const float *weight,
                        size_t n, size_t E);
void nn_k_scatter_rows_axpy(float *table, const float *row, float scale, const uint32_t *feat,
                            const float *weight, size_t n, size_t E);
void nn_k_scatter_rows_axpy_ref(float *table, const float *row, float scale, const uint32_t *feat,
                                const float *weight, size_t n, size_t E);
void nn_k_copy(float *dst, const float *src, size_t n);
void nn_k_copy_ref(float *dst, const float *src, size_t n);
void nn_k_zero(float *p, size_t n);
void nn_k_zero_ref(float *p, size_t n);

/* y (n) *= a */
void nn_k_scale(float *y, float a, size_t n);
void nn_k_scale_ref(float *y, float a, size_t n);

/* sum over i of a[i] * b[i] */
float nn_k_dot(const float *a, const float *b, size_t n);
float nn_k_dot_ref(const float *a, const float *b, size_t n);

/* out (n) = max(inp, 0) */
void nn_k_relu(float *out, const float *inp, size_t n);
void nn_k_relu_ref(float *out, const float *inp, size_t n);

/* dinp (n) += dout where out > 0 */
void nn_k_relu_backward(float *dinp, const float *dout, const float *out, size_t n);
void nn_k_relu_backward_ref(float *dinp, const float *dout, const float *out, size_t n);

/* Binary cross-entropy from logits z against labels y, computed stably
 * (the TensorFlow sigmoid_cross_entropy_with_logits form):
 * returns the sum over i of max(z,0) - z*y + log(1 + exp(-|z|)); writes
 * dlogit[i] = (sigmoid(z) - y) * gscale unless dlogit is NULL; adds to
 * *correct the number of i with (z > 0) == (y > 0.5). */
float nn_k_bce_logits(float *dlogit, const float *logit, const float *label, float gscale,
                      size_t n, uint32_t *correct);
float nn_k_bce_logits_ref(float *dlogit, const float *logit, const float *label, float gscale,
                          size_t n, uint32_t *correct);

/* Adam (Kingma & Ba 2015) in the TF/Keras form: the bias correction is folded
 * into lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t) by the caller, and eps is added
 * to sqrt(v):  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g*g;
 *              out = p - lr_t * m / (sqrt(v) + eps).
 * out may be p (in place) or another buffer (the trainer's double-buffered
 * parameters: p then keeps the weights before the step). Returns 1 when
 * every out[i] is finite, 0 when any is an infinity or a NaN (the check of
 * nn_k_all_finite, done on the way). */
int nn_k_adam(float *out, const float *p, const float *g, float *m, float *v, size_t n,
              float lr_t, float b1, float b2, float eps);
int nn_k_adam_ref(float *out, const float *p, const float *g, float *m, float *v, size_t n,
                  float lr_t, float b1, float b2, float eps);

/* Adam in place on rows of E floats (the n-gram model's lazy step): for
 * each k in order, undo[k] (E) = p's row rows[k] as it was, then nn_k_adam
 * on that row of p, g, m, v, then that row of g is zeroed (the step uses
 * the gradient up; clearing it while it is in the cache saves zero_grad a
 * second random access). Returns 1 when every new weight is finite. */
int nn_k_adam_rows(float *p, float *g, float *m, float *v, float *undo, const uint32_t *rows,
                   size_t nrows, size_t E, float lr_t, float b1, float b2, float eps);
int nn_k_adam_rows_ref(float *p, float *g, float *m, float *v, float *undo, const uint32_t *rows,
                       size_t nrows, size_t E, float lr_t, float b1, float b2, float eps);

/* out (n) = p (n) - lr * g (n); out may be p. Returns 1 when every out[i]
 * is finite, like nn_k_adam. */
int nn_k_sgd(float *out, const float *p, const float *g, size_t n, float lr);
int nn_k_sgd_ref(float *out, const float *p, const float *g, size_t n, float lr);

/* 1 when every x[i] (n) is finite, 0 when any is an infinity or a NaN: the
 * trainer's check that an update kept the weights usable. */
int nn_k_all_finite(const float *x, size_t n);
int nn_k_all_finite_ref(const float *x, size_t n);

/* ----------------------------------------------- the recurrent layers' hot loops
 *
 * Matrix products for the gates of a whole batch, all matrices row-major and
 * dense. Each out[m,n] adds its K products to itself one at a time in order
 * k = 0, 1, ..., K-1 (out += a*b, two roundings per product, no FMA), so the
 * SIMD kernels equal their references bit for bit, however they block. */

/* out (M,N) += a (M,K) . b (K,N) */
void nn_k_matmul_acc(float *out, const float *a, const float *b, size_t M, size_t K, size_t N);
void nn_k_matmul_acc_ref(float *out, const float *a, const float *b, size_t M, size_t K, size_t N);

/* out (M,N) += a^T . b with a (K,M), b (K,N): the weight gradients, summed
 * over all K = T*B rows of a batch */
void nn_k_matmul_tn_acc(float *out, const float *a, const float *b, size_t M, size_t K, size_t N);
void nn_k_matmul_tn_acc_ref(float *out, const float *a, const float *b, size_t M, size_t K, size_t N);

/* The same product on sub-matrices: out (M,N) rows ldo floats apart, a
 * (K,M) rows lda apart, b (K,N) rows ldb apart; so a block of columns of the
 * weight gradient is computed on its own (one thread's share), with the same
 * sums in the same order. */
void nn_k_matmul_tn_acc_ld(float *out, size_t ldo, const float *a, size_t lda, const float *b,
                           size_t ldb, size_t M, size_t K, size_t N);

/* out (n) = 1 / (1 + exp(-x)), computed as z >= 0 ? 1/(1+e) : e/(1+e) with
 * e = exp(-|x|) so it never overflows; in place allowed; NaN stays NaN. */
void nn_k_sigmoid(float *out, const float *inp, size_t n);
void nn_k_sigmoid_ref(float *out, const float *inp, size_t n);

/* out (n) = tanh(x); in place allowed; NaN stays NaN, tanh(-0) = -0. */
void nn_k_tanh(float *out, const float *inp, size_t n);
void nn_k_tanh_ref(float *out, const float *inp, size_t n);

/* ------------------------------------------- the Transformer encoder's kernels
 *
 * (engine/layers_attn.c). The encoder's dense layers reuse nn_k_matmul_acc
 * and nn_k_matmul_tn_acc(_ld) through nn_linear_*; attention multiplies
 * sub-matrices of the (B,T,3E) q,k,v block, hence the strided product. */

/* out (M,N) += a (M,K) . b (K,N), rows ldo, lda, ldb floats apart; each
 * out[m,n] adds its products in k order, so bit for bit the reference. */
void nn_k_matmul_acc_ld(float *out, size_t ldo, const float *a, size_t lda, const float *b,
                        size_t ldb, size_t M, size_t K, size_t N);
void nn_k_matmul_acc_ld_ref(float *out, size_t ldo, const float *a, size_t lda, const float *b,
                            size_t ldb, size_t M, size_t K, size_t N);

/* p (n) = softmax(scale * z (n)), stably: s_i = scale*z_i, m = max s_i,
 * p_i = exp(s_i - m) / sum_j exp(s_j - m) (multiplied by 1/sum). A z_i of
 * -inf (a masked key) gives p_i = 0 exactly. At least one z_i must be
 * finite. The SIMD kernel has its own exp (bce's, 1 ulp) and four-lane sums,
 * so it differs from the reference by rounding only. */
void nn_k_softmax_scaled(float *p, const float *z, float scale, size_t n);
void nn_k_softmax_scaled_ref(float *p, const float *z, float scale, size_t n);

/* Layer normalisation of one row (Ba, Kiros & Hinton 2016), biased variance
 * as in PyTorch's LayerNorm: mean = sum x / n, var = sum (x-mean)^2 / n,
 * rstd = 1/sqrt(var + eps), out_i = ((x_i - mean) * rstd) * w_i + b_i.
 * Writes *mean and *rstd for the backward pass. Sums in four lanes: rounding
 * differs from the reference. */
void nn_k_layernorm(float *out, float *mean, float *rstd, const float *x, const float *w,
                    const float *b, size_t n, float eps);
void nn_k_layernorm_ref(float *out, float *mean, float *rstd, const float *x, const float *w,
                        const float *b, size_t n, float eps);

/* GELU, tanh approximation (Hendrycks & Gimpel 2016, eq. in sec. 2; the form
 * GPT-2 and BERT use): out = 0.5*x*(1 + tanh(c*(x + 0.044715*x^3))),
 * c = sqrt(2/pi). In place allowed. The SIMD kernel uses the tanh of
 * nn_k_tanh (4 ulp from tanhf), so it differs by rounding only. */
void nn_k_gelu(float *out, const float *inp, size_t n);
void nn_k_gelu_ref(float *out, const float *inp, size_t n);

/* dinp (n) += dout * gelu'(x), with t = tanh(c*(x + 0.044715*x^3)):
 * gelu'(x) = 0.5*(1 + t) + 0.5*x*(1 - t*t)*c*(1 + 3*0.044715*x^2). */
void nn_k_gelu_backward(float *dinp, const float *dout, const float *inp, size_t n);
void nn_k_gelu_backward_ref(float *dinp, const float *dout, const float *inp, size_t n);

#endif
