//! Errors: [`RemoteError`] when the peer sent something we reject, [`LocalError`] when the
//! code driving the core misused it.
//!
//! A remote error always carries the HTTP status it is answered with
//! ([`RemoteError::status`]); a local error is returned to the caller and never reaches the
//! wire as diagnostics. Incomplete input is never an error: it is
//! [`Event::NeedData`](crate::Event::NeedData).

use core::fmt;

/// The peer sent a request we refuse. Each variant maps to one response status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum RemoteError {
    /// The request line is not `method SP request-target SP HTTP-version` (400).
    BadRequestLine,
    /// The method is not a token (400).
    BadMethod,
    /// The request-target is empty, contains a control byte or a space, or has a form that
    /// is not origin-form, absolute-form or `*` for OPTIONS (400).
    BadTarget,
    /// The HTTP-version is malformed (400).
    BadVersion,
    /// A request line without an HTTP-version, as HTTP/0.9 sent it (400).
    Http09,
    /// The major HTTP version is not 1 (505).
    UnsupportedVersion,
    /// The request line or its target is longer than the limit (414).
    UriTooLong,
    /// The request line outgrew a limit (`max_request_line`, `max_head`, the buffer) while
    /// every octet before the first one over it was method (a token, no space yet): a method
    /// longer than any implemented (501, RFC 9112 §3).
    MethodTooLong,
    /// The request head is larger than the limit (431).
    HeadTooLarge,
    /// More header fields than the limit (431).
    TooManyHeaders,
    /// A header line is malformed: no colon, an invalid name or an invalid value (400).
    BadHeader,
    /// Whitespace between a field name and its colon (400, RFC 9112 §5.1).
    WhitespaceBeforeColon,
    /// A line folded with obs-fold (400, RFC 9112 §5.2).
    ObsFold,
    /// A CR not followed by LF (400, RFC 9112 §2.2).
    BareCr,
    /// Too many empty lines before the request line (400).
    LeadingEmptyLines,
    /// An HTTP/1.1 request without a Host field (400, RFC 9112 §3.2).
    MissingHost,
    /// More than one Host field, or a Host value that is not a valid `uri-host[:port]` (400).
    BadHost,
    /// Both Content-Length and Transfer-Encoding were sent (400, RFC 9112 §6.1).
    ContentLengthWithTransferEncoding,
    /// A Content-Length that is not a decimal number, or several that differ (400).
    BadContentLength,
    /// A transfer-coding other than `chunked` before a final `chunked` (501, RFC 9112 §6.1).
    UnsupportedTransferCoding,
    /// The CONNECT method, in any request form: a tunnel through a proxy, which this origin
    /// server does not implement (501, RFC 9110 §9.1; a 2xx would open a tunnel).
    ConnectNotImplemented,
    /// `chunked` is not the final transfer-coding (absent, or followed by another), or
    /// appears twice (400, RFC 9112 §6.3 rule 4).
    ChunkedNotFinal,
    /// Transfer-Encoding in an HTTP/1.0 request (400, RFC 9112 §6.1).
    TransferEncodingOnHttp10,
    /// A malformed chunk: bad size, bad extension, or missing CRLF after the data (400).
    BadChunk,
    /// A chunk extension longer than the limit (400).
    ChunkExtensionTooLong,
    /// The trailer section is larger than the limit (431).
    TrailersTooLarge,
    /// The declared or streamed body is larger than the limit (413).
    BodyTooLarge,
    /// A deadline passed while the request was being received (408).
    Timeout,
    /// The peer closed the connection in the middle of a request (400; rarely answerable).
    UnexpectedEof,
}

