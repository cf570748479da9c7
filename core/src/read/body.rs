//! Request-body decoders: Content-Length and chunked (RFC 9112 §6.2 and §7.1).
//!
//! A decoder is fed the buffered bytes that follow the head and answers with one [`Step`]:
//! a range of body data (passed to the application without a copy), a request for more
//! bytes, or the end of the body. It never looks past the end of the body, so bytes of a
//! pipelined request are never taken for body bytes.

use crate::RemoteError;
use crate::abnf::is_tchar;
#[cfg(any(not(feature = "small"), test))]
use crate::abnf::{is_field_value_byte, is_ows};
use crate::framing::BodyFraming;

/// Limits that apply while decoding a body.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BodyLimits {
    pub(crate) max_body: u64,
    pub(crate) max_chunk_line: usize,
    pub(crate) max_trailers: usize,
}

/// The outcome of one decoding step over `input`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// `input[start..start + len]` is body data.
    Data { start: usize, len: usize },
    /// Everything given was framing and has been consumed; more bytes are needed.
    NeedData,
    /// The body is complete.
    Done,
}

/// Where the chunked decoder is (RFC 9112 §7.1 grammar, one state per position).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) enum Chunk {
    /// In `chunk-size`; `digits` seen so far.
    Size { digits: Digits },
    /// After a quoted extension value, before `;` or CRLF.
    ExtSpace,
    /// After whitespace that must be followed by `;` (BWS of RFC 9112 §7.1.1).
    ExtBws,
    /// After `;`, before the extension name.
    ExtNameStart,
    /// In an extension name.
    ExtName,
    /// After an extension name and whitespace: `=`, `;` or CRLF may follow.
    ExtNameEnd,
    /// After `=`, before the value.
    ExtValueStart,
    /// In a token value.
    ExtToken,
    /// In a quoted-string value.
    ExtQuoted,
    /// After a backslash in a quoted-string.
    ExtEscape,
    /// After the CR that ends the size line.
    SizeLf,
    /// In chunk data; `remaining` octets left.
    Data,
    /// After chunk data: expecting CR.
    DataCr,
    /// After chunk data and CR: expecting LF.
    DataLf,
    /// At the start of a trailer line (or of the final CRLF).
    TrailerStart,
    /// In a trailer field name.
    TrailerName,
    /// In a trailer field value.
    TrailerValue,
    /// After a trailer line's CR.
    TrailerLf,
    /// After the final CR.
    FinalLf,
    /// The last chunk and the trailer section are complete.
    Done,
}

/// The digits of a chunk size seen so far: their number, or with the `small` feature
/// whether there was one (a `bool`, so that [`Chunk`] is one byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) struct Digits(
    #[cfg(not(feature = "small"))] u16,
    #[cfg(feature = "small")] bool,
);

impl Chunk {
    /// The start of a size line: no digit yet.
    const SIZE_START: Self = Self::Size {
        digits: Digits::NONE,
    };
}

impl Digits {
    /// No digit yet.
    #[cfg(not(feature = "small"))]
    const NONE: Self = Self(0);
    #[cfg(feature = "small")]
    const NONE: Self = Self(false);

    /// After one digit more.
    fn one_more(self) -> Self {
        #[cfg(not(feature = "small"))]
        return Self(self.0.saturating_add(1));
        #[cfg(feature = "small")]
        return Self(true);
    }
}

/// A request-body decoder.
#[derive(Clone, Copy, Debug)]
pub(crate) enum BodyReader {
    /// No body, or the body was fully consumed.
    Done,
    /// Content-Length framing with this many octets left.
    Length { remaining: u64 },
    /// Chunked framing.
    Chunked {
        state: Chunk,
        /// Chunk size being parsed, then octets left in the chunk.
        size: u64,
        /// Octets of the current size line (size and extensions).
        line: usize,
        /// Octets of the trailer section so far.
        trailers: usize,
        /// Data octets decoded so far.
        total: u64,
    },
}

impl BodyReader {
    /// A decoder for a body with this framing.
    pub(crate) fn new(framing: BodyFraming) -> Self {
        match framing {
            BodyFraming::None | BodyFraming::ContentLength(0) => Self::Done,
            BodyFraming::ContentLength(n) => Self::Length { remaining: n },
            BodyFraming::Chunked => Self::Chunked {
                state: Chunk::SIZE_START,
                size: 0,
                line: 0,
                trailers: 0,
                total: 0,
            },
        }
    }

