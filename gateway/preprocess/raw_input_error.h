#pragma once

#include <stdexcept>

namespace mg::gateway {

// A raw input (an image file, a text) that cannot become the model's tensor. The message
// says why, for the 400 the request gets.
class RawInputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace mg::gateway
