//! Arbitrary bytes through a `Connection`, whole and split: no panic, identical transcripts,
//! core-generated responses are 4xx/5xx, nothing served after an error response.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wsgiref_fuzz::{FuzzConfig, run};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    config: FuzzConfig,
    splits: &'a [u8],
    bytes: &'a [u8],
}

fuzz_target!(|input: Input<'_>| {
    let config = input.config.config();
    let rx = input.config.rx_len();
    let whole = run(&config, input.bytes, &[], rx);
    let split = run(&config, input.bytes, input.splits, rx);
    assert_eq!(whole, split, "split {:?} differs from whole", input.splits);
    // One byte at a time, the hardest split.
    if input.bytes.len() < 512 {
        let bytewise = run(&config, input.bytes, &[1], rx);
        assert_eq!(whole, bytewise, "byte-at-a-time differs from whole");
    }
});
