/* runtime/multiversion.h: how hot loops are compiled for several x86-64 levels at once.
 * CN_MULTIVERSION makes GCC build a function for AVX-512, AVX2 and baseline x86-64 and
 * pick one at load time; floating-point contraction stays off (ISO C), so every version
 * rounds alike. Off under the sanitizers and other compilers (one plain version). */
#ifndef CN_MULTIVERSION_H
#define CN_MULTIVERSION_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define CN_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CN_MULTIVERSION
#endif

#endif
