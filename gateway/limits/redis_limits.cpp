#include "gateway/limits/redis_limits.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <cmath>

#include "gateway/limits/periods.h"
#include "gateway/limits/redis_async.h"
#include "gateway/limits/redis_usage.h"

namespace mg::gateway {
namespace {

// KEYS: 1 the key's GCRA state, 2 the tenant's quota counter for this period, 3 the nonce,
// 4 the live usage hash (RedisUsage).
// ARGV: 1 rate (requests/s, 0: none), 2 burst, 3 quota limit (0: none), 4 quota period end
// (unix s), 5 nonce lifetime in ms (0: no nonce), 6 the usage hash's field to count the
// request on (admitted_usage_field; empty: none).
// Redis runs this for every request: each call from it costs ~0.3-1.5 us inside Redis
// (measured with redis-benchmark and INFO commandstats), so the expiry of a quota counter
// is set once, when INCR creates it, and usage takes one HINCRBY.
// Returns {refusal, rate remaining, rate reset s, rate retry s, quota used, quota retry s}:
// refusal 0 admitted, 1 rate, 2 quota, 3 replayed nonce.
constexpr const char* kAdmitScript = R"lua(
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local nonce_ms = tonumber(ARGV[5])
if nonce_ms > 0 and redis.call('EXISTS', KEYS[3]) == 1 then
  return {3, 0, 0, 0, 0, 0}
end
local rate_remaining, rate_reset = -1, 0
local rate = tonumber(ARGV[1])
local new_tat = 0
if rate > 0 then
  local burst = tonumber(ARGV[2])
  local interval = 1000000 / rate
  local tolerance = interval * burst
  local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
  if tat < now then tat = now end
  new_tat = tat + interval
  if new_tat - now > tolerance then
    local retry = math.ceil((new_tat - now - tolerance) / 1000000)
    return {1, 0, math.ceil((tat - now) / 1000000), retry, 0, 0}
  end
  rate_remaining = math.floor((tolerance - (new_tat - now)) / interval)
  rate_reset = math.ceil((new_tat - now) / 1000000)
end
local used = -1
local limit = tonumber(ARGV[3])
local period_end = tonumber(ARGV[4])
if limit > 0 then
  used = tonumber(redis.call('GET', KEYS[2]) or '0')
  if used >= limit then
    return {2, rate_remaining, rate_reset, 0, used, math.max(1, period_end - tonumber(time[1]))}
  end
  used = redis.call('INCR', KEYS[2])
  if used == 1 then
    -- A day past the period's end (by Redis's clock, should the replica's be far off).
    redis.call('EXPIREAT', KEYS[2], math.max(period_end, tonumber(time[1])) + 86400)
  end
end
if rate > 0 then
  redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX',
             math.ceil((new_tat - now) / 1000) + 1000)
end
if nonce_ms > 0 then
  redis.call('SET', KEYS[3], '1', 'PX', nonce_ms, 'NX')
end
if ARGV[6] ~= '' then
  redis.call('HINCRBY', KEYS[4], ARGV[6], 1)
end
return {0, rate_remaining, rate_reset, 0, used, 0}
)lua";

int64_t integer_at(const redisReply& reply, std::size_t i) {
  return i < reply.elements && reply.element[i]->type == REDIS_REPLY_INTEGER
             ? reply.element[i]->integer
             : 0;
}

int64_t burst_of(const SharedAdmitRequest& request) {
  return request.burst > 0 ? request.burst
                           : std::max<int64_t>(1, static_cast<int64_t>(std::ceil(request.rate)));
}

}  // namespace

RedisLimits::RedisLimits(std::shared_ptr<RedisPipeline> redis, std::string usage_key)
    : redis_(std::move(redis)), usage_key_(std::move(usage_key)), script_(kAdmitScript) {}

