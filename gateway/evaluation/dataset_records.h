#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mg::gateway {

// A dataset file that cannot be read as records; the message names the record.
class DatasetError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One record of an evaluation dataset (docs/evaluation.md): a KServe v2 inference request
// in the binary tensor extension's layout, with what its rows should answer.
struct DatasetRecord {
  std::size_t number = 0;   // 1-based, for messages
  std::string_view header;  // the request's JSON (one line), as the data plane decodes it
  std::string_view binary;  // the bytes its inputs' binary_data_size add up to; may be empty
  std::string output;       // the output scored; empty: the model's first
  // Classification: each row's class index. Regression: the expected values, rows × row
  // size, flattened. Exactly one of the two is set.
  std::vector<int64_t> labels;
  std::vector<double> targets;
};

// Reads records one after the other from a whole dataset file held in memory: each is its
// JSON on one line ended by '\n', then the binary bytes that JSON declares (none for a
// JSON-only record), so a dataset of JSON requests alone is a JSON Lines file. Empty
// lines between records are skipped.
class DatasetReader {
 public:
  static constexpr std::size_t kMaxHeaderBytes = std::size_t{8} << 20;  // as the data plane's
  static constexpr std::size_t kMaxRecords = 1'000'000;

  explicit DatasetReader(std::string_view file) : rest_(file) {}
  // The next record, or nullopt at the end. Throws DatasetError for a record that is not
  // one (not JSON, no "inputs", no or malformed "labels"/"targets", binary data past the
  // end of the file, too many records).
  std::optional<DatasetRecord> next();

 private:
  std::string_view rest_;
  std::size_t count_ = 0;
};

// Reads every record once (a dataset is checked whole when it is registered): the number
// of records and of expected rows. Throws DatasetError.
struct DatasetSummary {
  std::size_t records = 0;
  std::size_t labelled_rows = 0;  // rows with a class label
  std::size_t target_values = 0;  // expected values of regression records
};
DatasetSummary summarize_dataset(std::string_view file);

}  // namespace mg::gateway
