//! The request-head parser: a streaming, line-at-a-time push parser over the receive buffer.
//!
//! Read this first. The receive buffer holds, from offset 0:
//!
//! ```text
//! [ kept head: request line + kept header lines ][ gap: discarded lines ][ partial line ][ free ]
//! 0                                              kept_end               line_start     filled
//! ```
//!
//! Each complete line is parsed once, when its LF arrives. While nothing was discarded, kept
//! lines stay where they arrived, terminators included, so in the common case nothing moves;
//! after a gap, a kept line's content is moved down to `kept_end`. Discarded lines (header
//! filtering, fields with `_` in their name) are only validated and counted, so their bytes
//! can be reused. When the buffer fills up, the terminators are first squeezed out of the
//! kept head ([`HeadParser::compact`]), so exactly as much room is left as if only line
//! contents had ever been kept. If the buffer is still full and the partial line is the value
//! of a field we do not keep, the parser switches to skipping that value, so a field longer
//! than the whole buffer (a 2 KiB Cookie in a 1 KiB buffer) costs nothing. Repeated kept
//! fields are joined with `,` in place, so that every environ value is one contiguous slice
//! of the buffer.
//!
//! Speed: a line is scanned in one pass, a word (8 bytes, 4 on 32-bit targets) at a time
//! ([`swar_find`]): the field name up to its colon, the value up to its first control byte
//! (normally the CR of its CRLF). For a well-formed line, which is nearly every line, that
//! pass yields everything the parser needs ([`scan_field_line`], [`scan_request_line`]), and
//! runs of ordinary fields go through one tight loop ([`HeadParser::fast_fields`]). Any
//! other line gets the full checks, in their documented order, once its LF is there, so the
//! outcome, and which error, never depends on which path looked at the line.
//!
//! All decisions depend only on the bytes, never on how they were split into reads: a line
//! is parsed when its LF arrives, and the skip mode applies the same checks, in the same
//! order, as a whole line would get. When a line is bad in more than one way, the first
//! offending byte decides: the first byte beyond `max_head` (431) or beyond a full buffer
//! (431; for the request line 414, or 501 if only method came before that byte), or the
//! first byte that makes the line invalid (obs-fold at its first byte, a bad name at its
//! colon, a bad value byte, the byte after a bare CR; a line without a colon at its LF). A
//! limit and an invalid byte at the same byte: the limit. Checks that need the whole line
//! (the request line's syntax, field counts, framing fields) are decided at its LF. A line
//! received whole ([`check_field_prefix`] on the bytes before the limit), cut by reads, or
//! skipped all get the same error.
//! `tests/splits.rs` checks this on random requests.

use heapless::Vec;

use crate::RemoteError;
use crate::abnf::{
    eq_ignore_case, find_ctl, find_lf, has_byte, is_ows, is_reg_name_byte, is_target_byte,
    is_tchar, is_token, trim_ows,
};
// The fast paths' scans; the `small` build has none of them (see `scan_field_line`).
#[cfg(not(feature = "small"))]
use crate::abnf::{
    NAME_UNDERSCORE, is_alpha_dash, name_class, swar_below, swar_equal, swar_find,
    swar_not_alpha_dash,
};
use crate::framing::{FramingFields, Version};

/// Limits and options of the head parser (a subset of the connection's `Config`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct HeadLimits<'a> {
    pub(crate) max_request_line: usize,
    pub(crate) max_head: usize,
    pub(crate) max_fields: usize,
    pub(crate) max_empty_lines: usize,
    pub(crate) keep: Option<&'a [&'a str]>,
}

/// A range of the receive buffer. Heads are at most `u16::MAX` bytes long.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: u16,
    pub(crate) len: u16,
}

impl Span {
    // One copy in the `small` build (inlined at a dozen sites).
    #[cfg_attr(feature = "small", inline(never))]
    pub(crate) fn new(start: usize, end: usize) -> Self {
        // Callers guarantee end <= u16::MAX (the head limit is clamped); saturate anyway.
        let start = u16::try_from(start).unwrap_or(u16::MAX);
        let end = u16::try_from(end).unwrap_or(u16::MAX);
        Self {
            start,
            len: end.saturating_sub(start),
        }
    }

    /// `start..start + len` where the caller knows `start + len <= u16::MAX` (so the casts
    /// cannot truncate): the fast path checks that once for the whole buffer.
    #[inline(always)]
    #[allow(clippy::cast_possible_truncation)]
    const fn within_u16(start: usize, len: usize) -> Self {
        Self {
            start: start as u16,
            len: len as u16,
        }
    }

    pub(crate) fn end(self) -> usize {
        usize::from(self.start) + usize::from(self.len)
    }

    /// The bytes of this span in `buf` (empty if out of range, which cannot happen for spans
    /// produced by the parser over the same buffer).
    pub(crate) fn of(self, buf: &[u8]) -> &[u8] {
        buf.get(usize::from(self.start)..self.end()).unwrap_or(&[])
    }

    fn shift_if_after(&mut self, at: usize, by: usize) {
        if usize::from(self.start) >= at {
            self.start = u16::try_from(usize::from(self.start) + by).unwrap_or(u16::MAX);
        }
    }
}

/// One kept header field: spans of its name and (trimmed, possibly joined) value.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Field {
    pub(crate) name: Span,
    pub(crate) value: Span,
}

/// A parsed request head: spans into the kept head at the front of the receive buffer.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct Head<const H: usize> {
    // `repr(C)`, in this order: the widest fields first (no padding), and the field array
    // last, so that a new head stores the fields before it without a memset over the array,
    // which it leaves uninitialised.
    pub(crate) flags: FramingFields,
    /// Length of the kept head: the body starts here once the head is complete.
    pub(crate) len: usize,
    pub(crate) method: Span,
    /// The path: as received while `path_raw`, then percent-decoded in place (leading
    /// `//…` collapsed to `/`) by [`Head::decode_path`].
    pub(crate) path: Span,
    /// The query, raw, without the `?`.
    pub(crate) query: Span,
    /// The HTTP-version as sent.
    pub(crate) protocol: Span,
    pub(crate) version: Version,
    pub(crate) content_type: Option<u8>,
    pub(crate) content_length: Option<u8>,
    /// The kept Host field (there is at most one), for `HTTP_HOST` without a search. Not
    /// in the `small` build (240 bytes of flash on the firmware), which searches.
    #[cfg(not(feature = "small"))]
    pub(crate) host: Option<u8>,
    /// The request-target is in absolute-form: its authority stands for the Host field.
    pub(crate) absolute_form: bool,
    /// The path still holds the target's bytes as received and needs decoding: the request
    /// line stays as it came until the exchange begins (for an access log).
    pub(crate) path_raw: bool,
    /// The exchange has begun ([`Head::decode_path`] ran): the request line may have been
    /// rewritten.
    pub(crate) exchanged: bool,
    pub(crate) fields: Vec<Field, H>,
}

impl<const H: usize> Head<H> {
    pub(crate) const fn new() -> Self {
        Self {
            method: Span { start: 0, len: 0 },
            path: Span { start: 0, len: 0 },
            query: Span { start: 0, len: 0 },
            protocol: Span { start: 0, len: 0 },
            version: Version::Http11,
            fields: Vec::new(),
            content_type: None,
            content_length: None,
            #[cfg(not(feature = "small"))]
            host: None,
            len: 0,
            flags: FramingFields::new(),
            absolute_form: false,
            path_raw: false,
            exchanged: false,
        }
    }

    /// Percent-decodes the path in place, once, when the exchange begins (until then the
    /// request line is as received).
    pub(crate) fn decode_path(&mut self, buf: &mut [u8]) {
        if self.path_raw {
            self.path = decode_path_in_place(buf, usize::from(self.path.start), self.path.end());
            self.path_raw = false;
        }
        self.exchanged = true;
    }

    /// The request line as received, without its terminator (empty before it is parsed).
    pub(crate) fn request_line(&self) -> Span {
        let start = usize::from(self.method.start);
        Span::new(start, self.protocol.end().max(start))
    }
}

/// Where the parser is inside the current line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Waiting for the LF that completes the line starting at `line_start`.
    Line,
    /// Discarding the value of an unkept field until its LF; `cr` if the last byte was CR.
    Skip { cr: bool },
}

/// The streaming parser's position. Reset for every request.
#[derive(Debug)]
pub(crate) struct HeadParser {
    /// End of the kept head.
    kept_end: usize,
    /// Start of the line being received.
    line_start: usize,
    /// Bytes from `line_start` up to here are known to contain no LF.
    scan: usize,
    mode: Mode,
    request_line_done: bool,
    empty_lines: usize,
    fields_seen: usize,
    /// Head bytes consumed by completed (or skipped) lines, kept or not.
    consumed: usize,
    /// A 64-bit Bloom filter of the kept field names ([`name_key`]): a name whose bit is
    /// clear cannot repeat an earlier one, so most fields skip the duplicate search. Not in
    /// the `small` build, which always searches.
    #[cfg(not(feature = "small"))]
    names: u64,
    /// The kept head may hold line terminators (see [`HeadParser::compact`]).
    loose: bool,
    /// Before the request line, the partial line is a lone CR: the start of an empty line
    /// as much as of a request (see [`HeadParser::started`]).
    lone_cr: bool,
    /// Where the complete request line was kept, without its terminator, once it arrived
    /// (parsed or refused): for an access log's view of a rejected request.
    request_line_at: Span,
}

/// What one call to [`HeadParser::parse`] achieved.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    /// More bytes are needed. `filled` may have shrunk (discarded bytes were reclaimed).
    NeedData,
    /// The head is complete; `filled` was adjusted so the body starts at `Head::len`.
    Done,
}

/// A complete line found by a line scan, positions relative to the line's start.
#[derive(Debug, PartialEq, Eq)]
struct Line<F> {
    /// The LF that ends the line.
    lf: usize,
    /// The end of the line without its terminator (CRLF or a bare LF, RFC 9112 §2.2).
    content_end: usize,
    /// What the fast scan established about a well-formed line; `None` if the line needs
    /// the full checks (it is malformed, or unusual: those checks find out which).
    fast: Option<F>,
}

/// A well-formed field line: `name ":" OWS value OWS`, the name a token, the value free of
/// control bytes other than HTAB. Positions relative to the line's start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FieldLine {
    colon: usize,
    /// The value without leading and trailing OWS.
    value_start: usize,
    value_end: usize,
    /// The name contains `_`.
    underscore: bool,
}

/// A well-formed origin-form request line: `token SP "/" *target-byte SP "HTTP/1." ("0" /
/// "1")`, no `#`. Positions relative to the line's start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RequestLine {
    sp1: usize,
    sp2: usize,
    /// The first `?` of the target.
    query: Option<usize>,
    /// The path needs decoding: it holds `%` or starts with `//`.
    decode: bool,
    version: Version,
}

impl HeadParser {
    /// The request line as it came, for a rejected request: the complete line where it was
    /// kept, else what arrived of the line being received.
    pub(crate) fn received_line(&self, filled: usize) -> Span {
        if self.request_line_at.len > 0 {
            self.request_line_at
        } else {
            Span::new(self.line_start, filled)
        }
    }

    pub(crate) const fn new() -> Self {
        Self {
            kept_end: 0,
            line_start: 0,
            scan: 0,
            mode: Mode::Line,
            request_line_done: false,
            empty_lines: 0,
            fields_seen: 0,
            consumed: 0,
            #[cfg(not(feature = "small"))]
            names: 0,
            loose: false,
            lone_cr: false,
            request_line_at: Span { start: 0, len: 0 },
        }
    }

    /// Has any byte of this request been received (empty lines before it excluded)? Asked
    /// after [`HeadParser::parse`] needed data. A lone CR does not count yet: it may begin
    /// an empty line, and whether it does must not depend on where a read ended.
    pub(crate) fn started(&self, filled: usize) -> bool {
        self.request_line_done || filled > self.line_start + usize::from(self.lone_cr)
    }

