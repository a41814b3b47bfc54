-- wrk script: append messages built from a 120-word vocabulary (each word then appears in
-- a few percent of the messages, like real conversation) so search has something to rank
local words = {}
for w in ([[budget meeting tuesday report station weather company project market holiday
children doctor computer president water reservation people tonight afternoon week year
rainy tomorrow train school month price morning office floor building government plan
taxes problem team game minute friday house city sales quarter sister town coast police
car lunch monday country visit important drink closed sell york system ready june lights
room students homework food store bank interest rates contract invoice customer delivery
schedule airport flight hotel ticket manager engineer server database network security
release version feature design review budget cost revenue profit loss growth strategy
hospital patient nurse medicine court judge lawyer evidence teacher lesson exam garden
river mountain forest ocean island bridge museum library concert theater movie music
dinner breakfast coffee tea bread cheese apple orange]]):gmatch("%a+") do
  words[#words + 1] = w
end
local n = 0
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  local a, b, c = words[n % #words + 1], words[(n * 7) % #words + 1], words[(n * 31 + 5) % #words + 1]
  local body = string.format('{"role":"user","content":"note %d: the %s and the %s before the %s"}', n, a, b, c)
  return wrk.format(nil, nil, nil, body)
end
