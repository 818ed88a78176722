-- wrk script: POST uniquely named pods to the default namespace, bearer token from $TOKEN.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
counter = 0
request = function()
  counter = counter + 1
  local body = '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p-' .. tid .. '-' .. counter .. '-' .. os.time() .. '","labels":{"app":"bench"}},"spec":{"containers":[{"name":"main","image":"busybox:1.36","command":["sleep","3600"]}]}}'
  return wrk.format("POST", "/api/v1/namespaces/" .. (os.getenv("NAMESPACE") or "default") .. "/pods", {["Content-Type"]="application/json", ["Authorization"]="Bearer " .. os.getenv("TOKEN")}, body)
end
