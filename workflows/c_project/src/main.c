#include <stdio.h>
#include <stdlib.h>

#include "ops.h"
#include "version.h"

int main(int argc, char **argv) {
    long a = argc > 1 ? strtol(argv[1], NULL, 10) : 6;
    long b = argc > 2 ? strtol(argv[2], NULL, 10) : 7;
    printf("calc %s: %ld + %ld = %ld, %ld * %ld = %ld\n", CALC_VERSION, a, b, add(a, b), a, b,
           mul(a, b));
    return 0;
}
