#!/usr/bin/env bash
# on_backend.sh PROBE COMMAND...: runs COMMAND if the backend PSN_BACKEND
# names is available here; exits 77 (skipped) if it is not.
probe=$1
shift
"$probe" || exit $?
exec "$@"