    /// Are more than `limit` body octets known to be still unread (Content-Length)?
    pub(crate) fn unread_exceeds(&self, limit: u64) -> bool {
        matches!(self, Self::Length { remaining } if *remaining > limit)
    }

    /// Is the body complete?
    pub(crate) fn is_done(&self) -> bool {
        matches!(self, Self::Done)
    }

    /// Decodes from the start of `input`, handing out at most `max` data bytes (`max` > 0).
    /// Returns how many bytes of `input` were consumed (data included) and what was found.
    pub(crate) fn step(
        &mut self,
        input: &[u8],
        limits: &BodyLimits,
        max: usize,
    ) -> Result<(usize, Step), RemoteError> {
        let max = max.max(1);
        match self {
            Self::Done => Ok((0, Step::Done)),
            Self::Length { remaining } => {
                if input.is_empty() {
                    return Ok((0, Step::NeedData));
                }
                let len = usize::try_from(*remaining)
                    .map_or(input.len(), |r| r.min(input.len()))
                    .min(max);
                *remaining -= len as u64;
                if *remaining == 0 {
                    *self = Self::Done;
                }
                Ok((len, Step::Data { start: 0, len }))
            }
            Self::Chunked {
                state,
                size,
                line,
                trailers,
                total,
            } => {
                let mut i = 0;
                while let Some(&b) = input.get(i) {
                    if *state == Chunk::Data {
                        let len = usize::try_from(*size)
                            .map_or(input.len() - i, |s| s.min(input.len() - i))
                            .min(max);
                        *size -= len as u64;
                        if *size == 0 {
                            *state = Chunk::DataCr;
                        }
                        return Ok((i + len, Step::Data { start: i, len }));
                    }
                    i += 1;
                    match *state {
                        Chunk::Size { .. }
                        | Chunk::ExtSpace
                        | Chunk::ExtBws
                        | Chunk::ExtNameStart
                        | Chunk::ExtName
                        | Chunk::ExtNameEnd
                        | Chunk::ExtValueStart
                        | Chunk::ExtToken
                        | Chunk::ExtQuoted
                        | Chunk::ExtEscape => {
                            *line += 1;
                            if *line > limits.max_chunk_line {
                                return Err(match state {
                                    Chunk::Size { .. } => RemoteError::BadChunk,
                                    _ => RemoteError::ChunkExtensionTooLong,
                                });
                            }
                        }
                        Chunk::TrailerStart
                        | Chunk::TrailerName
                        | Chunk::TrailerValue
                        | Chunk::TrailerLf
                        | Chunk::FinalLf => {
                            *trailers += 1;
                            if *trailers > limits.max_trailers {
                                return Err(RemoteError::TrailersTooLarge);
                            }
                        }
                        _ => {}
                    }
                    #[cfg(not(feature = "small"))]
                    let next = chunk_transition(*state, b, size)?;
                    #[cfg(feature = "small")]
                    let next = chunk_transition_small(*state, b, size)?;
                    *state = next;
                    if *state == Chunk::Data {
                        // The size line is complete.
                        *total = total.checked_add(*size).ok_or(RemoteError::BodyTooLarge)?;
                        if *total > limits.max_body {
                            return Err(RemoteError::BodyTooLarge);
                        }
                        *line = 0;
                    } else if *state == Chunk::Done {
                        // Complete: the reader is done, like a Content-Length body that
                        // reached its end, so what follows is never taken as body.
                        *self = Self::Done;
                        return Ok((i, Step::Done));
                    } else if *state == Chunk::SIZE_START {
                        *line = 0;
                    }
                }
                Ok((i, Step::NeedData))
            }
        }
    }
}

