-- Applies one merged batch of feature writes atomically. ARGV[1] is the batch as MessagePack
-- (message-pack.ts) in the layout of ScriptBatch (script-batch.ts), grouped per key, so that
-- most keys cost one read and one write command however many fields or members the batch changes.
-- When any dedup key already exists, nothing is written. The script then returns the 1-based
-- positions of those keys in the dedup list, so the caller drops them and calls again. Otherwise it
-- writes everything and returns an empty list. Numbers are passed to Redis as Lua numbers, which
-- Redis formats with 17 significant digits, so a double survives the round trip.
local RENEW_EXPONENT = 256
-- INTEGER_RENEW_EXPONENT of decay.ts, for sorted sets with integer scores.
local INTEGER_RENEW_EXPONENT = 16
local LANDMARK_FIELD = '_L'
-- Arguments per command built with unpack(); Lua 5.1 allows at most 8000 values on its C stack.
local MAX_ARGUMENTS = 4000
-- Library functions as locals, because reading a global is a table lookup by name on every use.
local redis_call, floor, tonumber, unpack = redis.call, math.floor, tonumber, unpack

local batch = cmsgpack.unpack(ARGV[1])
local names = batch.names
local base_ms = batch.baseMs

-- The half-life in ms that ends a decayed field's name (`decayedField`), or nil for a plain field,
-- with the rule of halfLifeOfField (operations.ts): a positive number after the last '@'.
local function half_life_of(field)
  local half_life = tonumber(string.match(field, '@([^@]+)$'))
  if half_life and half_life > 0 and half_life < math.huge then
    return half_life
  end
  return nil
end

-- Half-lives of the names table, parsed once per batch. aggregateWrites rejects a decayed field
-- without one before the batch is sent, so the error below stops only a malformed argument.
local name_half_lives = {}
local function half_life_of_name(name_index)
  local half_life = name_half_lives[name_index]
  if not half_life then
    half_life = half_life_of(names[name_index])
    if not half_life then
      error('decayed field ' .. tostring(names[name_index]) .. ' has no half-life suffix')
    end
    name_half_lives[name_index] = half_life
  end
  return half_life
end

