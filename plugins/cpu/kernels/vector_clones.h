// MG_VECTOR_CLONES: GCC's function multi-versioning, one body per listed target and a
// resolver that picks by the CPU at load. Elsewhere (clang builds the fuzzers) the
// baseline alone, and under ThreadSanitizer too: a resolver linked into an executable
// runs while the program is relocated, before TSan's runtime starts, and crashes in its
// instrumentation.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define MG_VECTOR_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MG_VECTOR_CLONES
#endif
