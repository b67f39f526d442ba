/* test_short_sets.c: where a review's first sentence ends (the short-review
 * set read from the archive), on sentences written for this test, and the
 * temperature fitted to labelled logits (metrics.h). */
#include "check.h"
#include "short_sets.h"
#include "../engine/metrics.h"

#include <math.h>
#include <string.h>

static void first_sentence_is(const char *text, const char *want) {
    size_t got = nn_first_sentence_len(text, strlen(text));
    check(got == strlen(want) && !strncmp(text, want, got), "first_sentence of \"%s\" is \"%.*s\" (want \"%s\")",
          text, (int)got, text, want);
}

int main(void) {
    first_sentence_is("A fine film. Then it drags.", "A fine film.");
    first_sentence_is("Wow!! Just wow.", "Wow!!");
    first_sentence_is("Is it good? No.", "Is it good?");
    first_sentence_is("It ends \"badly.\" Sadly.", "It ends \"badly.\"");
    first_sentence_is("Mr. Smith was great. The rest not.", "Mr. Smith was great.");
    first_sentence_is("J. Doe directs it well. Nothing more.", "J. Doe directs it well.");
    first_sentence_is("It cost $3.50 to see. Worth it.", "It cost $3.50 to see.");
    first_sentence_is("Hmm... not sure. Maybe.", "Hmm...");
    first_sentence_is("Great cast<br /><br />Weak plot.", "Great cast");
    first_sentence_is("... and then? It was over.", "... and then?");
    first_sentence_is("<br />Opening line. Second.", "<br />Opening line.");
    first_sentence_is("No full stop at all", "No full stop at all");
    first_sentence_is("Ends at the end.", "Ends at the end.");
    first_sentence_is("", "");

    /* Temperature: logits twice what the labels support are halved. Labels
     * drawn as Bernoulli(sigmoid(z)) in exact proportions: for each z, the
     * positives among 1000 are round(1000 sigmoid(z)); the logits given are 2z,
     * so the fitted T is close to 2. */
    enum { PER = 1000, LEVELS = 9 };
    static float logit[PER * LEVELS];
    static uint8_t label[PER * LEVELS];
    size_t n = 0;
    for (int l = 0; l < LEVELS; l++) {
        double z = -2.0 + 0.5 * l, p = 1.0 / (1.0 + exp(-z));
        int pos = (int)lround(PER * p);
        for (int k = 0; k < PER; k++, n++) {
            logit[n] = (float)(2 * z);
            label[n] = k < pos;
        }
    }
    double T = nn_fit_temperature(logit, label, n);
    check(fabs(T - 2.0) < 0.02, "fit_temperature of doubled logits is %.4f (want 2 within 0.02)", T);
    double before = nn_log_loss_logits(logit, label, n);
    for (size_t i = 0; i < n; i++) logit[i] = (float)(logit[i] / T);
    double after = nn_log_loss_logits(logit, label, n);
    check(after < before, "fit_temperature lowers the log loss: %.5f -> %.5f", before, after);
    double again = nn_fit_temperature(logit, label, n);
    check(fabs(again - 1.0) < 1e-3, "fit_temperature of calibrated logits is %.5f (want 1)", again);
    check(nn_fit_temperature(logit, label, 0) == 1.0, "fit_temperature of no examples is 1");
    float zeros[3] = {0, 0, 0};
    uint8_t y3[3] = {0, 1, 1};
    check(nn_fit_temperature(zeros, y3, 3) == 1.0, "fit_temperature of zero logits is 1");
    return check_exit_code();
}
