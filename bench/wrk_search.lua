-- wrk script: search with a rotating one- or two-word query
local q = {"budget", "meeting+tuesday", "report", "%22the+weather%22", "doctor", "market+holiday"}
local n = 0
wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")
request = function()
  n = n + 1
  return wrk.format("GET", wrk.path .. "?q=" .. q[n % #q + 1] .. "&limit=20")
end
