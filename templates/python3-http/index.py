"""python3-http entry: an HTTP server on $http_port (default 3000) that hands each request to function/handler.py.

fwatchdog (mode=http) starts it, proxies requests to it and stops it with SIGTERM. On SIGTERM it finishes
the requests in flight, then exits 0 (faasd sends SIGTERM to every process of the container at once, so a
request can still be in flight here). Standard library only.
"""
import json
import os
import signal
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from function import handler
from read_secret import read_secret

RAW_BODY = os.environ.get("RAW_BODY", "").lower() in ("true", "1", "yes", "on")


class Event:
    """One request: body (bytes if RAW_BODY, else parsed JSON for a JSON Content-Type, else str),
    raw_body (bytes), headers (dict, lower-case names), method, path and query (first value of each)."""

    def __init__(self, body, raw_body, headers, method, path, query):
        self.body = body
        self.raw_body = raw_body
        self.headers = headers
        self.method = method
        self.path = path
        self.query = query


class Context:
    """What the handler can use besides the request."""

    @staticmethod
    def secret(name):
        return read_secret(name)


CONTEXT = Context()

# Requests being handled; SIGTERM waits for it to reach 0.
IN_FLIGHT = 0
IDLE = threading.Condition()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the watchdog logs every request already
        pass

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def reply(self, status, headers, body):
        # Everything is converted before the first byte is written, so a bad value can still become a 500.
        status = int(status)
        headers = dict(headers or {})
        names = {k.lower() for k in headers}
        if body is None:
            body = b""
        elif isinstance(body, str):
            body = body.encode("utf-8")
        elif not isinstance(body, (bytes, bytearray, memoryview)):
            body = json.dumps(body).encode("utf-8")
            if "content-type" not in names:
                headers["Content-Type"] = "application/json"
        self.send_response(status)
        for name, value in headers.items():
            for v in value if isinstance(value, (list, tuple)) else [value]:
                self.send_header(name, str(v))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(bytes(body))

    def handle_any(self):
        global IN_FLIGHT
        with IDLE:
            IN_FLIGHT += 1
        try:
            self.serve()
        finally:
            with IDLE:
                IN_FLIGHT -= 1
                IDLE.notify_all()

    def serve(self):
        raw = self.read_body()
        url = urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        body = raw
        if not RAW_BODY:
            text = raw.decode("utf-8", errors="replace")
            body = text
            if "json" in headers.get("content-type", "") and text.strip():
                try:
                    body = json.loads(text)
                except ValueError as err:
                    self.reply(400, {"Content-Type": "text/plain"}, "invalid JSON body: %s\n" % err)
                    return
        event = Event(body, raw, headers, self.command, url.path, {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()})
        try:
            result = handler.handle(event, CONTEXT) or {}
            response = (result.get("statusCode", 200), result.get("headers"), result.get("body"))
            self.reply(*response)
        except Exception:  # the handler's bug (or an unsendable result): log it, answer 500, keep serving
            traceback.print_exc()
            self.reply(500, {"Content-Type": "text/plain"}, "Internal Server Error\n")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_any


def main():
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("http_port") or 3000)), Handler)
    server.daemon_threads = True

    def stop_when_idle():
        with IDLE:
            IDLE.wait_for(lambda: IN_FLIGHT == 0)
        server.shutdown()  # serve_forever returns; idle keep-alive connections end with the process

    # SIGTERM: finish the requests in flight, then exit 0 (the handler runs in the main thread, which
    # serve_forever occupies: the wait is in another thread).
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=stop_when_idle, daemon=True).start())
    server.serve_forever()


if __name__ == "__main__":
    main()
