#!/usr/bin/env bash
# Server load benchmark: the `wsgiref` command (`wsgiref --app hello` as it comes: the epoll
# event loop, as many threads at the loop as CPUs, 64 in all; the thread pool of
# --engine threads; --engine poll with a given number of threads), the
# `wsgiref-tokio` command (tokio adapter, 2 workers, both executions) against a hyper hello
# world (bench/hyper-hello, 2 tokio workers) and Python's wsgiref.simple_server, with wrk.
#
#   bench/load.sh                      # 3 rounds; the thread pool with --threads 8, 32, 64
#   ROUNDS=5 WSGIREF_THREADS="8 32" bench/load.sh
#
# For each server, two wrk scenarios (wrk -t2 -c32 -d5s --latency): keep-alive, and one
# request per connection (-H 'Connection: close'). Servers are interleaved: every round runs
# each server once (fresh process: start, keep-alive run, close run, read VmHWM, stop), the
# order rotating from round to round. The table reports the median over rounds.
#
# Only 127.0.0.1 is used. Every server is started by this script, waited for until it answers
# `Hello World`, and stopped by its own PID (also on exit or interrupt). Takes about
# 3-4 minutes with the defaults, plus the first build.
#
# Settings (environment): ROUNDS (3), DURATION (seconds, 5), CONNECTIONS (32),
# WRK_THREADS (2), WSGIREF_THREADS (--threads of the --engine threads runs, "8 32 64"),
# POLL_LOOPS (--threads of the --engine poll runs, "1 2"), BASE_PORT (18300; servers use
# BASE_PORT, BASE_PORT+1, ...), SKIP_BUILD (1: use the binaries already built),
# CARGO_TARGET_DIR (where cargo puts the binaries: target/ of the work tree and
# bench/hyper-hello/target/ unless set),
# ONLY (space-separated server names to run, of: wsgiref wsgiref-tN wsgiref-pollN tokio-bip
# tokio-inline hyper python; all unless set),
# PERF (1: also count the server's syscalls and context switches per request with
# `perf stat`; needs perf and tracepoint access).

set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-32}
WRK_THREADS=${WRK_THREADS:-2}
WSGIREF_THREADS=${WSGIREF_THREADS:-"8 32 64"}
POLL_LOOPS=${POLL_LOOPS:-"1 2"}
BASE_PORT=${BASE_PORT:-18300}
SKIP_BUILD=${SKIP_BUILD:-0}
PERF=${PERF:-0}
ONLY=${ONLY:-}
CLK_TCK=$(getconf CLK_TCK)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/wsgiref-load.XXXXXX")
SERVER_PID=""

log() { printf '%s\n' "$*" >&2; }
die() { log "load.sh: $*"; exit 1; }

stop_server() {
    local pid=$1
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 30); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    stop_server "$SERVER_PID"
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
command -v curl >/dev/null || die "curl is needed (to wait until a server answers)"
command -v ss >/dev/null || die "ss (iproute2) is needed"
if [ "$PERF" = 1 ]; then
    perf stat -e raw_syscalls:sys_enter -- true >/dev/null 2>&1 ||
        die "PERF=1 needs perf with access to the raw_syscalls tracepoints"
fi
PYTHON=$(python3 -c 'import sys; print(sys.executable)') || die "python3 is needed"

# ---------------------------------------------------------------------------- build

if [ "$SKIP_BUILD" != 1 ]; then
    log "building wsgiref (release)"
    (cd "$ROOT" && cargo build --release -q -p wsgiref-std -p wsgiref-tokio)
    log "building bench/hyper-hello (release)"
    cargo build --release -q --manifest-path "$ROOT/bench/hyper-hello/Cargo.toml"
fi
# Copies, so a rebuild in the work tree during the run cannot swap binaries between rounds.
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
HYPER_TARGET=${CARGO_TARGET_DIR:-$ROOT/bench/hyper-hello/target}
cp "$TARGET/release/wsgiref" "$WORK/wsgiref"
cp "$TARGET/release/wsgiref-tokio" "$WORK/wsgiref-tokio"
cp "$HYPER_TARGET/release/hyper-hello" "$WORK/hyper-hello"

help=$("$WORK/wsgiref" --help)
for opt in --app --quiet --threads --bind --engine; do
    grep -q -- "$opt" <<<"$help" || die "$TARGET/release/wsgiref has no $opt option"
done
grep -q 'hello' <<<"$help" || die "$TARGET/release/wsgiref --app has no 'hello' application"

# The same hello world as `--app hello`, on wsgiref.simple_server, access log off.
PY_HELLO='
import sys
from wsgiref.simple_server import make_server, WSGIRequestHandler

class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass

def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello World"]