/// One byte of chunked framing (everything but data). `size` accumulates the chunk size.
#[cfg(any(not(feature = "small"), test))]
fn chunk_transition(state: Chunk, b: u8, size: &mut u64) -> Result<Chunk, RemoteError> {
    use Chunk::*;
    let bad = Err(RemoteError::BadChunk);
    Ok(match state {
        Size { digits } => match b {
            _ if b.is_ascii_hexdigit() => {
                let v = match b {
                    b'0'..=b'9' => b - b'0',
                    b'a'..=b'f' => b - b'a' + 10,
                    _ => b - b'A' + 10,
                };
                *size = size
                    .checked_mul(16)
                    .and_then(|s| s.checked_add(u64::from(v)))
                    .ok_or(RemoteError::BadChunk)?;
                Size {
                    digits: digits.one_more(),
                }
            }
            // `0x`, signs, `_`, a bare LF, an empty size: all malformed.
            _ if digits == Digits::NONE => return bad,
            b';' => ExtNameStart,
            b'\r' => SizeLf,
            _ if is_ows(b) => ExtBws,
            _ => return bad,
        },
        ExtSpace => match b {
            b';' => ExtNameStart,
            b'\r' => SizeLf,
            _ if is_ows(b) => ExtBws,
            _ => return bad,
        },
        ExtBws => match b {
            b';' => ExtNameStart,
            _ if is_ows(b) => ExtBws,
            _ => return bad,
        },
        ExtNameStart => match b {
            _ if is_ows(b) => ExtNameStart,
            _ if is_tchar(b) => ExtName,
            _ => return bad,
        },
        ExtName => match b {
            b'=' => ExtValueStart,
            b';' => ExtNameStart,
            b'\r' => SizeLf,
            _ if is_tchar(b) => ExtName,
            _ if is_ows(b) => ExtNameEnd,
            _ => return bad,
        },
        ExtNameEnd => match b {
            b'=' => ExtValueStart,
            b';' => ExtNameStart,
            _ if is_ows(b) => ExtNameEnd,
            _ => return bad,
        },
        ExtValueStart => match b {
            _ if is_ows(b) => ExtValueStart,
            b'"' => ExtQuoted,
            _ if is_tchar(b) => ExtToken,
            _ => return bad,
        },
        ExtToken => match b {
            b';' => ExtNameStart,
            b'\r' => SizeLf,
            _ if is_tchar(b) => ExtToken,
            _ if is_ows(b) => ExtBws,
            _ => return bad,
        },
        ExtQuoted => match b {
            b'"' => ExtSpace,
            b'\\' => ExtEscape,
            // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
            b'\t' | b' ' | 0x21 | 0x23..=0x5b | 0x5d..=0x7e | 0x80..=0xff => ExtQuoted,
            _ => return bad,
        },
        ExtEscape => match b {
            b'\t' | b' ' | 0x21..=0x7e | 0x80..=0xff => ExtQuoted,
            _ => return bad,
        },
        SizeLf => match b {
            b'\n' if *size == 0 => TrailerStart,
            b'\n' => Data,
            _ => return bad,
        },
        DataCr => match b {
            b'\r' => DataLf,
            _ => return bad,
        },
        DataLf => match b {
            b'\n' => Chunk::SIZE_START,
            _ => return bad,
        },
        TrailerStart => match b {
            b'\r' => FinalLf,
            _ if is_tchar(b) => TrailerName,
            _ if is_ows(b) => return Err(RemoteError::ObsFold),
            _ => return Err(RemoteError::BadHeader),
        },
        TrailerName => match b {
            b':' => TrailerValue,
            _ if is_tchar(b) => TrailerName,
            _ if is_ows(b) => return Err(RemoteError::WhitespaceBeforeColon),
            _ => return Err(RemoteError::BadHeader),
        },
        TrailerValue => match b {
            b'\r' => TrailerLf,
            _ if is_field_value_byte(b) => TrailerValue,
            _ => return Err(RemoteError::BadHeader),
        },
        TrailerLf | FinalLf => match b {
            b'\n' if state == FinalLf => Done,
            b'\n' => TrailerStart,
            _ => return bad,
        },
        // Data is handled by the caller; Done consumes nothing.
        Data | Done => state,
    })
}

