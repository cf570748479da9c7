//! Model-based test of the response lifecycle: random sequences of start_response / restart
//! / write / write_whole / write_external / finish / fail on random requests, checked against
//! the reference model in `common/lifecycle_model.rs` (shared with the fuzz target).

#[path = "common/lifecycle_model.rs"]
mod lifecycle_model;

use lifecycle_model::{Op, STATUSES, check_sequence};

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn random_lifecycles_always_give_well_formed_responses() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for case in 0..20_000 {
        let head_method = rng.below(4) == 0;
        let http10 = rng.below(3) == 0;
        let n_ops = 1 + rng.below(8);
        let ops: Vec<Op> = (0..n_ops)
            .map(|_| {
                let cl = (rng.below(3) == 0).then(|| rng.below(12));
                match rng.below(11) {
                    0 | 1 => Op::Start(rng.below(STATUSES.len() as u64) as usize, cl),
                    2 => Op::Restart(rng.below(STATUSES.len() as u64) as usize, cl),
                    10 => Op::WriteExternal(rng.below(7) as usize),
                    3..=5 => Op::Write(rng.below(7) as usize),
                    6 => Op::WriteWhole(rng.below(7) as usize),
                    7 | 8 => Op::Finish,
                    _ => Op::Fail,
                }
            })
            .collect();
        check_sequence(head_method, http10, &ops, case);
    }
}
