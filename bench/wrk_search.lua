-- wrk script: search with rotating one-word, two-word and phrase queries
local q = {"budget", "meeting+tuesday", "invoice", "%22the+weather%22", "doctor", "market+holiday",
  "airport", "museum+concert"}
local n = 0
wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")
request = function()
  n = n + 1
  return wrk.format("GET", wrk.path .. "?q=" .. q[n % #q + 1] .. "&limit=20")
end