    /// Parses as much of `buf[..*filled]` as forms complete lines.
    ///
    /// Nothing received yet (a connection that waits for its next request, asked before
    /// each read) needs data at once, without entering the line loop.
    #[inline]
    pub(crate) fn parse<const H: usize>(
        &mut self,
        buf: &mut [u8],
        filled: &mut usize,
        head: &mut Head<H>,
        limits: &HeadLimits<'_>,
    ) -> Result<Progress, RemoteError> {
        if *filled == self.line_start
            && *filled == self.kept_end
            && *filled < buf.len()
            && !self.request_line_done
            && self.mode == Mode::Line
        {
            // What `partial_line` concludes for an empty partial line.
            self.lone_cr = false;
            return Ok(Progress::NeedData);
        }
        self.parse_lines(buf, filled, head, limits)
    }

    /// [`HeadParser::parse`] for received bytes.
    ///
    /// Each line is scanned once by a fast one-pass scanner that finds its LF and, for a
    /// well-formed line (nearly all of them), everything the parser needs. Any other line
    /// goes through the full checks, in their documented order, once its LF is there, so
    /// the outcome (and the error) never depends on which path looked at it.
    fn parse_lines<const H: usize>(
        &mut self,
        buf: &mut [u8],
        filled: &mut usize,
        head: &mut Head<H>,
        limits: &HeadLimits<'_>,
    ) -> Result<Progress, RemoteError> {
        loop {
            if let Mode::Skip { cr } = self.mode {
                if let Some(progress) = self.skip(buf, filled, cr, limits)? {
                    return Ok(progress);
                }
            }
            #[cfg(not(feature = "small"))]
            if self.request_line_done
                && self.scan == self.line_start
                && self.line_start == self.kept_end
                && limits.keep.is_none()
            {
                if let Some(next) = self.fast_fields(buf, *filled, head, limits)? {
                    return Ok(self.finish(buf, filled, next, head));
                }
            }
            // The line and the rest of the buffer: the scans may read a word past the
            // received bytes (`len`), never deciding anything on them.
            let bytes = buf.get(self.line_start..).unwrap_or(&[]);
            let len = *filled - self.line_start;
            // A line that was incomplete before: look for its LF in the new bytes only, so
            // a long line arriving in small reads is not rescanned from its start each time.
            if self.scan > self.line_start
                && find_lf(bytes, self.scan - self.line_start, len).is_none()
            {
                self.scan = *filled;
                return self.partial_line(buf, filled, head, limits);
            }
            let next = if self.request_line_done {
                // The empty line that ends the head, without a scan.
                let blank = match bytes.get(..len.min(2)) {
                    Some([b'\r', b'\n']) => 2,
                    Some([b'\n', ..]) => 1,
                    _ => 0,
                };
                if blank != 0 {
                    let next = self.line_start + blank;
                    self.consumed += blank;
                    self.check_head_size(limits)?;
                    return Ok(self.finish(buf, filled, next, head));
                }
                let Some(line) = scan_field_line(bytes, len) else {
                    self.scan = *filled;
                    return self.partial_line(buf, filled, head, limits);
                };
                let next = self.line_start + line.lf + 1;
                if self.consumed + line.lf + 1 > limits.max_head {
                    let room = limits.max_head.saturating_sub(self.consumed);
                    return Err(field_too_large(bytes.get(..room).unwrap_or(&[])));
                }
                self.consumed += line.lf + 1;
                if line.content_end == 0 {
                    return Ok(self.finish(buf, filled, next, head));
                }
                let content_end = self.line_start + line.content_end;
                let field = match line.fast {
                    Some(field) => field,
                    None => self.check_field_line(buf, content_end)?,
                };
                self.field_line(buf, content_end, next, field, head, limits)?;
                next
            } else {
                let Some(line) = scan_request_line(bytes, len) else {
                    self.scan = *filled;
                    return self.partial_line(buf, filled, head, limits);
                };
                // The fast result gets its own copy: merged with the full checks' result
                // (their LF search is a call), its positions went through the stack (14
                // instructions per request, callgrind). Only `None` in the `small` build.
                match line.fast {
                    Some(_) => self.request_line_or_empty(buf, line, head, limits)?,
                    None => self.request_line_or_empty(buf, line, head, limits)?,
                }
            };
            self.line_start = next;
            self.scan = next;
        }
    }

    /// The complete line before the request line: the request line, or an empty line.
    /// Returns the start of the next line.
    #[inline(always)]
    fn request_line_or_empty<const H: usize>(
        &mut self,
        buf: &mut [u8],
        line: Line<RequestLine>,
        head: &mut Head<H>,
        limits: &HeadLimits<'_>,
    ) -> Result<usize, RemoteError> {
        let next = self.line_start + line.lf + 1;
        if self.consumed + line.lf + 1 > limits.max_head
            || line.content_end > limits.max_request_line
        {
            let text = buf.get(self.line_start..next).unwrap_or(&[]);
            return Err(self.line_too_long(text, limits));
        }
        self.consumed += line.lf + 1;
        if line.content_end == 0 {
            self.empty_lines += 1;
            if self.empty_lines > limits.max_empty_lines {
                return Err(RemoteError::LeadingEmptyLines);
            }
            self.consumed -= line.lf + 1;
        } else {
            let len = line.content_end;
            let at = self.keep_line(buf, self.line_start + len, next);
            match line.fast {
                // Spans are 16-bit; the head limit is clamped so that this holds.
                Some(fast) if at + len <= usize::from(u16::MAX) => {
                    self.request_line_at = Span::within_u16(at, len);
                    fast_request_line(at, at + len, fast, head);
                    if fast.sp1 == CONNECT.len() && is_connect(buf, at) {
                        return Err(RemoteError::ConnectNotImplemented);
                    }
                }
                _ => {
                    self.request_line_at = Span::new(at, at + len);
                    request_line(buf, at, at + len, head)?;
                }
            }
            self.request_line_done = true;
        }
        Ok(next)
    }

    /// Skip mode: checks the next bytes of the unkept value being skipped; `Some` if they
    /// do not end it. Only the bytes within `max_head` are checked: the first byte beyond it
    /// decides (431) unless an earlier one already did, whatever the reads.
    #[cold]
    fn skip(
        &mut self,
        buf: &[u8],
        filled: &mut usize,
        cr: bool,
        limits: &HeadLimits<'_>,
    ) -> Result<Option<Progress>, RemoteError> {
        let chunk = buf.get(self.line_start..*filled).unwrap_or(&[]);
        let room = limits.max_head.saturating_sub(self.consumed);
        match skip_value(chunk.get(..room).unwrap_or(chunk), cr)? {
            SkipEnd::Line(n) => {
                self.consumed += n;
                self.line_start += n;
                self.scan = self.line_start;
                self.mode = Mode::Line;
                // Counted once valid, as a whole line is.
                self.count_field(limits)?;
                Ok(None)
            }
            SkipEnd::More { .. } if chunk.len() > room => Err(RemoteError::HeadTooLarge),
            SkipEnd::More { cr } => {
                self.consumed += chunk.len();
                *filled = self.line_start;
                self.scan = self.line_start;
                self.mode = Mode::Skip { cr };
                Ok(Some(Progress::NeedData))
            }
        }
    }

    /// The common case in one tight loop: complete, well-formed field lines of ordinary
    /// fields while nothing was discarded and there is no allow-list. It stops before the
    /// first line it would not handle entirely (incomplete, empty, malformed, a limit
    /// reached, a possible repeat, a framing field other than Host and a one-token
    /// Connection), leaving it to the general path; what it does for a line is exactly what
    /// the general path would do. A CRLF empty line within `max_head` ends the head here:
    /// `Some` with the position after it, for [`HeadParser::finish`] (the general path
    /// would take it the same way, one pass of the line loop later). Not in the `small`
    /// build.
    #[cfg(not(feature = "small"))]
    #[inline(always)]
    fn fast_fields<const H: usize>(
        &mut self,
        buf: &mut [u8],
        filled: usize,
        head: &mut Head<H>,
        limits: &HeadLimits<'_>,
    ) -> Result<Option<usize>, RemoteError> {
        let start = self.line_start;
        if filled > usize::from(u16::MAX) {
            // Spans are 16-bit: `Span::within_u16` below relies on this.
            return Ok(None);
        }
        // The counters live in registers for the loop and are stored once at the end.
        let (mut names, mut consumed, mut seen) = (self.names, self.consumed, self.fields_seen);
        let mut at = start;
        let result = loop {
            let Some(bytes) = buf.get(at..) else {
                break Ok(None);
            };
            // CR and LF in one comparison; another control byte is no name byte either
            // and goes to the general path all the same.
            if bytes.first().is_some_and(|&b| b <= b'\r') {
                // A CRLF empty line ends the head, as the general path would take it; the
                // rest is left to that path.
                if filled - at >= 2
                    && bytes.get(..2) == Some(b"\r\n")
                    && consumed + 2 <= limits.max_head
                {
                    consumed += 2;
                    break Ok(Some(at + 2));
                }
                break Ok(None);
            }
            let Some(Line {
                lf,
                fast: Some(field),
                ..
            }) = scan_field_line(bytes, filled - at)
            else {
                break Ok(None);
            };
            let next_consumed = consumed + lf + 1;
            if next_consumed > limits.max_head
                || seen >= limits.max_fields
                || field.underscore
                || head.fields.is_full()
            {
                break Ok(None);
            }
            // The name is `bytes[..colon]`, never empty on the fast path.
            let first = bytes.first().copied().unwrap_or(0);
            let last = bytes.get(field.colon.wrapping_sub(1)).copied().unwrap_or(0);
            let bit = 1u64 << name_key_of(field.colon, first, last);
            if names & bit != 0 {
                break Ok(None);
            }
            if FRAMING_KEYS & bit != 0 {
                let name = bytes.get(..field.colon).unwrap_or(&[]);
                let value = bytes.get(field.value_start..field.value_end).unwrap_or(&[]);
                match FieldKind::of(name) {
                    FieldKind::Other => {}
                    FieldKind::Host => {
                        if head.flags.host || !is_valid_host(value) {
                            break Err(RemoteError::BadHost);
                        }
                        head.flags.host = true;
                        head.host = u8::try_from(head.fields.len()).ok();
                    }
                    FieldKind::Connection if eq_lower(value, b"keep-alive") => {
                        head.flags.conn_keep_alive = true;
                    }
                    FieldKind::Connection if eq_lower(value, b"close") => {
                        head.flags.conn_close = true;
                    }
                    _ => break Ok(None),
                }
            }
            names |= bit;
            consumed = next_consumed;
            seen += 1;
            let _ = head.fields.push(Field {
                name: Span::within_u16(at, field.colon),
                value: Span::within_u16(
                    at + field.value_start,
                    field.value_end - field.value_start,
                ),
            });
            at += lf + 1;
        };
        self.names = names;
        self.consumed = consumed;
        self.fields_seen = seen;
        let end = result?;
        if at != start {
            self.line_start = at;
            self.scan = at;
            self.kept_end = at;
            self.loose = true;
        }
        Ok(end)
    }

