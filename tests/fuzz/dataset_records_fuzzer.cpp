// Fuzzes evaluation datasets: any bytes read as records, and each record scored against
// answers made of the input's own bytes (any floats: NaN, infinities, denormals). A dataset
// either yields records — each header one line, its binary data inside the file, labels or
// targets set — or throws DatasetError; scoring either accumulates or throws DatasetError;
// the figures always serialise to JSON that parses back. Nothing else, no crash.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "gateway/evaluation/dataset_records.h"
#include "gateway/evaluation/scoring.h"
#include "tests/fuzz/fuzz_finding.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace mg::gateway;
  const std::string_view file(reinterpret_cast<const char*>(data), size);
  Scorer scorer(1 + (size % 4));
  try {
    DatasetReader reader(file);
    while (auto record = reader.next()) {
      if (record->header.find('\n') != std::string_view::npos)
        mg::fuzz::finding("header spans lines");
      if (!record->binary.empty() &&
          (record->binary.data() < file.data() ||
           record->binary.data() + record->binary.size() > file.data() + file.size())) {
        mg::fuzz::finding("binary data outside the file");
      }
      if (record->labels.empty() == record->targets.empty())
        mg::fuzz::finding("labels xor targets");
      // Answers from the file's bytes: labels.size() rows of 1..3 values, or one per target.
      const std::size_t rows =
          record->labels.empty() ? record->targets.size() : record->labels.size();
      const std::size_t width = record->labels.empty() ? 1 : 1 + record->number % 3;
      std::vector<float> values(rows * width);
      for (std::size_t i = 0; i < values.size() && size >= 4; ++i) {
        std::memcpy(&values[i], data + (i * 4) % (size - 3), 4);
      }
      try {
        scorer.add(*record, values, rows, 0.001);
      } catch (const DatasetError&) {
      }
    }
  } catch (const DatasetError&) {
  }
  const std::string text = boost::json::serialize(figures_json(scorer.figures(1.0)));
  boost::system::error_code ec;
  boost::json::parse(text, ec);
  if (ec) mg::fuzz::finding("figures are not JSON");
  return 0;
}