make_server("127.0.0.1", int(sys.argv[1]), hello, handler_class=QuietHandler).serve_forever()
'

# ---------------------------------------------------------------------------- servers

SERVERS=(wsgiref)
for t in $WSGIREF_THREADS; do SERVERS+=("wsgiref-t$t"); done
for l in $POLL_LOOPS; do SERVERS+=("wsgiref-poll$l"); done
SERVERS+=(tokio-bip tokio-inline hyper python)
if [ -n "$ONLY" ]; then
    kept=()
    for name in $ONLY; do
        found=0
        for s in "${SERVERS[@]}"; do [ "$s" = "$name" ] && found=1; done
        [ "$found" = 1 ] || die "ONLY: no server named $name (${SERVERS[*]})"
        kept+=("$name")
    done
    SERVERS=("${kept[@]}")
fi

port_of() {
    local i
    for i in "${!SERVERS[@]}"; do
        [ "${SERVERS[$i]}" = "$1" ] && { echo $((BASE_PORT + i)); return; }
    done
    die "unknown server $1"
}

# Starts server $1 on port $2 in the background; sets SERVER_PID.
start_server() {
    local name=$1 port=$2
    [ -z "$(ss -Htln "sport = :$port")" ] || die "port $port is already in use"
    case $name in
        wsgiref)
            "$WORK/wsgiref" --app hello --quiet --bind "127.0.0.1:$port" >/dev/null &
            ;;
        wsgiref-t*)
            "$WORK/wsgiref" --app hello --quiet --engine threads --threads "${name#wsgiref-t}" \
                --bind "127.0.0.1:$port" >/dev/null &
            ;;
        wsgiref-poll*)
            "$WORK/wsgiref" --app hello --quiet --engine poll --threads "${name#wsgiref-poll}" \
                --bind "127.0.0.1:$port" >/dev/null &
            ;;
        tokio-bip | tokio-inline)
            local engine=block-in-place
            [ "$name" = tokio-inline ] && engine=inline
            "$WORK/wsgiref-tokio" --app hello --quiet --workers 2 --engine "$engine" \
                --bind "127.0.0.1:$port" >/dev/null &
            ;;
        hyper) "$WORK/hyper-hello" "127.0.0.1:$port" >/dev/null & ;;
        python) "$PYTHON" -c "$PY_HELLO" "$port" >/dev/null & ;;
    esac
    SERVER_PID=$!
    local body=""
    for _ in $(seq 100); do
        kill -0 "$SERVER_PID" 2>/dev/null || die "$name exited at start"
        body=$(curl -s --max-time 1 "http://127.0.0.1:$port/" 2>/dev/null) && break
        sleep 0.1
    done
    [ "$body" = "Hello World" ] || die "$name does not answer 'Hello World' on port $port (got '$body')"
}

# Server-side keep-alive sockets on $1 at this moment: "answered/open" (answered: it has
# sent at least one byte; wrk's statistics only see connections that got responses).
conns_answered() {
    ss -Htni state established "( sport = :$1 )" | awk '
        /^[^ \t]/ { open++ }
        /bytes_sent:[1-9]/ { answered++ }
        END { printf "%d/%d\n", answered, open }'
}

# wrk output -> "req_per_s p99_ms errors"
parse_wrk() {
    awk '
        function ms(v) {
            if (v ~ /us$/) return v / 1000
            if (v ~ /ms$/) return v + 0
            if (v ~ /m$/)  return v * 60000
            if (v ~ /s$/)  return v * 1000
            return v
        }
        /Requests\/sec:/ { rps = $2 }
        $1 == "99%" { p99 = ms($2) }
        /Socket errors:/ {
            gsub(",", ""); errs += $4 + $6 + $8 + $10
        }
        /Non-2xx or 3xx responses:/ { errs += $5 }
        END { printf "%.0f %.3f %d\n", rps, p99, errs }'
}

# wrk output -> "connect C, read R, write W, timeout T, non-2xx N" (or "none")
error_detail() {
    awk '
        /Socket errors:/ { sub(/.*Socket errors: /, ""); se = $0 }
        /Non-2xx or 3xx responses:/ { n = $5 }
        END {
            s = se
            if (n != "") s = s (s == "" ? "" : ", ") "non-2xx " n
            print (s == "" ? "none" : s)
        }'
}