impl RemoteError {
    /// The HTTP status code this error is answered with.
    ///
    /// ```
    /// use wsgiref::RemoteError;
    /// assert_eq!(RemoteError::UnsupportedTransferCoding.status(), 501);
    /// assert_eq!(RemoteError::UriTooLong.status(), 414);
    /// ```
    #[must_use]
    // One copy of the table in the `small` build (it was inlined into a caller too).
    #[cfg_attr(feature = "small", inline(never))]
    pub const fn status(self) -> u16 {
        match self {
            Self::UnsupportedVersion => 505,
            Self::UriTooLong => 414,
            Self::HeadTooLarge | Self::TooManyHeaders | Self::TrailersTooLarge => 431,
            Self::UnsupportedTransferCoding | Self::ConnectNotImplemented | Self::MethodTooLong => {
                501
            }
            Self::BodyTooLarge => 413,
            Self::Timeout => 408,
            Self::BadRequestLine
            | Self::BadMethod
            | Self::BadTarget
            | Self::BadVersion
            | Self::Http09
            | Self::BadHeader
            | Self::WhitespaceBeforeColon
            | Self::ObsFold
            | Self::BareCr
            | Self::LeadingEmptyLines
            | Self::MissingHost
            | Self::BadHost
            | Self::ContentLengthWithTransferEncoding
            | Self::BadContentLength
            | Self::ChunkedNotFinal
            | Self::TransferEncodingOnHttp10
            | Self::BadChunk
            | Self::ChunkExtensionTooLong
            | Self::UnexpectedEof => 400,
        }
    }

    /// A short description, used in logs (never sent to the client beyond the reason phrase).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        let (start, end) = match DESCRIPTION_ENDS.split_at_checked(self as usize) {
            Some((before, [end, ..])) => match before.last() {
                Some(&start) => (start as usize, *end as usize),
                None => (0, *end as usize),
            },
            _ => (0, 0),
        };
        match DESCRIPTIONS.split_at_checked(end) {
            Some((head, _)) => match head.split_at_checked(start) {
                Some((_, text)) => text,
                None => "",
            },
            None => "",
        }
    }
}

/// [`RemoteError::as_str`]'s descriptions, one after the other in the order of the variants
/// (`DESCRIPTIONS`), and where each one ends (`DESCRIPTION_ENDS`): 2 bytes of table a
/// variant, where a `match` of strings takes 8 (a pointer and a length).
macro_rules! descriptions {
    ($($variant:ident => $text:literal,)*) => {
        const DESCRIPTIONS: &str = concat!($($text),*);
        #[allow(clippy::indexing_slicing)] // const evaluation: an index out of bounds fails the build
        const DESCRIPTION_ENDS: [u16; [$(RemoteError::$variant),*].len()] = {
            let lens = [$($text.len()),*];
            let mut ends = [0; [$(RemoteError::$variant),*].len()];
            let mut i = 0;
            let mut end = 0;
            while i < lens.len() {
                end += lens[i];
                ends[i] = end as u16;
                i += 1;
            }
            ends
        };
        /// The variants in the order of the descriptions (which must be theirs).
        #[cfg(test)]
        const DESCRIBED: &[RemoteError] = &[$(RemoteError::$variant),*];
        /// The descriptions by a `match`, which names every variant.
        #[cfg(test)]
        fn described(error: RemoteError) -> &'static str {
            match error {
                $(RemoteError::$variant => $text,)*
            }
        }
    };
}

