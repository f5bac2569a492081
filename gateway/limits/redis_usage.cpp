#include "gateway/limits/redis_usage.h"

#include <hiredis/hiredis.h>
#include <openssl/rand.h>

#include <charconv>
#include <map>
#include <tuple>

#include "gateway/limits/redis_async.h"
#include "modelgate/hex.h"

namespace mg::gateway {
namespace {

// Fields are "<counter> <usage_field>", counter r (requests), i (items), e (errors) or n
// (requests of one item each: admitted_usage_field).
// ARGV: row, requests, items, errors; repeated for each row.
constexpr const char* kRecordScript = R"lua(
for i = 1, #ARGV, 4 do
  local row = ARGV[i]
  if ARGV[i + 1] ~= '0' then redis.call('HINCRBY', KEYS[1], 'r ' .. row, ARGV[i + 1]) end
  if ARGV[i + 2] ~= '0' then redis.call('HINCRBY', KEYS[1], 'i ' .. row, ARGV[i + 2]) end
  if ARGV[i + 3] ~= '0' then redis.call('HINCRBY', KEYS[1], 'e ' .. row, ARGV[i + 3]) end
end
return 1
)lua";

// KEYS: 1 live, 2 pending, 3 pending id, 4 lock. ARGV: 1 a new batch id, 2 the lock token,
// 3 the lock's time in ms. Returns {0} (locked by another), {1} (nothing to add) or
// {2, id, {field, value, ...}}.
constexpr const char* kClaimScript = R"lua(
local holder = redis.call('GET', KEYS[4])
if holder and holder ~= ARGV[2] then return {0} end
redis.call('SET', KEYS[4], ARGV[2], 'PX', ARGV[3])
local id = redis.call('GET', KEYS[3])
if redis.call('EXISTS', KEYS[2]) == 0 then
  if redis.call('EXISTS', KEYS[1]) == 0 then return {1} end
  redis.call('RENAME', KEYS[1], KEYS[2])
  id = false
end
if not id then
  id = ARGV[1]
  redis.call('SET', KEYS[3], id)
end
return {2, id, redis.call('HGETALL', KEYS[2])}
)lua";

// KEYS: 1 pending, 2 pending id, 3 lock. ARGV: 1 the batch id, 2 the lock token.
constexpr const char* kSettleScript = R"lua(
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[1], KEYS[2]) end
if redis.call('GET', KEYS[3]) == ARGV[2] then redis.call('DEL', KEYS[3]) end
return 1
)lua";

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
    throw std::runtime_error("no random bytes for a usage batch id");
  }
  return modelgate::to_hex(raw.data(), raw.size());
}

std::string_view text_of(const redisReply& reply) {
  return reply.type == REDIS_REPLY_STRING || reply.type == REDIS_REPLY_STATUS
             ? std::string_view(reply.str, reply.len)
             : std::string_view();
}

bool parse_integer(std::string_view text, int64_t& value) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

using RowKey = std::tuple<int64_t, std::string, std::string, std::string, int64_t>;

// "r 1700000000 acme k1 mlp 3" → counter 'r' and the row; false for anything else (a
// field this version does not write is skipped, not guessed at).
bool parse_field(std::string_view field, char& counter, RowKey& key) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start <= field.size()) {
    const std::size_t space = field.find(' ', start);
    const std::size_t end = space == std::string_view::npos ? field.size() : space;
    parts.push_back(field.substr(start, end - start));
    start = end + 1;
  }
  if (parts.size() != 6 || parts[0].size() != 1 ||
      std::string_view("rien").find(parts[0][0]) == std::string_view::npos) {
    return false;
  }
  counter = parts[0][0];
  auto& [hour, tenant, key_id, model, version] = key;
  tenant = parts[2];
  key_id = parts[3];
  model = parts[4];
  return parse_integer(parts[1], hour) && parse_integer(parts[5], version);
}

}  // namespace

