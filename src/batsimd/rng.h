/*
 * rng.h - counter-based random numbers: a value is a pure function of
 * (seed, stream, index), so results never depend on thread count or on
 * the order in which cells are visited.  SplitMix64 finaliser (Steele,
 * Lea, Flood, "Fast splittable pseudorandom number generators", 2014).
 */
#ifndef BATSIMD_RNG_H
#define BATSIMD_RNG_H

#include <math.h>
#include <stdint.h>

static inline uint64_t rng_mix(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in (0, 1). */
static inline double rng_uniform(uint64_t seed, uint64_t stream, uint64_t index)
{
	uint64_t z =
	    rng_mix(seed ^ rng_mix(stream * 0x100000001b3ULL ^ rng_mix(index)));
	return ((double)(z >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* Standard normal (Box-Muller on two uniforms). */
static inline double rng_normal(uint64_t seed, uint64_t stream, uint64_t index)
{
	double u1 = rng_uniform(seed, stream, 2 * index);
	double u2 = rng_uniform(seed, stream, 2 * index + 1);
	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

#endif /* BATSIMD_RNG_H */
