/* check.h: the tests' one-line-per-check reporting.
 * Every check prints "ok <name> <detail>" or "FAIL <name> <detail>"; a test
 * program returns check_exit_code(), non-zero if anything failed, so a test
 * can never print a verdict and exit 0. */
#ifndef CHECK_H
#define CHECK_H
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int check_failures, check_count;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int check(int ok, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("%s ", ok ? "ok" : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    check_count++;
    if (!ok) check_failures++;
    return ok;
}

static int check_exit_code(void) {
    printf("%d passed, %d failed\n", check_count - check_failures, check_failures);
    if (check_count == 0) {
        printf("FAIL no checks ran\n");
        return 1;
    }
    return check_failures ? 1 : 0;
}
#endif
