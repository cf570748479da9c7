#!/usr/bin/env bash
# CI for the embedded part: the wsgiref-embassy adapter (its own workspace, embedded-adapter/),
# the Nucleo-F767ZI firmware (its own workspace, examples/firmware/), the firmware's footprint,
# and the TAP test. Run as root from anywhere; installs what it needs; fails loudly.
#
#   scripts/ci-embedded.sh            everything
#   FOOTPRINT_OUT=FILE scripts/ci-embedded.sh   also writes the footprint table to FILE
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

step() { printf '\n=== embedded: %s\n' "$*"; }
fail() { printf '\nEMBEDDED CI FAILED: %s\n' "$*" >&2; exit 1; }
trap 'fail "step failed at line $LINENO"' ERR

step "tools"
command -v cargo >/dev/null || fail "cargo is not installed"
missing=()
command -v ip >/dev/null || missing+=(iproute2)
command -v curl >/dev/null || missing+=(curl)
command -v wrk >/dev/null || missing+=(wrk)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
rustup target add thumbv7em-none-eabihf
rustup component add rustfmt clippy llvm-tools
llvm_bin="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin"
[ -x "$llvm_bin/llvm-size" ] || fail "llvm-size not found in $llvm_bin (rustup component llvm-tools)"

step "adapter: fmt, build, test, clippy, doc (embedded-adapter/)"
(
  cd embedded-adapter
  cargo fmt -- --check
  cargo build --all-targets --features log --locked
  cargo test --features log --locked
  cargo clippy --all-targets --features log --locked -- -D warnings
  cargo clippy --lib --locked -- -D warnings
  cargo clippy --lib --features defmt --locked -- -D warnings
  RUSTDOCFLAGS=-Dwarnings cargo doc --no-deps --features log --locked
)

step "adapter: no_std builds for thumbv7em-none-eabihf (no logging, log, defmt)"
(
  cd embedded-adapter
  cargo build --lib --target thumbv7em-none-eabihf --locked
  cargo build --lib --target thumbv7em-none-eabihf --features log --locked
  cargo build --lib --target thumbv7em-none-eabihf --features defmt --locked
)

step "firmware: fmt, clippy, release builds (examples/firmware/)"
fw_target="${CARGO_TARGET_DIR:-$root/examples/firmware/target}"
fw_elf="$fw_target/thumbv7em-none-eabihf/release/wsgiref-firmware"
elves=$(mktemp -d)
(
  cd examples/firmware
  cargo fmt -- --check
  cargo clippy --release --locked -- -D warnings
  cargo build --release --locked
  cp "$fw_elf" "$elves/full.elf"
  cargo build --release --locked --features footprint-2-slots
  cp "$fw_elf" "$elves/full-2.elf"
  cargo build --release --locked --no-default-features --features http
  cp "$fw_elf" "$elves/server.elf"
  cargo build --release --locked --no-default-features --features http,footprint-2-slots
  cp "$fw_elf" "$elves/server-2.elf"
  cargo build --release --locked --no-default-features
  cp "$fw_elf" "$elves/baseline.elf"
)

