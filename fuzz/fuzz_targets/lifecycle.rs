//! Model-based response lifecycle driven by `Arbitrary` sequences of start_response /
//! restart / write / write_whole / write_external / finish / fail. The model and its checks
//! are `core/tests/common/lifecycle_model.rs`, shared with `core/tests/model.rs`: the bytes
//! out always parse with httparse and the framing carries exactly the accepted body bytes.
#![no_main]

#[path = "../../core/tests/common/lifecycle_model.rs"]
mod lifecycle_model;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use lifecycle_model::{Op, STATUSES, check_sequence};

#[derive(Arbitrary, Clone, Copy, Debug)]
enum FOp {
    Start(u8, Option<u8>),
    Restart(u8, Option<u8>),
    Write(u8),
    WriteWhole(u8),
    WriteExternal(u8),
    Finish,
    Fail,
}

impl From<&FOp> for Op {
    fn from(op: &FOp) -> Self {
        let st = |i: u8| usize::from(i) % STATUSES.len();
        let cl = |c: Option<u8>| c.map(|c| u64::from(c % 20));
        match *op {
            FOp::Start(i, c) => Op::Start(st(i), cl(c)),
            FOp::Restart(i, c) => Op::Restart(st(i), cl(c)),
            FOp::Write(n) => Op::Write(usize::from(n) % 17),
            FOp::WriteWhole(n) => Op::WriteWhole(usize::from(n) % 17),
            FOp::WriteExternal(n) => Op::WriteExternal(usize::from(n) % 17),
            FOp::Finish => Op::Finish,
            FOp::Fail => Op::Fail,
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    head_method: bool,
    http10: bool,
    ops: Vec<FOp>,
}

fuzz_target!(|input: Input| {
    let ops: Vec<Op> = input.ops.iter().take(16).map(Op::from).collect();
    check_sequence(input.head_method, input.http10, &ops, 0);
});
