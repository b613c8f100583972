"""A counting HTTP proxy for the AWS API emulator (benchmark only).

Forwards every request to the upstream endpoint and counts Secrets Manager
operations by their X-Amz-Target header. GET /__count returns the counts as
JSON; POST /__reset clears them. Usage: count_proxy.py LISTEN_PORT UPSTREAM_URL
"""
import collections
import http.server
import json
import sys
import threading
import urllib.error
import urllib.request

PORT = int(sys.argv[1])
UPSTREAM = sys.argv[2].rstrip("/")
counts = collections.Counter()
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _reply(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _forward(self):
        if self.path == "/__count":
            with lock:
                return self._reply(200, json.dumps(counts).encode())
        if self.path == "/__reset":
            with lock:
                counts.clear()
            return self._reply(200, b"{}")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        target = self.headers.get("X-Amz-Target", "")
        if target:
            with lock:
                counts[target.split(".")[-1]] += 1
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        req = urllib.request.Request(UPSTREAM + self.path, data=body, headers=headers, method=self.command)
        try:
            with urllib.request.urlopen(req) as r:
                self._reply(r.status, r.read(), r.getheaders())
        except urllib.error.HTTPError as e:
            self._reply(e.code, e.read(), e.headers.items())

    do_GET = do_POST = do_PUT = do_DELETE = _forward


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
