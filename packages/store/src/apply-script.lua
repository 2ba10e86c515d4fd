-- Applies one event's planned writes atomically. ARGV[1] is the dedup key ('' for none), ARGV[2]
-- the dedup TTL in ms, ARGV[3] the operations as JSON. Returns 1 when applied, 0 for a duplicate.
-- Numbers are written with 17 significant digits so that a double survives the round trip.
local RENEW_EXPONENT = 256
local LANDMARK_FIELD = '_L'

local function number_text(value)
  return string.format('%.17g', value)
end

local function half_life_of(field)
  return tonumber(string.match(field, '@(%d+)$'))
end

local function hash_decay_add(o)
  local half_life = half_life_of(o.field)
  local landmark = tonumber(redis.call('HGET', o.key, LANDMARK_FIELD))
  if not landmark then
    landmark = o.tMs
    redis.call('HSET', o.key, LANDMARK_FIELD, number_text(landmark))
  elseif (o.tMs - landmark) / half_life > RENEW_EXPONENT then
    local all = redis.call('HGETALL', o.key)
    for i = 1, #all, 2 do
      local field_half_life = half_life_of(all[i])
      if field_half_life then
        local rescaled = tonumber(all[i + 1]) * 2 ^ ((landmark - o.tMs) / field_half_life)
        redis.call('HSET', o.key, all[i], number_text(rescaled))
      end
    end
    landmark = o.tMs
    redis.call('HSET', o.key, LANDMARK_FIELD, number_text(landmark))
  end
  local current = tonumber(redis.call('HGET', o.key, o.field)) or 0
  local added = o.weight * 2 ^ ((o.tMs - landmark) / half_life)
  redis.call('HSET', o.key, o.field, number_text(current + added))
end

local function trim(key, max_members)
  local size = redis.call('ZCARD', key)
  if size > max_members then
    redis.call('ZREMRANGEBYRANK', key, 0, size - max_members - 1)
  end
end

local function zset_decay_add(o)
  local landmark_key = o.key .. ':landmark'
  local landmark = tonumber(redis.call('GET', landmark_key))
  if not landmark then
    landmark = o.tMs
    redis.call('SET', landmark_key, number_text(landmark))
  elseif (o.tMs - landmark) / o.halfLifeMs > RENEW_EXPONENT then
    local factor = 2 ^ ((landmark - o.tMs) / o.halfLifeMs)
    redis.call('ZUNIONSTORE', o.key, 1, o.key, 'WEIGHTS', number_text(factor))
    landmark = o.tMs
    redis.call('SET', landmark_key, number_text(landmark))
  end
  local current = tonumber(redis.call('ZSCORE', o.key, o.member)) or 0
  local added = o.weight * 2 ^ ((o.tMs - landmark) / o.halfLifeMs)
  redis.call('ZADD', o.key, number_text(current + added), o.member)
  trim(o.key, o.maxMembers)
end

local function zset_add(o)
  if o.mode == 'set' then
    redis.call('ZADD', o.key, number_text(o.score), o.member)
  elseif o.mode == 'max' then
    redis.call('ZADD', o.key, 'GT', number_text(o.score), o.member)
  else
    redis.call('ZADD', o.key, 'NX', number_text(o.score), o.member)
  end
  trim(o.key, o.maxMembers)
end

if ARGV[1] ~= '' then
  if not redis.call('SET', ARGV[1], '1', 'NX', 'PX', ARGV[2]) then
    return 0
  end
end

for _, o in ipairs(cjson.decode(ARGV[3])) do
  if o.op == 'hashDecayAdd' then
    hash_decay_add(o)
  elseif o.op == 'zsetDecayAdd' then
    zset_decay_add(o)
  elseif o.op == 'zsetAdd' then
    zset_add(o)
  elseif o.op == 'listPush' then
    redis.call('LPUSH', o.key, o.value)
    redis.call('LTRIM', o.key, 0, o.maxLength - 1)
  elseif o.op == 'hashSet' then
    redis.call('HSET', o.key, o.field, o.value)
  elseif o.op == 'hashIncrement' then
    local current = tonumber(redis.call('HGET', o.key, o.field)) or 0
    redis.call('HSET', o.key, o.field, number_text(current + o.amount))
  elseif o.op == 'hashMax' then
    local current = tonumber(redis.call('HGET', o.key, o.field))
    if not current or o.value > current then
      redis.call('HSET', o.key, o.field, number_text(o.value))
    end
  elseif o.op == 'stringSet' then
    redis.call('SET', o.key, o.value)
  elseif o.op == 'expire' then
    redis.call('PEXPIRE', o.key, o.ttlMs)
  else
    return redis.error_reply('unknown operation ' .. tostring(o.op))
  end
end
return 1
