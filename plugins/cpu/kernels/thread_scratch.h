#pragma once

#include <cstddef>

namespace mg::cpu {

// The calling thread's scratch for a kernel's intermediates: at least `bytes`, 64-byte
// aligned (page-aligned), kept for the thread's later calls and replaced by a larger one
// when a call needs more (its contents are not kept). Throws std::bad_alloc when it cannot
// be mapped.
//
// Its pages are faulted in by one madvise(MADV_POPULATE_WRITE) when it is made, not one by
// one by the first kernel that writes them: a batched Winograd slice's 7.4 MB (seed CNN)
// took ~19 ms page by page on this project's VM (~10 µs per fault), inside the first batch
// each thread ran, with the socket thread's other requests waiting behind it; populated at
// once, ~2 ms. The first second of a fresh server's CNN p99 went from 43–46 ms to 22–26 ms
// (bench/gateway/first_seconds.sh).
std::byte* thread_scratch(std::size_t bytes);

}  // namespace mg::cpu