    /// No LF in the buffered bytes: enforce the limits, reclaim discarded space, and skip an
    /// unkept value that cannot fit the buffer.
    #[cold]
    fn partial_line<const H: usize>(
        &mut self,
        buf: &mut [u8],
        filled: &mut usize,
        head: &mut Head<H>,
        limits: &HeadLimits<'_>,
    ) -> Result<Progress, RemoteError> {
        let partial = *filled - self.line_start;
        if !self.request_line_done {
            // A trailing CR may be the start of the line's CRLF, which the limit does not
            // count: if it is not, the next byte counts it.
            let line = buf.get(self.line_start..*filled).unwrap_or(&[]);
            self.lone_cr = line == b"\r";
            let cr = usize::from(line.last() == Some(&b'\r'));
            if partial - cr > limits.max_request_line || self.consumed + partial > limits.max_head {
                return Err(self.line_too_long(line, limits));
            }
        }
        if self.consumed + partial > limits.max_head {
            let room = limits.max_head.saturating_sub(self.consumed);
            let line = buf.get(self.line_start..*filled).unwrap_or(&[]);
            return Err(field_too_large(line.get(..room).unwrap_or(line)));
        }
        if *filled == buf.len() && self.loose && cfg!(not(feature = "small")) {
            // Full: squeeze the line terminators out of the kept head first, so exactly as
            // much room is left as when kept lines never held them.
            self.compact(buf, head);
        }
        if self.line_start > self.kept_end {
            // Reclaim the bytes of discarded lines: move the partial line down.
            buf.copy_within(self.line_start..*filled, self.kept_end);
            let shift = self.line_start - self.kept_end;
            self.line_start = self.kept_end;
            self.scan -= shift;
            *filled -= shift;
        }
        if *filled < buf.len() {
            return Ok(Progress::NeedData);
        }
        // The buffer is full and holds no complete line: the byte that does not fit decides,
        // unless an earlier one already did (as when the line is received whole).
        if !self.request_line_done {
            let line = buf.get(self.line_start..*filled).unwrap_or(&[]);
            return Err(self.line_too_long(line, limits));
        }
        let line = buf.get(self.line_start..*filled).unwrap_or(&[]);
        let Some(colon) = check_field_prefix(line)? else {
            return Err(RemoteError::HeadTooLarge);
        };
        let name = line.get(..colon).unwrap_or(&[]);
        if self.needs_whole(name, head, limits) {
            // We need this field whole, and it does not fit.
            return Err(RemoteError::HeadTooLarge);
        }
        // An unkept value: skip it (checked, then counted when its line ends). The bytes so
        // far were checked above; only whether they end in a CR matters.
        self.consumed += partial;
        *filled = self.line_start;
        self.scan = self.line_start;
        self.mode = Mode::Skip {
            cr: line.last() == Some(&b'\r'),
        };
        Ok(Progress::NeedData)
    }

    /// Must the field `name` be seen whole: kept for the environ, or interpreted for
    /// framing? The same choice [`HeadParser::field_line`] makes for a complete line.
    fn needs_whole<const H: usize>(
        &self,
        name: &[u8],
        head: &Head<H>,
        limits: &HeadLimits<'_>,
    ) -> bool {
        let kind = FieldKind::of(name);
        is_framing_field(name)
            || !has_byte(name, b'_')
                && keep_field(name, limits.keep)
                && !(kind == FieldKind::ContentType && head.content_type.is_some())
    }

    /// The refusal of a request line that outgrew a limit (`max_request_line`, `max_head` or
    /// the buffer), `self.consumed` counting the octets before it: 501 if the octets before
    /// the first one over a limit are all method (a token without a space: a method longer
    /// than any implemented, RFC 9112 §3's SHOULD), else 414. Only those octets decide, so
    /// the answer does not depend on how the line arrived.
    #[cold]
    fn line_too_long(&self, line: &[u8], limits: &HeadLimits<'_>) -> RemoteError {
        let room = limits
            .max_head
            .saturating_sub(self.consumed)
            .min(limits.max_request_line);
        if is_token(line.get(..room).unwrap_or(line)) {
            RemoteError::MethodTooLong
        } else {
            RemoteError::UriTooLong
        }
    }

    /// After a field line or the head's end (the request line has its own check,
    /// [`HeadParser::line_too_long`]).
    fn check_head_size(&self, limits: &HeadLimits<'_>) -> Result<(), RemoteError> {
        if self.consumed > limits.max_head {
            Err(RemoteError::HeadTooLarge)
        } else {
            Ok(())
        }
    }

    fn count_field(&mut self, limits: &HeadLimits<'_>) -> Result<(), RemoteError> {
        self.fields_seen += 1;
        if self.fields_seen > limits.max_fields {
            Err(RemoteError::TooManyHeaders)
        } else {
            Ok(())
        }
    }

    /// Keeps the line `[line_start, next)` whose content ends at `content_end`: returns
    /// where it now starts and extends the kept head over it. While nothing was discarded
    /// the line stays where it is, terminator included (no copy); after a gap its content
    /// is moved down to `kept_end`. The `small` build always moves it, so its kept head never
    /// holds terminators and needs no [`HeadParser::compact`].
    #[inline(always)]
    fn keep_line(&mut self, buf: &mut [u8], content_end: usize, next: usize) -> usize {
        let at = self.kept_end;
        if self.line_start == at && cfg!(not(feature = "small")) {
            self.kept_end = next;
            self.loose = true;
        } else {
            buf.copy_within(self.line_start..content_end, at);
            self.kept_end = at + (content_end - self.line_start);
        }
        at
    }

    /// Removes the line terminators from the kept head, moving the kept bytes down and
    /// every span with them: the kept head becomes exactly what it would be had only line
    /// contents ever been kept. Every CR and LF in the kept head belongs to a terminator
    /// (valid line contents hold neither, and the path is decoded only when the exchange
    /// begins). Rare: only when the buffer is full.
    #[cold]
    fn compact<const H: usize>(&mut self, buf: &mut [u8], head: &mut Head<H>) {
        self.loose = false;
        let is_terminator = |b: u8| b == b'\r' || b == b'\n';
        let count = |buf: &[u8], from: usize, to: usize| {
            buf.get(from..to).map_or(0, |bytes| {
                bytes.iter().filter(|&&b| is_terminator(b)).count()
            })
        };
        // Each span moves down by the terminator bytes before it. Spans are in buffer
        // order (request line, then fields in order), so one forward count serves them all;
        // a span out of order would be counted from the start.
        let mut counted_to = 0;
        let mut before = 0;
        let mut shift = |buf: &[u8], span: &mut Span| {
            let start = usize::from(span.start);
            let removed = if start >= counted_to {
                before += count(buf, counted_to, start);
                counted_to = start;
                before
            } else {
                count(buf, 0, start)
            };
            span.start = u16::try_from(start - removed).unwrap_or(u16::MAX);
        };
        shift(buf, &mut head.method);
        shift(buf, &mut head.path);
        shift(buf, &mut head.query);
        shift(buf, &mut head.protocol);
        for f in head.fields.iter_mut() {
            shift(buf, &mut f.name);
            shift(buf, &mut f.value);
        }
        let mut write = 0;
        for read in 0..self.kept_end {
            let Some(&b) = buf.get(read) else {
                break;
            };
            if !is_terminator(b) {
                if let Some(slot) = buf.get_mut(write) {
                    *slot = b;
                }
                write += 1;
            }
        }
        self.kept_end = write;
    }

    /// The full checks of a field line that the fast scan did not accept, in order: obs-fold,
    /// the colon, the name, then the value bytes. Returns the line's parts if it is valid
    /// after all.
    #[cold]
    fn check_field_line(&self, buf: &[u8], content_end: usize) -> Result<FieldLine, RemoteError> {
        let line = buf.get(self.line_start..content_end).unwrap_or(&[]);
        let colon = check_field_prefix(line)?.ok_or(RemoteError::BadHeader)?;
        let name = line.get(..colon).unwrap_or(&[]);
        let raw_value = line.get(colon + 1..).unwrap_or(&[]);
        if raw_value.last() == Some(&b'\r') {
            // A CR followed by the LF would have ended the line.
            return Err(RemoteError::BareCr);
        }
        let leading_ows = raw_value.iter().take_while(|&&b| is_ows(b)).count();
        let value_start = colon + 1 + leading_ows;
        Ok(FieldLine {
            colon,
            value_start,
            value_end: value_start + trim_ows(raw_value).len(),
            underscore: has_byte(name, b'_'),
        })
    }

    /// A valid field line `[line_start, next)`: counts it, interprets framing fields, and
    /// keeps it for the environ unless it is filtered out.
    #[inline(always)]
    fn field_line<const H: usize>(
        &mut self,
        buf: &mut [u8],
        content_end: usize,
        next: usize,
        field: FieldLine,
        head: &mut Head<H>,
        limits: &HeadLimits<'_>,
    ) -> Result<(), RemoteError> {
        self.count_field(limits)?;
        let line = buf.get(self.line_start..content_end).unwrap_or(&[]);
        let name = line.get(..field.colon).unwrap_or(&[]);
        let value = line.get(field.value_start..field.value_end).unwrap_or(&[]);
        // Framing and persistence fields are interpreted whether kept or not.
        let kind = FieldKind::of(name);
        let mut field = field;
        match kind {
            FieldKind::Host => {
                if head.flags.host || !is_valid_host(value) {
                    return Err(RemoteError::BadHost);
                }
                head.flags.host = true;
            }
            FieldKind::ContentLength => {
                head.flags.content_length(value)?;
                if has_byte(value, b',') {
                    // RFC 9110 §8.6: `5, 5` is replaced by one `5` (CONTENT_LENGTH is 1*digit).
                    let first = value.iter().position(u8::is_ascii_digit).unwrap_or(0);
                    let digits = value.get(first..).unwrap_or(&[]);
                    field.value_start += first;
                    field.value_end = field.value_start
                        + digits.iter().take_while(|b| b.is_ascii_digit()).count();
                }
            }
            FieldKind::TransferEncoding => head.flags.transfer_encoding(value)?,
            // The `small` build parses every value as a list (the same flags).
            #[cfg(feature = "small")]
            FieldKind::Connection => head.flags.connection(value)?,
            #[cfg(not(feature = "small"))]
            FieldKind::Connection => {
                // The two common single-token values directly; lists through the full parse.
                if eq_lower(value, b"keep-alive") {
                    head.flags.conn_keep_alive = true;
                } else if eq_lower(value, b"close") {
                    head.flags.conn_close = true;
                } else {
                    head.flags.connection(value)?;
                }
            }
            FieldKind::Expect => head.flags.expectation(value),
            FieldKind::ContentType | FieldKind::Other => {}
        }
        if field.underscore || !keep_field(name, limits.keep) {
            // Names with `_` never reach the environ: they could spoof a dash header.
            return Ok(());
        }
        if kind == FieldKind::ContentLength && head.content_length.is_some()
            || kind == FieldKind::ContentType && head.content_type.is_some()
        {
            // CONTENT_LENGTH (already checked to agree) and CONTENT_TYPE keep the first value.
            return Ok(());
        }
        #[cfg(not(feature = "small"))]
        let bit = 1u64 << name_key(name);
        #[cfg(not(feature = "small"))]
        let repeat = self.names & bit != 0;
        #[cfg(feature = "small")]
        let repeat = true;
        let name_len = field.colon;
        let at = self.keep_line(buf, content_end, next);
        let name_span = Span::new(at, at + name_len);
        let value_span = Span::new(at + field.value_start, at + field.value_end);
        if repeat {
            let kept = buf.get(..self.kept_end).unwrap_or(&[]);
            let name = name_span.of(kept);
            let existing = head
                .fields
                .iter()
                .position(|f| f.name.len == name_span.len && eq_ignore_case(f.name.of(kept), name));
            if let Some(i) = existing {
                self.join(buf, head, i, at, value_span);
                return Ok(());
            }
        }
        #[cfg(not(feature = "small"))]
        {
            self.names |= bit;
        }
        let index = u8::try_from(head.fields.len()).map_err(|_| RemoteError::TooManyHeaders)?;
        head.fields
            .push(Field {
                name: name_span,
                value: value_span,
            })
            .map_err(|_| RemoteError::TooManyHeaders)?;
        match kind {
            FieldKind::ContentType => head.content_type = Some(index),
            FieldKind::ContentLength => head.content_length = Some(index),
            #[cfg(not(feature = "small"))]
            FieldKind::Host => head.host = Some(index),
            _ => {}
        }
        Ok(())
    }

