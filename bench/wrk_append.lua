-- wrk script: append messages with varied words (so search has something to rank)
local words = {"budget", "meeting", "tuesday", "report", "station", "weather", "company",
  "project", "market", "holiday", "children", "doctor", "computer", "president", "water"}
local n = 0
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  local a, b = words[n % #words + 1], words[(n * 7) % #words + 1]
  local body = string.format('{"role":"user","content":"message %d about the %s and the %s"}', n, a, b)
  return wrk.format(nil, nil, nil, body)
end
