"""Your function: req is the request body (str, or bytes when RAW_BODY=true); the return value is the
response (str, bytes, or anything JSON-serialisable). This example echoes the body back."""


def handle(req):
    return req
