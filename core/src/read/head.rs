//! The request-head parser: a streaming, line-at-a-time push parser over the receive buffer.
//!
//! Read this first. The receive buffer holds, from offset 0:
//!
//! ```text
//! [ kept head: request line + kept header lines ][ gap: discarded lines ][ partial line ][ free ]
//! 0                                              kept_end               line_start     filled
//! ```
//!
//! Each complete line is parsed once. Kept lines are moved down to `kept_end` (a no-op while
//! nothing was discarded); discarded lines (header filtering, fields with `_` in their name)
//! are only validated and counted, so their bytes can be reused. When the buffer is full and
//! the partial line is the value of a field we do not keep, the parser switches to skipping
//! that value byte by byte, so a field longer than the whole buffer (a 2 KiB Cookie in a
//! 1 KiB buffer) costs nothing. Repeated kept fields are joined with `,` in place, so that
//! every environ value is one contiguous slice of the buffer.
//!
//! All decisions depend only on the bytes, never on how they were split into reads: a line
//! is parsed when its LF arrives, and the skip mode applies exactly the same checks, in the
//! same order, as a whole line would get.

use heapless::Vec;

use crate::RemoteError;
use crate::abnf::{is_field_value_byte, is_ows, is_target_byte, is_tchar, is_token, trim_ows};
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
    fn new(start: usize, end: usize) -> Self {
        // Callers guarantee end <= u16::MAX (the head limit is clamped); saturate anyway.
        let start = u16::try_from(start).unwrap_or(u16::MAX);
        let end = u16::try_from(end).unwrap_or(u16::MAX);
        Self {
            start,
            len: end.saturating_sub(start),
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
pub(crate) struct Head<const H: usize> {
    pub(crate) method: Span,
    /// The path, percent-decoded in place (leading `//…` collapsed to `/`).
    pub(crate) path: Span,
    /// The query, raw, without the `?`.
    pub(crate) query: Span,
    /// The HTTP-version as sent.
    pub(crate) protocol: Span,
    pub(crate) version: Version,
    pub(crate) fields: Vec<Field, H>,
    pub(crate) content_type: Option<u8>,
    pub(crate) content_length: Option<u8>,
    /// Length of the kept head: the body starts here once the head is complete.
    pub(crate) len: usize,
    pub(crate) flags: FramingFields,
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
            len: 0,
            flags: FramingFields::new(),
        }
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
}

/// What one call to [`HeadParser::parse`] achieved.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    /// More bytes are needed. `filled` may have shrunk (discarded bytes were reclaimed).
    NeedData,
    /// The head is complete; `filled` was adjusted so the body starts at `Head::len`.
    Done,
}

