-- Applies one merged batch of feature writes atomically (see aggregateWrites). ARGV[1] is the batch
-- as JSON. When any dedup key already exists, nothing is written and the script returns the
-- 1-based positions of those keys in batch.dedup, so the caller drops them and calls again;
-- otherwise it writes everything and returns an empty list.
-- Numbers are written with 17 significant digits so that a double survives the round trip.
local RENEW_EXPONENT = 256
local LANDMARK_FIELD = '_L'

local function number_text(value)
  return string.format('%.17g', value)
end

local function half_life_of(field)
  return tonumber(string.match(field, '@(%d+)$'))
end

local batch = cjson.decode(ARGV[1])

local existing = {}
for index, entry in ipairs(batch.dedup) do
  if redis.call('EXISTS', entry[1]) == 1 then
    existing[#existing + 1] = index
  end
end
if #existing > 0 then
  return existing
end
for _, entry in ipairs(batch.dedup) do
  redis.call('SET', entry[1], '1', 'PX', entry[2])
end

-- Landmarks read or set during this batch, by key, so each key's landmark is read once.
local landmarks = {}

-- Returns the landmark of a decayed hash, renewing it to `reference` first when the scale would
-- pass 2^RENEW_EXPONENT.
local function hash_landmark(key, reference, half_life)
  local landmark = landmarks[key]
  if landmark == nil then
    landmark = tonumber(redis.call('HGET', key, LANDMARK_FIELD))
  end
  if not landmark then
    landmark = reference
    redis.call('HSET', key, LANDMARK_FIELD, number_text(landmark))
  elseif (reference - landmark) / half_life > RENEW_EXPONENT then
    local all = redis.call('HGETALL', key)
    for i = 1, #all, 2 do
      local field_half_life = half_life_of(all[i])
      if field_half_life then
        redis.call('HSET', key, all[i], number_text(tonumber(all[i + 1]) * 2 ^ ((landmark - reference) / field_half_life)))
      end
    end
    landmark = reference
    redis.call('HSET', key, LANDMARK_FIELD, number_text(landmark))
  end
  landmarks[key] = landmark
  return landmark
end

-- Returns the landmark of a decayed sorted set, kept in <key>:landmark, renewing it like a hash's.
local function zset_landmark(key, reference, half_life)
  local landmark_key = key .. ':landmark'
  local landmark = landmarks[landmark_key]
  if landmark == nil then
    landmark = tonumber(redis.call('GET', landmark_key))
  end
  if not landmark then
    landmark = reference
    redis.call('SET', landmark_key, number_text(landmark))
  elseif (reference - landmark) / half_life > RENEW_EXPONENT then
    redis.call('ZUNIONSTORE', key, 1, key, 'WEIGHTS', number_text(2 ^ ((landmark - reference) / half_life)))
    landmark = reference
    redis.call('SET', landmark_key, number_text(landmark))
  end
  landmarks[landmark_key] = landmark
  return landmark
end

-- Each entry is {key, field, sum, referenceMs, halfLifeMs}; sum is relative to referenceMs.
for _, entry in ipairs(batch.hashDecay) do
  local key, field, sum, reference, half_life = entry[1], entry[2], entry[3], entry[4], entry[5]
  local landmark = hash_landmark(key, reference, half_life)
  redis.call('HINCRBYFLOAT', key, field, number_text(sum * 2 ^ ((reference - landmark) / half_life)))
end

for _, entry in ipairs(batch.zsetDecay) do
  local key, member, sum, reference, half_life = entry[1], entry[2], entry[3], entry[4], entry[5]
  local landmark = zset_landmark(key, reference, half_life)
  redis.call('ZINCRBY', key, number_text(sum * 2 ^ ((reference - landmark) / half_life)), member)
end

for _, entry in ipairs(batch.zsetAdd) do
  local key, member, score, mode = entry[1], entry[2], entry[3], entry[4]
  if mode == 'set' then
    redis.call('ZADD', key, number_text(score), member)
  elseif mode == 'max' then
    redis.call('ZADD', key, 'GT', number_text(score), member)
  else
    redis.call('ZADD', key, 'NX', number_text(score), member)
  end
end

for _, entry in ipairs(batch.trims) do
  local size = redis.call('ZCARD', entry[1])
  if size > entry[2] then
    redis.call('ZREMRANGEBYRANK', entry[1], 0, size - entry[2] - 1)
  end
end

for _, entry in ipairs(batch.lists) do
  redis.call('LPUSH', entry[1], unpack(entry[2]))
  redis.call('LTRIM', entry[1], 0, entry[3] - 1)
end

for _, entry in ipairs(batch.hashSet) do
  redis.call('HSET', entry[1], entry[2], entry[3])
end

for _, entry in ipairs(batch.hashIncrement) do
  redis.call('HINCRBYFLOAT', entry[1], entry[2], number_text(entry[3]))
end

for _, entry in ipairs(batch.hashMax) do
  local current = tonumber(redis.call('HGET', entry[1], entry[2]))
  if not current or entry[3] > current then
    redis.call('HSET', entry[1], entry[2], number_text(entry[3]))
  end
end

for _, entry in ipairs(batch.stringSet) do
  redis.call('SET', entry[1], entry[2])
end

-- Each entry is {key, snapshotKey, fields}: the landmark and the fields as little-endian doubles.
for _, entry in ipairs(batch.snapshots) do
  local names = { LANDMARK_FIELD }
  for i, field in ipairs(entry[3]) do
    names[i + 1] = field
  end
  local values = redis.call('HMGET', entry[1], unpack(names))
  local parts = {}
  for i = 1, #names do
    parts[i] = struct.pack('<d', tonumber(values[i]) or 0)
  end
  redis.call('SET', entry[2], table.concat(parts))
end

for _, entry in ipairs(batch.expires) do
  redis.call('PEXPIRE', entry[1], entry[2])
end
return {}
