#include "gateway/evaluation/dataset_records.h"

#include <boost/json.hpp>

namespace mg::gateway {
namespace {

namespace json = boost::json;

[[noreturn]] void refuse(std::size_t record, const std::string& why) {
  throw DatasetError("record " + std::to_string(record) + ": " + why);
}

// The bytes the record's binary inputs declare (parameters.binary_data_size).
std::size_t binary_size(const json::object& header, std::size_t record) {
  const json::value* inputs = header.if_contains("inputs");
  if (inputs == nullptr || !inputs->is_array() || inputs->as_array().empty()) {
    refuse(record, "a record is an inference request: it needs a non-empty \"inputs\" array");
  }
  std::size_t total = 0;
  for (const json::value& input : inputs->as_array()) {
    const json::value* params =
        input.is_object() ? input.as_object().if_contains("parameters") : nullptr;
    const json::value* size = params != nullptr && params->is_object()
                                  ? params->as_object().if_contains("binary_data_size")
                                  : nullptr;
    if (size == nullptr) continue;
    if (!size->is_int64() || size->as_int64() < 0) {
      refuse(record, "binary_data_size must be a non-negative integer");
    }
    // Each at most 2^62 before adding: the sum of a few cannot wrap around.
    if (size->as_int64() > (int64_t{1} << 62) || total > (std::size_t{1} << 62)) {
      refuse(record, "binary_data_size is larger than any dataset");
    }
    total += static_cast<std::size_t>(size->as_int64());
  }
  return total;
}

// "targets": numbers, flat or nested as rows; flattened in order.
void flatten_targets(const json::value& v, std::vector<double>& out, std::size_t record,
                     int depth) {
  if (depth > 32) refuse(record, "\"targets\" is nested too deeply");
  if (v.is_array()) {
    for (const json::value& item : v.as_array()) flatten_targets(item, out, record, depth + 1);
    return;
  }
  if (!v.is_number()) refuse(record, "\"targets\" must hold numbers only");
  out.push_back(v.to_number<double>());
}

void read_expected(const json::object& header, DatasetRecord& r) {
  const json::value* labels = header.if_contains("labels");
  const json::value* targets = header.if_contains("targets");
  if ((labels == nullptr) == (targets == nullptr)) {
    refuse(r.number,
           "a record says what it should answer: \"labels\" (class indexes, one per row) or "
           "\"targets\" (expected values), exactly one of them");
  }
  if (labels != nullptr) {
    if (!labels->is_array() || labels->as_array().empty()) {
      refuse(r.number, "\"labels\" must be a non-empty array of class indexes");
    }
    for (const json::value& label : labels->as_array()) {
      if (!label.is_int64() || label.as_int64() < 0) {
        refuse(r.number, "\"labels\" must hold class indexes (integers from 0)");
      }
      r.labels.push_back(label.as_int64());
    }
  } else {
    flatten_targets(*targets, r.targets, r.number, 0);
    if (r.targets.empty()) refuse(r.number, "\"targets\" is empty");
  }
  if (const json::value* output = header.if_contains("output")) {
    if (!output->is_string() || output->as_string().empty()) {
      refuse(r.number, "\"output\" must name an output of the model");
    }
    r.output = std::string(output->as_string());
  }
}

}  // namespace

std::optional<DatasetRecord> DatasetReader::next() {
  while (!rest_.empty() && (rest_.front() == '\n' || rest_.front() == '\r')) rest_.remove_prefix(1);
  if (rest_.empty()) return std::nullopt;
  DatasetRecord r;
  r.number = ++count_;
  if (count_ > kMaxRecords) {
    throw DatasetError("a dataset holds at most " + std::to_string(kMaxRecords) + " records");
  }
  const std::size_t end = rest_.find('\n');
  r.header = rest_.substr(0, end);
  if (r.header.size() > kMaxHeaderBytes) {
    refuse(r.number, "its JSON is longer than " + std::to_string(kMaxHeaderBytes >> 20) +
                         " MiB (put large tensors in binary data)");
  }
  rest_ = end == std::string_view::npos ? std::string_view() : rest_.substr(end + 1);
  boost::system::error_code ec;
  const json::value parsed = json::parse(json::string_view(r.header.data(), r.header.size()), ec);
  if (ec || !parsed.is_object()) {
    refuse(r.number, "not a JSON object on one line" + (ec ? " (" + ec.message() + ")" : ""));
  }
  const json::object& header = parsed.as_object();
  const std::size_t binary = binary_size(header, r.number);
  if (binary > rest_.size()) {
    refuse(r.number, "its inputs declare " + std::to_string(binary) +
                         " bytes of binary data, the file has " + std::to_string(rest_.size()) +
                         " left");
  }
  r.binary = rest_.substr(0, binary);
  rest_.remove_prefix(binary);
  read_expected(header, r);
  return r;
}

DatasetSummary summarize_dataset(std::string_view file) {
  DatasetReader reader(file);
  DatasetSummary summary;
  while (auto record = reader.next()) {
    ++summary.records;
    summary.labelled_rows += record->labels.size();
    summary.target_values += record->targets.size();
  }
  if (summary.records == 0) throw DatasetError("the dataset holds no records");
  return summary;
}

}  // namespace mg::gateway
