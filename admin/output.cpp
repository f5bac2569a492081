#include "admin/output.h"

#include <algorithm>
#include <cstdio>
#include <iostream>

namespace mg::admin {
namespace {

std::string describe(const modelgate::Response& response) {
  boost::system::error_code ec;
  boost::json::value body = boost::json::parse(response.body, ec);
  std::string line = "server answered " + std::to_string(response.status);
  if (!ec && body.is_object()) {
    const auto& o = body.as_object();
    if (auto code = o.if_contains("code"); code && code->is_string()) {
      line += " " + std::string(code->as_string());
    }
    if (auto error = o.if_contains("error"); error && error->is_string()) {
      line += ": " + std::string(error->as_string());
    }
  }
  return line;
}

}  // namespace

ServerError::ServerError(const modelgate::Response& response)
    : std::runtime_error(describe(response)) {}

boost::json::value expect_ok(const modelgate::Response& response) {
  if (!response.ok()) throw ServerError(response);
  boost::system::error_code ec;
  boost::json::value body = boost::json::parse(response.body, ec);
  if (ec) throw std::runtime_error("the server's answer is not JSON");
  return body;
}

void print_json(const boost::json::value& value) {
  std::cout << boost::json::serialize(value) << "\n";
}

void print_table(const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths(header.size());
  for (std::size_t i = 0; i < header.size(); ++i) widths[i] = header[i].size();
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  auto print_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  };
  print_row(header);
  for (const auto& row : rows) print_row(row);
}

std::string cell(const boost::json::value& value) {
  if (value.is_null()) return "";
  if (value.is_string()) return std::string(value.as_string());
  if (value.is_double()) {
    char text[32];
    std::snprintf(text, sizeof text, "%.6g", value.as_double());
    return text;
  }
  if (value.is_array()) {  // tensors: numbers shown as above, not 1.2E-1
    std::string text = "[";
    for (const auto& item : value.as_array()) {
      text += (text.size() > 1 ? "," : "") +
              (item.is_string() ? boost::json::serialize(item) : cell(item));
    }
    return text + "]";
  }
  return boost::json::serialize(value);
}

std::string human_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.1f %s", bytes, units[unit]);
  return text;
}

}  // namespace mg::admin
