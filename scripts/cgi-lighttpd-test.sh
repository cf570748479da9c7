#!/usr/bin/env bash
# The CGI gateway behind a real web server: lighttpd runs the `cgi_echo` example
# (std-adapter/examples/cgi_echo.rs, an echo application through wsgiref_std::cgi::CgiHandler)
# with mod_cgi, and curl checks that requests reach the Rust application and come back intact.
#
# Installs lighttpd (and curl) with apt-get when missing (run as root on Debian/Ubuntu). The
# server binds 127.0.0.1 on a free port, runs in the foreground (-D) from a temporary
# directory, and only that lighttpd is stopped, by its PID, when the script exits for any
# reason. Exits non-zero with a message on the first mismatch.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."

say() { printf 'cgi-lighttpd-test: %s\n' "$*"; }
fail() {
  printf 'cgi-lighttpd-test: FAIL: %s\n' "$*" >&2
  if [ -n "${tmp:-}" ] && [ -s "$tmp/error.log" ]; then
    printf -- '--- lighttpd error log:\n' >&2
    tail -n 20 "$tmp/error.log" >&2
  fi
  exit 1
}

tmp=""
lighttpd_pid=""
cleanup() {
  if [ -n "$lighttpd_pid" ] && kill -0 "$lighttpd_pid" 2>/dev/null; then
    kill "$lighttpd_pid" 2>/dev/null || true
    wait "$lighttpd_pid" 2>/dev/null || true
  fi
  if [ -n "$tmp" ]; then rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- dependencies -------------------------------------------------------------------------
PATH="$PATH:/usr/sbin:/sbin"

apt_install() {
  # Keep the package from starting its own system-wide service (on port 80): a temporary
  # policy-rc.d denies service starts during the install, unless the machine has one.
  local policy=/usr/sbin/policy-rc.d added=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added=1
  fi
  local rc=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" ||
    { DEBIAN_FRONTEND=noninteractive apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"; } ||
    rc=$?
  if [ -n "$added" ]; then rm -f "$policy"; fi
  return "$rc"
}

missing=()
command -v lighttpd >/dev/null || missing+=(lighttpd)
command -v curl >/dev/null || missing+=(curl)
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]}"
  apt_install "${missing[@]}" || fail "could not install ${missing[*]} (run as root on Debian)"
fi
command -v lighttpd >/dev/null || fail "lighttpd is not installed"
command -v curl >/dev/null || fail "curl is not installed"
say "$(lighttpd -v | head -n 1)"

# --- the CGI program ----------------------------------------------------------------------
say "building the cgi_echo example"
cargo build -q -p wsgiref-std --example cgi_echo
target_dir=$(cargo metadata --format-version 1 --no-deps |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
[ -n "$target_dir" ] || target_dir="${CARGO_TARGET_DIR:-target}"
bin="$target_dir/debug/examples/cgi_echo"
[ -x "$bin" ] || fail "built example not found at $bin"

tmp=$(mktemp -d /tmp/cgi-lighttpd-test.XXXXXX)
chmod 755 "$tmp"
mkdir -p "$tmp/htdocs"
cp "$bin" "$tmp/htdocs/echo.cgi"
chmod 755 "$tmp/htdocs/echo.cgi"

# --- lighttpd -----------------------------------------------------------------------------
write_config() {
  cat >"$tmp/lighttpd.conf" <<EOF
server.modules = ( "mod_cgi" )
server.document-root = "$tmp/htdocs"
server.bind = "127.0.0.1"
server.port = $1
server.errorlog = "$tmp/error.log"
server.upload-dirs = ( "$tmp" )
cgi.assign = ( ".cgi" => "" )
EOF
}

start_lighttpd() {
  local port=$1
  write_config "$port"
  lighttpd -tt -f "$tmp/lighttpd.conf" >/dev/null || fail "lighttpd rejected the configuration"
  : >"$tmp/error.log"
  lighttpd -D -f "$tmp/lighttpd.conf" >"$tmp/stdout.log" 2>&1 &
  lighttpd_pid=$!
  for _ in $(seq 1 100); do
    if ! kill -0 "$lighttpd_pid" 2>/dev/null; then
      wait "$lighttpd_pid" 2>/dev/null || true
      lighttpd_pid=""
      return 1 # did not start (most likely the port was taken)
    fi
    if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
      return 0
    fi
    sleep 0.1
  done
  fail "lighttpd (PID $lighttpd_pid) did not answer on 127.0.0.1:$port"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

port=""
for _ in $(seq 1 20); do
  candidate=$((20000 + RANDOM % 40000))
  port_in_use "$candidate" && continue
  if start_lighttpd "$candidate"; then
    port=$candidate
    break
  fi
done
[ -n "$port" ] || fail "could not start lighttpd on a free port"
say "lighttpd PID $lighttpd_pid on 127.0.0.1:$port"
base="http://127.0.0.1:$port/echo.cgi"

# --- requests -----------------------------------------------------------------------------
# check NAME EXPECTED_METHOD EXPECTED_PATH EXPECTED_QUERY BODY_FILE URL [curl args...]
check() {
  local name=$1 method=$2 path=$3 query=$4 body=$5 url=$6
  shift 6
  local headers="$tmp/$name.headers" got="$tmp/$name.body"
  curl -sS --max-time 20 -D "$headers" -o "$got" "$@" "$url" ||
    fail "$name: curl failed for $url"
  tr -d '\r' <"$headers" >"$headers.txt"
  local status
  status=$(head -n 1 "$headers.txt")
  [[ "$status" =~ ^HTTP/1\.[01]\ 200\ OK$ ]] || fail "$name: status line '$status', want 200 OK"
  expect_header() {
    local line
    line=$(grep -i "^$1:" "$headers.txt" || true)
    # lighttpd drops a CGI header whose value is empty: then absent is right too.
    if [ -z "$2" ] && [ -z "$line" ]; then return 0; fi
    [ "${line% }" = "$1: $2" ] || [ "$line" = "$1: $2" ] ||
      fail "$name: header '$line', want '$1: $2'"
  }
  expect_header X-Method "$method"
  expect_header X-Path "$path"
  expect_header X-Query "$query"
  expect_header Content-Length "$(stat -c %s "$body")"
  cmp -s "$body" "$got" ||
    fail "$name: body differs ($(stat -c %s "$got") bytes back, $(stat -c %s "$body") sent)"
  say "ok: $name ($method $url, $(stat -c %s "$got") body bytes back intact)"
}

: >"$tmp/empty"
check get-query GET /some/path 'a=1&b=x%20y&c' "$tmp/empty" "$base/some/path?a=1&b=x%20y&c"

# PATH_INFO arrives percent-decoded, as raw bytes (UTF-8 here): they must reach the
# application untouched (read_environ keeps the environment's bytes) and go back out.
check get-bytes GET $'/caf\xc3\xa9 x' 'q=%C3%A9' "$tmp/empty" "$base/caf%C3%A9%20x?q=%C3%A9"

printf 'hello, CGI\r\nline two\n\000 binary \377 end' >"$tmp/small"
check post-body POST /post '' "$tmp/small" "$base/post" --data-binary "@$tmp/small" \
  -H 'Content-Type: application/octet-stream'

head -c 300000 /dev/urandom >"$tmp/large"
check post-large POST /large 'n=300000' "$tmp/large" "$base/large?n=300000" \
  --data-binary "@$tmp/large" -H 'Content-Type: application/octet-stream' -H 'Expect:'

say "all requests reached the Rust application and came back intact"
