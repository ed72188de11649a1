"""python3 entry: the request body on stdin -> handle(req) in function/handler.py -> the response on stdout.

fwatchdog (mode=classic or serializing) runs it once per request. Request headers are in the Http_*
environment variables (Http_Method, Http_Path, Http_Query, Http_Content_Type, ...). An exception
makes it exit 1, which the watchdog answers with a 500.
"""
import json
import os
import sys

from function import handler

RAW_BODY = os.environ.get("RAW_BODY", "").lower() in ("true", "1", "yes", "on")


def main():
    data = sys.stdin.buffer.read()
    req = data if RAW_BODY else data.decode("utf-8", errors="replace")
    res = handler.handle(req)
    if res is None:
        return
    if isinstance(res, str):
        res = res.encode("utf-8")
    elif not isinstance(res, (bytes, bytearray, memoryview)):
        res = json.dumps(res).encode("utf-8")
    sys.stdout.buffer.write(res)
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