run_wrk() { # name port scenario round
    local name=$1 port=$2 scenario=$3 round=$4 out="$WORK/$1.$3.$4"
    local args=(-t"$WRK_THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency)
    [ "$scenario" = close ] && args+=(-H 'Connection: close')
    local snap_pid="" perf_pid="" t0 t1
    if [ "$scenario" = keepalive ]; then
        (sleep $((DURATION - 1)); conns_answered "$port" >"$out.conns") &
        snap_pid=$!
    fi
    if [ "$PERF" = 1 ]; then
        perf stat -x, -e raw_syscalls:sys_enter -e context-switches -p "$SERVER_PID" \
            -o "$out.perf" &
        perf_pid=$!
        sleep 0.2
    fi
    t0=$(awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat")
    # wrk in a subshell that, once wrk has been waited for, reads its own children's CPU
    # time (cutime + cstime: wrk's user + system time).
    (
        wrk "${args[@]}" "http://127.0.0.1:$port/" >"$out.wrk" 2>&1 || true
        awk '{ print $16 + $17 }' "/proc/$BASHPID/stat" >"$out.wrkcpu"
    )
    t1=$(awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat")
    if [ -n "$perf_pid" ]; then
        kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" 2>/dev/null || true
    fi
    [ -z "$snap_pid" ] || wait "$snap_pid" || true
    parse_wrk <"$out.wrk" >"$out.res"
    local rps p99 requests cpu extra=""
    read -r rps p99 _ <"$out.res"
    requests=$(awk '/requests in/ { print $1 }' "$out.wrk")
    # Server CPU time (user + system, from /proc/PID/stat) per completed request, in µs.
    cpu=$(awk -v a="$t0" -v b="$t1" -v n="${requests:-0}" -v hz="$CLK_TCK" \
        'BEGIN { if (n > 0) printf "%.1f", (b - a) / hz * 1e6 / n; else print "-" }')
    echo "$cpu" >"$out.cpu"
    # The client's (wrk's) CPU time per request: what the server's way of answering costs
    # the other side of the same two CPUs.
    awk -v t="$(cat "$out.wrkcpu")" -v n="${requests:-0}" -v hz="$CLK_TCK" \
        'BEGIN { if (n > 0) printf "%.1f\n", t / hz * 1e6 / n; else print "-" }' >"$out.ccpu"
    if [ -n "$perf_pid" ]; then
        awk -F, -v n="${requests:-0}" '
            $3 ~ /sys_enter/ { s = $1 } $3 ~ /context-switches/ { c = $1 }
            END { if (n > 0) printf "%.2f %.2f\n", s / n, c / n; else print "- -" }' \
            "$out.perf" >"$out.sys"
        extra="  syscalls/req $(cut -d' ' -f1 "$out.sys")  context switches/req $(cut -d' ' -f2 "$out.sys")"
    fi
    [ -f "$out.conns" ] && extra="$extra  conns answered/open at $((DURATION - 1))s: $(cat "$out.conns")"
    printf '  %-11s %-9s %9s req/s  p99 %8s ms  CPU %6s us/req (wrk %s)  errors: %s%s\n' "$name" \
        "$scenario" "$rps" "$p99" "$cpu" "$(cat "$out.ccpu")" "$(error_detail <"$out.wrk")" "$extra" >&2
    sleep 1
}

median() { # numbers on stdin -> median
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "-"; exit }
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ---------------------------------------------------------------------------- run

log "machine: nproc=$(nproc), $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
log "tree: $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?'), $(rustc --version), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), Python $("$PYTHON" -c 'import platform; print(platform.python_version())')"
log "wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s --latency; $ROUNDS rounds; servers: ${SERVERS[*]}"
n=${#SERVERS[@]}
for round in $(seq "$ROUNDS"); do
    log "round $round/$ROUNDS (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    for k in $(seq 0 $((n - 1))); do
        name=${SERVERS[$(((k + round - 1) % n))]}
        port=$(port_of "$name")
        start_server "$name" "$port"
        run_wrk "$name" "$port" keepalive "$round"
        run_wrk "$name" "$port" close "$round"
        awk '/^VmHWM:/ { print $2 }' "/proc/$SERVER_PID/status" >"$WORK/$name.rss.$round"
        stop_server "$SERVER_PID"
        SERVER_PID=""
    done
done
log "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------------------- table

# name scenario file-suffix [column] -> median over rounds
med() {
    for r in $(seq "$ROUNDS"); do
        awk -v c="${4:-1}" '{ print $c }' "$WORK/$1.$2.$r.$3"
    done | median
}

label_of() {
    case $1 in
        wsgiref) echo "wsgiref (as it comes: \`--app hello\`)" ;;
        wsgiref-t*) echo "wsgiref \`--engine threads --threads ${1#wsgiref-t}\`" ;;
        wsgiref-poll*) echo "wsgiref \`--engine poll --threads ${1#wsgiref-poll}\`" ;;
        tokio-bip) echo "wsgiref-tokio (2 workers, block_in_place)" ;;
        tokio-inline) echo "wsgiref-tokio (2 workers, --engine inline)" ;;
        hyper) echo "hyper (2 workers)" ;;
        python) echo "Python wsgiref.simple_server" ;;
    esac
}

