"""Reads an OpenFaaS secret from $secret_mount_path (default /var/openfaas/secrets), set by the watchdog."""
import os


def read_secret(name):
    """The secret NAME as text without its trailing newline, or None when no such secret is mounted."""
    if not name or "/" in name or name.startswith("."):
        raise ValueError("invalid secret name %r" % (name,))
    path = os.path.join(os.environ.get("secret_mount_path") or "/var/openfaas/secrets", name)
    try:
        with open(path, encoding="utf-8") as f:
            value = f.read()
    except FileNotFoundError:
        return None
    return value[:-1] if value.endswith("\n") else value