step "firmware footprint (opt-level \"s\", thumbv7em-none-eabihf)"
# flash = .vector_table + .text + .rodata + .data (its initial values live in flash);
# static RAM = .data + .bss + .uninit.
sections() {
  "$llvm_bin/llvm-size" -A "$1" | awk '
    $1 == ".vector_table" { v = $2 } $1 == ".text" { t = $2 } $1 == ".rodata" { r = $2 }
    $1 == ".data" { d = $2 } $1 == ".bss" { b = $2 } $1 == ".uninit" { u = $2 }
    END { print v + t + r + d, d + b + u, t, r }'
}
symbol_size() {
  # No early exit: llvm-nm would die of SIGPIPE and fail the pipeline.
  "$llvm_bin/llvm-nm" -S -C --radix=d "$1" | awk -v pat="$2" 'index($0, pat) && !n { n = $2 + 0 } END { print n }'
}
read -r full_flash full_ram full_text full_rodata < <(sections "$elves/full.elf")
read -r server_flash server_ram server_text server_rodata < <(sections "$elves/server.elf")
read -r base_flash base_ram base_text base_rodata < <(sections "$elves/baseline.elf")
slots=4
slot_pool=$(symbol_size "$elves/full.elf" "http::start::SLOT_POOL")
task_full=$(symbol_size "$elves/full.elf" "http::http_task::POOL")
task_full2=$(symbol_size "$elves/full-2.elf" "http::http_task::POOL")
task_server=$(symbol_size "$elves/server.elf" "http::http_task::POOL")
task_server2=$(symbol_size "$elves/server-2.elf" "http::http_task::POOL")
task_base=$(symbol_size "$elves/baseline.elf" "http::http_task::POOL")
for v in "$slot_pool" "$task_full" "$task_full2" "$task_server" "$task_server2" "$task_base"; do
  [ -n "$v" ] && [ "$v" -gt 0 ] || fail "a footprint symbol was not found"
done
slot_bytes=$(( slot_pool / slots ))
# The HTTP task's future with 4 slots and with 2: half the difference is one slot's state,
# the rest is shared (the Server, the core Config, the join).
state_server=$(( (task_server - task_server2) / 2 ))
state_full=$(( (task_full - task_full2) / 2 ))
shared_server=$(( task_server - slots * state_server ))
layer_flash=$(( server_flash - base_flash ))
apps_flash=$(( full_flash - server_flash ))
kib() { awk -v n="$1" 'BEGIN { printf "%.1f KiB", n / 1024 }'; }
verdict() { if [ "$1" -le "$2" ]; then echo "met"; else echo "NOT met"; fi; }

table=$(cat <<EOF
| firmware (Nucleo-F767ZI, 4 slots) | flash (text + rodata + vectors + data) | static RAM (data + bss) |
|---|---|---|
| baseline: same stack and sockets, fixed response by hand | $base_flash B ($(kib "$base_flash")) | $base_ram B ($(kib "$base_ram")) |
| HTTP server (core + adapter), \`hello\` only | $server_flash B ($(kib "$server_flash")) | $server_ram B ($(kib "$server_ram")) |
| HTTP server with \`demo_app\`, \`hello\`, \`echo\` | $full_flash B ($(kib "$full_flash")) | $full_ram B ($(kib "$full_ram")) |

| measure | bytes | target | |
|---|---|---|---|
| HTTP layer's flash (server − baseline) | $layer_flash ($(kib "$layer_flash")) | ≤ 16 KiB | $(verdict "$layer_flash" 16384) |
| \`demo_app\` + \`echo\` on top | $apps_flash ($(kib "$apps_flash")) | | |
| buffers per connection (\`Slot\` default: socket 1 KiB + 1 KiB, request 1 KiB, response 512, body 1 KiB, arena 256) | $slot_bytes | | |
| state per connection beyond buffers (one slot's share of the HTTP task future: 4 slots − 2 slots, ÷ 2), \`hello\`, 8 header fields | $state_server | ≤ 1024 | $(verdict "$state_server" 1024) |
| the same with \`demo_app\`'s and \`echo\`'s bodies | $state_full | | |
| shared by all connections (the rest of the HTTP task future: Server, core Config, join) | $shared_server | | |
| baseline's task future ÷ $slots | $(( task_base / slots )) | | |
| largest future: the HTTP task (embassy task storage, 4 slots, all apps) | $task_full | | |
EOF
)
echo "$table"
if [ -n "${FOOTPRINT_OUT:-}" ]; then printf '%s\n' "$table" >"$FOOTPRINT_OUT"; fi
rm -rf "$elves"

step "TAP test (as root)"
[ "$(id -u)" = 0 ] || fail "the TAP test must run as root"
(cd embedded-adapter && cargo build --release --example tap --features log --locked)
tap_bin="${CARGO_TARGET_DIR:-$root/embedded-adapter/target}/release/examples/tap"
bash scripts/tap-test.sh "$tap_bin"

printf '\nembedded CI passed\n'
