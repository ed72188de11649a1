#!/bin/sh
# RSS of the watchdog (MiB) after each of N requests to a function writing a 1 MiB stderr line then 10 MiB of stderr.
# Usage: test/reliability/measure-rss.sh [runs=30] [port=18160]   (needs npm run build and curl)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
runs=${1:-30}
port=${2:-18160}
tmp=$(mktemp -d)
fprocess="$root/test/fixtures/long-stderr-line" port=$port metrics_port=0 healthcheck_interval=0 TMPDIR=$tmp \
  node "$root/dist/fwatchdog.cjs" >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
sleep 1
printf 'before: %s MiB\nafter each request:' "$(awk '/VmRSS/{print int($2/1024)}' /proc/$pid/status)"
i=0
while [ "$i" -lt "$runs" ]; do
  curl -fsS -d x "localhost:$port/" >/dev/null
  printf ' %s' "$(awk '/VmRSS/{print int($2/1024)}' /proc/$pid/status)"
  i=$((i + 1))
done
printf '\npeak: %s MiB\n' "$(awk '/VmHWM/{print int($2/1024)}' /proc/$pid/status)"