RedisLimits::Call RedisLimits::call_for(const SharedAdmitRequest& request) const {
  const int64_t start = period_start(request.period, request.now);
  const int64_t end = period_end(request.period, request.now);
  const int64_t nonce_ms =
      request.nonce.empty() ? 0
                            : std::max<int64_t>(1000, (request.nonce_expires - request.now) * 1000);
  // Key names: mg: + kind + the id; a key id is 12 characters of [a-z0-9], tenant names
  // and nonces are validated before they get here.
  Call call;
  call.keys = {"mg:rate:" + request.key_id,
               "mg:quota:" + request.tenant + ":" + std::to_string(start),
               "mg:nonce:" + request.key_id + ":" + request.nonce, usage_key_};
  call.args = {request.rate > 0 ? std::to_string(request.rate) : "0",
               std::to_string(burst_of(request)),
               request.quota_limit > 0 ? std::to_string(request.quota_limit) : "0",
               std::to_string(end),
               std::to_string(nonce_ms),
               request.usage ? admitted_usage_field(*request.usage) : ""};
  return call;
}

SharedAdmission RedisLimits::admit(const SharedAdmitRequest& request) {
  const Call call = call_for(request);
  RedisReplyPtr reply;
  try {
    reply = script_.run(*redis_, call.keys, call.args);
  } catch (const RedisUnavailable&) {
    up_.store(false, std::memory_order_relaxed);
    throw;
  }
  return decide(request, *reply);
}

void RedisLimits::admit_async(const SharedAdmitRequest& request, EventLoop& loop,
                              AdmitCallback done) {
  AsyncRedis& redis = AsyncRedis::of(loop, this, redis_->address());
  Call call = call_for(request);
  run_script_async(
      redis, script_, std::move(call.keys), std::move(call.args),
      [this, request, done = std::move(done)](RedisReplyPtr reply, const std::string& error) {
        std::optional<SharedAdmission> admission;
        std::exception_ptr failure;
        try {
          if (!reply) throw RedisUnavailable(error);
          admission = decide(request, *reply);
        } catch (const RedisUnavailable&) {
          up_.store(false, std::memory_order_relaxed);
          failure = std::current_exception();
        }
        done(std::move(admission), failure);
      });
}

SharedAdmission RedisLimits::decide(const SharedAdmitRequest& request, const redisReply& reply) {
  if (reply.type != REDIS_REPLY_ARRAY || reply.elements < 6) {
    up_.store(false, std::memory_order_relaxed);
    throw RedisUnavailable("redis admit script: unexpected reply");
  }
  up_.store(true, std::memory_order_relaxed);
  const int64_t burst = burst_of(request);
  const int64_t end = period_end(request.period, request.now);
  SharedAdmission out;
  switch (integer_at(reply, 0)) {
    case 1:
      out.refusal = SharedAdmission::Refusal::kRate;
      break;
    case 2:
      out.refusal = SharedAdmission::Refusal::kQuota;
      break;
    case 3:
      out.refusal = SharedAdmission::Refusal::kReplayed;
      return out;
    default:
      break;
  }
  if (request.rate > 0) {
    Admission rate;
    rate.allowed = out.refusal != SharedAdmission::Refusal::kRate;
    rate.state =
        LimitState{burst, std::max<int64_t>(0, integer_at(reply, 1)), integer_at(reply, 2)};
    rate.retry_after = std::max<int64_t>(1, integer_at(reply, 3));
    out.rate = rate;
  }
  if (request.quota_limit > 0 && out.refusal != SharedAdmission::Refusal::kRate) {
    Admission quota;
    const int64_t used = integer_at(reply, 4);
    quota.allowed = out.refusal != SharedAdmission::Refusal::kQuota;
    quota.state = LimitState{request.quota_limit, std::max<int64_t>(0, request.quota_limit - used),
                             end - request.now};
    quota.retry_after = std::max<int64_t>(1, integer_at(reply, 5));
    out.quota = quota;
  }
  return out;
}

}  // namespace mg::gateway
