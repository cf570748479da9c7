//! Body framing and persistence decisions, as pure functions (RFC 9112 §6 and §9.3).
//!
//! Everything that decides *how long* a message is and *whether the connection survives it*
//! is here, so it can be read against the RFC in one sitting. The head parser feeds each
//! relevant field into a `FramingFields` accumulator; when the head is complete,
//! `FramingFields::request_framing` applies RFC 9112 §6.3 in order.

use crate::RemoteError;
use crate::abnf::{eq_ignore_case, is_token, trim_ows};

/// How the body of a request is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BodyFraming {
    /// No body: neither Content-Length nor Transfer-Encoding was sent (RFC 9112 §6.3 rule 7).
    None,
    /// Exactly this many octets follow the head.
    ContentLength(u64),
    /// The body is chunked; its length is known only when the last chunk arrives.
    Chunked,
}

/// The HTTP version of a request, as far as behaviour is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Version {
    /// HTTP/1.0.
    Http10,
    /// HTTP/1.1, and any higher 1.x minor version (RFC 9110 §6.2: process as the highest
    /// minor version we implement).
    Http11,
}

/// The framing- and persistence-relevant fields of a request head, accumulated field by field.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FramingFields {
    /// The agreed Content-Length, once one was seen ([`FramingFields::agreed_length`]).
    #[cfg(not(feature = "small"))]
    content_length: Option<u64>,
    /// The `small` build keeps the value and whether one was seen apart: with the flag
    /// among the other flags the struct, in every connection's state, is 8 bytes smaller on
    /// 32-bit targets. (The default build keeps the `Option`: its head parser's loop over
    /// the fields measured 24 instructions slower per browser request with this layout.)
    #[cfg(feature = "small")]
    content_length: u64,
    #[cfg(feature = "small")]
    content_length_seen: bool,
    /// A Transfer-Encoding field was present.
    te_present: bool,
    /// `chunked` has been seen; any coding after it is an error.
    te_chunked: bool,
    /// A coding other than `chunked` was seen before any `chunked`.
    te_unsupported: bool,
    /// `Connection: close` was seen.
    pub(crate) conn_close: bool,
    /// `Connection: keep-alive` was seen.
    pub(crate) conn_keep_alive: bool,
    /// `Expect: 100-continue` was seen.
    pub(crate) expect_continue: bool,
    /// A Host field was seen.
    pub(crate) host: bool,
}

/// Parses a Content-Length value: `1*DIGIT`, or a list of identical `1*DIGIT` values (RFC 9110
/// §8.6 lets a recipient accept `5, 5`). Signs, inner spaces, empty values, differing
/// values and overflow are errors.
pub(crate) fn parse_content_length(value: &[u8]) -> Result<u64, RemoteError> {
    // The usual value, one number alone, without the list machinery (the list path gives
    // the same answer: left out with the `small` feature).
    #[cfg(not(feature = "small"))]
    if let Some(n) = parse_decimal(value) {
        return Ok(n);
    }
    let mut agreed: Option<u64> = None;
    // Empty list elements are ignored (RFC 9110 §5.6.1); no element at all is an error.
    for element in list_elements(value) {
        let n = parse_decimal(element).ok_or(RemoteError::BadContentLength)?;
        match agreed {
            Some(prev) if prev != n => return Err(RemoteError::BadContentLength),
            _ => agreed = Some(n),
        }
    }
    agreed.ok_or(RemoteError::BadContentLength)
}

/// `1*DIGIT` as a `u64`; `None` for empty input, any non-digit, or overflow.
fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// Iterates over the non-empty elements of a comma-separated list (RFC 9110 §5.6.1), each
/// trimmed of OWS. Empty elements are skipped, as the RFC requires of recipients.
pub(crate) fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|e| !e.is_empty())
}

impl FramingFields {
    /// No field seen yet.
    pub(crate) const fn new() -> Self {
        Self {
            #[cfg(not(feature = "small"))]
            content_length: None,
            #[cfg(feature = "small")]
            content_length: 0,
            #[cfg(feature = "small")]
            content_length_seen: false,
            te_present: false,
            te_chunked: false,
            te_unsupported: false,
            conn_close: false,
            conn_keep_alive: false,
            expect_continue: false,
            host: false,
        }
    }

