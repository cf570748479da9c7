//! Request-body decoders: Content-Length and chunked (RFC 9112 §6.2 and §7.1).
//!
//! A decoder is fed the buffered bytes that follow the head and answers with one [`Step`]:
//! a range of body data (passed to the application without a copy), a request for more
//! bytes, or the end of the body. It never looks past the end of the body, so bytes of a
//! pipelined request are never taken for body bytes.

use crate::RemoteError;
use crate::abnf::{is_field_value_byte, is_ows, is_tchar};
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
    Size { digits: u16 },
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
                state: Chunk::Size { digits: 0 },
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
                    *state = chunk_transition(*state, b, size)?;
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
                    } else if *state == (Chunk::Size { digits: 0 }) {
                        *line = 0;
                    }
                }
                Ok((i, Step::NeedData))
            }
        }
    }
}

/// One byte of chunked framing (everything but data). `size` accumulates the chunk size.
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
                    digits: digits.saturating_add(1),
                }
            }
            // `0x`, signs, `_`, a bare LF, an empty size: all malformed.
            _ if digits == 0 => return bad,
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
            b'\n' => Size { digits: 0 },
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
