"""Your function. This example echoes the request body back with its Content-Type. GET /config shows
how to use a secret (here "db-password", never echoed): 200 when it is mounted, else 503 with Retry-After."""


def handle(event, context):
    if event.path == "/config":
        password = context.secret("db-password")
        if password is None:
            return {"statusCode": 503, "headers": {"Retry-After": "10", "Content-Type": "text/plain"}, "body": "the db-password secret is not mounted\n"}
        return {"statusCode": 200, "body": {"database": "configured", "passwordChars": len(password)}}
    return {
        "statusCode": 200,
        "headers": {"Content-Type": event.headers.get("content-type", "text/plain"), "X-Handled-By": "python3-http"},
        "body": event.body,
    }
