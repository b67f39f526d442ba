/* gradcheck.h: what the finite-difference tests share: the worst relative
 * difference between an analytic gradient (float, the engine's) and a
 * central difference (double), relative to |b| + 1e-3 so that gradients
 * near zero are judged by their absolute error. NaN counts as the worst. */
#ifndef GRADCHECK_H
#define GRADCHECK_H
#include <math.h>
#include <stddef.h>

static double maxrel(const float *a, const double *b, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]) / (fabs(b[i]) + 1e-3);
        if (!(d <= worst)) worst = d; /* NaN counts as worst */
    }
    return worst;
}

#endif
