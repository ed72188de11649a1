#!/usr/bin/env bash
# bash-streaming entry: defines read_secret, then runs function/handler.sh in this shell with the
# request body on stdin (raw bytes) and the response streaming from stdout. Request headers are in
# the Http_* variables (Http_Method, Http_Path, Http_Query, Http_Content_Type, ...).
set -eo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=read-secret.sh
. ./read-secret.sh
# shellcheck source=function/handler.sh
. ./function/handler.sh
