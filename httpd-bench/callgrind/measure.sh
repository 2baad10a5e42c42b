#!/usr/bin/env bash
# Instructions per keep-alive request of a bench-httpd binary, under callgrind.
#
# usage: measure.sh /path/to/bench-httpd [seq|pipe|c50|both|all|idle]   (default: both)
#
# Each mode is a separate valgrind run (fresh server process):
#   seq : 20,000 sequential GET /plaintext on one keep-alive connection
#   pipe: 32,000 GET /plaintext on one connection, pipelined 16 per send
#   c50 : 20,000 GET /plaintext over 50 connections, one request on each per round
#   (CALLGRIND_ARGS adds valgrind options, e.g. --cache-sim=yes)
# Ir/request = PROGRAM TOTALS / requests, so it INCLUDES the server's startup and
# shutdown cost, the readiness-probe connection(s) and the connection accept/close.
# Output files: /tmp/callgrind/out/callgrind.<mode>.<timestamp>.out (override dir with OUT_DIR).
set -u

BIN=${1:?usage: measure.sh /path/to/bench-httpd [seq|pipe|both]}
WHICH=${2:-both}
HERE=$(cd "$(dirname "$0")" && pwd)
CLIENT="$HERE/client.py"
OUT_DIR=${OUT_DIR:-/tmp/callgrind/out}
mkdir -p "$OUT_DIR"

[ -x "$BIN" ] || { echo "not an executable: $BIN" >&2; exit 2; }
case "$WHICH" in
  seq) MODES="seq" ;; pipe) MODES="pipe" ;; c50) MODES="c50" ;; both) MODES="seq pipe" ;;
  all) MODES="seq pipe c50" ;;
  idle) MODES="idle" ;;   # no requests: start, readiness probe, stop (the fixed cost alone)
  *) echo "mode must be seq, pipe, c50, both, all or idle" >&2; exit 2 ;;
esac

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# One connection attempt; 0 if the port accepts.
probe() {
  python3 -c 'import socket,sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
except OSError:
    sys.exit(1)' "$1"
}

VG_PID=""
cleanup() {
  # Only the valgrind process this script started, by its pid.
  if [ -n "$VG_PID" ] && kill -0 "$VG_PID" 2>/dev/null; then
    kill -TERM "$VG_PID" 2>/dev/null
  fi
}
trap cleanup EXIT

stop_server() {
  local pid=$1 sig i
  for sig in INT TERM; do
    kill -s "$sig" "$pid" 2>/dev/null || break
    for i in $(seq 1 60); do             # up to 30 s per signal
      kill -0 "$pid" 2>/dev/null || break 2
      sleep 0.5
    done
    echo "  server pid $pid did not exit on SIG$sig" >&2
  done
  wait "$pid" 2>/dev/null
  echo "  valgrind exit status: $? ($(grep -o 'default action of signal [0-9]* ([A-Z]*)' "$LOG" | head -1))"
}

STATUS=0
for MODE in $MODES; do
  PORT=$(free_port)
  OUT="$OUT_DIR/callgrind.$MODE.$(date +%Y%m%d-%H%M%S).$$.out"
  LOG="$OUT.log"
  echo "== mode=$MODE port=$PORT binary=$BIN"
  echo "  cmd: env --default-signal=INT valgrind --tool=callgrind --callgrind-out-file=$OUT $BIN --port $PORT"
  # A background job of a non-interactive shell starts with SIGINT ignored; env restores the
  # default action (and execs, so $! is valgrind's pid).
  # shellcheck disable=SC2086 # CALLGRIND_ARGS is a list of options
  env --default-signal=INT valgrind --tool=callgrind ${CALLGRIND_ARGS:-} --callgrind-out-file="$OUT" "$BIN" --port "$PORT" >"$LOG" 2>&1 &
  VG_PID=$!

  # Readiness: bounded poll of connection attempts (~60 s max).
  ready=0
  deadline=$((SECONDS + 60))
  while [ $SECONDS -lt $deadline ]; do
    if ! kill -0 "$VG_PID" 2>/dev/null; then echo "  server exited early; log: $LOG" >&2; break; fi
    if probe "$PORT"; then ready=1; break; fi
    sleep 0.2
  done
  if [ $ready -ne 1 ]; then
    echo "  server not ready on port $PORT; log: $LOG" >&2
    cleanup; wait "$VG_PID" 2>/dev/null; VG_PID=""; STATUS=1; continue
  fi

  t0=$SECONDS
  if [ "$MODE" = idle ]; then N=0; crc=0; else
    N=$(python3 "$CLIENT" "$MODE" "$PORT"); crc=$?
  fi
  echo "  client: $N requests in $((SECONDS - t0)) s (rc=$crc)"
  stop_server "$VG_PID"; VG_PID=""

  if [ ! -s "$OUT" ] || [ "$crc" -ne 0 ] || ! [[ "$N" =~ ^[0-9]+$ ]] || { [ "$N" -eq 0 ] && [ "$MODE" != idle ]; }; then
    echo "  no callgrind output or client failed; log: $LOG" >&2; STATUS=1; continue
  fi
  TOT_LINE=$(callgrind_annotate "$OUT" | grep "PROGRAM TOTALS")
  IR=$(echo "$TOT_LINE" | awk '{print $1}' | tr -d ,)
  echo "  $TOT_LINE"
  echo "  file: $OUT"
  [ "$MODE" = idle ] && { echo "  RESULT mode=idle total_Ir=$IR (fixed cost: startup + probe + shutdown)"; continue; }
  awk -v ir="$IR" -v n="$N" -v m="$MODE" \
    'BEGIN { printf "  RESULT mode=%s total_Ir=%d requests=%d Ir/request=%.1f (startup included)\n", m, ir, n, ir/n }'
done
exit $STATUS
