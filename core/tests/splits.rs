//! Split invariance, randomized: the same bytes must give the same transcript (environs,
//! bodies, events, every byte sent) whether they arrive in one read, in reads of any size,
//! or cut in two anywhere, for any configuration and receive-buffer size.
//!
//! Requests come from a small grammar (methods, targets with escapes, up to 20 fields with
//! names holding `_` and `-`, values with the odd control byte, CR or LF, Content-Length and
//! chunked bodies, pipelined pairs), some of them mutated (bytes flipped, inserted,
//! deleted); limits, the header allow-list and the receive-buffer size are random too.
//! `SPLITS_CASES` sets the number of cases (default 8000), `SPLITS_SEED` the seed. A failure
//! is shrunk to a small input and printed as a Rust vector for [`regressions`].

mod common;

use common::{Split, Transcript, run, run_all_splits};
use wsgiref::{Config, Limits};

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True one time in `n`.
    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.below(items.len())]
    }

    fn byte_of(&mut self, set: &[u8]) -> u8 {
        set[self.below(set.len())]
    }
}

/// Bytes the parsers decide on: controls, separators, obs-text.
const SPECIAL: &[u8] = b"\r\n\t :;_-%?#/\x00\x01\x7f\x80\xff";
const TOKEN: &[u8] =
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_!#$%&'*+.^`|~";

const KEEP_NONE: &[&str] = &[];
const KEEP_X_A: &[&str] = &["X-A"];

/// One test case: the input and everything the connection is configured with.
#[derive(Clone, Debug)]
struct Case {
    input: Vec<u8>,
    max_request_line: usize,
    max_head: usize,
    max_headers: usize,
    max_empty_lines: usize,
    /// 0: keep every field, 1: keep none (`Some(&[])`), 2: keep `X-A`.
    keep: u8,
    rx_len: usize,
}

impl Case {
    fn config(&self) -> Config<'static> {
        Config {
            limits: Limits {
                max_request_line: self.max_request_line,
                max_head: self.max_head,
                max_headers: self.max_headers,
                max_empty_lines: self.max_empty_lines,
                ..Limits::DEFAULT
            },
            keep_headers: match self.keep {
                0 => None,
                1 => Some(KEEP_NONE),
                _ => Some(KEEP_X_A),
            },
            ..Config::DEFAULT
        }
    }

    fn run(&self, split: Split) -> Transcript {
        run(&self.config(), &self.input, split, self.rx_len)
    }

    /// The case as a line of [`regressions`]: the input as pieces repeated some times.
    fn as_vector(&self) -> String {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut i = 0;
        while i < self.input.len() {
            let b = self.input[i];
            let run = self.input[i..].iter().take_while(|&&c| c == b).count();
            if run >= 8 {
                if !literal.is_empty() {
                    pieces.push(format!("(b\"{literal}\", 1)"));
                    literal.clear();
                }
                pieces.push(format!("(b\"{}\", {run})", escape(b)));
                i += run;
            } else {
                literal.push_str(&escape(b));
                i += 1;
            }
        }
        if !literal.is_empty() {
            pieces.push(format!("(b\"{literal}\", 1)"));
        }
        format!(
            "(&[{}], {}, {}, {}, {}, {}, {}),",
            pieces.join(", "),
            self.max_request_line,
            self.max_head,
            self.max_headers,
            self.max_empty_lines,
            self.keep,
            self.rx_len
        )
    }
}

fn escape(b: u8) -> String {
    match b {
        b'"' => "\\\"".into(),
        b'\\' => "\\\\".into(),
        b'\r' => "\\r".into(),
        b'\n' => "\\n".into(),
        b'\t' => "\\t".into(),
        0x20..=0x7e => char::from(b).to_string(),
        _ => format!("\\x{b:02x}"),
    }
}

fn line_end(rng: &mut Rng, out: &mut Vec<u8>) {
    out.extend_from_slice(if rng.one_in(12) { b"\n" } else { b"\r\n" });
}

fn token(rng: &mut Rng, len: usize, out: &mut Vec<u8>) {
    for _ in 0..len {
        out.push(rng.byte_of(TOKEN));
    }
}