    /// Joins the value of the line just kept at `line_at` onto field `i` as `,value`, in
    /// place: the new value is written as `,value` at the start of its own line, then rotated
    /// to the end of field `i`'s value; everything in between moves right.
    #[cold]
    fn join<const H: usize>(
        &mut self,
        buf: &mut [u8],
        head: &mut Head<H>,
        i: usize,
        line_at: usize,
        value: Span,
    ) {
        let Some(target) = head.fields.get(i).copied() else {
            return;
        };
        let add = usize::from(value.len) + 1;
        buf.copy_within(usize::from(value.start)..value.end(), line_at + 1);
        if let Some(comma) = buf.get_mut(line_at) {
            *comma = b',';
        }
        let insert_at = target.value.end();
        // The earlier field's value ends before this line starts, so the segment holds at
        // least `add` bytes; checked all the same, as `split_at_mut` would panic otherwise.
        if let Some(segment) = buf
            .get_mut(insert_at..line_at + add)
            .filter(|segment| segment.len() >= add)
        {
            // `rotate_right(add)` by three reversals: the same bytes, without `rotate`'s
            // three algorithms and its assertion (this is the cold path of a repeated field).
            segment.reverse();
            if let Some((joined, rest)) = segment.split_at_mut_checked(add) {
                joined.reverse();
                rest.reverse();
            }
        }
        for (k, f) in head.fields.iter_mut().enumerate() {
            f.name.shift_if_after(insert_at, add);
            // Field `i`'s own value grows instead; if it was empty it starts at `insert_at`.
            if k != i {
                f.value.shift_if_after(insert_at, add);
            }
        }
        if let Some(f) = head.fields.get_mut(i) {
            f.value.len = u16::try_from(usize::from(f.value.len) + add).unwrap_or(u16::MAX);
        }
        self.kept_end = line_at + add;
    }

    /// The empty line `[line_start, next)` after the fields: the head is complete. While
    /// nothing was discarded the empty line joins the kept head and nothing moves;
    /// otherwise the bytes after it (body, pipelined requests) move down to the end of the
    /// kept head. Either way at least one byte of the buffer is left for the body (the
    /// empty line is dropped if the head ends at the very end of the buffer).
    fn finish<const H: usize>(
        &mut self,
        buf: &mut [u8],
        filled: &mut usize,
        next: usize,
        head: &mut Head<H>,
    ) -> Progress {
        if self.line_start == self.kept_end && next < buf.len() {
            self.kept_end = next;
        } else if next > self.kept_end {
            buf.copy_within(next..*filled, self.kept_end);
            *filled -= next - self.kept_end;
        }
        head.len = self.kept_end;
        Progress::Done
    }
}

/// The key of a field name in [`HeadParser::names`] and [`FRAMING_KEYS`]: equal for names
/// that are equal ignoring ASCII case (`| 0x20` folds case), from the length and the first
/// and last bytes.
#[cfg(not(feature = "small"))]
const fn name_key(name: &[u8]) -> u32 {
    match name {
        [] => name_key_of(0, 0, 0),
        [first, .., last] => name_key_of(name.len(), *first, *last),
        [only] => name_key_of(1, *only, *only),
    }
}

/// [`name_key`] from a name's length and its first and last bytes.
#[cfg(not(feature = "small"))]
#[inline(always)]
#[allow(clippy::cast_possible_truncation)]
const fn name_key_of(len: usize, first: u8, last: u8) -> u32 {
    let (first, last) = (first | 0x20, last | 0x20);
    // Truncating the length is fine: this is a hash. The factors (4 and 5) were chosen
    // over a list of 31 common request field names (browsers' and proxies'): only
    // Authorization shares a key with a framing name (with 5 and 3, User-Agent shared
    // Connection's, so a browser's Connection line left the fast loop as a possible
    // repeat), and the six framing names keep six different keys.
    ((len as u32).wrapping_mul(4) ^ first as u32 ^ (last as u32).wrapping_mul(5)) & 63
}

/// The [`name_key`] bits of the names [`FieldKind::of`] knows: a name whose bit is clear
/// is [`FieldKind::Other`] without comparing it.
#[cfg(not(feature = "small"))]
#[allow(clippy::indexing_slicing)] // const evaluation: an index out of bounds fails the build
const FRAMING_KEYS: u64 = {
    let names: [&[u8]; 6] = [
        b"host",
        b"expect",
        b"connection",
        b"content-type",
        b"content-length",
        b"transfer-encoding",
    ];
    let mut keys = 0;
    let mut i = 0;
    while i < names.len() {
        keys |= 1 << name_key(names[i]);
        i += 1;
    }
    keys
};

/// The LF ending the line in `bytes[..len]` at or after `from`, as a line without a fast
/// result. (Inlined in the `small` build, so that the fast results are known to be absent.)
#[cfg_attr(not(feature = "small"), cold)]
#[cfg_attr(feature = "small", inline(always))]
fn full_check_line<F>(bytes: &[u8], from: usize, len: usize) -> Option<Line<F>> {
    let lf = find_lf(bytes, from, len)?;
    let content_end = match lf.checked_sub(1) {
        Some(cr) if bytes.get(cr) == Some(&b'\r') => cr,
        _ => lf,
    };
    Some(Line {
        lf,
        content_end,
        fast: None,
    })
}

/// [`full_check_line`] for the request line, the LF found out of line: only the LF comes
/// back from the call (in a register), so the fast scan's result is not merged with it
/// through memory. (Its few lines repeat `full_check_line`'s: a shared helper measured 35
/// instructions more per browser request, callgrind, through the field loop's layout.)
#[cfg(not(feature = "small"))]
#[inline(always)]
fn full_check_request_line(bytes: &[u8], from: usize, len: usize) -> Option<Line<RequestLine>> {
    let lf = find_line_lf(bytes, from, len)?;
    let content_end = match lf.checked_sub(1) {
        Some(cr) if bytes.get(cr) == Some(&b'\r') => cr,
        _ => lf,
    };
    Some(Line {
        lf,
        content_end,
        fast: None,
    })
}

/// [`find_lf`] out of line (see [`full_check_request_line`]).
#[cfg(not(feature = "small"))]
#[cold]
fn find_line_lf(bytes: &[u8], from: usize, len: usize) -> Option<usize> {
    find_lf(bytes, from, len)
}

/// Scans one field line from its first byte, in one pass: the name byte by byte (a table
/// lookup), the value a word at a time up to its first control byte. The line is in
/// `bytes[..len]`; `bytes` may go on (see [`swar_find`]). `None` if its LF has not arrived:
/// then `bytes[..len]` holds no LF at all.
#[cfg(not(feature = "small"))]
#[inline(always)]
fn scan_field_line(bytes: &[u8], len: usize) -> Option<Line<FieldLine>> {
    let line = bytes.get(..len)?;
    // The name: a word at a time over letters and `-`; any other byte is looked at alone: the colon ends the name, another `tchar` (`_` noted) continues it.
    let mut i = 0;
    let mut seen = 0;
    let colon = loop {
        let stop = swar_find(bytes, i, len, swar_not_alpha_dash, |b| !is_alpha_dash(b))?;
        let b = *line.get(stop)?;
        if b == b':' {
            break stop;
        }
        let class = name_class(b);
        if class == 0 {
            return full_check_line(bytes, stop, len);
        }
        seen |= class;
        i = stop + 1;
    };
    if colon == 0 {
        return full_check_line(bytes, 0, len);
    }
    let mut j = colon + 1;
    // The usual single SP first.
    if line.get(j) == Some(&b' ') {
        j += 1;
    }
    while line.get(j).copied().is_some_and(is_ows) {
        j += 1;
    }
    let value_start = j;
    let (content_end, lf) = loop {
        let k = find_ctl(bytes, j, len)?;
        match line.get(k..k + 2) {
            Some([b'\t', _]) => j = k + 1,
            Some([b'\n', _]) => break (k, k),
            Some([b'\r', b'\n']) => break (k, k + 1),
            Some(_) => return full_check_line(bytes, k, len),
            // The control byte is the last byte received.
            None => match line.get(k) {
                Some(b'\n') => break (k, k),
                Some(b'\t' | b'\r') => return None,
                _ => return full_check_line(bytes, k, len),
            },
        }
    };
    let mut value_end = content_end;
    // Trailing OWS is rare: the last byte alone first.
    if line
        .get(content_end.wrapping_sub(1))
        .copied()
        .is_some_and(is_ows)
    {
        while value_end > value_start && line.get(value_end - 1).copied().is_some_and(is_ows) {
            value_end -= 1;
        }
    }
    Some(Line {
        lf,
        content_end,
        fast: Some(FieldLine {
            colon,
            value_start,
            value_end,
            underscore: seen & NAME_UNDERSCORE != 0,
        }),
    })
}

/// [`scan_field_line`] in the `small` build: the line's LF only, never a fast result, so
/// every line gets the full checks (the fast results are only ever what those checks would
/// find). [`scan_request_line`] likewise.
#[cfg(feature = "small")]
#[inline(always)]
fn scan_field_line(bytes: &[u8], len: usize) -> Option<Line<FieldLine>> {
    full_check_line(bytes, 0, len)
}

/// [`scan_request_line`] in the `small` build (see [`scan_field_line`]).
#[cfg(feature = "small")]
#[inline(always)]
fn scan_request_line(bytes: &[u8], len: usize) -> Option<Line<RequestLine>> {
    full_check_line(bytes, 0, len)
}

/// The first byte of `bytes[at..end]` that ends a plain run of request-target bytes: a
/// control byte, SP or DEL (not target bytes), or `#`, `%`, `?`.
#[cfg(not(feature = "small"))]
#[inline(always)]
fn find_target_stop(bytes: &[u8], at: usize, end: usize) -> Option<usize> {
    crate::abnf::swar_find_short(
        bytes,
        at,
        end,
        |x| {
            swar_below(x, 0x21)
                | swar_equal(x, 0x7f)
                | swar_equal(x, b'#')
                | swar_equal(x, b'%')
                | swar_equal(x, b'?')
        },
        |b| !is_target_byte(b) || matches!(b, b'#' | b'%' | b'?'),
    )
}

/// Scans a request line (or an empty line before it) in one pass, like
/// [`scan_field_line`]; only the common shape (origin-form, `HTTP/1.0` or `HTTP/1.1`, no
/// fragment) gets a fast result.
#[cfg(not(feature = "small"))]
#[inline(always)]
fn scan_request_line(bytes: &[u8], len: usize) -> Option<Line<RequestLine>> {
    let line = bytes.get(..len)?;
    let mut i = 0;
    // The commonest method in one comparison.
    let stop = if line.get(..4) == Some(b"GET ") {
        i = 3;
        b' '
    } else {
        loop {
            let b = *line.get(i)?;
            if !is_tchar(b) {
                break b;
            }
            i += 1;
        }
    };
    if stop != b' ' || i == 0 || line.get(i + 1) != Some(&b'/') {
        return full_check_request_line(bytes, i, len);
    }
    let sp1 = i;
    let after_slash = line.get(sp1 + 2).copied();
    let decode_slashes = after_slash == Some(b'/');
    let mut query = None;
    let mut percent = false;
    let mut j = sp1 + 2;
    // The target `/` (health checks, the root page) without a scan.
    let sp2 = if after_slash == Some(b' ') {
        j
    } else {
        loop {
            let k = find_target_stop(bytes, j, len)?;
            match line.get(k) {
                Some(b' ') => break k,
                Some(b'?') => {
                    query = query.or(Some(k));
                }
                Some(b'%') => percent |= query.is_none(),
                _ => return full_check_request_line(bytes, k, len),
            }
            j = k + 1;
        }
    };
    // One 8-byte comparison per version.
    let version = match line
        .get(sp2 + 1..sp2 + 9)
        .and_then(|v| <[u8; 8]>::try_from(v).ok())
        .map(u64::from_le_bytes)
    {
        Some(HTTP_11) => Version::Http11,
        Some(HTTP_10) => Version::Http10,
        _ => return full_check_request_line(bytes, sp2 + 1, len),
    };
    let end = sp2 + 9;
    let (content_end, lf) = match line.get(end..end + 2) {
        Some([b'\r', b'\n']) => (end, end + 1),
        Some([b'\n', _]) => (end, end),
        Some(_) => return full_check_request_line(bytes, end, len),
        None => match line.get(end) {
            Some(b'\n') => (end, end),
            Some(b'\r') | None => return None,
            Some(_) => return full_check_request_line(bytes, end, len),
        },
    };
    Some(Line {
        lf,
        content_end,
        fast: Some(RequestLine {
            sp1,
            sp2,
            query,
            decode: percent || decode_slashes,
            version,
        }),
    })
}

