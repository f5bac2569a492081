#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace mg {

// The nearest-rank q-quantile (0 < q <= 1) of samples taken by value (they are reordered);
// 0 for none. Used for the p50/p99 of evaluations and of shadow copies.
inline double nearest_rank_percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
  const std::size_t index = rank == 0 ? 0 : rank - 1;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(index),
                   values.end());
  return values[index];
}

}  // namespace mg
