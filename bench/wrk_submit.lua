-- wrk script: POST /v1/jobs with a multipart body holding FILE (env), key from KEY
local f = assert(io.open(os.getenv("FILE"), "rb"))
local data = f:read("*a")
f:close()
local b = "sottoloadboundary7f3a"
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")
wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. b
wrk.body = "--" .. b .. "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"short.wav\"\r\n" ..
  "Content-Type: audio/wav\r\n\r\n" .. data .. "\r\n--" .. b .. "--\r\n"