/// `HTTP/1.1` and `HTTP/1.0` as little-endian words, for [`scan_request_line`].
#[cfg(not(feature = "small"))]
const HTTP_11: u64 = u64::from_le_bytes(*b"HTTP/1.1");
#[cfg(not(feature = "small"))]
const HTTP_10: u64 = u64::from_le_bytes(*b"HTTP/1.0");

/// Records a request line in `buf[start..end]` that [`scan_request_line`] found
/// well-formed; the path is decoded later, if it needs it ([`Head::decode_path`]).
fn fast_request_line<const H: usize>(
    start: usize,
    end: usize,
    line: RequestLine,
    head: &mut Head<H>,
) {
    // Every position is below `end`, which fits a u16 (the caller checks), and each span's
    // start is at or before its end by the scan's order (sp1 < first `?` < sp2 < end), which
    // the fuzzers check with overflow checks on.
    let span = |from: usize, to: usize| Span::within_u16(from, to - from);
    head.method = span(start, start + line.sp1);
    head.protocol = span(start + line.sp2 + 1, end);
    head.version = line.version;
    let path_start = start + line.sp1 + 1;
    let target_end = start + line.sp2;
    let path_end = match line.query {
        Some(q) => {
            head.query = span(start + q + 1, target_end);
            start + q
        }
        None => {
            head.query = span(target_end, target_end);
            target_end
        }
    };
    head.path = span(path_start, path_end);
    head.path_raw = line.decode;
}

/// Which framing-relevant field a name is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FieldKind {
    Host,
    ContentLength,
    ContentType,
    TransferEncoding,
    Connection,
    Expect,
    Other,
}

impl FieldKind {
    // One copy in the `small` build (five call sites).
    #[cfg_attr(not(feature = "small"), inline)]
    #[cfg_attr(feature = "small", inline(never))]
    fn of(name: &[u8]) -> Self {
        // The six names have six different lengths: one comparison at most.
        let (known, kind): (&[u8], Self) = match name.len() {
            4 => (b"host", Self::Host),
            6 => (b"expect", Self::Expect),
            10 => (b"connection", Self::Connection),
            12 => (b"content-type", Self::ContentType),
            14 => (b"content-length", Self::ContentLength),
            17 => (b"transfer-encoding", Self::TransferEncoding),
            _ => return Self::Other,
        };
        if eq_lower(name, known) {
            kind
        } else {
            Self::Other
        }
    }
}

/// Is `s` equal to `lower`, ignoring ASCII case? `lower` holds only lowercase letters and
/// `-`; then `b | 0x20` folds exactly the two cases of a letter, and `-` must match itself.
/// Compared a word at a time (the words of a constant `lower` and their masks are constant).
#[cfg(not(feature = "small"))]
#[inline(always)]
fn eq_lower(s: &[u8], lower: &[u8]) -> bool {
    /// One word: `mask` has `0x20` where `lower` has a letter (bit 6 set), `0` for `-`.
    #[inline(always)]
    fn word(s: [u8; 8], lower: [u8; 8]) -> bool {
        let (s, lower) = (u64::from_le_bytes(s), u64::from_le_bytes(lower));
        s | ((lower >> 1) & 0x2020_2020_2020_2020) == lower
    }
    #[inline(always)]
    fn half(s: [u8; 4], lower: [u8; 4]) -> bool {
        let (s, lower) = (u32::from_le_bytes(s), u32::from_le_bytes(lower));
        s | ((lower >> 1) & 0x2020_2020) == lower
    }
    let n = s.len();
    if n != lower.len() {
        return false;
    }
    if n >= 8 {
        // Whole words, then the last eight bytes (overlapping the previous word).
        let mut a = s.chunks_exact(8);
        let mut b = lower.chunks_exact(8);
        let whole = a
            .by_ref()
            .zip(b.by_ref())
            .all(|(x, l)| matches!((x.try_into(), l.try_into()), (Ok(x), Ok(l)) if word(x, l)));
        let tail = match (s.get(n - 8..), lower.get(n - 8..)) {
            (Some(x), Some(l)) => {
                matches!((x.try_into(), l.try_into()), (Ok(x), Ok(l)) if word(x, l))
            }
            _ => false,
        };
        whole && tail
    } else if n >= 4 {
        // The first and the last four bytes (overlapping).
        let first = matches!(
            (s.get(..4).map(<[u8; 4]>::try_from), lower.get(..4).map(<[u8; 4]>::try_from)),
            (Some(Ok(x)), Some(Ok(l))) if half(x, l)
        );
        let last = matches!(
            (s.get(n - 4..).map(<[u8; 4]>::try_from), lower.get(n - 4..).map(<[u8; 4]>::try_from)),
            (Some(Ok(x)), Some(Ok(l))) if half(x, l)
        );
        first && last
    } else {
        s.iter()
            .zip(lower)
            .all(|(&b, &l)| b | ((l >> 1) & 0x20) == l)
    }
}

/// [`eq_lower`] in the `small` build: one shared loop instead of word compares inlined at
/// every call.
#[cfg(feature = "small")]
fn eq_lower(s: &[u8], lower: &[u8]) -> bool {
    eq_ignore_case(s, lower)
}

/// Fields whose value the parser must see whole to decide framing or persistence.
fn is_framing_field(name: &[u8]) -> bool {
    !matches!(
        FieldKind::of(name),
        FieldKind::Other | FieldKind::ContentType
    )
}

/// Is a field kept for the environ? Always Host, Content-Type and Content-Length; the rest
/// only if there is no allow-list or the list names it (case-insensitively).
#[inline]
fn keep_field(name: &[u8], keep: Option<&[&str]>) -> bool {
    match keep {
        None => true,
        Some(list) => {
            matches!(
                FieldKind::of(name),
                FieldKind::Host | FieldKind::ContentType | FieldKind::ContentLength
            ) || list.iter().any(|k| eq_ignore_case(k.as_bytes(), name))
        }
    }
}

/// Checks a field name: a token, with no whitespace before the colon.
fn check_field_name(name: &[u8]) -> Result<(), RemoteError> {
    if name.last().copied().is_some_and(is_ows) {
        return Err(RemoteError::WhitespaceBeforeColon);
    }
    if !is_token(name) {
        return Err(RemoteError::BadHeader);
    }
    Ok(())
}

/// The checks of a field line that its first bytes `prefix` (no LF among them) decide, in
/// the order of the bytes that decide them: obs-fold (the first byte), the name (at the
/// colon), the value bytes (a bad byte, or a CR not followed by LF). Returns the colon if
/// there is one. A line without a colon is only known to be bad at its end.
///
/// [`HeadParser::check_field_line`] applies these checks to a whole line, and a line cut
/// short by `max_head` or by a full buffer gets them on the bytes before the cut, so the
/// first offending byte (an invalid one, or the first beyond a limit) decides the error
/// however the line arrived.
fn check_field_prefix(prefix: &[u8]) -> Result<Option<usize>, RemoteError> {
    if prefix.first().copied().is_some_and(is_ows) {
        // RFC 9112 §5.2: obs-fold is rejected in requests.
        return Err(RemoteError::ObsFold);
    }
    let Some(colon) = prefix.iter().position(|&b| b == b':') else {
        return Ok(None);
    };
    check_field_name(prefix.get(..colon).unwrap_or(&[]))?;
    match skip_value(prefix.get(colon + 1..).unwrap_or(&[]), false)? {
        // Unreachable: a LF is never inside a line.
        SkipEnd::Line(_) => Err(RemoteError::BareCr),
        SkipEnd::More { .. } => Ok(Some(colon)),
    }
}

/// The error for a field line whose bytes after `prefix` exceed `max_head`: an invalid
/// byte within the prefix, or else the size.
#[cold]
fn field_too_large(prefix: &[u8]) -> RemoteError {
    match check_field_prefix(prefix) {
        Err(e) => e,
        Ok(_) => RemoteError::HeadTooLarge,
    }
}

/// Where a skipped value ended.
enum SkipEnd {
    /// The LF was found; this many bytes (LF included) belong to the line.
    Line(usize),
    /// No LF yet; `cr` if the last byte was a CR awaiting its LF.
    More { cr: bool },
}

/// Scans field-value bytes, in order: a CR must be followed by LF, every other byte must be
/// allowed in a field value. This is the check used for skipped values and for field lines
/// the fast scan did not accept, so the outcome never depends on how the bytes arrived.
/// (The fast scan accepts a value only if this check would.) A word at a time up to each
/// control byte.
fn skip_value(bytes: &[u8], cr: bool) -> Result<SkipEnd, RemoteError> {
    if cr {
        return match bytes.first() {
            None => Ok(SkipEnd::More { cr: true }),
            Some(b'\n') => Ok(SkipEnd::Line(1)),
            Some(_) => Err(RemoteError::BareCr),
        };
    }
    let mut at = 0;
    loop {
        let Some(k) = find_ctl(bytes, at, bytes.len()) else {
            return Ok(SkipEnd::More { cr: false });
        };
        match bytes.get(k) {
            Some(b'\t') => at = k + 1,
            Some(b'\n') => return Ok(SkipEnd::Line(k + 1)),
            Some(b'\r') => {
                return match bytes.get(k + 1) {
                    None => Ok(SkipEnd::More { cr: true }),
                    Some(b'\n') => Ok(SkipEnd::Line(k + 2)),
                    Some(_) => Err(RemoteError::BareCr),
                };
            }
            _ => return Err(RemoteError::BadHeader),
        }
    }
}

/// Parses `method SP request-target SP HTTP-version` in `buf[start..end]` (the path is
/// decoded later: [`Head::decode_path`]).
#[cold]
fn request_line<const H: usize>(
    buf: &[u8],
    start: usize,
    end: usize,
    head: &mut Head<H>,
) -> Result<(), RemoteError> {
    let line = buf.get(start..end).ok_or(RemoteError::BadRequestLine)?;
    if has_byte(line, b'\r') {
        return Err(RemoteError::BareCr);
    }
    let sp1 = line
        .iter()
        .position(|&b| b == b' ')
        .ok_or(RemoteError::BadRequestLine)?;
    let sp2 = line
        .iter()
        .rposition(|&b| b == b' ')
        .ok_or(RemoteError::BadRequestLine)?;
    let method = line.get(..sp1).unwrap_or(&[]);
    if !method.iter().all(|&b| is_tchar(b)) || method.is_empty() {
        return Err(RemoteError::BadMethod);
    }
    if method == CONNECT {
        return Err(RemoteError::ConnectNotImplemented);
    }
    if sp1 == sp2 {
        // Two words: `GET /`, an HTTP/0.9 request line.
        return Err(RemoteError::Http09);
    }
    let version = line.get(sp2 + 1..).unwrap_or(&[]);
    head.version = parse_version(version)?;
    let target = line.get(sp1 + 1..sp2).unwrap_or(&[]);
    if target.is_empty() || !target.iter().all(|&b| is_target_byte(b)) {
        return Err(RemoteError::BadTarget);
    }
    head.method = Span::new(start, start + sp1);
    head.protocol = Span::new(start + sp2 + 1, end);
    let target_start = start + sp1 + 1;
    let (path_start, path_end, query) = split_target(method, target, target_start)?;
    head.absolute_form = !matches!(target.first(), Some(b'/' | b'*'));
    head.query = query;
    head.path = Span::new(path_start, path_end);
    head.path_raw = true;
    Ok(())
}

