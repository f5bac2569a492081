#include "gateway/plugin_host/worker_messages.h"

namespace mg::gateway::worker {
namespace {

void expect(Reader& in, Kind kind) {
  if (in.kind() != kind) throw ProtocolError("worker message: unexpected kind");
}

DType dtype_of(uint32_t value) {
  const auto dtype = dtype_from_abi(static_cast<int32_t>(value));
  if (!dtype) throw ProtocolError("worker message: unknown dtype");
  return *dtype;
}

void put_failure(Writer& out, const std::optional<Failure>& failure) {
  out.u32(failure ? 1 : 0);
  if (failure) out.u32(static_cast<uint32_t>(failure->code)).str(failure->message);
}

std::optional<Failure> get_failure(Reader& in) {
  if (in.u32() == 0) return std::nullopt;
  Failure failure;
  failure.code = static_cast<int32_t>(in.u32());
  failure.message = in.str();
  return failure;
}

void put_descs(Writer& out, const std::vector<TensorDesc>& tensors) {
  out.u32(static_cast<uint32_t>(tensors.size()));
  for (const auto& t : tensors) out.str(t.name).u32(static_cast<uint32_t>(t.dtype)).shape(t.shape);
}

std::vector<TensorDesc> get_descs(Reader& in) {
  std::vector<TensorDesc> tensors(in.count(12));
  for (auto& t : tensors) {
    t.name = in.str();
    t.dtype = dtype_of(in.u32());
    t.shape = in.shape();
  }
  return tensors;
}

// A tensor that sits in a region: its name, dtype, shape and place (inputs one way,
// outputs the other).
void put_placed(Writer& out, const std::string& name, DType dtype,
                const std::vector<int64_t>& shape, const Placed& placed) {
  out.str(name).u32(static_cast<uint32_t>(dtype)).shape(shape);
  out.u64(placed.offset).u64(placed.bytes);
}

Placed get_placed(Reader& in, std::string& name, DType& dtype, std::vector<int64_t>& shape) {
  name = in.str();
  dtype = dtype_of(in.u32());
  shape = in.shape();
  return Placed{in.u64(), in.u64()};
}

}  // namespace

std::string encode(const LoadRequest& r) {
  Writer out(Kind::kLoad);
  out.u32(r.probe ? 1 : 0)
      .str(r.plugin_path)
      .str(r.backend_config)
      .str(r.model_name)
      .str(r.artifact_path);
  out.str(r.model_config).u64(r.artifact_bytes).u32(r.instances).u64(r.max_output_bytes);
  out.u64(r.sandbox.memory_bytes).u64(r.sandbox.cpu_seconds).u64(r.sandbox.open_files);
  out.u32(r.sandbox.allow_network ? 1 : 0).u32(r.sandbox.allow_exec ? 1 : 0);
  return out.bytes();
}

LoadRequest decode_load(std::string_view bytes) {
  Reader in(bytes);
  expect(in, Kind::kLoad);
  LoadRequest r;
  r.probe = in.u32() != 0;
  r.plugin_path = in.str();
  r.backend_config = in.str();
  r.model_name = in.str();
  r.artifact_path = in.str();
  r.model_config = in.str();
  r.artifact_bytes = in.u64();
  r.instances = in.u32();
  r.max_output_bytes = in.u64();
  r.sandbox.memory_bytes = in.u64();
  r.sandbox.cpu_seconds = in.u64();
  r.sandbox.open_files = in.u64();
  r.sandbox.allow_network = in.u32() != 0;
  r.sandbox.allow_exec = in.u32() != 0;
  return r;
}

std::string encode(const LoadReply& r) {
  Writer out(Kind::kLoaded);
  put_failure(out, r.failure);
  out.str(r.backend_version).u32(r.abi_major).u32(r.abi_minor);
  put_descs(out, r.metadata.inputs);
  put_descs(out, r.metadata.outputs);
  out.i64(r.metadata.max_batch_size).u32(r.metadata.execute_reentrant ? 1 : 0);
  return out.bytes();
}

LoadReply decode_loaded(std::string_view bytes) {
  Reader in(bytes);
  expect(in, Kind::kLoaded);
  LoadReply r;
  r.failure = get_failure(in);
  r.backend_version = in.str();
  r.abi_major = in.u32();
  r.abi_minor = in.u32();
  r.metadata.inputs = get_descs(in);
  r.metadata.outputs = get_descs(in);
  r.metadata.max_batch_size = in.i64();
  r.metadata.execute_reentrant = in.u32() != 0;
  return r;
}

std::string encode_execute(const BatchInput& batch, const std::vector<Placed>& placed,
                           bool new_region) {
  Writer out(Kind::kExecute);
  out.u32(new_region ? 1 : 0).u32(static_cast<uint32_t>(batch.inputs.size()));
  for (std::size_t i = 0; i < batch.inputs.size(); ++i) {
    const TensorRef& t = batch.inputs[i];
    put_placed(out, t.name, t.dtype, t.shape, placed[i]);
  }
  out.u32(static_cast<uint32_t>(batch.request_rows.size()));
  for (uint64_t rows : batch.request_rows) out.u64(rows);
  out.u32(static_cast<uint32_t>(batch.outputs.size()));
  for (const auto& name : batch.outputs) out.str(name);
  return out.bytes();
}

ExecuteRequest decode_execute(std::string_view bytes) {
  Reader in(bytes);
  expect(in, Kind::kExecute);
  ExecuteRequest r;
  r.new_region = in.u32() != 0;
  r.batch.inputs.resize(in.count(32));
  for (TensorRef& t : r.batch.inputs) {
    r.placed.push_back(get_placed(in, t.name, t.dtype, t.shape));
    t.byte_size = r.placed.back().bytes;
  }
  r.batch.request_rows.resize(in.count(8));
  for (auto& rows : r.batch.request_rows) rows = in.u64();
  r.batch.outputs.resize(in.count(4));
  for (auto& name : r.batch.outputs) name = in.str();
  return r;
}

std::string encode_executed(const BatchOutput& output, const std::vector<Placed>& placed,
                            bool new_region) {
  Writer out(Kind::kExecuted);
  out.u32(new_region ? 1 : 0);
  put_failure(out, output.batch_failure);
  out.u32(static_cast<uint32_t>(output.request_failures.size()));
  for (const auto& failure : output.request_failures) put_failure(out, failure);
  out.u32(static_cast<uint32_t>(output.outputs.size()));
  for (std::size_t i = 0; i < output.outputs.size(); ++i) {
    const OutputTensor& t = output.outputs[i];
    put_placed(out, t.name, t.dtype, t.shape, placed[i]);
  }
  return out.bytes();
}

ExecuteReply decode_executed(std::string_view bytes) {
  Reader in(bytes);
  expect(in, Kind::kExecuted);
  ExecuteReply r;
  r.new_region = in.u32() != 0;
  r.batch_failure = get_failure(in);
  r.request_failures.resize(in.count(4));
  for (auto& failure : r.request_failures) failure = get_failure(in);
  r.outputs.resize(in.count(32));
  for (OutputTensor& t : r.outputs) {
    r.placed.push_back(get_placed(in, t.name, t.dtype, t.shape));
    t.byte_size = r.placed.back().bytes;
  }
  return r;
}

}  // namespace mg::gateway::worker