/// [`chunk_transition`] in the `small` build: the size's digits in code, every other byte
/// through [`CHUNK_NEXT`] by state and byte class (the same answers: a test compares the
/// two on every state and byte).
#[cfg(feature = "small")]
fn chunk_transition_small(state: Chunk, b: u8, size: &mut u64) -> Result<Chunk, RemoteError> {
    if let Chunk::Size { digits } = state {
        let v = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ if digits == Digits::NONE => return Err(RemoteError::BadChunk),
            // After a digit: the table's row of `ExtSpace`, which has the same answers.
            _ => 16,
        };
        if v < 16 {
            *size = size
                .checked_mul(16)
                .and_then(|s| s.checked_add(u64::from(v)))
                .ok_or(RemoteError::BadChunk)?;
            return Ok(Chunk::Size {
                digits: digits.one_more(),
            });
        }
    }
    // The delimiters are classes 1 to 8, in this order; HTAB is taken as SP.
    let delimiter = if b == b'\t' { b' ' } else { b };
    let class = match b";\r\n =\"\\:".iter().position(|&c| c == delimiter) {
        Some(at) => at + 1,
        None if is_tchar(b) => TCHAR,
        None if b > b' ' && b != 0x7f => VCHAR,
        None => CTL,
    };
    let row = usize::from(state.index().saturating_sub(1));
    let next = CHUNK_NEXT
        .get(row)
        .and_then(|r| r.get(class))
        .copied()
        .unwrap_or(BAD_CHUNK);
    match CHUNK_STATES.get(usize::from(next)) {
        // Only the LF of a size line gives `Data`: after the last chunk (size 0), the
        // trailer section.
        Some(Chunk::Data) if *size == 0 => Ok(Chunk::TrailerStart),
        Some(&to) => Ok(to),
        None => Err(CHUNK_ERRORS
            .get(usize::from(next.saturating_sub(BAD_CHUNK)))
            .copied()
            .unwrap_or(RemoteError::BadChunk)),
    }
}

// The byte classes of chunked framing, the columns of `CHUNK_NEXT`: a `tchar`, the
// delimiters, any other visible byte or obs-text, and the rest (controls, DEL).
#[cfg(feature = "small")]
const TCHAR: usize = 0;
#[cfg(feature = "small")]
const SEMI: usize = 1;
#[cfg(feature = "small")]
const CR: usize = 2;
#[cfg(feature = "small")]
const LF: usize = 3;
#[cfg(feature = "small")]
const OWS: usize = 4;
#[cfg(feature = "small")]
const EQUALS: usize = 5;
#[cfg(feature = "small")]
const DQUOTE: usize = 6;
#[cfg(feature = "small")]
const BACKSLASH: usize = 7;
#[cfg(feature = "small")]
const COLON: usize = 8;
#[cfg(feature = "small")]
const VCHAR: usize = 9;
#[cfg(feature = "small")]
const CTL: usize = 10;

/// The entries of [`CHUNK_NEXT`] after the states' indexes: its errors, in the order of
/// [`CHUNK_ERRORS`].
#[cfg(feature = "small")]
const BAD_CHUNK: u8 = CHUNK_STATES.len() as u8;
#[cfg(feature = "small")]
const BAD_HEADER: u8 = BAD_CHUNK + 1;
#[cfg(feature = "small")]
const OBS_FOLD: u8 = BAD_CHUNK + 2;
#[cfg(feature = "small")]
const WS_COLON: u8 = BAD_CHUNK + 3;
#[cfg(feature = "small")]
const CHUNK_ERRORS: [RemoteError; 4] = [
    RemoteError::BadChunk,
    RemoteError::BadHeader,
    RemoteError::ObsFold,
    RemoteError::WhitespaceBeforeColon,
];

/// The states in the order of [`Chunk::index`].
#[cfg(feature = "small")]
const CHUNK_STATES: [Chunk; 20] = {
    use Chunk::*;
    [
        Chunk::SIZE_START,
        ExtSpace,
        ExtBws,
        ExtNameStart,
        ExtName,
        ExtNameEnd,
        ExtValueStart,
        ExtToken,
        ExtQuoted,
        ExtEscape,
        SizeLf,
        Data,
        DataCr,
        DataLf,
        TrailerStart,
        TrailerName,
        TrailerValue,
        TrailerLf,
        FinalLf,
        Done,
    ]
};