/// The method of a tunnel (RFC 9110 §9.3.6), refused in any request form.
const CONNECT: &[u8] = b"CONNECT";

/// Does the request line at `at` begin with `CONNECT` (its method, when the method is seven
/// bytes long)? Out of line: rare, and kept out of the head parser's loop.
#[cold]
#[inline(never)]
fn is_connect(buf: &[u8], at: usize) -> bool {
    buf.get(at..at + CONNECT.len()) == Some(CONNECT)
}

/// `HTTP/` DIGIT `.` DIGIT (RFC 9112 §2.3). Major 1 only (505 otherwise); minor 0 is 1.0,
/// any other minor is handled as 1.1.
fn parse_version(v: &[u8]) -> Result<Version, RemoteError> {
    let [b'H', b'T', b'T', b'P', b'/', major, b'.', minor] = *v else {
        return Err(RemoteError::BadVersion);
    };
    if !major.is_ascii_digit() || !minor.is_ascii_digit() {
        return Err(RemoteError::BadVersion);
    }
    if major != b'1' {
        return Err(RemoteError::UnsupportedVersion);
    }
    Ok(if minor == b'0' {
        Version::Http10
    } else {
        Version::Http11
    })
}

/// Splits a request-target into the path to decode and the raw query span.
///
/// origin-form (`/p?q`), absolute-form (`scheme://authority/p?q`: the path is taken from it,
/// RFC 9112 §3.2.2) and asterisk-form (`*`, OPTIONS only). Authority-form (CONNECT) is not
/// served. Every refusal is [`RemoteError::BadTarget`].
fn split_target(
    method: &[u8],
    target: &[u8],
    offset: usize,
) -> Result<(usize, usize, Span), RemoteError> {
    let path_at = if target.first() == Some(&b'/') || target == b"*" && method == b"OPTIONS" {
        0
    } else {
        // `*` with another method has no `://`: refused here.
        let authority_at = absolute_form_authority(target).ok_or(RemoteError::BadTarget)?;
        let after = target.get(authority_at..).unwrap_or(&[]);
        let authority_len = after
            .iter()
            .position(|&b| b == b'/' || b == b'?')
            .unwrap_or(after.len());
        let authority = after.get(..authority_len).unwrap_or(&[]);
        // RFC 9110 §4.2.1/§4.2.2: an http(s) URI with an empty host is invalid.
        if matches!(authority.first(), None | Some(b':')) || !is_valid_host(authority) {
            return Err(RemoteError::BadTarget);
        }
        authority_at + authority_len
    };
    if has_byte(target, b'#') {
        // A fragment is never sent in a request-target (RFC 9112 §3.2).
        return Err(RemoteError::BadTarget);
    }
    let rest = target.get(path_at..).unwrap_or(&[]);
    let end = offset + target.len();
    let path_start = offset + path_at;
    let (path_end, query_start) = match rest.iter().position(|&b| b == b'?') {
        Some(q) => (path_start + q, path_start + q + 1),
        None => (end, end),
    };
    Ok((path_start, path_end, Span::new(query_start, end)))
}

/// If `target` starts with `scheme "://"`, where the authority begins.
fn absolute_form_authority(target: &[u8]) -> Option<usize> {
    let colon = target.iter().position(|&b| b == b':')?;
    let scheme = target.get(..colon)?;
    let first = scheme.first()?;
    if !first.is_ascii_alphabetic()
        || !scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        return None;
    }
    (target.get(colon..colon + 3)? == b"://").then_some(colon + 3)
}

/// `uri-host [ ":" port ]` (RFC 9110 §7.2): a reg-name, an IPv4 address or an IP-literal in
/// brackets, then an optional decimal port. Empty is allowed (RFC 9112 §3.2). No userinfo.
#[cfg_attr(not(feature = "small"), inline)]
pub(crate) fn is_valid_host(value: &[u8]) -> bool {
    let (host, port) = if value.first() == Some(&b'[') {
        let Some(close) = value.iter().position(|&b| b == b']') else {
            return false;
        };
        if !is_ip_literal(value.get(1..close).unwrap_or(&[])) {
            return false;
        }
        let rest = value.get(close + 1..).unwrap_or(&[]);
        match rest.split_first() {
            None => (&[][..], None),
            Some((b':', port)) => (&[][..], Some(port)),
            Some(_) => return false,
        }
    } else {
        // One pass: the first byte that is not a reg-name byte must be the port's colon.
        match value.iter().position(|&b| !is_reg_name_byte(b)) {
            None => return true,
            Some(c) if value.get(c) == Some(&b':') => {
                (&[][..], Some(value.get(c + 1..).unwrap_or(&[])))
            }
            Some(_) => return false,
        }
    };
    let reg_name_ok = host.iter().all(|&b| is_reg_name_byte(b));
    let port_ok = port.is_none_or(|p| p.len() <= 5 && p.iter().all(u8::is_ascii_digit));
    reg_name_ok && port_ok
}

/// What a Host's brackets may hold (RFC 3986 §3.2.2): IP-literal = "[" ( IPv6address /
/// IPvFuture ) "]", IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ). The
/// IPv6 address's own grammar is left to whoever connects to it: its characters are
/// checked here. Out of line: rare, and kept out of the head parser's loop.
#[cold]
#[inline(never)]
fn is_ip_literal(inner: &[u8]) -> bool {
    match inner.split_first() {
        Some((b'v' | b'V', future)) => {
            let dot = future.iter().position(|&b| b == b'.').unwrap_or(0);
            let (version, rest) = future.split_at(dot);
            let rest = rest.get(1..).unwrap_or(&[]);
            !version.is_empty()
                && version.iter().all(u8::is_ascii_hexdigit)
                && !rest.is_empty()
                && rest
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || has_byte(b"-._~!$&'()*+,;=:", b))
        }
        Some(_) => inner
            .iter()
            .all(|&b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.')),
        None => false,
    }
}