-- Calls `command key` with `args` appended, in chunks of MAX_ARGUMENTS (`step` keeps pairs whole).
local function call_with_arguments(command, key, args, step)
  for first = 1, #args, MAX_ARGUMENTS - (MAX_ARGUMENTS % step) do
    local last = math.min(first + MAX_ARGUMENTS - (MAX_ARGUMENTS % step) - 1, #args)
    redis_call(command, key, unpack(args, first, last))
  end
end

-- Redis formats every Lua number passed to redis.call with %.17g, about 0.6 µs per argument
-- (Redis 7.0), and passes a string as it is. TTLs, ranks, lengths and rounded sorted-set increments
-- repeat across a batch, so each integer is formatted once here, and a repeated one costs a lookup.
local integer_texts = {}
local function integer_text(n)
  local text = integer_texts[n]
  if text then
    return text
  end
  if n ~= floor(n) or n == math.huge or n == -math.huge then
    return n
  end
  text = string.format('%d', n)
  integer_texts[n] = text
  return text
end

-- Sets a string key, with its TTL in the same command when one was planned. A TTL of 0 means
-- none came with this write: a planned TTL of 0 or less arrives as a PEXPIRE, which SET's PX rejects.
local function set_with_ttl(key, value, ttl_ms)
  if ttl_ms > 0 then
    redis_call('SET', key, value, 'PX', integer_text(ttl_ms))
  else
    redis_call('SET', key, value)
  end
end

local field_lists = {}
local function field_names(field_set_index)
  local fields = field_lists[field_set_index]
  if not fields then
    fields = {}
    for i, name_index in ipairs(batch.fieldSets[field_set_index]) do
      fields[i] = names[name_index]
    end
    field_lists[field_set_index] = fields
  end
  return fields
end

-- Dedup: one EXISTS counts the batch's keys, and only when some exist is each key checked alone.
-- batch.dedup is a list of {ttlMs, keys} runs; positions count across the runs.
local dedup_keys = {}
for _, run in ipairs(batch.dedup) do
  for _, key in ipairs(run[2]) do
    dedup_keys[#dedup_keys + 1] = key
  end
end
local found = 0
for first = 1, #dedup_keys, MAX_ARGUMENTS do
  found = found + redis_call('EXISTS', unpack(dedup_keys, first, math.min(first + MAX_ARGUMENTS - 1, #dedup_keys)))
end
if found > 0 then
  local existing = {}
  for index, key in ipairs(dedup_keys) do
    if redis_call('EXISTS', key) == 1 then
      existing[#existing + 1] = index
    end
  end
  return existing
end
for _, run in ipairs(batch.dedup) do
  for _, key in ipairs(run[2]) do
    redis_call('SET', key, '1', 'PX', integer_text(run[1]))
  end
end

-- Field values of the decayed hashes after their additions, by key, so snapshots need no read.
local hash_values = {}

-- Rescales every decayed field of a hash from `landmark` to `reference`. The stored fields not yet
-- in `values` are read first, and every decayed field is marked for writing.
local function renew_hash(key, values, dirty, landmark, reference)
  local all = redis_call('HGETALL', key)
  for i = 1, #all, 2 do
    if values[all[i]] == nil then
      values[all[i]] = tonumber(all[i + 1])
    end
  end
  for field, value in pairs(values) do
    local field_half_life = half_life_of(field)
    if field_half_life then
      values[field] = value * 2 ^ ((landmark - reference) / field_half_life)
      dirty[field] = true
    end
  end
end

-- batch.hashDecay is flat: per key {key, fieldSet, entry count}, then its entries {name, sum,
-- referenceMs - baseMs}, each sum relative to its reference time. The landmark is the first entry's
-- reference when the hash has none, and moves to an entry's reference when the scale would pass
-- 2^RENEW_EXPONENT.
local hash_decay = batch.hashDecay
local group_start = 1
while group_start <= #hash_decay do
  local key, field_set, count = hash_decay[group_start], hash_decay[group_start + 1], hash_decay[group_start + 2]
  local first = group_start + 3
  group_start = first + 3 * count
  local last = group_start - 1
  local fields = field_names(field_set)
  local reply = redis_call('HMGET', key, LANDMARK_FIELD, unpack(fields))
  local landmark = tonumber(reply[1])
  local values = {}
  for i, field in ipairs(fields) do
    values[field] = tonumber(reply[i + 1])
  end
  local dirty = {}
  local landmark_changed = false
  for i = first, last, 3 do
    local field, sum, reference = names[hash_decay[i]], hash_decay[i + 1], base_ms + hash_decay[i + 2]
    local half_life = half_life_of_name(hash_decay[i])
    if not landmark then
      landmark = reference
      landmark_changed = true
    elseif (reference - landmark) / half_life > RENEW_EXPONENT then
      renew_hash(key, values, dirty, landmark, reference)
      landmark = reference
      landmark_changed = true
    end
    values[field] = (values[field] or 0) + sum * 2 ^ ((reference - landmark) / half_life)
    dirty[field] = true
  end
  local args = {}
  if landmark_changed then
    args[1] = LANDMARK_FIELD
    args[2] = landmark
  end
  for field in pairs(dirty) do
    args[#args + 1] = field
    args[#args + 1] = values[field]
  end
  call_with_arguments('HSET', key, args, 2)
  values[LANDMARK_FIELD] = landmark
  hash_values[key] = values
end

-- Formats of struct.pack for `count` little-endian doubles, built once per count.
local pack_formats = {}
local function pack_format(count)
  local format = pack_formats[count]
  if not format then
    format = '<' .. string.rep('d', count)
    pack_formats[count] = format
  end
  return format
end

-- Half-lives of a field set's fields, in order, parsed once per batch.
local field_set_half_lives = {}
local function half_lives_of_field_set(field_set_index)
  local half_lives = field_set_half_lives[field_set_index]
  if not half_lives then
    half_lives = {}
    for i, name_index in ipairs(batch.fieldSets[field_set_index]) do
      half_lives[i] = half_life_of_name(name_index)
    end
    field_set_half_lives[field_set_index] = half_lives
  end
  return half_lives
end

-- batch.packedDecay is flat: per key {key, fieldSet, ttlMs, entry count}, then its entries
-- {position in the field set, sum, referenceMs - baseMs}. A packed record is the landmark and then
-- the fields of the set as little-endian doubles, read with one GET and written with one SET, with
-- the landmark and renewal rules of a decayed hash. An absent record has no landmark and zero fields.
local packed_decay = batch.packedDecay
group_start = 1
while group_start <= #packed_decay do
  local key, field_set, ttl, count = packed_decay[group_start], packed_decay[group_start + 1], packed_decay[group_start + 2], packed_decay[group_start + 3]
  local first = group_start + 4
  group_start = first + 3 * count
  local last = group_start - 1
  local half_lives = half_lives_of_field_set(field_set)
  local field_count = #half_lives
  local format = pack_format(field_count + 1)
  local stored = redis_call('GET', key)
  local values
  local landmark
  if stored then
    if #stored ~= 8 * (field_count + 1) then
      error('key ' .. key .. ' does not contain a packed record of ' .. field_count .. ' fields; two key families collide or the layout changed')
    end
    values = { struct.unpack(format, stored) }
    landmark = values[1]
  else
    values = {}
    for i = 1, field_count + 1 do
      values[i] = 0
    end
  end
  for i = first, last, 3 do
    local field_position, sum, reference = packed_decay[i], packed_decay[i + 1], base_ms + packed_decay[i + 2]
    local half_life = half_lives[field_position]
    if not landmark then
      landmark = reference
    elseif (reference - landmark) / half_life > RENEW_EXPONENT then
      for j = 1, field_count do
        values[j + 1] = values[j + 1] * 2 ^ ((landmark - reference) / half_lives[j])
      end
      landmark = reference
    end
    values[field_position + 1] = values[field_position + 1] + sum * 2 ^ ((reference - landmark) / half_life)
  end
  values[1] = landmark
  set_with_ttl(key, struct.pack(format, unpack(values, 1, field_count + 1)), ttl)
end

-- Multiplies every score of a sorted set by `factor` and rounds it to an integer, as the memory
-- store does (Math.floor(score * factor + 0.5)), for a set with integer scores.
local function rescale_rounded(key, factor)
  local all = redis_call('ZRANGE', key, '0', '-1', 'WITHSCORES')
  local args = {}
  for i = 1, #all, 2 do
    args[i] = floor(tonumber(all[i + 1]) * factor + 0.5)
    args[i + 1] = all[i]
  end
  call_with_arguments('ZADD', key, args, 2)
end

-- batch.zsetDecay is flat: per group {key, landmarkTtlMs, halfLifeMs, integerScale, entry count},
-- then its entries {member, sum, referenceMs - baseMs}. The landmark lives in <key>:landmark, read
-- once per group, and is renewed like a hash's, rescaling the whole set with ZUNIONSTORE. An
-- integerScale above 0 makes every score an integer (the zsetDecayAdd operation in operations.ts):
-- the set is renewed after INTEGER_RENEW_EXPONENT half-lives, with rescale_rounded, and each
-- addition is rounded. Members are written with one ZINCRBY each: reading every member's score with
-- ZMSCORE and writing them with one ZADD measured no faster, because the sorted-set update itself,
-- not the call, is most of the cost.
local zset_decay = batch.zsetDecay
group_start = 1
while group_start <= #zset_decay do
  local key, landmark_ttl, half_life, integer_scale, count = zset_decay[group_start], zset_decay[group_start + 1], zset_decay[group_start + 2], zset_decay[group_start + 3], zset_decay[group_start + 4]
  local first = group_start + 5
  group_start = first + 3 * count
  local last = group_start - 1
  local renew_exponent = integer_scale > 0 and INTEGER_RENEW_EXPONENT or RENEW_EXPONENT
  local landmark_key = key .. ':landmark'
  local landmark
  if landmark_ttl > 0 then
    landmark = tonumber(redis_call('GETEX', landmark_key, 'PX', integer_text(landmark_ttl)))
  else
    landmark = tonumber(redis_call('GET', landmark_key))
  end
  for i = first, last, 3 do
    local member, sum, reference = zset_decay[i], zset_decay[i + 1], base_ms + zset_decay[i + 2]
    if not landmark or (reference - landmark) / half_life > renew_exponent then
      if landmark then
        local factor = 2 ^ ((landmark - reference) / half_life)
        if integer_scale > 0 then
          rescale_rounded(key, factor)
        else
          redis_call('ZUNIONSTORE', key, 1, key, 'WEIGHTS', factor)
        end
      end
      landmark = reference
      set_with_ttl(landmark_key, landmark, landmark_ttl)
    end
    local added = sum * 2 ^ ((reference - landmark) / half_life)
    if integer_scale > 0 then
      -- An integer passed as text skips Redis's %.17g formatting of a number argument.
      added = integer_text(floor(added * integer_scale + 0.5))
    end
    redis_call('ZINCRBY', key, added, member)
  end
end

local ZADD_MODE_FLAGS = { max = 'GT', nx = 'NX' }
for _, group in ipairs(batch.zsetAdd) do
  local flag = ZADD_MODE_FLAGS[group[2]]
  if flag then
    local args = group[3]
    for first = 1, #args, MAX_ARGUMENTS do
      redis_call('ZADD', group[1], flag, unpack(args, first, math.min(first + MAX_ARGUMENTS - 1, #args)))
    end
  else
    call_with_arguments('ZADD', group[1], group[3], 2)
  end
end

-- Keeps the top maxMembers: ranks 0 to size - maxMembers - 1 go, an empty range when the set fits.
for i = 1, #batch.trims, 2 do
  redis_call('ZREMRANGEBYRANK', batch.trims[i], '0', integer_text(-(batch.trims[i + 1] + 1)))
end

for _, entry in ipairs(batch.lists) do
  call_with_arguments('LPUSH', entry[1], entry[2], 1)
  redis_call('LTRIM', entry[1], '0', integer_text(entry[3] - 1))
end

-- A plain write to a decayed hash makes its cached values stale for the snapshot.
for _, entry in ipairs(batch.hashSet) do
  call_with_arguments('HSET', entry[1], entry[2], 2)
  hash_values[entry[1]] = nil
end

for _, entry in ipairs(batch.hashIncrement) do
  redis_call('HINCRBYFLOAT', entry[1], entry[2], string.format('%.17g', entry[3]))
  hash_values[entry[1]] = nil
end

-- Each group is {key, flat {field, value}}: a field takes the value when it is absent or smaller.
for _, entry in ipairs(batch.hashMax) do
  local key, pairs_ = entry[1], entry[2]
  local fields = {}
  for i = 1, #pairs_, 2 do
    fields[#fields + 1] = pairs_[i]
  end
  local current = redis_call('HMGET', key, unpack(fields))
  local args = {}
  for i = 1, #pairs_, 2 do
    local value = tonumber(current[(i + 1) / 2])
    if not value or pairs_[i + 1] > value then
      args[#args + 1] = pairs_[i]
      args[#args + 1] = pairs_[i + 1]
    end
  end
  if #args > 0 then
    call_with_arguments('HSET', key, args, 2)
  end
  hash_values[key] = nil
end

for i = 1, #batch.stringSet, 2 do
  redis_call('SET', batch.stringSet[i], batch.stringSet[i + 1])
end

-- Each entry is {key, snapshotKey, fieldSet, ttlMs}: the landmark and the fields as little-endian
-- doubles, 0 for an absent one, packed from the values the decay step holds when it can.
for _, entry in ipairs(batch.snapshots) do
  local key, snapshot_key, ttl = entry[1], entry[2], entry[4]
  local fields = field_names(entry[3])
  local numbers = {}
  local values = hash_values[key]
  if values then
    numbers[1] = values[LANDMARK_FIELD] or 0
    for i, field in ipairs(fields) do
      numbers[i + 1] = values[field] or 0
    end
  else
    local reply = redis_call('HMGET', key, LANDMARK_FIELD, unpack(fields))
    for i = 1, #fields + 1 do
      numbers[i] = tonumber(reply[i]) or 0
    end
  end
  local packed = struct.pack(pack_format(#numbers), unpack(numbers))
  set_with_ttl(snapshot_key, packed, ttl)
end

for _, group in ipairs(batch.expires) do
  for _, key in ipairs(group[2]) do
    redis_call('PEXPIRE', key, integer_text(group[1]))
  end
end
return {}