std::string usage_field(const registry::UsageRow& row) {
  return std::to_string(row.hour) + " " + row.tenant + " " + row.key_id + " " + row.model + " " +
         std::to_string(row.version);
}

std::string admitted_usage_field(const registry::UsageRow& row) {
  if (row.requests != 1 || row.items != 1 || row.errors != 0) {
    throw std::logic_error("an admitted request is counted as one request of one item");
  }
  return "n " + usage_field(row);
}

// One hash tag for every key: a Redis Cluster keeps them in one slot, as scripts need.
RedisUsage::RedisUsage(std::shared_ptr<RedisPipeline> redis, std::chrono::milliseconds lock_time,
                       const std::string& prefix)
    : redis_(std::move(redis)),
      lock_time_(lock_time),
      live_(prefix + ":{usage}:live"),
      pending_(prefix + ":{usage}:pending"),
      pending_id_(prefix + ":{usage}:pending-id"),
      lock_(prefix + ":{usage}:lock"),
      token_(random_hex(16)),
      record_(kRecordScript),
      claim_(kClaimScript),
      settle_(kSettleScript) {}

std::vector<std::string> RedisUsage::record_args(
    const std::vector<registry::UsageRow>& deltas) const {
  std::vector<std::string> args;
  for (const registry::UsageRow& delta : deltas) {
    args.push_back(usage_field(delta));
    args.push_back(std::to_string(delta.requests));
    args.push_back(std::to_string(delta.items));
    args.push_back(std::to_string(delta.errors));
  }
  return args;
}

void RedisUsage::record(const std::vector<registry::UsageRow>& deltas) {
  if (deltas.empty()) return;
  record_.run(*redis_, {live_}, record_args(deltas));
}

void RedisUsage::record_async(const std::vector<registry::UsageRow>& deltas, EventLoop& loop,
                              std::function<void(const std::string& error)> done) {
  run_script_async(AsyncRedis::of(loop, this, redis_->address()), record_, {live_},
                   record_args(deltas),
                   [done = std::move(done)](RedisReplyPtr reply, const std::string& error) {
                     done(reply ? std::string() : error);
                   });
}

std::optional<RedisUsage::Batch> RedisUsage::claim() {
  const RedisReplyPtr reply =
      claim_.run(*redis_, {live_, pending_, pending_id_, lock_},
                 {random_hex(16), token_, std::to_string(lock_time_.count())});
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
      reply->element[0]->type != REDIS_REPLY_INTEGER) {
    throw RedisUnavailable("redis usage claim: unexpected reply");
  }
  if (reply->element[0]->integer != 2) return std::nullopt;
  if (reply->elements != 3 || reply->element[2]->type != REDIS_REPLY_ARRAY) {
    throw RedisUnavailable("redis usage claim: unexpected reply");
  }
  Batch batch;
  batch.id = std::string(text_of(*reply->element[1]));
  std::map<RowKey, registry::UsageRow> rows;  // sorted: the ledger is written in key order
  const redisReply& fields = *reply->element[2];
  for (std::size_t i = 0; i + 1 < fields.elements; i += 2) {
    char counter = 0;
    RowKey key;
    int64_t value = 0;
    if (!parse_field(text_of(*fields.element[i]), counter, key) ||
        !parse_integer(text_of(*fields.element[i + 1]), value)) {
      continue;
    }
    registry::UsageRow& row = rows[key];
    std::tie(row.hour, row.tenant, row.key_id, row.model, row.version) = key;
    if (counter == 'r' || counter == 'n') row.requests += value;
    if (counter == 'i' || counter == 'n') row.items += value;
    if (counter == 'e') row.errors += value;
  }
  for (auto& [key, row] : rows) {
    // A correction can cancel a row out (counted on one version, answered by another).
    if (row.requests != 0 || row.items != 0 || row.errors != 0)
      batch.rows.push_back(std::move(row));
  }
  return batch;
}

void RedisUsage::settle(const Batch& batch) {
  settle_.run(*redis_, {pending_, pending_id_, lock_}, {batch.id, token_});
}

}  // namespace mg::gateway