echo
echo "Median of $ROUNDS rounds; wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s --latency; \
$(nproc) CPUs shared by wrk and the server."
echo
echo "| server | keep-alive req/s | keep-alive p99 | close req/s | close p99 | peak RSS | CPU/req keep-alive | CPU/req close | wrk CPU/req keep-alive | conns answered (keep-alive) | errors (keep-alive / close) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for name in "${SERVERS[@]}"; do
    conns=$(for r in $(seq "$ROUNDS"); do cat "$WORK/$name.keepalive.$r.conns"; done |
        sort -t/ -k1,1n | awk '{ v[NR] = $0 } END { print v[int((NR + 1) / 2)] }')
    rss=$(for r in $(seq "$ROUNDS"); do cat "$WORK/$name.rss.$r"; done | median)
    printf '| %s | %.0f | %.2f ms | %.0f | %.2f ms | %.1f MiB | %.1f µs | %.1f µs | %.1f µs | %s | %.0f / %.0f |\n' \
        "$(label_of "$name")" \
        "$(med "$name" keepalive res 1)" "$(med "$name" keepalive res 2)" \
        "$(med "$name" close res 1)" "$(med "$name" close res 2)" \
        "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" \
        "$(med "$name" keepalive cpu)" "$(med "$name" close cpu)" \
        "$(med "$name" keepalive ccpu)" "$conns" "$(med "$name" keepalive res 3)" "$(med "$name" close res 3)"
done
echo
echo "- p99: over the requests wrk completed (a connection never answered adds nothing to it)."
echo "- peak RSS: VmHWM of the server process after both scenarios of a round."
echo "- CPU/req: the server's user + system CPU time during the run / requests completed."
echo "- wrk CPU/req: the same for the client (wrk shares the two CPUs with the server)."
echo "- conns answered: server-side connections that had sent a response / all open,"
echo "  $((DURATION - 1)) s into the keep-alive run."
echo "- errors: wrk's socket errors (connect, read, write, timeout) plus non-2xx responses."
has() { local s; for s in "${SERVERS[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }
if has wsgiref && has hyper; then
    # Paired by round: both ran in the same round, minutes apart, so a slow spell of the
    # machine weighs on both sides of a ratio more than on two medians.
    echo
    echo "Round by round, \`wsgiref\` against hyper (req/s):"
    echo
    echo "| round | keep-alive wsgiref | keep-alive hyper | ratio | close wsgiref | close hyper | ratio |"
    echo "|---:|---:|---:|---:|---:|---:|---:|"
    for r in $(seq "$ROUNDS"); do
        w1=$(awk '{ print $1 }' "$WORK/wsgiref.keepalive.$r.res")
        h1=$(awk '{ print $1 }' "$WORK/hyper.keepalive.$r.res")
        w2=$(awk '{ print $1 }' "$WORK/wsgiref.close.$r.res")
        h2=$(awk '{ print $1 }' "$WORK/hyper.close.$r.res")
        awk -v r="$r" -v w1="$w1" -v h1="$h1" -v w2="$w2" -v h2="$h2" 'BEGIN {
            printf "| %d | %.0f | %.0f | %.1f%% | %.0f | %.0f | %.1f%% |\n", r, w1, h1, 100 * w1 / h1, w2, h2, 100 * w2 / h2 }'
        awk -v w="$w1" -v h="$h1" 'BEGIN { print 100 * w / h }' >>"$WORK/ratio.keepalive"
        awk -v w="$w2" -v h="$h2" 'BEGIN { print 100 * w / h }' >>"$WORK/ratio.close"
    done
    for sc in keepalive close; do
        ahead=$(awk '$1 >= 100 { n++ } END { print n + 0 }' "$WORK/ratio.$sc")
        printf -- '- %s: median of the per-round ratios %.1f%%, ahead in %d of %d rounds.\n' \
            "$sc" "$(median <"$WORK/ratio.$sc")" "$ahead" "$ROUNDS"
    done
fi
if [ "$PERF" = 1 ]; then
    echo
    echo "| server | syscalls/req keep-alive | context switches/req keep-alive | syscalls/req close | context switches/req close |"
    echo "|---|---:|---:|---:|---:|"
    for name in "${SERVERS[@]}"; do
        printf '| %s | %.2f | %.2f | %.2f | %.2f |\n' "$(label_of "$name")" \
            "$(med "$name" keepalive sys 1)" "$(med "$name" keepalive sys 2)" \
            "$(med "$name" close sys 1)" "$(med "$name" close sys 2)"
    done
fi