/// The next state's [`Chunk::index`], or an error, by state (a row each from `ExtSpace` to
/// `FinalLf`) and byte class: [`chunk_transition`]'s `match` by class.
#[cfg(feature = "small")]
#[allow(clippy::indexing_slicing)] // const evaluation: an index out of bounds fails the build
static CHUNK_NEXT: [[u8; 11]; 18] = {
    let mut table = [[0; 11]; 18];
    let mut row = 0;
    while row < table.len() {
        let mut class = 0;
        while class < 11 {
            table[row][class] = chunk_next(CHUNK_STATES[row + 1], class);
            class += 1;
        }
        row += 1;
    }
    table
};

/// An entry of [`CHUNK_NEXT`].
#[cfg(feature = "small")]
const fn chunk_next(state: Chunk, class: usize) -> u8 {
    use Chunk::*;
    let to = match (state, class) {
        (ExtSpace | ExtName | ExtToken, CR) => SizeLf,
        (ExtSpace | ExtBws | ExtName | ExtNameEnd | ExtToken, SEMI) => ExtNameStart,
        (ExtSpace | ExtBws | ExtToken, OWS) => ExtBws,
        (ExtNameStart, OWS) => ExtNameStart,
        (ExtNameStart | ExtName, TCHAR) => ExtName,
        (ExtName | ExtNameEnd, OWS) => ExtNameEnd,
        (ExtName | ExtNameEnd, EQUALS) => ExtValueStart,
        (ExtValueStart, OWS) => ExtValueStart,
        (ExtValueStart, DQUOTE) => ExtQuoted,
        (ExtValueStart | ExtToken, TCHAR) => ExtToken,
        // qdtext.
        (ExtQuoted, TCHAR | SEMI | OWS | EQUALS | COLON | VCHAR) => ExtQuoted,
        (ExtQuoted, DQUOTE) => ExtSpace,
        (ExtQuoted, BACKSLASH) => ExtEscape,
        // HTAB, SP, VCHAR, obs-text.
        (ExtEscape, TCHAR | SEMI | OWS | EQUALS | DQUOTE | BACKSLASH | COLON | VCHAR) => ExtQuoted,
        (SizeLf, LF) => Data,
        (DataCr, CR) => DataLf,
        (DataLf, LF) => Chunk::SIZE_START,
        (TrailerStart, CR) => FinalLf,
        (TrailerStart | TrailerName, TCHAR) => TrailerName,
        (TrailerStart, OWS) => return OBS_FOLD,
        (TrailerName, COLON) => TrailerValue,
        (TrailerName, OWS) => return WS_COLON,
        (TrailerValue, CR) => TrailerLf,
        (TrailerValue, LF | CTL) | (TrailerStart | TrailerName, _) => return BAD_HEADER,
        (TrailerValue, _) => TrailerValue,
        (TrailerLf, LF) => TrailerStart,
        (FinalLf, LF) => Done,
        _ => return BAD_CHUNK,
    };
    to.index()
}

