# Defines read_secret NAME: prints the OpenFaaS secret NAME from $secret_mount_path (default
# /var/openfaas/secrets, set by the watchdog) without its trailing newline; fails if there is none.
read_secret() {
  case "$1" in
    '' | */* | .*) echo "read_secret: invalid secret name '$1'" >&2; return 2 ;;
  esac
  local file="${secret_mount_path:-/var/openfaas/secrets}/$1"
  if [ ! -f "$file" ]; then
    echo "read_secret: no secret named '$1' in ${file%/*}" >&2
    return 1
  fi
  local value
  value="$(cat "$file"; printf x)"
  value="${value%x}"
  printf '%s' "${value%$'\n'}"
}