    /// Accounts for one `Content-Length` field. A second field must agree with the first.
    pub(crate) fn content_length(&mut self, value: &[u8]) -> Result<(), RemoteError> {
        let n = parse_content_length(value)?;
        match self.agreed_length() {
            Some(prev) if prev != n => Err(RemoteError::BadContentLength),
            _ => {
                #[cfg(not(feature = "small"))]
                {
                    self.content_length = Some(n);
                }
                #[cfg(feature = "small")]
                {
                    self.content_length = n;
                    self.content_length_seen = true;
                }
                Ok(())
            }
        }
    }

    /// The agreed Content-Length, if one was seen.
    #[inline]
    fn agreed_length(&self) -> Option<u64> {
        #[cfg(not(feature = "small"))]
        return self.content_length;
        #[cfg(feature = "small")]
        return self.content_length_seen.then_some(self.content_length);
    }

    /// Accounts for one `Transfer-Encoding` field (several fields form one list).
    ///
    /// RFC 9112 §6.3 rule 4: chunked must be the final coding, applied once (else 400, also
    /// when it is absent: [`FramingFields::request_framing`]); any other coding before it
    /// is one we cannot decode (501, §6.1).
    pub(crate) fn transfer_encoding(&mut self, value: &[u8]) -> Result<(), RemoteError> {
        self.te_present = true;
        let mut any = false;
        for element in list_elements(value) {
            any = true;
            // transfer-coding = token *( OWS ";" OWS transfer-parameter )
            let name = trim_ows(element.split(|&b| b == b';').next().unwrap_or(&[]));
            if !is_token(name) {
                return Err(RemoteError::BadHeader);
            }
            if self.te_chunked {
                // Anything after chunked, chunked twice included.
                return Err(RemoteError::ChunkedNotFinal);
            }
            if eq_ignore_case(name, b"chunked") {
                if element.len() != name.len() {
                    // chunked takes no parameters (RFC 9112 §7.1).
                    return Err(RemoteError::BadHeader);
                }
                self.te_chunked = true;
            } else {
                self.te_unsupported = true;
            }
        }
        if any {
            Ok(())
        } else {
            Err(RemoteError::BadHeader)
        }
    }

    /// Accounts for one `Connection` field: a case-insensitive token list.
    pub(crate) fn connection(&mut self, value: &[u8]) -> Result<(), RemoteError> {
        for token in list_elements(value) {
            if !is_token(token) {
                return Err(RemoteError::BadHeader);
            }
            if eq_ignore_case(token, b"close") {
                self.conn_close = true;
            } else if eq_ignore_case(token, b"keep-alive") {
                self.conn_keep_alive = true;
            }
        }
        Ok(())
    }

    /// Accounts for one `Expect` field. Only `100-continue` has a meaning; other
    /// expectations are ignored (RFC 9110 §10.1.1 allows, not requires, a 417).
    pub(crate) fn expectation(&mut self, value: &[u8]) {
        if list_elements(value).any(|e| eq_ignore_case(e, b"100-continue")) {
            self.expect_continue = true;
        }
    }

    /// Decides the body framing once the head is complete (RFC 9112 §6.1 and §6.3).
    pub(crate) fn request_framing(&self, version: Version) -> Result<BodyFraming, RemoteError> {
        if version == Version::Http11 && !self.host {
            return Err(RemoteError::MissingHost);
        }
        if self.te_present {
            if version == Version::Http10 {
                // §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
                return Err(RemoteError::TransferEncodingOnHttp10);
            }
            if self.agreed_length().is_some() {
                // §6.1: a sender MUST NOT send both; a server MAY reject, and we do
                // (it is the classic smuggling vector).
                return Err(RemoteError::ContentLengthWithTransferEncoding);
            }
            if !self.te_chunked {
                // §6.3 rule 4: chunked is not the final coding (it is absent), so the length
                // cannot be determined: 400 (a MUST, before §6.1's SHOULD of 501).
                return Err(RemoteError::ChunkedNotFinal);
            }
            if self.te_unsupported {
                // Chunked last, after a coding we cannot decode (§6.1).
                return Err(RemoteError::UnsupportedTransferCoding);
            }
            return Ok(BodyFraming::Chunked);
        }
        Ok(match self.agreed_length() {
            Some(n) => BodyFraming::ContentLength(n),
            None => BodyFraming::None,
        })
    }