/// Percent-decodes `buf[start..end]` in place (decoding only shrinks) and returns the span of
/// the result. Invalid escapes stay literal, `+` stays `+`, `%2F` becomes `/`; a run of
/// leading slashes collapses to one (CPython's gh-87389 hardening: `//x//y` → `/x//y`).
fn decode_path_in_place(buf: &mut [u8], start: usize, end: usize) -> Span {
    let mut read = start;
    while buf.get(read) == Some(&b'/') && buf.get(read + 1) == Some(&b'/') && read + 1 < end {
        read += 1;
    }
    let mut write = start;
    while read < end {
        let b = buf.get(read).copied().unwrap_or(0);
        let decoded = if b == b'%' && read + 2 < end {
            match (
                buf.get(read + 1).copied().and_then(hex_value),
                buf.get(read + 2).copied().and_then(hex_value),
            ) {
                (Some(hi), Some(lo)) => Some((hi << 4) | lo),
                _ => None,
            }
        } else {
            None
        };
        let (out, step) = match decoded {
            Some(v) => (v, 3),
            None => (b, 1),
        };
        if let Some(slot) = buf.get_mut(write) {
            *slot = out;
        }
        write += 1;
        read += step;
    }
    Span::new(start, write)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;
    use std::vec::Vec;
    use std::{format, vec};

    /// xorshift: deterministic inputs without a dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        /// A byte, biased towards the ones the scanners stop at.
        fn byte(&mut self, special: &[u8]) -> u8 {
            if self.below(3) == 0 {
                special[self.below(special.len())]
            } else {
                self.next() as u8
            }
        }
    }

    const LIMITS: HeadLimits<'static> = HeadLimits {
        max_request_line: 8190,
        max_head: 65535,
        max_fields: 100,
        max_empty_lines: 8,
        keep: None,
    };

    /// Feeds `input` to a parser over `buf` `step` bytes at a time.
    fn parse_all<const H: usize>(
        buf: &mut [u8],
        input: &[u8],
        step: usize,
        head: &mut Head<H>,
    ) -> Result<Progress, RemoteError> {
        let mut parser = HeadParser::new();
        let (mut filled, mut fed) = (0, 0);
        loop {
            let n = step.min(input.len() - fed).min(buf.len() - filled);
            buf[filled..filled + n].copy_from_slice(&input[fed..fed + n]);
            filled += n;
            fed += n;
            match parser.parse(buf, &mut filled, head, &LIMITS)? {
                Progress::Done => return Ok(Progress::Done),
                Progress::NeedData if fed == input.len() => return Ok(Progress::NeedData),
                Progress::NeedData => {}
            }
        }
    }

    fn field<'b, const H: usize>(buf: &'b [u8], head: &Head<H>, name: &[u8]) -> Option<&'b [u8]> {
        head.fields
            .iter()
            .find(|f| f.name.of(buf).eq_ignore_ascii_case(name))
            .map(|f| f.value.of(buf))
    }

    #[test]
    fn repeated_field_with_an_empty_first_value_joins() {
        // The empty first value sits exactly where the joined value goes: it must grow, not
        // move (this panicked in `rotate_right` before).
        let input = b"GET / HTTP/1.1\r\nHost: h\r\nX-Dup:\r\nx-dup: 2\r\nX-DUP: 3\r\nX-E: \r\nX-E: \r\n\r\n";
        for step in [1, 7, input.len()] {
            let mut buf = [0u8; 256];
            let mut head: Head<8> = Head::new();
            assert_eq!(
                parse_all(&mut buf, input, step, &mut head),
                Ok(Progress::Done)
            );
            assert_eq!(
                field(&buf, &head, b"x-dup"),
                Some(&b",2,3"[..]),
                "step {step}"
            );
            assert_eq!(field(&buf, &head, b"x-e"), Some(&b","[..]), "step {step}");
            assert_eq!(field(&buf, &head, b"host"), Some(&b"h"[..]), "step {step}");
        }
    }

    #[test]
    fn a_full_buffer_squeezes_the_terminators_out_of_the_kept_head() {
        // Kept with their terminators the first four lines take 46 bytes of the 64, too
        // many for the 26-byte `C` line; without them, 38. The path is kept as received
        // (`%0D` is decoded to a CR when the exchange begins).
        let c_line = b"C: 0123456789abcdefghijk\r\n";
        let mut input = b"GET /a%0Db HTTP/1.1\r\nHost: h\r\nA: 1\r\nB:  2 \r\n".to_vec();
        input.extend_from_slice(c_line);
        input.extend_from_slice(b"\r\n");
        for step in [1, 3, 64] {
            let mut buf = [0u8; 64];
            let mut head: Head<8> = Head::new();
            assert_eq!(
                parse_all(&mut buf, &input, step, &mut head),
                Ok(Progress::Done)
            );
            assert_eq!(head.path.of(&buf), b"/a%0Db", "step {step}");
            assert_eq!(head.request_line().of(&buf), b"GET /a%0Db HTTP/1.1");
            head.decode_path(&mut buf);
            assert_eq!(head.path.of(&buf), b"/a\rb", "step {step}");
            assert_eq!(head.method.of(&buf), b"GET");
            assert_eq!(head.protocol.of(&buf), b"HTTP/1.1");
            assert_eq!(field(&buf, &head, b"host"), Some(&b"h"[..]));
            assert_eq!(field(&buf, &head, b"a"), Some(&b"1"[..]));
            assert_eq!(field(&buf, &head, b"b"), Some(&b"2"[..]));
            assert_eq!(field(&buf, &head, b"c"), Some(&c_line[3..c_line.len() - 2]));
        }
        // Three bytes more no longer fit (38 + 29 > 64), as before the terminators were kept.
        let mut longer = input.clone();
        longer.splice(input.len() - 4..input.len() - 4, *b"qqq");
        let mut buf = [0u8; 64];
        let mut head: Head<8> = Head::new();
        assert_eq!(
            parse_all(&mut buf, &longer, 64, &mut head),
            Err(RemoteError::HeadTooLarge)
        );
    }

    #[test]
    fn framing_keys_cover_every_framing_name_in_any_case() {
        let names: [&[u8]; 6] = [
            b"Host",
            b"Expect",
            b"Connection",
            b"Content-Type",
            b"Content-Length",
            b"Transfer-Encoding",
        ];
        let mut rng = Rng(0x5555_aaaa_1234_4321);
        for name in names {
            for _ in 0..64 {
                let variant: Vec<u8> = name
                    .iter()
                    .map(|&b| {
                        if rng.below(2) == 0 {
                            b.to_ascii_uppercase()
                        } else {
                            b.to_ascii_lowercase()
                        }
                    })
                    .collect();
                assert_ne!(FieldKind::of(&variant), FieldKind::Other);
                #[cfg(not(feature = "small"))]
                assert_ne!(FRAMING_KEYS & (1 << name_key(&variant)), 0, "{variant:?}");
            }
        }
        // Six names, six keys (see `name_key_of`).
        #[cfg(not(feature = "small"))]
        assert_eq!(FRAMING_KEYS.count_ones(), 6);
    }

    #[test]
    fn eq_lower_is_eq_ignore_ascii_case() {
        let literals: [&[u8]; 12] = [
            b"a",
            b"ab",
            b"abc",
            b"host",
            b"close",
            b"expect",
            b"connection",
            b"keep-alive",
            b"content-type",
            b"content-length",
            b"transfer-encoding",
            b"a-b-c-d-e-f-g-h-i",
        ];
        for lower in literals {
            for pos in 0..lower.len() {
                for b in 0..=255u8 {
                    let mut s = lower.to_vec();
                    s[pos] = b;
                    assert_eq!(eq_lower(&s, lower), s.eq_ignore_ascii_case(lower), "{s:?}");
                    let upper = s.to_ascii_uppercase();
                    assert_eq!(eq_lower(&upper, lower), upper.eq_ignore_ascii_case(lower));
                }
            }
            let mut longer = lower.to_vec();
            longer.push(b'x');
            assert!(!eq_lower(&longer, lower));
            assert!(!eq_lower(&lower[1..], lower));
        }
    }

    /// The byte-at-a-time value check the SWAR `skip_value` replaced.
    fn skip_value_bytewise(bytes: &[u8], mut cr: bool) -> Result<SkipEnd, RemoteError> {
        for (i, &b) in bytes.iter().enumerate() {
            if cr {
                return if b == b'\n' {
                    Ok(SkipEnd::Line(i + 1))
                } else {
                    Err(RemoteError::BareCr)
                };
            }
            match b {
                b'\n' => return Ok(SkipEnd::Line(i + 1)),
                b'\r' => cr = true,
                _ if crate::abnf::is_field_value_byte(b) => {}
                _ => return Err(RemoteError::BadHeader),
            }
        }
        Ok(SkipEnd::More { cr })
    }

    fn same_skip(bytes: &[u8], cr: bool) {
        let (a, b) = (skip_value(bytes, cr), skip_value_bytewise(bytes, cr));
        let same = match (&a, &b) {
            (Ok(SkipEnd::Line(x)), Ok(SkipEnd::Line(y))) => x == y,
            (Ok(SkipEnd::More { cr: x }), Ok(SkipEnd::More { cr: y })) => x == y,
            (Err(x), Err(y)) => x == y,
            _ => false,
        };
        assert!(same, "{bytes:?} cr {cr}");
    }

    #[test]
    fn skip_value_matches_the_bytewise_check() {
        for background in [b'a', b' ', b'\t', 0x80, b'\r'] {
            for pos in 0..16 {
                for b in 0..=255u8 {
                    let mut window = [background; 16];
                    window[pos] = b;
                    for len in [pos + 1, 16] {
                        same_skip(&window[..len], false);
                        same_skip(&window[..len], true);
                    }
                }
            }
        }
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for _ in 0..20_000 {
            let len = rng.below(40);
            let bytes: Vec<u8> = (0..len).map(|_| rng.byte(b"\r\n\t \x00\x7fa")).collect();
            same_skip(&bytes, false);
            same_skip(&bytes, true);
        }
    }

    /// Random lines for the scanners: mostly well-formed pieces, with bytes the scanners
    /// stop at mixed in.
    fn random_line(rng: &mut Rng, pieces: &[&[u8]]) -> Vec<u8> {
        let mut line = Vec::new();
        for _ in 0..rng.below(8) {
            if rng.below(4) == 0 {
                line.push(rng.byte(b"\r\n\t :_%#?/\x00\x7f\x80-"));
            } else {
                line.extend_from_slice(pieces[rng.below(pieces.len())]);
            }
        }
        line
    }

    /// Runs a scanner on `line` cut at every length, with two different tails after the
    /// cut, and checks what every scan must satisfy: `None` exactly when there is no LF, the
    /// LF and the content end right, and nothing depending on the bytes after the cut.
    fn check_scanner<F: PartialEq + core::fmt::Debug>(
        line: &[u8],
        scan: impl Fn(&[u8], usize) -> Option<Line<F>>,
        mut fast: impl FnMut(&[u8], &Line<F>),
    ) {
        for len in 0..=line.len() {
            let mut a = line[..len].to_vec();
            let mut b = a.clone();
            a.extend_from_slice(b"\n\r:  xyz\r\n0123456789");
            b.extend_from_slice(&[b'a'; 24]);
            let (ra, rb) = (scan(&a, len), scan(&b, len));
            assert_eq!(ra, rb, "{line:?} cut at {len}");
            let lf = line[..len].iter().position(|&c| c == b'\n');
            match (&ra, lf) {
                (None, None) => {}
                (Some(l), Some(lf)) => {
                    assert_eq!(l.lf, lf, "{line:?} cut at {len}");
                    let content_end = if lf > 0 && line[lf - 1] == b'\r' {
                        lf - 1
                    } else {
                        lf
                    };
                    assert_eq!(l.content_end, content_end, "{line:?} cut at {len}");
                    fast(&line[..l.content_end], l);
                }
                _ => panic!("{line:?} cut at {len}: {ra:?}"),
            }
        }
    }

    #[test]
    fn the_field_line_scan_agrees_with_the_full_checks() {
        let pieces: [&[u8]; 12] = [
            b"Host",
            b"X-Forwarded-For",
            b"a1",
            b": ",
            b":",
            b"value",
            b"\t",
            b" ",
            b"\r\n",
            b"\n",
            b"\xe9t\xe9",
            b"text/html,application/xhtml+xml",
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut fast_lines = 0;
        for _ in 0..20_000 {
            let line = random_line(&mut rng, &pieces);
            check_scanner(&line, scan_field_line, |content, l| {
                let Some(fast) = l.fast else {
                    return;
                };
                fast_lines += 1;
                let parser = HeadParser::new();
                assert_eq!(
                    parser.check_field_line(content, content.len()),
                    Ok(fast),
                    "{content:?}"
                );
            });
        }
        // The `small` build has no fast scan: every line got the full checks.
        assert!(fast_lines > 1000 || cfg!(feature = "small"), "{fast_lines}");
    }

    #[test]
    fn the_request_line_scan_agrees_with_the_full_checks() {
        let pieces: [&[u8]; 13] = [
            b"GET",
            b" ",
            b"/",
            b"//",
            b"/a%20b",
            b"?q=1",
            b"%41",
            b"#f",
            b"HTTP/1.1",
            b"HTTP/1.0",
            b"\r\n",
            b"\n",
            b"x",
        ];
        let mut rng = Rng(0x0123_4567_89ab_cdef);
        let mut fast_lines = 0;
        for i in 0..40_000 {
            let line = if i % 2 == 0 {
                random_line(&mut rng, &pieces)
            } else {
                // The common shape, with one random piece somewhere.
                let mut line = b"GET /p".to_vec();
                line.extend_from_slice(&random_line(&mut rng, &pieces[2..8]));
                line.extend_from_slice(b" HTTP/1.1\r\n");
                let at = rng.below(line.len() + 1);
                line.insert(at, rng.byte(b"\r\n\t :_%#?/\x00\x7f\x80-"));
                line
            };
            check_scanner(&line, scan_request_line, |content, l| {
                let Some(fast) = l.fast else {
                    return;
                };
                fast_lines += 1;
                let (mut a, mut b) = (content.to_vec(), content.to_vec());
                let (mut ha, mut hb): (Head<1>, Head<1>) = (Head::new(), Head::new());
                fast_request_line(0, content.len(), fast, &mut ha);
                assert_eq!(request_line(&b, 0, content.len(), &mut hb), Ok(()));
                // The fast scan's "needs decoding" is right: decoding what it left alone
                // changes nothing.
                ha.decode_path(&mut a);
                hb.decode_path(&mut b);
                assert_eq!(a, b, "{content:?}");
                assert_eq!(
                    (ha.method, ha.path, ha.query, ha.protocol, ha.version),
                    (hb.method, hb.path, hb.query, hb.protocol, hb.version),
                    "{content:?}"
                );
            });
        }
        // The `small` build has no fast scan: every line got the full checks.
        assert!(fast_lines > 1000 || cfg!(feature = "small"), "{fast_lines}");
    }

    #[test]
    fn host_vectors() {
        let table: &[(&[u8], bool)] = &[
            (b"", true),
            (b"example.com", true),
            (b"example.com:8080", true),
            (b"127.0.0.1:80", true),
            (b"[::1]:8000", true),
            (b"[::1]", true),
            (b"a b", false),
            (b"user@host", false),
            (b"host:port", false),
            (b"host:123456", false),
            (b"[::1", false),
            (b"[]", false),
            (b"[::1]x", false),
            (b"a/b", false),
            // IPvFuture (RFC 3986 §3.2.2): accepted (was 400).
            (b"[v1.x]", true),
            (b"[vF.a-b_c~!$&'()*+,;=:]:80", true),
            (b"[v1.]", false),
            (b"[v.x]", false),
            (b"[vg.x]", false),
            (b"[v1x]", false),
            (b"[v1.x/]", false),
            (b"[::v]", false),
        ];
        for (value, ok) in table {
            assert_eq!(
                is_valid_host(value),
                *ok,
                "{:?}",
                core::str::from_utf8(value)
            );
        }
    }

    #[test]
    fn decode_vectors() {
        let table: &[(&[u8], &[u8])] = &[
            (b"/", b"/"),
            (b"/p%61th/", b"/path/"),
            (b"/a%20b/%2Fc%zz+d", b"/a b//c%zz+d"),
            (b"//x//y", b"/x//y"),
            (b"///", b"/"),
            (b"/%", b"/%"),
            (b"/%4", b"/%4"),
            (b"/%41", b"/A"),
            (b"/\x80%80", b"/\x80\x80"),
            (b"/%e9t%C3%A9", b"/\xe9t\xc3\xa9"),
        ];
        for (raw, decoded) in table {
            let mut buf = [0u8; 64];
            buf[..raw.len()].copy_from_slice(raw);
            let span = decode_path_in_place(&mut buf, 0, raw.len());
            assert_eq!(span.of(&buf), *decoded, "{raw:?}");
        }
    }

    #[test]
    fn version_vectors() {
        let table: &[(&[u8], Result<Version, RemoteError>)] = &[
            (b"HTTP/1.1", Ok(Version::Http11)),
            (b"HTTP/1.0", Ok(Version::Http10)),
            (b"HTTP/1.2", Ok(Version::Http11)),
            (b"HTTP/2.0", Err(RemoteError::UnsupportedVersion)),
            (b"HTTP/0.9", Err(RemoteError::UnsupportedVersion)),
            (b"HTTP/1", Err(RemoteError::BadVersion)),
            (b"HTTP/1.10", Err(RemoteError::BadVersion)),
            (b"http/1.1", Err(RemoteError::BadVersion)),
            (b"HTTP/x.1", Err(RemoteError::BadVersion)),
        ];
        for (v, expected) in table {
            assert_eq!(parse_version(v), *expected, "{v:?}");
        }
    }

    /// Everything a parse produced, as plain data: the result and, once done, the request
    /// line's parts, the kept fields and the framing facts.
    #[derive(Debug, PartialEq, Eq)]
    struct Outcome {
        result: Result<Progress, RemoteError>,
        parts: Vec<Vec<u8>>,
        fields: Vec<(Vec<u8>, Vec<u8>)>,
        facts: String,
    }

    /// Parses `input` over a buffer of `buf_len` bytes, each read as long as `read(free)`
    /// says (at least one byte), until the parser is done, fails, or the input runs out.
    fn parse_reads(
        input: &[u8],
        buf_len: usize,
        limits: &HeadLimits<'_>,
        mut read: impl FnMut(usize) -> usize,
    ) -> Outcome {
        let mut buf = vec![0u8; buf_len];
        let mut head: Head<32> = Head::new();
        let mut parser = HeadParser::new();
        let (mut filled, mut fed) = (0, 0);
        let result = loop {
            let free = buf_len - filled;
            let n = read(free).clamp(1, free.max(1)).min(input.len() - fed);
            buf[filled..filled + n].copy_from_slice(&input[fed..fed + n]);
            filled += n;
            fed += n;
            match parser.parse(&mut buf, &mut filled, &mut head, limits) {
                Ok(Progress::NeedData) if fed < input.len() && filled < buf_len => {}
                result => break result,
            }
        };
        let (mut parts, mut fields, mut facts) = (Vec::new(), Vec::new(), String::new());
        if result == Ok(Progress::Done) {
            for span in [head.method, head.path, head.query, head.protocol] {
                parts.push(span.of(&buf).to_vec());
            }
            for f in &head.fields {
                fields.push((f.name.of(&buf).to_vec(), f.value.of(&buf).to_vec()));
            }
            facts = format!(
                "{:?} {:?} {:?} {:?}",
                head.version, head.flags, head.content_type, head.content_length
            );
        }
        Outcome {
            result,
            parts,
            fields,
            facts,
        }
    }

    /// A random head: mostly well-formed lines, some long values, some bad bytes, obs-folds
    /// and malformed names, sometimes mutated.
    fn random_head(rng: &mut Rng) -> Vec<u8> {
        let mut out = Vec::new();
        if rng.below(10) == 0 {
            out.extend_from_slice(b"\r\n");
        }
        let targets: [&[u8]; 4] = [b"/", b"/a%20b?q=1", b"//x/y", b"http://h/p"];
        out.extend_from_slice(b"GET ");
        out.extend_from_slice(targets[rng.below(targets.len())]);
        out.extend_from_slice(b" HTTP/1.1\r\n");
        let names: [&[u8]; 10] = [
            b"Host",
            b"X-A",
            b"x_a",
            b"Cookie",
            b"Content-Type",
            b"Connection",
            b"A",
            b"b-c",
            b"_",
            b"User-Agent",
        ];
        let dirty = rng.below(3) == 0;
        for _ in 0..rng.below(12) {
            if dirty && rng.below(12) == 0 {
                out.push(rng.byte(b" \t"));
            }
            let name = names[rng.below(names.len())];
            out.extend_from_slice(name);
            out.extend_from_slice(match rng.below(if dirty { 12 } else { 1000 }) {
                0 => b" :",
                1 => b"",
                _ => b": ",
            });
            match name {
                b"Host" => out.push(b'h'),
                b"Connection" => out.extend_from_slice(b"close"),
                _ => {
                    let len = match rng.below(10) {
                        0..=5 => rng.below(20),
                        6..=8 => 20 + rng.below(300),
                        _ => 300 + rng.below(1500),
                    };
                    let bad = if dirty && rng.below(3) == 0 {
                        rng.below(len + 1)
                    } else {
                        usize::MAX
                    };
                    for k in 0..len {
                        out.push(if k == bad {
                            rng.byte(b"\x00\x7f\r\r\n")
                        } else {
                            b'!' + rng.below(94) as u8
                        });
                    }
                }
            }
            out.extend_from_slice(if rng.below(10) == 0 { b"\n" } else { b"\r\n" });
        }
        if rng.below(10) != 0 {
            out.extend_from_slice(b"\r\n");
        }
        if rng.below(5) == 0 && !out.is_empty() {
            let at = rng.below(out.len());
            match rng.below(3) {
                0 => out[at] = rng.byte(b"\r\n\t :_\x00"),
                1 => out.insert(at, rng.byte(b"\r\n\t :_\x00")),
                _ => {
                    out.remove(at);
                }
            }
        }
        out
    }

    /// The head parser itself, exact errors included: the same result however the input is
    /// split, and the same as with a buffer that never fills, unless the small buffer
    /// overflowed. (`tests/splits.rs` checks the whole connection, statuses only.)
    #[test]
    fn random_heads_give_the_same_result_however_they_arrive() {
        const KEEP_NONE: &[&str] = &[];
        const KEEP_X_A: &[&str] = &["x-a"];
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        // `SPLITS_CASES` (shared with `tests/splits.rs`) runs more.
        let cases = std::env::var("SPLITS_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(4000);
        for case in 0..cases {
            let input = random_head(&mut rng);
            let limits = HeadLimits {
                max_request_line: if rng.below(3) == 0 {
                    8 + rng.below(20)
                } else {
                    8190
                },
                max_head: if rng.below(2) == 0 {
                    16 + rng.below(input.len() + 1)
                } else {
                    65535
                },
                max_fields: if rng.below(4) == 0 {
                    rng.below(12)
                } else {
                    100
                },
                max_empty_lines: 8,
                keep: match rng.below(3) {
                    0 => None,
                    1 => Some(KEEP_NONE),
                    _ => Some(KEEP_X_A),
                },
            };
            let buf_len = 24 + rng.below(600);
            let whole = parse_reads(&input, buf_len, &limits, |free| free);
            for max in [2, 9, 64, 1000] {
                let seed = rng.next();
                let mut reads = Rng(seed | 1);
                let split = parse_reads(&input, buf_len, &limits, |_| 1 + reads.below(max));
                assert_eq!(
                    split, whole,
                    "case {case}: {input:?} {limits:?} buf {buf_len}"
                );
            }
            let big = parse_reads(&input, input.len() + 64, &limits, |free| free);
            if !matches!(
                whole.result,
                Err(RemoteError::HeadTooLarge
                    | RemoteError::UriTooLong
                    | RemoteError::MethodTooLong)
            ) {
                assert_eq!(
                    whole, big,
                    "case {case}: {input:?} {limits:?} buf {buf_len}"
                );
            }
        }
    }

    /// Directed cases of the rule the random test checks: the first offending byte decides
    /// (an invalid byte, or the first beyond `max_head`, `max_request_line` or the buffer),
    /// whatever the reads and whether the line is received whole or skipped.
    #[test]
    fn the_first_offending_byte_decides() {
        let a = |n: usize| "a".repeat(n);
        let limits = |max_request_line, max_head, max_fields, keep| HeadLimits {
            max_request_line,
            max_head,
            max_fields,
            max_empty_lines: 8,
            keep,
        };
        const NONE: Option<&[&str]> = Some(&[]);
        let table: Vec<(String, HeadLimits<'_>, usize, Result<Progress, RemoteError>)> = vec![
            // A request line of exactly the limit, its CRLF split or not.
            (
                format!("GET /{} HTTP/1.1\r\nHost: h\r\n\r\n", a(10)),
                limits(24, 65535, 100, None),
                256,
                Ok(Progress::Done),
            ),
            (
                format!("GET /{} HTTP/1.1\r\nHost: h\r\n\r\n", a(11)),
                limits(24, 65535, 100, None),
                256,
                Err(RemoteError::UriTooLong),
            ),
            // Over the limit with only method octets before the first byte beyond it: 501
            // (RFC 9112 §3), whatever follows that byte; a space before it: 414.
            (
                format!("{} / HTTP/1.1\r\nHost: h\r\n\r\n", a(24)),
                limits(24, 65535, 100, None),
                256,
                Err(RemoteError::MethodTooLong),
            ),
            (
                format!("{}\r\n\r\n", a(40)),
                limits(24, 65535, 100, None),
                256,
                Err(RemoteError::MethodTooLong),
            ),
            (
                format!("{} HTTP/1.1\r\nHost: h\r\n\r\n", a(40)),
                limits(8190, 20, 100, None),
                256,
                Err(RemoteError::MethodTooLong),
            ),
            (
                format!("GET {}\r\n\r\n", a(40)),
                limits(24, 65535, 100, None),
                256,
                Err(RemoteError::UriTooLong),
            ),
            // A bad byte before the byte beyond `max_head` (40): 400, skipped or whole.
            (
                format!("GET / HTTP/1.1\r\nHost: h\r\nA: \x01{}\r\n\r\n", a(100)),
                limits(8190, 40, 100, NONE),
                64,
                Err(RemoteError::BadHeader),
            ),
            // ... and after it: 431.
            (
                format!(
                    "GET / HTTP/1.1\r\nHost: h\r\nA: {}\x01{}\r\n\r\n",
                    a(20),
                    a(100)
                ),
                limits(8190, 40, 100, NONE),
                64,
                Err(RemoteError::HeadTooLarge),
            ),
            // A bare CR right at the limit: the byte after it is beyond, so 431.
            (
                format!(
                    "GET / HTTP/1.1\r\nHost: h\r\nA: {}\rx{}\r\n\r\n",
                    a(11),
                    a(100)
                ),
                limits(8190, 40, 100, NONE),
                64,
                Err(RemoteError::HeadTooLarge),
            ),
            // An obs-fold that fills the buffer is an obs-fold.
            (
                format!("GET / HTTP/1.1\r\nHost: h\r\n folded: {}\r\n\r\n", a(100)),
                limits(8190, 65535, 100, None),
                64,
                Err(RemoteError::ObsFold),
            ),
            // A skipped field is counted once its value is known to be valid.
            (
                format!(
                    "GET / HTTP/1.1\r\nHost: h\r\nCookie: {}\x01{}\r\n\r\n",
                    a(100),
                    a(9)
                ),
                limits(8190, 65535, 1, NONE),
                64,
                Err(RemoteError::BadHeader),
            ),
            (
                format!("GET / HTTP/1.1\r\nHost: h\r\nCookie: {}\r\n\r\n", a(100)),
                limits(8190, 65535, 1, NONE),
                64,
                Err(RemoteError::TooManyHeaders),
            ),
            // Fields with `_` are never kept, so a long one is skipped, allow-list or not.
            (
                format!("GET / HTTP/1.1\r\nHost: h\r\nX_Long: {}\r\n\r\n", a(200)),
                limits(8190, 65535, 100, None),
                64,
                Ok(Progress::Done),
            ),
            // So is a second Content-Type (the first one is kept).
            (
                format!(
                    "GET / HTTP/1.1\r\nHost: h\r\nContent-Type: a\r\nContent-Type: {}\r\n\r\n",
                    a(200)
                ),
                limits(8190, 65535, 100, None),
                96,
                Ok(Progress::Done),
            ),
            // A kept field that does not fit: 431, unless an earlier byte is invalid.
            (
                format!("GET / HTTP/1.1\r\nHost: h\r\nX-A: {}\r\n\r\n", a(200)),
                limits(8190, 65535, 100, None),
                64,
                Err(RemoteError::HeadTooLarge),
            ),
            (
                format!("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x01{}\r\n\r\n", a(200)),
                limits(8190, 65535, 100, None),
                64,
                Err(RemoteError::BadHeader),
            ),
        ];
        for (input, limits, buf_len, expected) in &table {
            let input = input.as_bytes();
            for step in 1..=input.len() {
                let got = parse_reads(input, *buf_len, limits, |_| step).result;
                assert_eq!(got, *expected, "{input:?} in reads of {step}");
                let got = parse_reads(input, 4096, limits, |_| step).result;
                if *expected != Err(RemoteError::HeadTooLarge) || limits.max_head < 65535 {
                    assert_eq!(got, *expected, "{input:?} in reads of {step}, large buffer");
                }
            }
        }
    }
}
