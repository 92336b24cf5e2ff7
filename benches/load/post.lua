-- wrk script: POST a SCIM User (the body is read from BODY_FILE).
local f = assert(io.open(os.getenv("BODY_FILE"), "r"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/scim+json"