impl HeadParser {
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
        }
    }

    /// Has any byte of this request been received (empty lines before it excluded)?
    pub(crate) fn started(&self, filled: usize) -> bool {
        self.request_line_done || filled > self.line_start
    }

    /// Parses as much of `buf[..*filled]` as forms complete lines.
    pub(crate) fn parse<const H: usize>(
        &mut self,
        buf: &mut [u8],
        filled: &mut usize,
        head: &mut Head<H>,
        limits: &HeadLimits<'_>,
    ) -> Result<Progress, RemoteError> {
        loop {
            if let Mode::Skip { cr } = self.mode {
                match skip_value(buf.get(self.line_start..*filled).unwrap_or(&[]), cr)? {
                    SkipEnd::Line(n) => {
                        self.consumed += n;
                        self.line_start += n;
                        self.scan = self.line_start;
                        self.mode = Mode::Line;
                    }
                    SkipEnd::More { cr } => {
                        self.consumed += *filled - self.line_start;
                        *filled = self.line_start;
                        self.scan = self.line_start;
                        self.mode = Mode::Skip { cr };
                        return self.check_head_size(limits).map(|()| Progress::NeedData);
                    }
                }
            }
            let window = buf.get(self.scan..*filled).unwrap_or(&[]);
            let Some(lf) = window.iter().position(|&b| b == b'\n') else {
                self.scan = *filled;
                return self.partial_line(buf, filled, limits);
            };
            let line_end = self.scan + lf;
            let next = line_end + 1;
            self.consumed += next - self.line_start;
            self.check_head_size(limits)?;
            // The line without its terminator: CRLF, or a bare LF (accepted, RFC 9112 §2.2).
            let content_end = match buf.get(line_end.wrapping_sub(1)) {
                Some(b'\r') if line_end > self.line_start => line_end - 1,
                _ => line_end,
            };
            if content_end == self.line_start {
                // An empty line.
                if self.request_line_done {
                    return Ok(self.finish(buf, filled, next, head));
                }
                self.empty_lines += 1;
                if self.empty_lines > limits.max_empty_lines {
                    return Err(RemoteError::LeadingEmptyLines);
                }
                self.consumed -= next - self.line_start;
            } else if !self.request_line_done {
                let len = content_end - self.line_start;
                if len > limits.max_request_line {
                    return Err(RemoteError::UriTooLong);
                }
                let at = self.keep_line(buf, content_end);
                request_line(buf, at, at + len, head)?;
                self.request_line_done = true;
            } else {
                self.field_line(buf, content_end, head, limits)?;
            }
            self.line_start = next;
            self.scan = next;
        }
    }

    /// No LF in the buffered bytes: enforce the limits, reclaim discarded space, and skip an
    /// unkept value that cannot fit the buffer.
    fn partial_line(
        &mut self,
        buf: &mut [u8],
        filled: &mut usize,
        limits: &HeadLimits<'_>,
    ) -> Result<Progress, RemoteError> {
        let partial = *filled - self.line_start;
        if !self.request_line_done && partial > limits.max_request_line {
            return Err(RemoteError::UriTooLong);
        }
        if self.consumed + partial > limits.max_head {
            return Err(if self.request_line_done {
                RemoteError::HeadTooLarge
            } else {
                RemoteError::UriTooLong
            });
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
        // The buffer is full and holds no complete line.
        if !self.request_line_done {
            return Err(RemoteError::UriTooLong);
        }
        let line = buf.get(self.line_start..*filled).unwrap_or(&[]);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Err(RemoteError::HeadTooLarge);
        };
        let name = line.get(..colon).unwrap_or(&[]);
        check_field_name(name)?;
        if keep_field(name, limits.keep) || is_framing_field(name) {
            // We need this field whole, and it does not fit.
            return Err(RemoteError::HeadTooLarge);
        }
        self.count_field(limits)?;
        let value = line.get(colon + 1..).unwrap_or(&[]);
        let SkipEnd::More { cr } = skip_value(value, false)? else {
            // Unreachable: the line has no LF. Treat it as the protocol error it would be.
            return Err(RemoteError::HeadTooLarge);
        };
        self.consumed += partial;
        *filled = self.line_start;
        self.scan = self.line_start;
        self.mode = Mode::Skip { cr };
        Ok(Progress::NeedData)
    }

    fn check_head_size(&self, limits: &HeadLimits<'_>) -> Result<(), RemoteError> {
        if self.consumed > limits.max_head {
            Err(if self.request_line_done {
                RemoteError::HeadTooLarge
            } else {
                RemoteError::UriTooLong
            })
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

    /// Moves the line `[line_start, content_end)` down to `kept_end`, returns where it now
    /// starts, and extends the kept head over it.
    fn keep_line(&mut self, buf: &mut [u8], content_end: usize) -> usize {
        let at = self.kept_end;
        if self.line_start > at {
            buf.copy_within(self.line_start..content_end, at);
        }
        self.kept_end = at + (content_end - self.line_start);
        at
    }

    fn field_line<const H: usize>(
        &mut self,
        buf: &mut [u8],
        content_end: usize,
        head: &mut Head<H>,
        limits: &HeadLimits<'_>,
    ) -> Result<(), RemoteError> {
        let line = buf.get(self.line_start..content_end).unwrap_or(&[]);
        if line.first().copied().is_some_and(is_ows) {
            // RFC 9112 §5.2: obs-fold is rejected in requests.
            return Err(RemoteError::ObsFold);
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(RemoteError::BadHeader)?;
        let name = line.get(..colon).unwrap_or(&[]);
        check_field_name(name)?;
        let raw_value = line.get(colon + 1..).unwrap_or(&[]);
        if let SkipEnd::Line(_) = skip_value(raw_value, false)? {
            // A LF cannot be inside the line; a CR followed by one would have ended it.
            return Err(RemoteError::BareCr);
        }
        if raw_value.contains(&b'\r') {
            return Err(RemoteError::BareCr);
        }
        self.count_field(limits)?;
        let value = trim_ows(raw_value);
        let leading_ows = raw_value.iter().take_while(|&&b| is_ows(b)).count();
        // Framing and persistence fields are interpreted whether kept or not.
        let kind = FieldKind::of(name);
        match kind {
            FieldKind::Host => {
                if head.flags.host || !is_valid_host(value) {
                    return Err(RemoteError::BadHost);
                }
                head.flags.host = true;
            }
            FieldKind::ContentLength => head.flags.content_length(value)?,
            FieldKind::TransferEncoding => head.flags.transfer_encoding(value)?,
            FieldKind::Connection => head.flags.connection(value)?,
            FieldKind::Expect => head.flags.expect(value),
            FieldKind::ContentType | FieldKind::Other => {}
        }
        if name.contains(&b'_') || !keep_field(name, limits.keep) {
            // Names with `_` never reach the environ: they could spoof a dash header.
            return Ok(());
        }
        if kind == FieldKind::ContentLength && head.content_length.is_some()
            || kind == FieldKind::ContentType && head.content_type.is_some()
        {
            // CONTENT_LENGTH (already checked to agree) and CONTENT_TYPE keep the first value.
            return Ok(());
        }
        let value_off = colon + 1 + leading_ows;
        let value_len = value.len();
        let name_len = name.len();
        let at = self.keep_line(buf, content_end);
        let name_span = Span::new(at, at + name_len);
        let value_start = at + value_off;
        let value_span = Span::new(value_start, value_start + value_len);
        let kept = buf.get(..self.kept_end).unwrap_or(&[]);
        let existing = head
            .fields
            .iter()
            .position(|f| f.name.of(kept).eq_ignore_ascii_case(name_span.of(kept)));
        if let Some(i) = existing {
            self.join(buf, head, i, at, value_span);
            return Ok(());
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
            _ => {}
        }
        Ok(())
    }

    /// Joins the value of the line just kept at `line_at` onto field `i` as `,value`, in
    /// place: the new value is written as `,value` at the start of its own line, then rotated
    /// to the end of field `i`'s value; everything in between moves right.
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
        if let Some(segment) = buf.get_mut(insert_at..line_at + add) {
            segment.rotate_right(add);
        }
        for f in head.fields.iter_mut() {
            f.name.shift_if_after(insert_at, add);
            f.value.shift_if_after(insert_at, add);
        }
        if let Some(f) = head.fields.get_mut(i) {
            f.value.len = u16::try_from(usize::from(f.value.len) + add).unwrap_or(u16::MAX);
        }
        self.kept_end = line_at + add;
    }

    /// The empty line after the fields: the head is complete. Moves the bytes after it
    /// (body, pipelined requests) down to the end of the kept head.
    fn finish<const H: usize>(
        &mut self,
        buf: &mut [u8],
        filled: &mut usize,
        next: usize,
        head: &mut Head<H>,
    ) -> Progress {
        if next > self.kept_end {
            buf.copy_within(next..*filled, self.kept_end);
            *filled -= next - self.kept_end;
        }
        head.len = self.kept_end;
        Progress::Done
    }
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
    fn of(name: &[u8]) -> Self {
        const KINDS: [(&[u8], FieldKind); 6] = [
            (b"host", FieldKind::Host),
            (b"content-length", FieldKind::ContentLength),
            (b"content-type", FieldKind::ContentType),
            (b"transfer-encoding", FieldKind::TransferEncoding),
            (b"connection", FieldKind::Connection),
            (b"expect", FieldKind::Expect),
        ];
        KINDS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or(Self::Other, |&(_, k)| k)
    }
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
fn keep_field(name: &[u8], keep: Option<&[&str]>) -> bool {
    match keep {
        None => true,
        Some(list) => {
            matches!(
                FieldKind::of(name),
                FieldKind::Host | FieldKind::ContentType | FieldKind::ContentLength
            ) || list.iter().any(|k| k.as_bytes().eq_ignore_ascii_case(name))
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

/// Where a skipped value ended.
enum SkipEnd {
    /// The LF was found; this many bytes (LF included) belong to the line.
    Line(usize),
    /// No LF yet; `cr` if the last byte was a CR awaiting its LF.
    More { cr: bool },
}

/// Scans field-value bytes, in order: a CR must be followed by LF, every other byte must be
/// allowed in a field value. This is the one check used for kept, dropped and skipped values,
/// so the outcome never depends on how the bytes arrived.
fn skip_value(bytes: &[u8], mut cr: bool) -> Result<SkipEnd, RemoteError> {
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
            _ if is_field_value_byte(b) => {}
            _ => return Err(RemoteError::BadHeader),
        }
    }
    Ok(SkipEnd::More { cr })
}

/// Parses `method SP request-target SP HTTP-version` in `buf[start..end]`, decoding the path
/// in place.
fn request_line<const H: usize>(
    buf: &mut [u8],
    start: usize,
    end: usize,
    head: &mut Head<H>,
) -> Result<(), RemoteError> {
    let line = buf.get(start..end).ok_or(RemoteError::BadRequestLine)?;
    if line.contains(&b'\r') {
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
    head.query = query;
    head.path = decode_path_in_place(buf, path_start, path_end);
    Ok(())
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
/// served.
fn split_target(
    method: &[u8],
    target: &[u8],
    offset: usize,
) -> Result<(usize, usize, Span), RemoteError> {
    let (path_at, rest) = if target.first() == Some(&b'/') {
        (0, target)
    } else if target == b"*" {
        if method != b"OPTIONS" {
            return Err(RemoteError::BadTarget);
        }
        (0, target)
    } else {
        let authority_at = absolute_form_authority(target).ok_or(RemoteError::BadTarget)?;
        let after = target.get(authority_at..).unwrap_or(&[]);
        let authority_len = after
            .iter()
            .position(|&b| b == b'/' || b == b'?')
            .unwrap_or(after.len());
        if !is_valid_host(after.get(..authority_len).unwrap_or(&[])) {
            return Err(RemoteError::BadTarget);
        }
        let path_at = authority_at + authority_len;
        (path_at, target.get(path_at..).unwrap_or(&[]))
    };
    if target.contains(&b'#') {
        // A fragment is never sent in a request-target (RFC 9112 §3.2).
        return Err(RemoteError::BadTarget);
    }
    let (path_len, query) = match rest.iter().position(|&b| b == b'?') {
        Some(q) => {
            let q_at = offset + path_at + q + 1;
            (q, Span::new(q_at, offset + target.len()))
        }
        None => (
            rest.len(),
            Span::new(offset + target.len(), offset + target.len()),
        ),
    };
    Ok((offset + path_at, offset + path_at + path_len, query))
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
pub(crate) fn is_valid_host(value: &[u8]) -> bool {
    let (host, port) = if value.first() == Some(&b'[') {
        let Some(close) = value.iter().position(|&b| b == b']') else {
            return false;
        };
        let inner = value.get(1..close).unwrap_or(&[]);
        if inner.is_empty()
            || !inner
                .iter()
                .all(|&b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.' | b'v' | b'V'))
        {
            return false;
        }
        let rest = value.get(close + 1..).unwrap_or(&[]);
        match rest.split_first() {
            None => (&[][..], None),
            Some((b':', port)) => (&[][..], Some(port)),
            Some(_) => return false,
        }
    } else {
        match value.iter().position(|&b| b == b':') {
            Some(c) => (
                value.get(..c).unwrap_or(&[]),
                Some(value.get(c + 1..).unwrap_or(&[])),
            ),
            None => (value, None),
        }
    };
    let reg_name_ok = host.iter().all(|&b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'%'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
            )
    });
    let port_ok = port.is_none_or(|p| p.len() <= 5 && p.iter().all(u8::is_ascii_digit));
    reg_name_ok && port_ok
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
}
