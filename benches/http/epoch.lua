-- wrk script: the epoch-key route with many distinct content ids, as at a rotation
-- spike where every viewer of every title fetches the next epoch key.
-- Cycles GET /keys/title-N/EPOCH over IDS titles (default 100000) and 4 epochs; the
-- Authorization header comes from wrk's -H option.
local ids = tonumber(os.getenv("IDS") or "100000")
local base_epoch = tonumber(os.getenv("EPOCH") or "1000")
local n = 0

request = function()
  n = n + 1
  local id = n % ids
  local epoch = base_epoch + (math.floor(n / ids) % 4)
  return wrk.format("GET", "/keys/title-" .. id .. "/" .. epoch)
end
