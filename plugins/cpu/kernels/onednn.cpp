#include "plugins/cpu/kernels/onednn.h"

#include <omp.h>

namespace mg::cpu {

void use_one_openmp_thread() {
  // omp_set_num_threads allocates per-thread state in libgomp that is never freed, so it
  // is called only when the process did not already ask for one thread (OMP_NUM_THREADS=1,
  // which modelgate sets).
  thread_local const bool single_threaded =
      omp_get_max_threads() == 1 || (omp_set_num_threads(1), true);
  (void)single_threaded;
}

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine = [] {
    // Each Conv node keeps its own primitives (KernelState) and drops them with its model;
    // oneDNN's process-wide cache would keep up to 1024 more alive after models unload.
    dnnl::set_primitive_cache_capacity(0);
    return dnnl::engine(dnnl::engine::kind::cpu, 0);
  }();
  return engine;
}

dnnl::stream& thread_stream() {
  thread_local dnnl::stream stream(cpu_engine());
  return stream;
}

}  // namespace mg::cpu