impl Chunk {
    /// The state's place in the declaration (the `small` build's table index).
    #[cfg(feature = "small")]
    const fn index(self) -> u8 {
        match self {
            Self::Size { .. } => 0,
            Self::ExtSpace => 1,
            Self::ExtBws => 2,
            Self::ExtNameStart => 3,
            Self::ExtName => 4,
            Self::ExtNameEnd => 5,
            Self::ExtValueStart => 6,
            Self::ExtToken => 7,
            Self::ExtQuoted => 8,
            Self::ExtEscape => 9,
            Self::SizeLf => 10,
            Self::Data => 11,
            Self::DataCr => 12,
            Self::DataLf => 13,
            Self::TrailerStart => 14,
            Self::TrailerName => 15,
            Self::TrailerValue => 16,
            Self::TrailerLf => 17,
            Self::FinalLf => 18,
            Self::Done => 19,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    const LIMITS: BodyLimits = BodyLimits {
        max_body: 1 << 20,
        max_chunk_line: 64,
        max_trailers: 64,
    };

    /// Decodes `input` fed in pieces of `split` bytes (the caller keeps unconsumed bytes),
    /// returning the data and how many bytes were consumed in all.
    fn decode(input: &[u8], split: usize) -> Result<(Vec<u8>, usize, bool), RemoteError> {
        let mut reader = BodyReader::new(BodyFraming::Chunked);
        let mut out = Vec::new();
        let mut pos = 0;
        let mut avail = 0;
        loop {
            let (n, step) = reader.step(&input[pos..avail], &LIMITS, usize::MAX)?;
            match step {
                Step::Data { start, len } => {
                    out.extend_from_slice(&input[pos + start..pos + start + len])
                }
                Step::Done => return Ok((out, pos + n, true)),
                Step::NeedData => {}
            }
            pos += n;
            if step == Step::NeedData {
                if avail == input.len() {
                    return Ok((out, pos, false));
                }
                avail = (avail + split).min(input.len());
            }
        }
    }

    /// Once a body is complete, stepping again (with nothing, or with the next request's
    /// bytes) consumes nothing and says `Done`: the next request is not body.
    #[test]
    fn a_complete_body_stays_complete() {
        let framings: &[(BodyFraming, &[u8])] = &[
            (BodyFraming::Chunked, b"5\r\nhello\r\n0\r\n\r\n"),
            (BodyFraming::Chunked, b"0\r\nX-T: 1\r\n\r\n"),
            (BodyFraming::ContentLength(5), b"hello"),
            (BodyFraming::None, b""),
        ];
        for (framing, body) in framings {
            let mut reader = BodyReader::new(*framing);
            let mut pos = 0;
            loop {
                let (n, step) = reader.step(&body[pos..], &LIMITS, usize::MAX).unwrap();
                pos += n;
                if step == Step::Done {
                    break;
                }
                assert!(n > 0 || step != Step::NeedData, "{framing:?}: stuck");
            }
            assert_eq!(pos, body.len(), "{framing:?}");
            assert!(reader.is_done());
            for next in [&b""[..], b"GET / HTTP/1.1\r\n"] {
                assert_eq!(
                    reader.step(next, &LIMITS, usize::MAX),
                    Ok((0, Step::Done)),
                    "{framing:?} then {next:?}"
                );
            }
        }
    }

    #[test]
    fn chunked_vectors_every_split() {
        use RemoteError::*;
        // (input, Ok(decoded data) or the error)
        let table: &[(&[u8], Result<&[u8], RemoteError>)] = &[
            (b"0\r\n\r\n", Ok(b"")),
            (b"5\r\nhello\r\n0\r\n\r\n", Ok(b"hello")),
            (
                b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
                Ok(b"hello world"),
            ),
            (b"A\r\n0123456789\r\n0\r\n\r\n", Ok(b"0123456789")),
            (b"000a\r\n0123456789\r\n0\r\n\r\n", Ok(b"0123456789")),
            (b"5;a=b;c\r\nhello\r\n0\r\n\r\n", Ok(b"hello")),
            (b"5 ; a = \"q\\\"x\"\r\nhello\r\n0\r\n\r\n", Ok(b"hello")),
            (b"5 ; a = b c\r\nhello\r\n0\r\n\r\n", Err(BadChunk)),
            (b"5 ;a=\"q\\\"x\"\r\nhello\r\n0\r\n\r\n", Ok(b"hello")),
            (
                b"5\r\nhello\r\n0\r\nX-Trailer: 1\r\nContent-Length: 99\r\n\r\n",
                Ok(b"hello"),
            ),
            (b"0x5\r\nhello\r\n0\r\n\r\n", Err(BadChunk)),
            (b"+5\r\nhello\r\n0\r\n\r\n", Err(BadChunk)),
            (b"-5\r\nhello\r\n0\r\n\r\n", Err(BadChunk)),
            (b"5_0\r\nhello\r\n0\r\n\r\n", Err(BadChunk)),
            (b"\r\nhello\r\n0\r\n\r\n", Err(BadChunk)),
            (b"5\nhello\r\n0\r\n\r\n", Err(BadChunk)),
            (b"5\r\nhelloXX0\r\n\r\n", Err(BadChunk)),
            (b"5\r\nhello\n0\r\n\r\n", Err(BadChunk)),
            (b"10000000000000000\r\n", Err(BadChunk)),
            (b"5;\x01\r\nhello\r\n0\r\n\r\n", Err(BadChunk)),
            (b"5\r\nhello\r\n0\r\n Folded: x\r\n\r\n", Err(ObsFold)),
            (
                b"5\r\nhello\r\n0\r\nBad : x\r\n\r\n",
                Err(WhitespaceBeforeColon),
            ),
            (b"5\r\nhello\r\n0\r\n\r\r", Err(BadChunk)),
        ];
        for (input, expected) in table {
            for split in 1..=input.len() {
                match (decode(input, split), expected) {
                    (Ok((data, consumed, true)), Ok(want)) => {
                        assert_eq!(&data[..], *want, "{input:?} split {split}");
                        assert_eq!(consumed, input.len(), "{input:?} split {split}");
                    }
                    (Err(e), Err(want)) => assert_eq!(e, *want, "{input:?} split {split}"),
                    (got, _) => panic!("{input:?} split {split}: got {got:?}, want {expected:?}"),
                }
            }
        }
    }

    /// The `small` build's table gives the same answer as the `match` for every state the
    /// decoder passes it (all but `Data` and `Done`), byte and kind of size.
    #[cfg(feature = "small")]
    #[test]
    fn the_table_is_the_match() {
        let mut states: Vec<Chunk> = CHUNK_STATES.to_vec();
        let one = Digits::NONE.one_more();
        states.extend([
            Chunk::Size { digits: one },
            Chunk::Size {
                digits: one.one_more(),
            },
        ]);
        for state in states {
            if matches!(state, Chunk::Data | Chunk::Done) {
                continue;
            }
            for b in 0..=u8::MAX {
                for size in [0, 1, 0x0fff_ffff_ffff_fffe, 0x1000_0000_0000_0000, u64::MAX] {
                    let (mut a, mut b2) = (size, size);
                    assert_eq!(
                        (chunk_transition(state, b, &mut a), a),
                        (chunk_transition_small(state, b, &mut b2), b2),
                        "{state:?} {b:#04x} {size:#x}"
                    );
                }
            }
        }
        for (i, state) in CHUNK_STATES.iter().enumerate() {
            assert_eq!(usize::from(state.index()), i);
        }
    }

    #[test]
    fn chunked_stops_at_the_end_of_the_body() {
        let input = b"3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
        let (data, consumed, done) = decode(input, input.len()).unwrap();
        assert!(done);
        assert_eq!(data, b"abc");
        assert_eq!(&input[consumed..], b"GET / HTTP/1.1\r\n");
    }

    #[test]
    fn chunked_limits() {
        let limits = BodyLimits {
            max_body: 4,
            max_chunk_line: 8,
            max_trailers: 8,
        };
        let table: &[(&[u8], RemoteError)] = &[
            (b"5\r\nhello\r\n", RemoteError::BodyTooLarge),
            (b"2\r\nab\r\n3\r\nabc\r\n", RemoteError::BodyTooLarge),
            (b"1;aaaaaaaaa\r\n", RemoteError::ChunkExtensionTooLong),
            (b"000000001\r\n", RemoteError::BadChunk),
            (b"0\r\nX-Long: 1234\r\n\r\n", RemoteError::TrailersTooLarge),
        ];
        for (input, want) in table {
            let mut reader = BodyReader::new(BodyFraming::Chunked);
            let mut pos = 0;
            let err = loop {
                match reader.step(&input[pos..], &limits, usize::MAX) {
                    Ok((n, Step::Data { .. })) => pos += n,
                    Ok((_, step)) => panic!("{input:?}: unexpected {step:?}"),
                    Err(e) => break e,
                }
            };
            assert_eq!(err, *want, "{input:?}");
        }
    }

    #[test]
    fn content_length_never_reads_past_the_end() {
        let mut reader = BodyReader::new(BodyFraming::ContentLength(3));
        assert_eq!(
            reader.step(b"ab", &LIMITS, usize::MAX),
            Ok((2, Step::Data { start: 0, len: 2 }))
        );
        assert_eq!(
            reader.step(b"cGET", &LIMITS, usize::MAX),
            Ok((1, Step::Data { start: 0, len: 1 }))
        );
        assert!(reader.is_done());
        assert_eq!(
            reader.step(b"GET", &LIMITS, usize::MAX),
            Ok((0, Step::Done))
        );
    }
}
