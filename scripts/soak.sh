#!/usr/bin/env bash
# Soak test of the std server (issue 6): the release `wsgiref` command under wrk for DURATION
# seconds with CONNECTIONS persistent connections, first `--app hello` (GET), then `--app echo`
# (POST bodies of BODY_SIZE bytes, each echoed body checked by the wrk script). The server's
# VmRSS is sampled from /proc/PID/status every second.
#
#   scripts/soak.sh                       # 60 s per scenario, 256 connections, --threads 256
#   ENGINE=poll scripts/soak.sh           # the epoll event loop, one thread (--threads 1)
#   DURATION=20 THREADS=64 scripts/soak.sh
#
# Passes when, for each scenario: wrk saw no socket error (connect, read, write, timeout) and
# no non-2xx/3xx response, every echoed body matched, no connection went without a response
# byte from 10 s into the run to 2 s before its end (from `ss -ti`: wrk itself reports no
# error for a connection that is never answered), the server is still running and still
# answers afterwards, and the peak VmRSS is within RSS_TOLERANCE percent of the VmRSS 10 s
# into the run. DURATION must be at least 13. Prints a summary; exits non-zero on any failure.
#
# ENGINE picks the server (`--engine`): `threads` (the default here) or `poll`. THREADS is
# passed as `--threads`: worker threads for `threads` (default here 256), threads of the
# event loop for `poll` (default here 1; they share 1024 connection slots).
#
# Why --threads 256 by default for the threads engine: that server is one blocking worker
# thread per connection (`--threads`, default 64) with up to 256 connections open in all
# (beyond them, 503). A keep-alive connection holds its worker until it closes or goes idle,
# and wrk keeps every connection busy: with 64 workers, 64 connections are served for the
# whole run and the other 192 are accepted but wait in the server's hand-off queue, their
# first request never answered. wrk counts no error for them (it counts a timeout only when
# a late response arrives), so such a run shows 0 wrk errors and fails on the starvation
# check (starved=192). Serving 256 busy connections needs 256 workers, or ENGINE=poll.
# See docs/RELIABILITY.md for the runs.
#
# Only 127.0.0.1 is used. The server is started by this script and stopped by its own PID
# (also on exit or interrupt).
#
# Settings (environment): ENGINE (threads), DURATION (60), CONNECTIONS (256), THREADS (server
# --threads: 256 with ENGINE=threads, 1 with ENGINE=poll), WRK_THREADS (2), BODY_SIZE (1024),
# RSS_TOLERANCE (10), PORT (18400), SCENARIOS ("hello echo"), SKIP_BUILD (1: use the release
# binary already built, $CARGO_TARGET_DIR/release/wsgiref, else target/release/wsgiref).
# The summary records nproc and the load average before and after each wrk run.

set -euo pipefail

