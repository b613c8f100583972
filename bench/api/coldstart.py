"""api-lambda cold start: time from process spawn to its first poll of the
Runtime API's /invocation/next (the end of init, as Lambda bills it), over
N runs against a minimal Runtime API on loopback."""
import http.server
import os
import statistics
import subprocess
import sys
import threading
import time

binary, runs = sys.argv[1], int(sys.argv[2])
first_poll = threading.Event()


class Api(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        first_poll.set()
        time.sleep(0.5)  # hold the poll; the process is killed meanwhile
        self.send_response(204)
        self.end_headers()

    def log_message(self, *a):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
threading.Thread(target=server.serve_forever, daemon=True).start()
env = dict(os.environ)
env.update({
    "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
    "AWS_LAMBDA_FUNCTION_NAME": "api-lambda", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    # A full configuration; the JWKS is fetched at first use, not at init.
    "JWT_ISSUER": "https://issuer.bench/", "JWT_AUDIENCE": "secrets-api",
    "JWT_JWKS_URL": "https://idp.invalid/jwks.json", "ALLOWED_SECRETS": "bench/**",
    "RUST_LOG": "info",
})
samples = []
for _ in range(runs):
    first_poll.clear()
    t0 = time.perf_counter()
    p = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not first_poll.wait(10):
        p.kill()
        sys.exit("api-lambda never polled /next")
    samples.append((time.perf_counter() - t0) * 1000)
    p.kill()
    p.wait()
samples.sort()
print(f"cold start over {runs} runs: median {statistics.median(samples):.1f} ms, "
      f"p90 {samples[int(runs * 0.9) - 1]:.1f} ms, min {samples[0]:.1f} ms, max {samples[-1]:.1f} ms")
