#pragma once

#include <dnnl.hpp>

namespace mg::cpu {

// Debian's oneDNN parallelises with OpenMP. Parallelism here belongs to the instance's
// own thread pool, so every thread that calls into oneDNN first asks for one OpenMP
// thread (once per thread).
void use_one_openmp_thread();

// The CPU engine every primitive is made for, and the calling thread's own stream on it.
const dnnl::engine& cpu_engine();
dnnl::stream& thread_stream();

}  // namespace mg::cpu
