#!/usr/bin/env bash
# Scheduler counters per keep-alive request, for the server and for wrk: how often each side
# calls epoll_wait (or epoll_pwait), is switched out (sleeps or is preempted) and wakes a thread, and its CPU
# time. What bench/load.sh's req/s cannot separate on two CPUs shared by wrk and the server.
#
#   bench/sched.sh NAME PORT SERVER-COMMAND...
#   bench/sched.sh poll2 18500 target/release/wsgiref --app hello --quiet --engine poll --threads 2 --bind 127.0.0.1:18500
#   bench/sched.sh hyper 18501 bench/hyper-hello/target/release/hyper-hello 127.0.0.1:18501
#
# Starts the command (it must listen on 127.0.0.1:PORT and answer GET /), waits until it
# answers, runs `wrk -t2 -c32 -d${DURATION}s` against it with `perf stat` on the server's PID
# and on wrk (the same events), prints one line, and stops the server by its PID.
# Counts are divided by the requests wrk completed. `sched_wakeup` counts wake-ups done by
# that side (the tracepoint fires in the waker): wrk's count is how often it had to wake a
# sleeping server thread. Needs perf with tracepoint access. Settings: DURATION (3),
# QUIET_BELOW (a percentage: first wait, up to 5 min, for a second in which the machine's
# CPUs were busy less than that; unset: no wait).

set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 NAME PORT SERVER-COMMAND..." >&2; exit 2; }
name=$1 port=$2
shift 2
DURATION=${DURATION:-3}
EVENTS='syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait,sched:sched_switch,sched:sched_wakeup,task-clock'
WORK=$(mktemp -d "${TMPDIR:-/tmp}/wsgiref-sched.XXXXXX")
pid=""
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

if [ -n "${QUIET_BELOW:-}" ]; then
    for _ in $(seq 300); do
        read -ra a </proc/stat; sleep 1; read -ra b </proc/stat
        total=0
        for k in 1 2 3 4 5 6 7 8; do total=$((total + b[k] - a[k])); done
        idle=$((b[4] - a[4] + b[5] - a[5]))
        [ $((100 * (total - idle) / total)) -lt "$QUIET_BELOW" ] && break
    done
fi

"$@" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    sleep 0.1
done
perf stat -x, -e "$EVENTS" -p "$pid" -o "$WORK/server" -- sleep "$(awk -v d="$DURATION" 'BEGIN { print d + 0.3 }')" &
perf_pid=$!
sleep 0.1
perf stat -x, -e "$EVENTS" -o "$WORK/client" -- \
    wrk -t2 -c32 -d"${DURATION}s" "http://127.0.0.1:$port/" >"$WORK/wrk"
wait "$perf_pid"
requests=$(awk '/requests in/ { print $1 }' "$WORK/wrk")
rps=$(awk '/Requests\/sec/ { printf "%.0f", $2 }' "$WORK/wrk")

per_request() { # perf stat -x, output -> "epoll_wait=… sched_switch=… sched_wakeup=… cpu_us=…"
    awk -F, -v n="$requests" '
        $3 ~ /epoll_p?wait/ { e += $1 } $3 ~ /sched_switch/ { s = $1 }
        $3 ~ /sched_wakeup/ { w = $1 } $3 ~ /task-clock/ { c = $1 }
        END { printf "epoll_wait %.3f  switches %.3f  wakeups %.3f  CPU %.2f us", e / n, s / n, w / n, c * 1000 / n }' "$1"
}
printf '%-8s %7s req/s | server: %s | wrk: %s\n' "$name" "$rps" \
    "$(per_request "$WORK/server")" "$(per_request "$WORK/client")"