fn target(rng: &mut Rng, out: &mut Vec<u8>) {
    match rng.below(20) {
        0 => out.push(b'*'),
        1 => out.extend_from_slice(b"http://example.com:8080/abs/p?x=1"),
        2 => token(rng, 5, out),
        _ => {
            out.push(b'/');
            let pieces: [&[u8]; 14] = [
                b"a", b"path", b"/", b"//", b"%41", b"%2F", b"%2f", b"%zz", b"%", b"%e9", b"+",
                b"?q=1", b"&r=%20", b";p=1",
            ];
            for _ in 0..rng.below(8) {
                out.extend_from_slice(rng.pick(&pieces));
            }
            if rng.one_in(12) {
                // Long targets, for the request-line limit.
                let n = rng.range(20, 400);
                out.extend(std::iter::repeat_n(b'x', n));
            }
            if rng.one_in(50) {
                out.extend_from_slice(b"#frag");
            }
        }
    }
}

/// A field value: mostly printable, sometimes long; with a bad byte one time in `dirt`.
fn value(rng: &mut Rng, dirt: usize, out: &mut Vec<u8>) {
    let len = match rng.below(10) {
        0..=6 => rng.below(40),
        7 | 8 => rng.range(40, 400),
        _ => rng.range(300, 2500),
    };
    let dirty = dirt != 0 && rng.one_in(dirt);
    if rng.one_in(6) {
        out.push(b' ');
    }
    for _ in 0..len {
        let b = if dirty && rng.one_in(len.max(4) / 2) {
            rng.byte_of(b"\x00\x01\x1f\x7f\r\n\t\x80\xff")
        } else if rng.one_in(10) {
            rng.byte_of(b" \t\"\\,;=:\x80\xe9")
        } else {
            rng.range(0x21, 0x7e) as u8
        };
        out.push(b);
    }
    if rng.one_in(8) {
        out.extend_from_slice(if rng.one_in(2) { b" " } else { b"\t " });
    }
}

/// A field line (without its terminator), malformed about one time in `dirt`.
fn field(rng: &mut Rng, dirt: usize, out: &mut Vec<u8>) {
    let names: [&[u8]; 16] = [
        b"X-A",
        b"x-a",
        b"X_A",
        b"Accept",
        b"Cookie",
        b"User-Agent",
        b"X-Forwarded-For",
        b"Content-Type",
        b"Connection",
        b"Expect",
        b"Foo_Bar",
        b"a",
        b"X-Long-Header-Name-With-Many-Dashes",
        b"Referer",
        b"Accept-Language",
        b"_",
    ];
    match rng.below(if dirt == 0 { usize::MAX } else { 8 * dirt }) {
        0 => out.push(b' '),  // obs-fold
        1 => out.push(b'\t'), // obs-fold
        _ => {}
    }
    let name = if rng.one_in(4) {
        let n = rng.range(1, 24);
        token(rng, n, out);
        &b""[..]
    } else {
        let name = rng.pick(&names);
        out.extend_from_slice(name);
        name
    };
    match rng.below(if dirt == 0 { usize::MAX } else { 8 * dirt }) {
        0 => out.extend_from_slice(b" :"),
        1 => {} // no colon
        2 => out.extend_from_slice(b"\t:"),
        _ => out.push(b':'),
    }
    if rng.below(4) != 0 {
        out.push(b' ');
    }
    if name == b"Connection" && !rng.one_in(8) {
        // Mostly a valid list: a bad one is a 400 whatever else the request holds.
        let values: [&[u8]; 3] = [b"close", b"keep-alive", b"Upgrade, keep-alive"];
        out.extend_from_slice(rng.pick(&values));
    } else {
        value(rng, dirt, out);
    }
}