ENGINE=${ENGINE:-threads}
case "$ENGINE" in
threads) THREADS=${THREADS:-256} ;;
poll) THREADS=${THREADS:-1} ;;
*) echo "soak.sh: ENGINE must be threads or poll, not '$ENGINE'" >&2; exit 2 ;;
esac
DURATION=${DURATION:-60}
CONNECTIONS=${CONNECTIONS:-256}
WRK_THREADS=${WRK_THREADS:-2}
BODY_SIZE=${BODY_SIZE:-1024}
RSS_TOLERANCE=${RSS_TOLERANCE:-10}
PORT=${PORT:-18400}
SCENARIOS=${SCENARIOS:-"hello echo"}
SKIP_BUILD=${SKIP_BUILD:-0}
[ "$DURATION" -ge 13 ] || { echo "soak.sh: DURATION must be at least 13 (seconds)" >&2; exit 2; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/wsgiref-soak.XXXXXX")
SERVER_PID=""
SAMPLER_PID=""

log() { printf '%s\n' "$*" >&2; }
die() { log "soak.sh: $*"; exit 2; }

stop_pid() {
    local pid=$1
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    stop_pid "$SAMPLER_PID"
    stop_pid "$SERVER_PID"
    SAMPLER_PID=""
    SERVER_PID=""
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------- tools

if ! command -v wrk >/dev/null; then
    log "wrk not found: installing it (apt-get install -y wrk)"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get install -y wrk >/dev/null 2>&1 ||
        { $SUDO apt-get update -qq && $SUDO apt-get install -y wrk >/dev/null; } ||
        die "cannot install wrk"
fi
command -v curl >/dev/null || die "curl is needed (to check that the server answers)"
command -v ss >/dev/null || die "ss (iproute2) is needed (to find connections never answered)"

TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET_DIR/release/wsgiref
if [ "$SKIP_BUILD" != 1 ]; then
    log "building the release wsgiref command"
    (cd "$ROOT" && cargo build --release --quiet -p wsgiref-std --bin wsgiref) ||
        die "build failed"
fi
[ -x "$BIN" ] || die "$BIN not found (build it, or unset SKIP_BUILD)"

# Open files: CONNECTIONS sockets on each side plus slack.
ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---------------------------------------------------------------------------- wrk scripts

# POST a fixed body; check that every echoed body is that body (wrk hands `response` the
# body with the chunked framing removed). Counts are per wrk thread, summed in `done`.
cat >"$WORK/echo.lua" <<EOF
local size = $BODY_SIZE
local chars = "abcdefghijklmnopqrstuvwxyz0123456789"
local parts = {}
for i = 1, size do
    local k = (i * 7) % #chars + 1
    parts[i] = chars:sub(k, k)
end
local body = table.concat(parts)
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/octet-stream"

local threads = {}
function setup(thread)
    table.insert(threads, thread)
end

mismatched = 0
checked = 0
function response(status, headers, got)
    checked = checked + 1
    if status ~= 200 or got ~= body then
        mismatched = mismatched + 1
    end
end

function done(summary, latency, requests)
    local bad, seen = 0, 0
    for _, t in ipairs(threads) do
        bad = bad + t:get("mismatched")
        seen = seen + t:get("checked")
    end
    io.write(string.format("echo checked: %d\necho mismatched: %d\n", seen, bad))
end
EOF

# ---------------------------------------------------------------------------- one scenario

FAILED=0
SUMMARY=""

# rss_kib PID: the VmRSS of PID in KiB, or nothing if it is gone.
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || true; }

# conn_progress: one line per established server connection, "PEER BYTES_ACKED" (response
# bytes the client has acknowledged; 0 if the server never sent it anything).
conn_progress() {
    ss -Htin state established "( sport = :$PORT )" 2>/dev/null | awk '
        /^[^ \t]/ { if (peer != "") print peer, acked; peer = $4; acked = 0; next }
        { if (match($0, /bytes_acked:[0-9]+/)) acked = substr($0, RSTART + 12, RLENGTH - 12) }
        END { if (peer != "") print peer, acked }'
}

# starved A B: connections open at both snapshots that received no response byte between
# them (wrk counts no error for a connection that never gets an answer: it only counts a
# timeout when a late response arrives).
starved() {
    awk 'NR == FNR { before[$1] = $2; next } ($1 in before) && $2 == before[$1] { n++ }
        END { print n + 0 }' "$1" "$2"
}

run_scenario() {
    local app=$1
    local out=$WORK/$app
    mkdir -p "$out"
    "$BIN" --app "$app" --bind "127.0.0.1:$PORT" --engine "$ENGINE" --threads "$THREADS" --quiet \
        >"$out/server.out" 2>"$out/server.err" &
    SERVER_PID=$!
    local ready=0
    for _ in $(seq 100); do
        if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/"; then
            ready=1
            break
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    [ "$ready" = 1 ] || die "the $app server did not start: $(cat "$out/server.err")"

    # One VmRSS sample a second, numbered from the start of the wrk run; at 10 s and 2 s
    # before the end, what the server has sent on each connection (starvation check).
    (
        i=0
        while kill -0 "$SERVER_PID" 2>/dev/null; do
            printf '%d %s\n' "$i" "$(rss_kib "$SERVER_PID")"
            if [ "$i" -eq 10 ]; then conn_progress >"$out/conns.10"; fi
            if [ "$i" -eq $((DURATION - 2)) ]; then conn_progress >"$out/conns.end"; fi
            i=$((i + 1))
            sleep 1
        done
    ) >"$out/rss" &
    SAMPLER_PID=$!

    local script=()
    [ "$app" = echo ] && script=(-s "$WORK/echo.lua")
    log "soak: --app $app, wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s, server --engine $ENGINE --threads $THREADS"
    local load_before load_after
    load_before=$(cut -d' ' -f1-3 /proc/loadavg)
    wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 5s --latency \
        "${script[@]}" "http://127.0.0.1:$PORT/soak" >"$out/wrk" 2>&1 || true
    load_after=$(cut -d' ' -f1-3 /proc/loadavg)
    stop_pid "$SAMPLER_PID"
    SAMPLER_PID=""

    local alive=yes answers=yes
    kill -0 "$SERVER_PID" 2>/dev/null || alive=no
    curl -fsS -o /dev/null -m 5 "http://127.0.0.1:$PORT/after" || answers=no
    stop_pid "$SERVER_PID"
    SERVER_PID=""

    local requests rps socket_errors non2xx mismatched rss10 peak final samples
    requests=$(awk '/requests in/ { print $1 }' "$out/wrk")
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out/wrk")
    socket_errors=$(awk '/Socket errors:/ { for (i = 3; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) s += $i }
        END { print s + 0 }' "$out/wrk")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out/wrk")
    mismatched=$(awk '/^echo mismatched:/ { print $3 }' "$out/wrk")
    rss10=$(awk '$1 == 10 { print $2 }' "$out/rss")
    peak=$(awk 'NF == 2 && $2 > m { m = $2 } END { print m + 0 }' "$out/rss")
    final=$(awk 'NF == 2 { v = $2 } END { print v + 0 }' "$out/rss")
    samples=$(awk 'NF == 2' "$out/rss" | wc -l)
    local first
    first=$(awk '$1 == 1 { print $2 }' "$out/rss")
    local conns="?" stuck="?"
    if [ -f "$out/conns.10" ] && [ -f "$out/conns.end" ]; then
        conns=$(wc -l <"$out/conns.end")
        stuck=$(starved "$out/conns.10" "$out/conns.end")
    fi

    local verdict=pass reasons=""
    [ -n "$requests" ] || { verdict=FAIL; reasons+=" wrk-did-not-report"; }
    [ "${socket_errors:-0}" -eq 0 ] || { verdict=FAIL; reasons+=" socket-errors"; }
    [ "${non2xx:-0}" -eq 0 ] || { verdict=FAIL; reasons+=" non-2xx"; }
    [ "${mismatched:-0}" -eq 0 ] || { verdict=FAIL; reasons+=" echo-mismatch"; }
    [ "$alive" = yes ] || { verdict=FAIL; reasons+=" server-died"; }
    [ "$answers" = yes ] || { verdict=FAIL; reasons+=" no-answer-after"; }
    [ "$stuck" = 0 ] || { verdict=FAIL; reasons+=" starved-connections"; }
    if [ -z "$rss10" ]; then
        verdict=FAIL
        reasons+=" no-rss-sample-at-10s"
    elif [ $((peak * 100)) -gt $((rss10 * (100 + RSS_TOLERANCE))) ]; then
        verdict=FAIL
        reasons+=" rss-grew"
    fi
    [ "$verdict" = pass ] || FAILED=1

    local line
    line=$(printf '%-5s %-4s load(before/after)=%s/%s requests=%s req/s=%s socket_errors=%s non2xx=%s echo_mismatched=%s connections=%s starved=%s rss_kib(1s/10s/peak/end)=%s/%s/%s/%s samples=%s alive=%s answers_after=%s server_stderr_lines=%s%s' \
        "$app" "$verdict" "${load_before// /,}" "${load_after// /,}" "${requests:-?}" "${rps:-?}" "${socket_errors:-0}" "${non2xx:-0}" \
        "${mismatched:--}" "$conns" "$stuck" "${first:-?}" "${rss10:-?}" "$peak" "$final" "$samples" "$alive" \
        "$answers" "$(wc -l <"$out/server.err")" "${reasons:+ ($reasons )}")
    SUMMARY+="$line"$'\n'
    log "--- wrk ($app) ---"
    cat "$out/wrk" >&2
    if [ -s "$out/server.err" ]; then
        log "--- server stderr ($app), first lines ---"
        head -5 "$out/server.err" >&2
    fi
    log "--- VmRSS samples (KiB, one a second) ---"
    awk 'NF == 2 { printf "%s%s", sep, $2; sep = " " } END { print "" }' "$out/rss" >&2
}

for app in $SCENARIOS; do
    run_scenario "$app"
done

printf '\nsoak summary (ENGINE=%s DURATION=%ss CONNECTIONS=%s THREADS=%s BODY_SIZE=%s, RSS tolerance %s%%; nproc %s)\n%s' \
    "$ENGINE" "$DURATION" "$CONNECTIONS" "$THREADS" "$BODY_SIZE" "$RSS_TOLERANCE" "$(nproc)" "$SUMMARY"
exit "$FAILED"