descriptions! {
    BadRequestLine => "malformed request line",
    BadMethod => "invalid method",
    BadTarget => "invalid request-target",
    BadVersion => "malformed HTTP version",
    Http09 => "request line without HTTP version",
    UnsupportedVersion => "unsupported HTTP major version",
    UriTooLong => "request-target too long",
    MethodTooLong => "method too long",
    HeadTooLarge => "request head too large",
    TooManyHeaders => "too many header fields",
    BadHeader => "malformed header field",
    WhitespaceBeforeColon => "whitespace before colon in header field",
    ObsFold => "obsolete line folding",
    BareCr => "bare CR",
    LeadingEmptyLines => "too many empty lines before request line",
    MissingHost => "HTTP/1.1 request without Host",
    BadHost => "duplicate or invalid Host",
    ContentLengthWithTransferEncoding => "Content-Length with Transfer-Encoding",
    BadContentLength => "invalid or conflicting Content-Length",
    UnsupportedTransferCoding => "unsupported transfer-coding",
    ConnectNotImplemented => "CONNECT is not implemented",
    ChunkedNotFinal => "chunked is not the final transfer-coding",
    TransferEncodingOnHttp10 => "Transfer-Encoding in an HTTP/1.0 request",
    BadChunk => "malformed chunk",
    ChunkExtensionTooLong => "chunk extension too long",
    TrailersTooLarge => "trailer section too large",
    BodyTooLarge => "request body too large",
    Timeout => "request timed out",
    UnexpectedEof => "connection closed mid-request",
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.as_str(), self.status())
    }
}

impl core::error::Error for RemoteError {}

/// The code driving the core called it in a way that is not allowed. Nothing is sent for it;
/// the call has no effect unless the variant says otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum LocalError {
    /// The call is not allowed in the current state (for example a body write before
    /// `start_response`, or a call after the connection closed).
    InvalidState,
    /// The status is not three digits, a space and a reason phrase without control bytes,
    /// or (as the status of a response on HTTP) its code is not a final one, 200 to 599.
    BadStatus,
    /// A response header name is not a token.
    BadHeaderName,
    /// A response header value contains CR, LF or another control byte (HTAB is allowed).
    BadHeaderValue,
    /// A response `Content-Length` that is not a number of octets (`1*DIGIT`), or that
    /// differs from an earlier one (HTTP output; CGI output passes any value on, as CPython).
    BadContentLength,
    /// A hop-by-hop header (`Connection`, `Keep-Alive`, `Transfer-Encoding`, …) was given by
    /// the application; the gateway owns those.
    HopByHopHeader,
    /// `start_response` was called a second time without an error (the `exc_info` rule).
    AlreadyStarted,
    /// The response head has already been sent, so it can no longer be replaced.
    HeadersAlreadySent,
    /// More body bytes than the response's Content-Length allows. Nothing of this write was
    /// sent; the connection will close.
    BodyTooLong,
    /// A caller-owned buffer is too small; `needed` bytes would have been required.
    BufferTooSmall {
        /// How many bytes the operation needed.
        needed: usize,
    },
    /// A fixed-capacity store (environ extras, headers) is full.
    CapacityExceeded,
}

impl fmt::Display for LocalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidState => f.write_str("call not allowed in the current state"),
            Self::BadStatus => {
                f.write_str("status must be a final code (200 to 599), a space and a reason")
            }
            Self::BadHeaderName => f.write_str("header name is not a token"),
            Self::BadHeaderValue => f.write_str("control characters not allowed in headers"),
            Self::BadContentLength => {
                f.write_str("Content-Length must be digits only, the same in every field")
            }
            Self::HopByHopHeader => f.write_str("hop-by-hop headers not allowed"),
            Self::AlreadyStarted => f.write_str("start_response called twice without exc_info"),
            Self::HeadersAlreadySent => f.write_str("headers already sent"),
            Self::BodyTooLong => f.write_str("body longer than its Content-Length"),
            Self::BufferTooSmall { needed } => write!(f, "buffer too small: {needed} bytes needed"),
            Self::CapacityExceeded => f.write_str("fixed capacity exceeded"),
        }
    }
}

impl core::error::Error for LocalError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_follow_the_variants() {
        for (at, &error) in DESCRIBED.iter().enumerate() {
            assert_eq!(error as usize, at);
            assert_eq!(error.as_str(), described(error));
        }
        assert_eq!(DESCRIBED.len(), DESCRIPTION_ENDS.len());
        assert_eq!(
            RemoteError::UnexpectedEof.as_str(),
            "connection closed mid-request"
        );
    }
}