/// One request: request line, fields, maybe a body. A third of them have malformed fields
/// (about one in six), the rest only the odd bad request line or Host.
fn request(rng: &mut Rng, out: &mut Vec<u8>) {
    let dirt = if rng.one_in(3) { 6 } else { 0 };
    if rng.one_in(15) {
        for _ in 0..rng.range(1, 3) {
            line_end(rng, out);
        }
    }
    let methods: [&[u8]; 9] = [
        b"GET",
        b"GET",
        b"POST",
        b"PUT",
        b"HEAD",
        b"OPTIONS",
        b"DELETE",
        b"M-SEARCH",
        b"G_T",
    ];
    out.extend_from_slice(rng.pick(&methods));
    out.push(b' ');
    target(rng, out);
    let versions: [&[u8]; 6] = [
        b"HTTP/1.1",
        b"HTTP/1.1",
        b"HTTP/1.1",
        b"HTTP/1.0",
        b"HTTP/2.0",
        b"http/1.1",
    ];
    out.push(b' ');
    out.extend_from_slice(if rng.one_in(10) {
        rng.pick(&versions)
    } else {
        b"HTTP/1.1"
    });
    line_end(rng, out);
    let fields = rng.below(21);
    let host_at = if rng.one_in(20) {
        usize::MAX
    } else {
        rng.below(fields + 1)
    };
    let body_len = rng.below(300);
    let framing = rng.below(10);
    for i in 0..=fields {
        if i == host_at {
            out.extend_from_slice(if rng.one_in(30) {
                b"Host: a b"
            } else {
                b"Host: example.com"
            });
            line_end(rng, out);
        }
        if i < fields {
            field(rng, dirt, out);
            line_end(rng, out);
        }
    }
    if rng.one_in(5) {
        // A value longer than most buffers (skipped unless kept), with a bad byte one time
        // in two.
        out.extend_from_slice(if rng.one_in(2) { b"Cookie: " } else { b"X_A: " });
        let len = rng.range(200, 3000);
        let bad = if rng.one_in(2) { rng.below(len) } else { len };
        for k in 0..len {
            out.push(if k == bad {
                rng.byte_of(b"\x00\x7f\r\r\n")
            } else {
                rng.range(0x21, 0x7e) as u8
            });
        }
        line_end(rng, out);
    }
    match framing {
        0..=2 => {
            out.extend_from_slice(format!("Content-Length: {body_len}").as_bytes());
            line_end(rng, out);
        }
        3 | 4 => {
            out.extend_from_slice(b"Transfer-Encoding: chunked");
            line_end(rng, out);
        }
        _ => {}
    }
    if rng.one_in(10) {
        out.extend_from_slice(b"Expect: 100-continue");
        line_end(rng, out);
    }
    line_end(rng, out);
    match framing {
        0..=2 => {
            let skew = if rng.one_in(10) { rng.below(5) } else { 0 };
            for _ in 0..body_len + skew {
                out.push(rng.range(0x20, 0x7e) as u8);
            }
        }
        3 | 4 => {
            for _ in 0..rng.below(4) {
                let n = rng.range(1, 80);
                out.extend_from_slice(format!("{n:x}").as_bytes());
                if rng.one_in(5) {
                    out.extend_from_slice(b";ext=1");
                }
                out.extend_from_slice(b"\r\n");
                for _ in 0..n {
                    out.push(rng.range(0x20, 0x7e) as u8);
                }
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n");
            if rng.one_in(5) {
                out.extend_from_slice(b"X-Trailer: t\r\n");
            }
            out.extend_from_slice(b"\r\n");
        }
        _ => {}
    }
}

fn mutate(rng: &mut Rng, input: &mut Vec<u8>) {
    for _ in 0..rng.range(1, 3) {
        if input.is_empty() {
            return;
        }
        let at = rng.below(input.len());
        match rng.below(4) {
            0 => input[at] ^= 1 << rng.below(8),
            1 => input[at] = rng.byte_of(SPECIAL),
            2 => input.insert(at, rng.byte_of(SPECIAL)),
            _ => {
                input.remove(at);
            }
        }
    }
}

/// Offsets just after each LF of `input`: where lines end.
fn line_ends(input: &[u8]) -> Vec<usize> {
    (0..input.len())
        .filter(|&i| input[i] == b'\n')
        .map(|i| i + 1)
        .collect()
}

/// Near a random line end (`line_ends` must not be empty): where limits and cuts catch the
/// bytes around a terminator.
fn near_line_end(rng: &mut Rng, line_ends: &[usize]) -> usize {
    (line_ends[rng.below(line_ends.len())] + rng.below(5)).saturating_sub(2)
}

fn random_case(rng: &mut Rng) -> Case {
    let mut input = Vec::new();
    request(rng, &mut input);
    if rng.one_in(3) {
        request(rng, &mut input);
    }
    if rng.one_in(5) {
        mutate(rng, &mut input);
    }
    let ends = line_ends(&input);
    let rx_len = match rng.below(6) {
        0 | 1 => rng.range(48, 512),
        2 if !ends.is_empty() => near_line_end(rng, &ends).max(48),
        _ => rng.range(48, 4096),
    };
    // The request line's length without its terminator, for limits right at it.
    let first_line = input
        .iter()
        .position(|&b| b == b'\n')
        .map_or(0, |lf| lf - usize::from(lf > 0 && input[lf - 1] == b'\r'));
    let max_request_line = match rng.below(8) {
        0..=2 => rng.range(8, 300),
        3 | 4 => (first_line + rng.below(3)).saturating_sub(1).max(1),
        _ => Limits::DEFAULT.max_request_line,
    };
    // Bytes that make a line invalid: a limit shortly before one catches the race between
    // the two.
    let bad: Vec<usize> = (0..input.len())
        .filter(|&i| match input[i] {
            b'\r' => input.get(i + 1) != Some(&b'\n'),
            b'\n' | b'\t' => false,
            b => b < 0x20 || b == 0x7f,
        })
        .collect();
    let max_head = match rng.below(8) {
        0 => rng.range(16, 3000),
        1 if !ends.is_empty() => near_line_end(rng, &ends).max(16),
        2 => rng.range(16, input.len().max(16)),
        3 if !bad.is_empty() => bad[rng.below(bad.len())]
            .saturating_sub(rng.below(300))
            .max(16),
        _ => Limits::DEFAULT.max_head,
    };
    Case {
        input,
        max_request_line,
        max_head,
        max_headers: if rng.one_in(4) {
            rng.below(25)
        } else {
            Limits::DEFAULT.max_headers
        },
        max_empty_lines: if rng.one_in(4) { rng.below(3) } else { 8 },
        keep: rng.below(3) as u8,
        rx_len,
    }
}

/// A few ways to cut `input` into reads: a small fixed size, a large one, one cut (often
/// right after a CR or an LF).
fn random_splits(rng: &mut Rng, input: &[u8]) -> [Split; 3] {
    let len = input.len().max(2);
    let terminators: Vec<usize> = (1..input.len())
        .filter(|&i| matches!(input[i - 1], b'\r' | b'\n'))
        .collect();
    let at = if !terminators.is_empty() && rng.one_in(2) {
        terminators[rng.below(terminators.len())]
    } else {
        rng.range(1, len - 1)
    };
    [
        Split::Every(if rng.one_in(3) {
            rng.range(1, 3)
        } else {
            rng.range(1, 97)
        }),
        Split::Every(rng.range(1, len - 1)),
        Split::At(at),
    ]
}

/// A smaller case that still gives a different transcript under `split` than whole:
/// pieces of the input deleted, bytes replaced by `a`, limits and buffer made smaller,
/// until nothing more helps.
fn shrink(case: &Case, split: Split) -> Case {
    let differs = |c: &Case| c.run(split) != c.run(Split::Every(usize::MAX));
    let mut best = case.clone();
    loop {
        let before = best.clone();
        let mut piece = best.input.len() / 2;
        while piece > 0 {
            let mut at = 0;
            while at < best.input.len() {
                let mut smaller = best.clone();
                let end = (at + piece).min(smaller.input.len());
                smaller.input.drain(at..end);
                if differs(&smaller) {
                    best = smaller;
                } else {
                    at += piece;
                }
            }
            piece /= 2;
        }
        for at in 0..best.input.len() {
            if best.input[at] != b'a' {
                let mut plain = best.clone();
                plain.input[at] = b'a';
                if differs(&plain) {
                    best = plain;
                }
            }
        }
        // Each parameter with its floor (a receive buffer needs room for a response's worth
        // of progress; the other limits may go down to nothing).
        let params: [(fn(&mut Case) -> &mut usize, usize); 4] = [
            (|c| &mut c.rx_len, 16),
            (|c| &mut c.max_head, 0),
            (|c| &mut c.max_request_line, 0),
            (|c| &mut c.max_headers, 0),
        ];
        for (param, floor) in params {
            for step in [usize::MAX, 256, 16, 1] {
                loop {
                    let mut smaller = best.clone();
                    let p = param(&mut smaller);
                    let new = if step == usize::MAX {
                        *p / 2
                    } else {
                        p.saturating_sub(step)
                    };
                    if new == *p || new < floor {
                        break;
                    }
                    *p = new;
                    if !differs(&smaller) {
                        break;
                    }
                    best = smaller;
                }
            }
        }
        if best.input == before.input
            && (
                best.rx_len,
                best.max_head,
                best.max_request_line,
                best.max_headers,
            ) == (
                before.rx_len,
                before.max_head,
                before.max_request_line,
                before.max_headers,
            )
        {
            return best;
        }
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn random_requests_give_the_same_transcript_however_they_are_split() {
    let cases = env_usize("SPLITS_CASES", 8000);
    let seed = env_usize("SPLITS_SEED", 0x5eed_1234) as u64;
    let mut rng = Rng(seed | 1);
    let mut statuses = [0usize; 5];
    let mut failures = Vec::new();
    let mut kinds = Vec::new();
    for i in 0..cases {
        let case = random_case(&mut rng);
        let whole = case.run(Split::Every(usize::MAX));
        let class = [200, 400, 414, 431]
            .iter()
            .position(|s| whole.statuses().first() == Some(s))
            .unwrap_or(4);
        statuses[class] += 1;
        for split in random_splits(&mut rng, &case.input) {
            let t = case.run(split);
            if t == whole {
                continue;
            }
            // Shrink and report the first few failures that differ in their statuses.
            let kind = (whole.statuses(), t.statuses());
            if !kinds.contains(&kind) {
                kinds.push(kind);
                let small = shrink(&case, split);
                failures.push(format!(
                    "case {i}, split {split:?}:\n    {}\n    whole: {:?}\n    split: {:?}",
                    small.as_vector(),
                    small.run(Split::Every(usize::MAX)).log,
                    small.run(split).log,
                ));
            }
            break;
        }
        if failures.len() == 3 {
            break;
        }
    }
    assert!(
        failures.is_empty(),
        "transcripts differ from whole; shrunk vectors:\n{}",
        failures.join("\n")
    );
    // The grammar must reach both successes and each kind of rejection.
    eprintln!("{cases} cases; first status 200/400/414/431/other: {statuses:?}");
    if cases >= 2000 {
        assert!(
            statuses.iter().take(4).all(|&n| n > cases / 100),
            "{statuses:?}"
        );
    }
}

/// Inputs the random test found, shrunk: (input as pieces repeated some times,
/// max_request_line, max_head, max_headers, max_empty_lines, keep, rx_len), each checked
/// whole, in reads of every size and cut at every offset.
#[test]
fn regressions() {
    type Vector = (
        &'static [(&'static [u8], usize)],
        usize,
        usize,
        usize,
        usize,
        u8,
        usize,
    );
    let table: &[Vector] = &[
        // A request line of exactly `max_request_line` bytes: 414 when a read ended between
        // its CR and LF (the CR was counted), the request line's own error otherwise.
        (&[(b"a", 35), (b"\r\n", 1)], 35, 37, 0, 8, 0, 37),
        // A skipped value crossing `max_head` (at byte 395) before its bad byte: 400 when
        // the chunk that crossed the limit also held the bad byte, 431 otherwise.
        (
            &[(b"a /aaa HTTP/1.1\na:", 1), (b"a", 385), (b"\x00", 1)],
            15,
            395,
            1,
            8,
            2,
            58,
        ),
        // The same with a bare CR just past the limit.
        (
            &[(b"a / HTTP/1.1\naa:", 1), (b"a", 1400), (b"\ra", 1)],
            12,
            1405,
            1,
            1,
            1,
            36,
        ),
        // An empty line after a request, then the end of the input: closed quietly, also
        // when a read ended after its CR (the lone CR was taken for the start of a request,
        // and the end of the input for a truncated one: 400).
        (
            &[(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n\r\n", 1)],
            16384,
            65535,
            100,
            8,
            0,
            4096,
        ),
    ];
    for &(pieces, max_request_line, max_head, max_headers, max_empty_lines, keep, rx_len) in table {
        let input: Vec<u8> = pieces.iter().flat_map(|&(p, n)| p.repeat(n)).collect();
        let case = Case {
            input,
            max_request_line,
            max_head,
            max_headers,
            max_empty_lines,
            keep,
            rx_len,
        };
        run_all_splits(&case.config(), &case.input, rx_len);
    }
}
