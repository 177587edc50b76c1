/* runtime/rng.h: the seeded random generator (xoshiro256**) behind init, dropout and shuffling. */
#ifndef CN_RNG_H
#define CN_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct Rng {
    uint64_t s[4];
} Rng;

void     rng_seed(Rng *r, uint64_t seed);
/* An independent stream for (seed, a, b): e.g. (seed, epoch, sample index), so a sample's
 * random draws do not depend on which thread or in which order it is processed. */
void     rng_seed3(Rng *r, uint64_t seed, uint64_t a, uint64_t b);
uint64_t rng_u64(Rng *r);
float    rng_uniform(Rng *r);                 /* [0, 1), 24 random bits */
/* u[0..n) = n draws of rng_uniform, in order (the same values, faster) */
void     rng_uniform_fill(Rng *r, float *u, size_t n);
double   rng_uniform_double(Rng *r);          /* [0, 1), 53 random bits */
uint32_t rng_below(Rng *r, uint32_t n);       /* uniform in [0, n), unbiased */
void     rng_shuffle(Rng *r, int *a, int n);  /* Fisher-Yates */

#endif
