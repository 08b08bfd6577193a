-- wrk: sign in with a password (POST /api/v1/auth/sign-in, JSON body).
-- Account from the environment: BENCH_USER, BENCH_PASSWORD (default: the bench-data account).
local user = os.getenv("BENCH_USER") or "bench"
local password = os.getenv("BENCH_PASSWORD") or "bench-password-1"
wrk.method = "POST"
wrk.path = "/api/v1/auth/sign-in"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format('{"username":"%s","password":"%s"}', user, password)
