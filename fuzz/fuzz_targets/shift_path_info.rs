//! `util::shift_path_info` with a scratch buffer: no panic; SCRIPT_NAME + PATH_INFO never
//! grow beyond the old lengths + 1; BufferTooSmall (and InvalidState) leave the environ
//! unchanged; a scratch of the reported size is enough.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wsgiref::util::shift_path_info;
use wsgiref::{Environ, LocalError};

const ALPHA: &[u8] = b"//////....abc%";

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    script: Option<&'a [u8]>,
    path: Option<&'a [u8]>,
    /// Map the bytes onto `/`, `.`, letters (the interesting alphabet) or keep them raw.
    alphabet: bool,
    scratch: u8,
    arena: u16,
    repeat: u8,
}

fn map(b: &[u8], alphabet: bool) -> Vec<u8> {
    if alphabet {
        b.iter()
            .map(|&c| ALPHA[usize::from(c) % ALPHA.len()])
            .collect()
    } else {
        b.to_vec()
    }
}

fn snapshot(env: &Environ<'_>) -> Vec<(String, Option<Vec<u8>>)> {
    ["SCRIPT_NAME", "PATH_INFO"]
        .iter()
        .map(|k| (k.to_string(), env.get(k).map(<[u8]>::to_vec)))
        .collect()
}

fuzz_target!(|input: Input<'_>| {
    let script = input.script.map(|s| map(s, input.alphabet));
    let path = input.path.map(|p| map(p, input.alphabet));
    let mut pairs: Vec<(&str, &[u8])> = Vec::new();
    if let Some(s) = &script {
        pairs.push(("SCRIPT_NAME", s));
    }
    if let Some(p) = &path {
        pairs.push(("PATH_INFO", p));
    }
    let mut arena = vec![0u8; usize::from(input.arena % 1024)];
    let mut env = Environ::from_pairs(&pairs, &mut arena);
    for _ in 0..=input.repeat % 4 {
        let before = snapshot(&env);
        let sn = env.get("SCRIPT_NAME").unwrap_or_default().len();
        let pi = env.get("PATH_INFO").unwrap_or_default().len();
        let mut scratch = vec![0u8; usize::from(input.scratch)];
        let res = shift_path_info(&mut env, &mut scratch).map(|n| n.map(<[u8]>::to_vec));
        match res {
            Ok(name) => {
                let sn2 = env.get("SCRIPT_NAME").unwrap_or_default().len();
                let pi2 = env.get("PATH_INFO").unwrap_or_default().len();
                assert!(
                    sn2 + pi2 <= sn + pi + 1,
                    "grew: {sn}+{pi} -> {sn2}+{pi2} ({before:?} -> {:?})",
                    snapshot(&env)
                );
                if pi == 0 {
                    assert_eq!(name, None);
                    assert_eq!(snapshot(&env), before, "an empty PATH_INFO changes nothing");
                }
                if let Some(name) = name {
                    if name != b".." && !name.is_empty() {
                        assert!(env.get("SCRIPT_NAME").unwrap_or_default().ends_with(&name));
                    }
                    assert!(!name.contains(&b'/'), "a name with a slash: {name:?}");
                }
            }
            Err(LocalError::BufferTooSmall { needed }) => {
                assert!(needed > scratch.len());
                assert_eq!(snapshot(&env), before, "BufferTooSmall changed the environ");
                assert!(needed <= sn + pi + 1, "needed {needed} > {sn}+{pi}+1");
                let mut big = vec![0u8; needed];
                let again = shift_path_info(&mut env, &mut big);
                assert!(
                    !matches!(again, Err(LocalError::BufferTooSmall { .. })),
                    "still too small with the reported size: {again:?}"
                );
            }
            Err(LocalError::InvalidState) => {
                assert_eq!(snapshot(&env), before, "InvalidState changed the environ");
            }
            Err(LocalError::CapacityExceeded) => return,
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
});