    /// Whether the client asked for the connection to persist after this exchange
    /// (RFC 9112 §9.3): HTTP/1.1 unless `close`; HTTP/1.0 only with `keep-alive`.
    pub(crate) fn client_keep_alive(&self, version: Version) -> bool {
        !self.conn_close && (version == Version::Http11 || self.conn_keep_alive)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_vectors() {
        let table: &[(&[u8], Result<u64, RemoteError>)] = &[
            (b"0", Ok(0)),
            (b"42", Ok(42)),
            (b"007", Ok(7)),
            (b"5, 5", Ok(5)),
            (b"5,5,,5", Ok(5)),
            (b"18446744073709551615", Ok(u64::MAX)),
            (b"18446744073709551616", Err(RemoteError::BadContentLength)),
            (b"", Err(RemoteError::BadContentLength)),
            (b"+5", Err(RemoteError::BadContentLength)),
            (b"-5", Err(RemoteError::BadContentLength)),
            (b"5 5", Err(RemoteError::BadContentLength)),
            (b"0x5", Err(RemoteError::BadContentLength)),
            (b"5, 6", Err(RemoteError::BadContentLength)),
            (b"1_0", Err(RemoteError::BadContentLength)),
        ];
        for (value, expected) in table {
            assert_eq!(parse_content_length(value), *expected, "{value:?}");
        }
    }

    #[test]
    fn transfer_encoding_vectors() {
        use BodyFraming::*;
        use RemoteError::*;
        let table: &[(&[&[u8]], Result<BodyFraming, RemoteError>)] = &[
            (&[b"chunked"], Ok(Chunked)),
            (&[b"CHUNKED"], Ok(Chunked)),
            (&[b"identity"], Err(ChunkedNotFinal)),
            (&[b"gzip"], Err(ChunkedNotFinal)),
            (&[b"xchunked"], Err(ChunkedNotFinal)),
            (&[b"gzip", b"identity"], Err(ChunkedNotFinal)),
            (&[b"gzip, chunked"], Err(UnsupportedTransferCoding)),
            (&[b"gzip", b"chunked"], Err(UnsupportedTransferCoding)),
            (&[b"chunked, gzip"], Err(ChunkedNotFinal)),
            (&[b"chunked", b"chunked"], Err(ChunkedNotFinal)),
            (&[b"chunked, chunked"], Err(ChunkedNotFinal)),
            (&[b""], Err(BadHeader)),
            (&[b"chunked;foo=bar"], Err(BadHeader)),
            (&[b"chu nked"], Err(BadHeader)),
            (&[b",chunked,"], Ok(Chunked)),
        ];
        for (fields, expected) in table {
            let mut f = FramingFields {
                host: true,
                ..FramingFields::default()
            };
            let got = fields
                .iter()
                .try_for_each(|v| f.transfer_encoding(v))
                .and_then(|()| f.request_framing(Version::Http11));
            assert_eq!(got, *expected, "{fields:?}");
        }
    }

    #[test]
    fn framing_precedence() {
        let mut f = FramingFields::default();
        assert_eq!(
            f.request_framing(Version::Http11),
            Err(RemoteError::MissingHost)
        );
        assert_eq!(f.request_framing(Version::Http10), Ok(BodyFraming::None));
        f.content_length(b"3").unwrap();
        assert_eq!(
            f.request_framing(Version::Http10),
            Ok(BodyFraming::ContentLength(3))
        );
        f.transfer_encoding(b"chunked").unwrap();
        assert_eq!(
            f.request_framing(Version::Http10),
            Err(RemoteError::TransferEncodingOnHttp10)
        );
        f.host = true;
        assert_eq!(
            f.request_framing(Version::Http11),
            Err(RemoteError::ContentLengthWithTransferEncoding)
        );
        assert_eq!(f.content_length(b"4"), Err(RemoteError::BadContentLength));
    }

    #[test]
    fn keep_alive_vectors() {
        let table: &[(Version, &[u8], bool)] = &[
            (Version::Http11, b"", true),
            (Version::Http11, b"close", false),
            (Version::Http11, b"Keep-Alive, CLOSE", false),
            (Version::Http10, b"", false),
            (Version::Http10, b"keep-alive", true),
            (Version::Http10, b"upgrade, Keep-Alive", true),
        ];
        for (version, value, expected) in table {
            let mut f = FramingFields::default();
            f.connection(value).unwrap();
            assert_eq!(f.client_keep_alive(*version), *expected, "{value:?}");
        }
    }
}
