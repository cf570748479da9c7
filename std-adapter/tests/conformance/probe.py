#!/usr/bin/env python3
"""HTTP/1.1 conformance probe (RFC 9112 / RFC 9110) for the `wsgiref` command.

Raw sockets only. Written in session 11 by a reviewer working from the RFC text, not from the
server's code: each case's expectation is the RFC's requirement (MUST) or clearly expected
behaviour, and where the RFCs allow several behaviours the case records the server's choice
(CHOICE) instead of judging it. Run by `std-adapter/tests/conformance.rs` and
`tokio-adapter/tests/conformance.rs` (part of `cargo test`).

Usage:
  python3 probe.py --bin PATH [--only ID[,ID..]] [--engine poll|threads|both]
                   [--no-slow] [--log FILE]
  python3 probe.py --ports ECHO_POLL,ECHO_THREADS,DEMO_POLL,DEMO_THREADS   (servers already running)

With --bin it starts four servers on 127.0.0.1 (echo and demo apps, poll and threads
engines) on free ports, and kills exactly those PIDs at the end. Exit status 1 on any FAIL,
ERROR or invariant violation.

Verdicts:
  PASS    the RFC-required (MUST) or clearly expected behaviour
  CHOICE  the RFC allows several behaviours; the one the server chose is named
  FAIL    a violation of a requirement / clear expectation
  SKIP    cannot be produced with the available applications
"""

import argparse
import ast
import concurrent.futures
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time

HOST = '127.0.0.1'

# Server configuration, read from the source / --help (core/src/connection.rs Timeouts and
# Limits defaults): first byte 10 s, keep-alive idle 5 s, head 10 s, body 30 s;
# request line 16 KiB, head 64 KiB, 100 fields, body 64 MiB, chunk line 1 KiB.
KEEPALIVE_T = 5
FIRST_BYTE_T = 10
HEAD_T = 10

CANARY = b'GET /CANARY HTTP/1.1\r\nHost: h\r\n\r\n'

IMF_FIXDATE = re.compile(
    rb'^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) '
    rb'\d{4} \d\d:\d\d:\d\d GMT$')
STATUS_LINE = re.compile(rb'^HTTP/1\.[01] [1-5]\d\d [\t -~\x80-\xff]*$')
TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


# --------------------------------------------------------------------------------------
# Response parsing
# --------------------------------------------------------------------------------------

class Resp:
    def __init__(self):
        self.status_line = b''
        self.version = b''
        self.status = 0
        self.reason = b''
        self.headers = []          # list of (name_lower, value) bytes
        self.body = b''
        self.raw = b''
        self.framing = ''          # cl / chunked / close / none
        self.problems = []         # syntax problems of the response itself

    def h(self, name):
        name = name.lower().encode() if isinstance(name, str) else name.lower()
        vals = [v for n, v in self.headers if n == name]
        return vals

    def h1(self, name):
        v = self.h(name)
        return v[0] if v else None

    def has(self, name):
        return bool(self.h(name))

    def conn_tokens(self):
        toks = set()
        for v in self.h('connection'):
            for t in v.split(b','):
                toks.add(t.strip().lower())
        return toks

    def __repr__(self):
        return f'<{self.status} {self.framing} {len(self.body)}B>'


def parse_responses(raw, methods, eof):
    """Parse as many complete responses as `raw` holds.  Returns (list, leftover, error).
    methods: list of request methods, in order, for final responses (HEAD has no body)."""
    out = []
    pos = 0
    final_idx = 0
    while pos < len(raw):
        end = raw.find(b'\r\n\r\n', pos)
        if end < 0:
            if eof:
                return out, raw[pos:], 'truncated head'
            return out, raw[pos:], None
        head = raw[pos:end]
        lines = head.split(b'\r\n')
        r = Resp()
        r.status_line = lines[0]
        if not STATUS_LINE.match(lines[0]):
            r.problems.append('bad status line %r' % lines[0][:80])
        parts = lines[0].split(b' ', 2)
        r.version = parts[0]
        try:
            r.status = int(parts[1])
        except (IndexError, ValueError):
            return out, raw[pos:], 'unparseable status line %r' % lines[0][:80]
        r.reason = parts[2] if len(parts) > 2 else b''
        for ln in lines[1:]:
            if b':' not in ln:
                r.problems.append('header line without colon %r' % ln[:60])
                continue
            n, v = ln.split(b':', 1)
            if not TOKEN.match(n):
                r.problems.append('bad header name %r' % n[:60])
            if b'\n' in v or b'\r' in v or b'\x00' in v:
                r.problems.append('CR/LF/NUL in header value')
            r.headers.append((n.lower(), v.strip(b' \t')))
        p = end + 4
        if 100 <= r.status < 200:
            r.framing = 'none'
            r.raw = raw[pos:p]
            out.append(r)
            pos = p
            continue
        method = methods[final_idx] if final_idx < len(methods) else 'GET'
        te = b','.join(r.h('transfer-encoding')).lower()
        cls = r.h('content-length')
        if method == 'HEAD' or r.status in (204, 304):
            r.framing = 'none'
            body_end = p
        elif te:
            r.framing = 'chunked'
            if te.strip() != b'chunked':
                r.problems.append('response transfer-encoding %r' % te)
            q = p
            body = b''
            done = False
            while True:
                le = raw.find(b'\r\n', q)
                if le < 0:
                    break
                szs = raw[q:le].split(b';')[0].strip()
                try:
                    sz = int(szs, 16)
                except ValueError:
                    return out, raw[pos:], 'bad chunk size in response %r' % raw[q:le][:40]
                if sz == 0:
                    # trailers until empty line
                    te_end = raw.find(b'\r\n\r\n', le)
                    if raw[le:le + 4] == b'\r\n\r\n':
                        q = le + 4
                        done = True
                    elif te_end >= 0:
                        q = te_end + 4
                        done = True
                    break
                if len(raw) < le + 2 + sz + 2:
                    break
                body += raw[le + 2:le + 2 + sz]
                if raw[le + 2 + sz:le + 4 + sz] != b'\r\n':
                    return out, raw[pos:], 'chunk data not followed by CRLF'
                q = le + 4 + sz
            if not done:
                if eof:
                    r.body = body
                    r.raw = raw[pos:]
                    r.problems.append('chunked body truncated by close')
                    out.append(r)
                    return out, b'', 'truncated chunked body'
                return out, raw[pos:], None
            r.body = body
            body_end = q
        elif cls:
            r.framing = 'cl'
            if len(set(cls)) != 1:
                r.problems.append('several Content-Length values %r' % cls)
            try:
                n = int(cls[0])
            except ValueError:
                return out, raw[pos:], 'bad response content-length'
            if len(raw) < p + n:
                if eof:
                    r.body = raw[p:]
                    r.raw = raw[pos:]
                    r.problems.append('body shorter than Content-Length')
                    out.append(r)
                    return out, b'', 'truncated body'
                return out, raw[pos:], None
            r.body = raw[p:p + n]
            body_end = p + n
        else:
            r.framing = 'close'
            if not eof:
                return out, raw[pos:], None
            body_end = len(raw)
            r.body = raw[p:]
        r.raw = raw[pos:body_end]
        out.append(r)
        final_idx += 1
        pos = body_end
    return out, b'', None


# --------------------------------------------------------------------------------------
# Connections
# --------------------------------------------------------------------------------------

class Conn:
    def __init__(self, port, methods=None):
        self.port = port
        self.s = socket.create_connection((HOST, port), timeout=5)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sent = b''
        self.raw = b''
        self.closed = False
        self.reset = False
        self.send_error = None
        self.methods = list(methods or [])
        self.t0 = time.monotonic()
        self.closed_at = None
        self.events = []            # (time, 'send'/'recv'/'close', nbytes)

    def send(self, data):
        self.sent += data
        try:
            self.s.sendall(data)
            self.events.append((time.monotonic() - self.t0, 'send', len(data)))
        except OSError as e:
            self.send_error = repr(e)

    def pump(self, timeout):
        """Wait up to timeout for bytes; returns True if anything happened."""
        if self.closed:
            return False
        r, _, _ = select.select([self.s], [], [], max(0, timeout))
        if not r:
            return False
        try:
            d = self.s.recv(1 << 20)
        except ConnectionResetError:
            self.closed = True
            self.reset = True
            self.closed_at = time.monotonic() - self.t0
            return True
        except OSError:
            self.closed = True
            self.closed_at = time.monotonic() - self.t0
            return True
        if not d:
            self.closed = True
            self.closed_at = time.monotonic() - self.t0
            return True
        self.raw += d
        self.events.append((time.monotonic() - self.t0, 'recv', len(d)))
        return True

    def parsed(self):
        return parse_responses(self.raw, self.methods, self.closed)

    def finals(self):
        return [r for r in self.parsed()[0] if r.status >= 200]

    def interims(self):
        return [r for r in self.parsed()[0] if r.status < 200]

    def wait(self, cond, timeout):
        end = time.monotonic() + timeout
        while not cond():
            left = end - time.monotonic()
            if left <= 0 or self.closed:
                return cond()
            self.pump(min(left, 0.5))
        return True

    def wait_finals(self, n, timeout=3.0):
        return self.wait(lambda: len(self.finals()) >= n, timeout)

    def wait_close(self, timeout):
        return self.wait(lambda: self.closed, timeout)

    def settle(self, quiet):
        """Read until nothing arrives for `quiet` seconds."""
        while self.pump(quiet):
            pass

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


class Result:
    def __init__(self, c):
        self.sent = c.sent
        self.raw = c.raw
        self.closed = c.closed
        self.reset = c.reset
        self.send_error = c.send_error
        self.all, self.leftover, self.parse_error = c.parsed()
        self.finals = [r for r in self.all if r.status >= 200]
        self.interims = [r for r in self.all if r.status < 200]
        self.closed_at = c.closed_at
        self.events = c.events

    @property
    def first(self):
        return self.finals[0] if self.finals else None

    def statuses(self):
        return [r.status for r in self.finals]


def exchange(port, data, n=1, methods=None, timeout=3.0, close_wait=0.0, quiet=0.15):
    """Send `data` (bytes, or a list of bytes / float sleeps), wait for n final responses,
    then (close_wait > 0) wait that long for the server to close, else settle briefly."""
    c = Conn(port, methods)
    try:
        parts = data if isinstance(data, list) else [data]
        for p in parts:
            if isinstance(p, (int, float)):
                c.pump(0)
                time.sleep(p)
            else:
                c.send(p)
        c.wait_finals(n, timeout)
        if close_wait:
            c.wait_close(close_wait)
        else:
            c.settle(quiet)
        return Result(c)
    finally:
        c.close()


# --------------------------------------------------------------------------------------
# Helpers to inspect app output
# --------------------------------------------------------------------------------------

def demo_env(resp):
    env = {}
    if resp is None:
        return env
    for line in resp.body.decode('utf-8', 'replace').split('\n'):
        if ' = ' in line:
            k, v = line.split(' = ', 1)
            try:
                env[k] = ast.literal_eval(v)
            except Exception:
                env[k] = v
    return env


def xpath(resp):
    return resp.h1('x-path') if resp is not None else None


def is_canary(resp):
    if resp is None:
        return False
    if resp.h1('x-path') == b'/CANARY':
        return True
    return demo_env(resp).get('PATH_INFO') == '/CANARY'


# --------------------------------------------------------------------------------------
# Verdict machinery
# --------------------------------------------------------------------------------------

PASS, FAIL, CHOICE, SKIP = 'PASS', 'FAIL', 'CHOICE', 'SKIP'


class Verdict(Exception):
    def __init__(self, kind, msg=''):
        super().__init__(msg)
        self.kind = kind
        self.msg = msg


def fail(msg):
    raise Verdict(FAIL, msg)


def choice(msg):
    raise Verdict(CHOICE, msg)


def skip(msg):
    raise Verdict(SKIP, msg)


def desc(res):
    if res is None:
        return 'no result'
    parts = []
    parts.append('statuses=%s' % res.statuses())
    if res.interims:
        parts.append('interim=%s' % [r.status for r in res.interims])
    parts.append('closed=%s%s' % (res.closed, ' (RST)' if res.reset else ''))
    if res.parse_error:
        parts.append('parse_error=%s' % res.parse_error)
    return ' '.join(parts)


def rejected(res, statuses=(400,), must_close=True, what=''):
    """Common check: exactly one final response, status in `statuses`, no canary answer,
    connection closed.  Returns None if ok, else a failure message."""
    if not res.finals:
        return 'no response (%s)' % desc(res)
    st = res.first.status
    if st not in statuses:
        return 'expected %s, got %d' % ('/'.join(map(str, statuses)), st)
    if len(res.finals) > 1:
        return 'request after the error was processed (%s)' % desc(res)
    if must_close and not res.closed:
        return 'connection left open after %d with unknown framing' % st
    return None


def served(res, n=2, body=None, canary=True, status=200):
    """The request was served (status), optional body check, and the canary (pipelined
    next request) was answered next, proving framing stayed in sync."""
    if len(res.finals) < 1:
        return 'no response (%s)' % desc(res)
    r = res.first
    if r.status != status:
        return 'expected %d, got %d' % (status, r.status)
    if body is not None and r.body != body:
        return 'body %r, expected %r' % (r.body[:80], body[:80])
    if canary:
        if len(res.finals) < 2:
            return 'pipelined next request not answered (%s)' % desc(res)
        if not is_canary(res.finals[1]):
            return 'second response is not the pipelined request (%r)' % res.finals[1].raw[:120]
        if len(res.finals) > 2:
            return 'extra responses (%s)' % desc(res)
    return None


# --------------------------------------------------------------------------------------
# Case registry
# --------------------------------------------------------------------------------------

CASES = []


class Case:
    def __init__(self, cid, title, ref, fn, app, engines, slow, expect):
        self.cid, self.title, self.ref, self.fn = cid, title, ref, fn
        self.app, self.engines, self.slow, self.expect = app, engines, slow, expect


def case(cid, title, ref, app='echo', engines=('poll', 'threads'), slow=False, expect=''):
    def deco(fn):
        CASES.append(Case(cid, title, ref, fn, app, engines, slow, expect))
        return fn
    return deco


def post(path=b'/', headers=b'', body=b'', version=b'HTTP/1.1', method=b'POST', host=True):
    h = b'Host: h\r\n' if host else b''
    return method + b' ' + path + b' ' + version + b'\r\n' + h + headers + b'\r\n' + body


def get(path=b'/', headers=b'', version=b'HTTP/1.1', host=True):
    return post(path, headers, b'', version, b'GET', host)


def reject_case(cid, title, ref, req, statuses=(400,), app='echo', canary=True,
                alt=None, expect=None):
    """A request that must be rejected with `statuses` and the connection closed.
    alt: optional (label, checker(res)->None|msg) accepted as an RFC-permitted CHOICE."""
    exp = expect or ('%s and close; the pipelined next request is not processed'
                     % '/'.join(map(str, statuses)))

    @case(cid, title, ref, app=app, expect=exp)
    def fn(ctx):
        res = exchange(ctx.port(app), req + (CANARY if canary else b''), n=1, close_wait=1.5)
        ctx.res = res
        m = rejected(res, statuses)
        if m is None:
            return 'rejected %d and closed' % res.first.status
        if alt:
            label, chk = alt
            m2 = chk(res)
            if m2 is None:
                choice(label)
        fail(m)
    return fn


def accept_case(cid, title, ref, req, body=None, app='echo', extra=None, alt=None,
                expect=None, canary=True, methods=None, is_choice=False):
    """A request that must be served (200) with body `body`; the canary after it answered.
    extra(res) may add checks (return msg on failure).  alt: (label, checker) permitted
    alternative (e.g. rejection) reported as CHOICE."""
    exp = expect or '200%s; framing stays in sync (next pipelined request answered)' % (
        ' with body %r' % body if body is not None else '')

    @case(cid, title, ref, app=app, expect=exp)
    def fn(ctx):
        res = exchange(ctx.port(app), req + (CANARY if canary else b''),
                       n=2 if canary else 1, methods=methods,
                       close_wait=0 if canary else 0.5)
        ctx.res = res
        m = served(res, body=body, canary=canary)
        if m is None and extra:
            m = extra(res)
        if m is None:
            if is_choice:
                choice('served (request accepted)')
            return 'served'
        if alt:
            label, chk = alt
            if chk(res) is None:
                choice(label)
        fail(m)
    return fn


def rej_alt(statuses=(400,), label=None):
    return (label or ('rejected with %s and closed' % '/'.join(map(str, statuses))),
            lambda res: rejected(res, statuses))


def served_alt(label, body=None, extra=None):
    def chk(res):
        m = served(res, body=body)
        if m is None and extra:
            m = extra(res)
        return m
    return (label, chk)


# ======================================================================================
# A. Request smuggling / message framing headers
# ======================================================================================

# A01-A02 CL + TE
for cid, hdrs in (('A01', b'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n'),
                  ('A02', b'Transfer-Encoding: chunked\r\nContent-Length: 5\r\n')):
    def _mk(cid=cid, hdrs=hdrs):
        @case(cid, 'Content-Length and Transfer-Encoding both present (%s first)'
              % ('CL' if hdrs.startswith(b'Content') else 'TE'),
              'RFC 9112 6.1 (MAY reject or use TE alone; MUST close after responding), 6.3 #3',
              expect='400, or process as chunked (empty body); in both cases close; '
                     'the request after the chunked body is never processed')
        def fn(ctx):
            req = post(headers=hdrs, body=b'0\r\n\r\n') + CANARY
            res = exchange(ctx.echo, req, n=1, close_wait=1.5)
            ctx.res = res
            if not res.finals:
                fail('no response (%s)' % desc(res))
            r = res.first
            if len(res.finals) > 1:
                fail('request after CL+TE message processed on the same connection (%s)' % desc(res))
            if not res.closed:
                fail('connection not closed after CL+TE request (%d)' % r.status)
            if r.status == 400:
                return 'rejected 400 and closed'
            if r.status == 200 and r.body == b'':
                choice('processed by Transfer-Encoding (empty body), then closed')
            fail('unexpected response %d body %r' % (r.status, r.body[:40]))
    _mk()

reject_case('A03', 'Conflicting duplicate Content-Length fields (5 and 6)', 'RFC 9112 6.3 #5 (MUST 400 and close)',
            post(headers=b'Content-Length: 5\r\nContent-Length: 6\r\n', body=b'hello!'))
reject_case('A04', 'Conflicting Content-Length list in one field "5, 6"', 'RFC 9112 6.3 #5; RFC 9110 8.6',
            post(headers=b'Content-Length: 5, 6\r\n', body=b'hello!'))
accept_case('A05', 'Duplicate identical Content-Length fields (5 and 5)',
            'RFC 9110 8.6 (MAY reject, or use the single value)',
            post(headers=b'Content-Length: 5\r\nContent-Length: 5\r\n', body=b'hello'), body=b'hello',
            alt=rej_alt(), is_choice=True, expect='either 200 echoing "hello" with framing intact, or 400 and close')
accept_case('A06', 'Identical Content-Length list in one field "5, 5"',
            'RFC 9110 8.6 (MAY reject, or replace with single value)',
            post(headers=b'Content-Length: 5, 5\r\n', body=b'hello'), body=b'hello',
            alt=rej_alt(), is_choice=True, expect='either 200 echoing "hello" with framing intact, or 400 and close')
reject_case('A07', 'Content-Length with plus sign "+5"', 'RFC 9112 6.3 #5 (Content-Length = 1*DIGIT; invalid -> 400, close)',
            post(headers=b'Content-Length: +5\r\n', body=b'hello'))
reject_case('A08', 'Negative Content-Length "-1"', 'RFC 9112 6.3 #5',
            post(headers=b'Content-Length: -1\r\n', body=b'hello'))
reject_case('A09', 'Content-Length with trailing garbage "5a"', 'RFC 9112 6.3 #5',
            post(headers=b'Content-Length: 5a\r\n', body=b'hello'))
reject_case('A10', 'Content-Length in hex "0x5"', 'RFC 9112 6.3 #5',
            post(headers=b'Content-Length: 0x5\r\n', body=b'hello'))
reject_case('A11', 'Content-Length overflowing 64 bits (25 digits)', 'RFC 9112 6.3 #5; RFC 9110 8.6 (overflow)',
            post(headers=b'Content-Length: 9999999999999999999999999\r\n', body=b'hello'), statuses=(400, 413))
reject_case('A12', 'Empty Content-Length value', 'RFC 9112 6.3 #5',
            post(headers=b'Content-Length: \r\n', body=b'hello'))
accept_case('A13', 'Content-Length with surrounding OWS "  5 \\t"', 'RFC 9112 5.1 (OWS not part of the value)',
            post(headers=b'Content-Length:  5 \t\r\n', body=b'hello'), body=b'hello')
accept_case('A14', 'Content-Length with leading zeros "0005"', 'RFC 9110 8.6 (1*DIGIT)',
            post(headers=b'Content-Length: 0005\r\n', body=b'hello'), body=b'hello',
            alt=rej_alt(label='rejected valid 1*DIGIT value with 400'))
reject_case('A15', 'Content-Length with inner space "1 0"', 'RFC 9112 6.3 #5',
            post(headers=b'Content-Length: 1 0\r\n', body=b'helloworld'))
reject_case('A16', 'Transfer-Encoding "chunked, identity" (chunked not final)',
            'RFC 9112 6.1 (chunked not final in a request: MUST 400 and close); 6.3 #4',
            post(headers=b'Transfer-Encoding: chunked, identity\r\n', body=b'5\r\nhello\r\n0\r\n\r\n'),
            statuses=(400, 501))
reject_case('A17', 'Transfer-Encoding "identity, chunked" (unknown coding identity)',
            'RFC 9112 6.1 (unknown coding SHOULD 501); 7 (identity no longer registered)',
            post(headers=b'Transfer-Encoding: identity, chunked\r\n', body=b'5\r\nhello\r\n0\r\n\r\n'),
            statuses=(501, 400))
reject_case('A18', 'Transfer-Encoding "xchunked" (chunked absent)',
            'RFC 9112 6.3 #4 (chunked not final in a request: server MUST respond 400 and close); '
            '6.1 (unknown coding: SHOULD 501) also applies - the MUST takes precedence',
            post(headers=b'Transfer-Encoding: xchunked\r\n', body=b'5\r\nhello\r\n0\r\n\r\n'), statuses=(400,))
reject_case('A49', 'Transfer-Encoding "gzip" alone (chunked absent)',
            'RFC 9112 6.3 #4 (MUST 400 and close); 6.1 SHOULD 501 also applies',
            post(headers=b'Transfer-Encoding: gzip\r\n', body=b'hello'), statuses=(400,))
reject_case('A50', 'Transfer-Encoding "identity" alone (obsolete coding, chunked absent)',
            'RFC 9112 6.3 #4 (MUST 400 and close); 7 (identity removed)',
            post(headers=b'Transfer-Encoding: identity\r\n', body=b'hello'), statuses=(400,))
reject_case('A53', 'obs-fold inside Transfer-Encoding ("Transfer-Encoding:\\r\\n chunked")', 'RFC 9112 5.2, 6.1',
            post(headers=b'Transfer-Encoding:\r\n chunked\r\nContent-Length: 5\r\n', body=b'0\r\n\r\n'),
            expect='400 and close (obs-fold rejected; or if unfolded, CL+TE -> 400/close)')
reject_case('A54', 'obs-fold with HTAB continuation', 'RFC 9112 5.2 (MUST 400 or replace with SP)',
            get(headers=b'X-Fold: a\r\n\tb\r\n'), app='demo',
            alt=served_alt('HTAB fold replaced by SP', extra=lambda r: _obs_fold_check(r)))
accept_case('A51', 'Request TE header ("TE: trailers", Connection: TE) is not Transfer-Encoding',
            'RFC 9110 10.1.4', get(headers=b'TE: trailers\r\nConnection: TE\r\n'))
reject_case('A52', 'Transfer-Encoding "chunked;foo=bar" (parameter on chunked)',
            'RFC 9112 7 (chunked defines no parameters); 6.1', 
            post(headers=b'Transfer-Encoding: chunked;foo=bar\r\n', body=b'5\r\nhello\r\n0\r\n\r\n'),
            statuses=(400, 501), alt=served_alt('accepted chunked with a parameter', body=b'hello'))
reject_case('A19', 'Transfer-Encoding "chunked" twice (two field lines)',
            'RFC 9112 7 (chunked MUST NOT be applied more than once); 6.1',
            post(headers=b'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n',
                 body=b'5\r\nhello\r\n0\r\n\r\n'), statuses=(400, 501))
reject_case('A20', 'Transfer-Encoding "gzip, chunked" (coding not supported)',
            'RFC 9112 6.1 (SHOULD 501 for a transfer coding it does not understand)',
            post(headers=b'Transfer-Encoding: gzip, chunked\r\n', body=b'5\r\nhello\r\n0\r\n\r\n'),
            statuses=(501,), alt=rej_alt((400,), 'rejected with 400 (RFC says SHOULD 501)'))
accept_case('A21', 'Transfer-Encoding "Chunked" (case-insensitive coding name)',
            'RFC 9112 7 (transfer-coding names are case-insensitive)',
            post(headers=b'Transfer-Encoding: Chunked\r\n', body=b'5\r\nhello\r\n0\r\n\r\n'), body=b'hello')
accept_case('A22', 'Transfer-Encoding with OWS around value ("\\t chunked \\t")', 'RFC 9112 5.1',
            post(headers=b'Transfer-Encoding:\t chunked \t\r\n', body=b'5\r\nhello\r\n0\r\n\r\n'), body=b'hello')
reject_case('A23', 'Empty Transfer-Encoding value', 'RFC 9112 6.1 (transfer-coding list, 1#)',
            post(headers=b'Transfer-Encoding: \r\n', body=b'5\r\nhello\r\n0\r\n\r\n'), statuses=(400, 501))


@case('A24', 'Transfer-Encoding: chunked in an HTTP/1.0 request (with Content-Length)',
      'RFC 9112 6.1 (HTTP/1.0 with TE: MUST treat framing as faulty, even with CL, and close)',
      expect='framing treated as faulty (400 preferred); connection closed; bytes after not processed')
def _a24(ctx):
    req = (b'POST / HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n'
           b'0\r\n\r\n' + CANARY)
    res = exchange(ctx.echo, req, n=1, close_wait=1.5)
    ctx.res = res
    if not res.finals:
        fail('no response (%s)' % desc(res))
    if len(res.finals) > 1:
        fail('bytes after the message were processed as a request (%s)' % desc(res))
    if not res.closed:
        fail('connection not closed')
    if res.first.status == 400:
        return '400 and closed'
    choice('answered %d (body %r) then closed' % (res.first.status, res.first.body[:30]))


@case('A25', 'Transfer-Encoding: chunked in an HTTP/1.0 request (no Content-Length)',
      'RFC 9112 6.1 (MUST treat as faulty framing and close)',
      expect='400 preferred; connection closed')
def _a25(ctx):
    req = b'POST / HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n' + CANARY
    res = exchange(ctx.echo, req, n=1, close_wait=1.5)
    ctx.res = res
    if not res.finals:
        fail('no response (%s)' % desc(res))
    if len(res.finals) > 1:
        fail('bytes after the message processed (%s)' % desc(res))
    if not res.closed:
        fail('connection not closed')
    if res.first.status == 400:
        return '400 and closed'
    choice('answered %d (body %r) then closed' % (res.first.status, res.first.body[:30]))


def _obs_fold_check(res):
    # accepted with the fold replaced by SP
    env = demo_env(res.first)
    v = env.get('HTTP_X_FOLD')
    if v is None:
        return 'HTTP_X_FOLD missing'
    if v.replace('  ', ' ').strip() not in ('a b',) and not re.fullmatch(r'a +b', v):
        return 'folded value %r not joined with SP' % v
    return None


accept_case('A26', 'obs-fold in a header field value', 'RFC 9112 5.2 (MUST 400, or replace obs-fold by SP)',
            get(headers=b'X-Fold: a\r\n b\r\n'), app='demo',
            extra=_obs_fold_check, alt=rej_alt(label='rejected obs-fold with 400'),
            expect='400 (preferred) or value "a b"')
reject_case('A27', 'obs-fold hiding Transfer-Encoding (" Transfer-Encoding: chunked" continuation of Host)',
            'RFC 9112 5.2; 3.2 (Host invalid) ',
            b'POST / HTTP/1.1\r\nHost: h\r\n Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n')
reject_case('A28', 'Whitespace between field name and colon ("Host : h")', 'RFC 9112 5.1 (MUST 400)',
            b'GET / HTTP/1.1\r\nHost : h\r\n\r\n')
reject_case('A29', 'Whitespace before colon in Content-Length', 'RFC 9112 5.1 (MUST 400)',
            b'POST / HTTP/1.1\r\nHost: h\r\nContent-Length : 5\r\n\r\nhello')
reject_case('A30', 'Tab before colon in Transfer-Encoding', 'RFC 9112 5.1 (MUST 400)',
            b'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n')


@case('A31', 'Whitespace-preceded line between request-line and first field',
      'RFC 9112 2.2 (MUST reject, or consume each whitespace-preceded line without processing it)',
      app='demo', expect='400 and close, or the line ignored (no HTTP_X_INJECT in the environ)')
def _a31(ctx):
    req = b'GET / HTTP/1.1\r\n X-Inject: 1\r\nHost: h\r\n\r\n' + CANARY
    res = exchange(ctx.demo, req, n=2, close_wait=0)
    ctx.res = res
    if rejected(res) is None:
        return '400 and closed'
    if res.first and res.first.status == 200:
        env = demo_env(res.first)
        if 'HTTP_X_INJECT' in env:
            fail('whitespace-preceded line processed as a field: HTTP_X_INJECT=%r' % env['HTTP_X_INJECT'])
        choice('line ignored, request served')
    fail('unexpected: %s' % desc(res))


reject_case('A32', 'Bare CR used as a field line terminator ("X-A: 1\\rHost: h")',
            'RFC 9112 2.2 (bare CR: MUST treat as invalid or replace by SP; then Host is missing -> 400)',
            b'GET / HTTP/1.1\r\nX-A: 1\rHost: h\r\n\r\n')


@case('A33', 'Bare CR inside a field value', 'RFC 9112 2.2; RFC 9110 5.5 (MUST reject or replace with SP)',
      app='demo', expect='400 and close, or value with SP in place of CR')
def _a33(ctx):
    req = b'GET / HTTP/1.1\r\nHost: h\r\nX-CR: a\rb\r\n\r\n' + CANARY
    res = exchange(ctx.demo, req, n=2)
    ctx.res = res
    if rejected(res) is None:
        return '400 and closed'
    if res.first and res.first.status == 200:
        v = demo_env(res.first).get('HTTP_X_CR')
        if v == 'a b':
            choice('CR replaced by SP')
        fail('bare CR passed through to the application: HTTP_X_CR=%r' % v)
    fail('unexpected: %s' % desc(res))


reject_case('A34', 'Bare CR terminating the request-line', 'RFC 9112 2.2',
            b'GET / HTTP/1.1\rHost: h\r\n\r\n')


@case('A35', 'NUL byte in a field value', 'RFC 9110 5.5 (MUST reject or replace NUL with SP)', app='demo',
      expect='400 and close, or value with SP')
def _a35(ctx):
    req = b'GET / HTTP/1.1\r\nHost: h\r\nX-Nul: a\x00b\r\n\r\n' + CANARY
    res = exchange(ctx.demo, req, n=2)
    ctx.res = res
    if rejected(res) is None:
        return '400 and closed'
    if res.first and res.first.status == 200:
        v = demo_env(res.first).get('HTTP_X_NUL')
        if v == 'a b':
            choice('NUL replaced by SP')
        fail('NUL passed to the application: HTTP_X_NUL=%r' % v)
    fail('unexpected: %s' % desc(res))


reject_case('A36', 'NUL byte in a field name', 'RFC 9110 5.1 (field-name = token)',
            b'GET / HTTP/1.1\r\nHost: h\r\nX-N\x00ul: a\r\n\r\n')
reject_case('A37', 'NUL byte in the request-target', 'RFC 9112 3.2 / RFC 3986 (invalid request-line)',
            b'GET /a\x00b HTTP/1.1\r\nHost: h\r\n\r\n')
reject_case('A38', 'Field name with invalid character "X(Foo)"', 'RFC 9110 5.1 (token); RFC 9112 3 (invalid -> 400)',
            b'GET / HTTP/1.1\r\nHost: h\r\nX(Foo): 1\r\n\r\n')
reject_case('A39', 'Empty field name (": foo")', 'RFC 9110 5.1', b'GET / HTTP/1.1\r\nHost: h\r\n: foo\r\n\r\n')
reject_case('A40', 'Field line without a colon', 'RFC 9112 5', b'GET / HTTP/1.1\r\nHost: h\r\nNoColonHere\r\n\r\n')


@case('A41', 'Other control character (0x01) in a field value', 'RFC 9110 5.5 (field-vchar excludes CTL)',
      app='demo', expect='400 preferred; RFC only mandates action for CR/LF/NUL, so passing it is a choice')
def _a41(ctx):
    req = b'GET / HTTP/1.1\r\nHost: h\r\nX-Ctl: a\x01b\r\n\r\n' + CANARY
    res = exchange(ctx.demo, req, n=2)
    ctx.res = res
    if rejected(res) is None:
        return '400 and closed'
    if res.first and res.first.status == 200:
        choice('accepted; HTTP_X_CTL=%r' % demo_env(res.first).get('HTTP_X_CTL'))
    fail('unexpected: %s' % desc(res))


accept_case('A42', 'obs-text (0xE9) in a field value is accepted', 'RFC 9110 5.5 (obs-text allowed in field-value)',
            get(headers=b'X-Latin: caf\xe9\r\n'), app='demo',
            extra=lambda res: None if demo_env(res.first).get('HTTP_X_LATIN') == 'caf\xe9'
            else 'HTTP_X_LATIN=%r' % demo_env(res.first).get('HTTP_X_LATIN'))


@case('A43', 'Field name with underscore "Content_Length" is not a Content-Length',
      'RFC 9110 5.1 (distinct field name); RFC 9112 6.3 #7 (no CL/TE: body length 0)',
      expect='200 with empty body; the following bytes are the next request; no CONTENT_LENGTH')
def _a43(ctx):
    req = b'POST / HTTP/1.1\r\nHost: h\r\nContent_Length: 5\r\n\r\n' + CANARY
    res = exchange(ctx.echo, req, n=2)
    ctx.res = res
    m = served(res, body=b'')
    if m:
        fail(m)
    if res.first.h1('x-content-length') not in (b'', None):
        fail('CONTENT_LENGTH=%r derived from Content_Length' % res.first.h1('x-content-length'))
    return 'not used for framing'


reject_case('A44', 'Trailer section carrying Content-Length does not alter framing... (invalid trailer line)',
            'RFC 9112 7.1.2 (trailer = field lines; a request-line there is invalid)',
            b'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nGET /x HTTP/1.1\r\n\r\n',
            expect='400 and close (a request-line is not a valid trailer field line)')
accept_case('A45', 'Content-Length in the trailer section is not used for framing',
            'RFC 9110 6.5.1 (trailers MUST NOT be used for framing); RFC 9112 7.1.2',
            post(headers=b'Transfer-Encoding: chunked\r\n',
                 body=b'5\r\nhello\r\n0\r\nContent-Length: 50\r\n\r\n'), body=b'hello',
            alt=rej_alt(label='rejected a trailer containing Content-Length'))
accept_case('A46', 'Request without Content-Length or Transfer-Encoding has no body',
            'RFC 9112 6.3 #7', post(), body=b'')
accept_case('A47', 'Content-Length: 0 POST, next request follows immediately', 'RFC 9112 6.2',
            post(headers=b'Content-Length: 0\r\n'), body=b'')
reject_case('A48', 'Transfer-Encoding with vertical tab ("chunked\\x0b")', 'RFC 9110 5.5 / 9112 6.1',
            post(headers=b'Transfer-Encoding: chunked\x0b\r\n', body=b'0\r\n\r\n'), statuses=(400, 501))


# ======================================================================================
# B. Chunked framing
# ======================================================================================

def chunked(body_bytes, hdrs=b''):
    return post(headers=b'Transfer-Encoding: chunked\r\n' + hdrs, body=body_bytes)


accept_case('B01', 'Chunked body, two chunks', 'RFC 9112 7.1',
            chunked(b'5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n'), body=b'hello world',
            extra=lambda res: None if res.first.h1('x-content-length') in (b'', None, b'11')
            else 'CONTENT_LENGTH=%r for chunked request' % res.first.h1('x-content-length'))
accept_case('B02', 'Chunk size with leading zeros "0005"', 'RFC 9112 7.1 (chunk-size = 1*HEXDIG)',
            chunked(b'0005\r\nhello\r\n0000\r\n\r\n'), body=b'hello')
accept_case('B03', 'Upper- and lower-case hex chunk sizes (A, b)', 'RFC 9112 7.1',
            chunked(b'A\r\n0123456789\r\nb\r\nabcdefghijk\r\n0\r\n\r\n'), body=b'0123456789abcdefghijk')
reject_case('B04', 'Chunk size overflow (20 hex digits)', 'RFC 9112 7.1 (recipient MUST anticipate overflow)',
            chunked(b'ffffffffffffffffffff\r\nhello\r\n0\r\n\r\n'), statuses=(400, 413))
reject_case('B05', 'Chunk size that wraps 64 bits to 5 ("10000000000000005")', 'RFC 9112 7.1 (overflow)',
            chunked(b'10000000000000005\r\nhello\r\n0\r\n\r\n'), statuses=(400, 413))
reject_case('B06', 'Negative chunk size "-5"', 'RFC 9112 7.1', chunked(b'-5\r\nhello\r\n0\r\n\r\n'))
reject_case('B07', 'Chunk size "0x5"', 'RFC 9112 7.1', chunked(b'0x5\r\nhello\r\n0\r\n\r\n'))
reject_case('B08', 'Empty chunk size line', 'RFC 9112 7.1', chunked(b'\r\nhello\r\n0\r\n\r\n'))
accept_case('B09', 'Chunk extension name=value', 'RFC 9112 7.1.1 (MUST ignore unrecognized extensions)',
            chunked(b'5;foo=bar\r\nhello\r\n0;end=1\r\n\r\n'), body=b'hello')
accept_case('B10', 'Chunk extension with quoted-string containing ";" and escaped quote',
            'RFC 9112 7.1.1 (chunk-ext-val = token / quoted-string)',
            chunked(b'5;foo="a;b\\"c"\r\nhello\r\n0\r\n\r\n'), body=b'hello')
accept_case('B11', 'Chunk extension without value, with BWS', 'RFC 9112 7.1.1 (BWS ";" BWS name)',
            chunked(b'5 ; foo\r\nhello\r\n0\r\n\r\n'), body=b'hello',
            alt=rej_alt(label='rejected BWS in chunk-ext with 400'))
reject_case('B12', 'Chunk extension with an unterminated quoted string', 'RFC 9112 7.1.1',
            chunked(b'5;foo="abc\r\nhello\r\n0\r\n\r\n'))


@case('B13', 'Very long chunk extension (4 KiB)', 'RFC 9112 7.1.1 (server ought to limit extensions)',
      expect='either served or rejected (400/413/431) and closed')
def _b13(ctx):
    req = chunked(b'5;x=' + b'a' * 4096 + b'\r\nhello\r\n0\r\n\r\n') + CANARY
    res = exchange(ctx.echo, req, n=2, close_wait=0)
    ctx.res = res
    if served(res, body=b'hello') is None:
        choice('served')
    if res.finals and res.closed and len(res.finals) == 1 and res.first.status in (400, 413, 431):
        choice('rejected %d and closed' % res.first.status)
    if res.finals and not res.closed and res.first.status >= 400:
        res2 = exchange(ctx.echo, req, n=1, close_wait=1.5)
        ctx.res = res2
        if rejected(res2, (400, 413, 431)) is None:
            choice('rejected %d and closed' % res2.first.status)
    fail('unexpected: %s' % desc(res))


accept_case('B14', 'Trailer fields after last chunk', 'RFC 9112 7.1.2',
            chunked(b'5\r\nhello\r\n0\r\nX-Trailer: v\r\nX-Other: w\r\n\r\n'), body=b'hello')
reject_case('B15', 'Chunk data longer than chunk size (no CRLF after data)', 'RFC 9112 7.1',
            chunked(b'3\r\nhello\r\n0\r\n\r\n'))
reject_case('B16', 'Chunk data terminated by bare LF', 'RFC 9112 7.1 (chunk = size CRLF data CRLF)',
            chunked(b'5\r\nhello\n0\r\n\r\n'),
            alt=served_alt('accepted bare LF after chunk data', body=b'hello'))
accept_case('B17', 'Chunk size lines terminated by bare LF', 'RFC 9112 7.1 (CRLF); 2.2 MAY-LF rule covers start-line/fields only',
            chunked(b'5\nhello\r\n0\n\r\n'), body=b'hello',
            alt=rej_alt(label='rejected bare LF in chunk-size line (400)'),
            expect='400 and close (strict); accepting LF is a lenient choice')


@case('B18', 'Missing final CRLF after last-chunk, then idle', 'RFC 9112 7.1 (chunked-body ends with CRLF)',
      expect='no premature processing problem: either the response waits for the CRLF, or it is '
             'sent; after the CRLF arrives the connection works for the next request')
def _b18(ctx):
    c = Conn(ctx.echo)
    try:
        c.send(chunked(b'5\r\nhello\r\n0\r\n'))
        c.wait_finals(1, 1.0)
        early = len(c.finals())
        c.send(b'\r\n' + CANARY)
        c.wait_finals(2, 3.0)
        c.settle(0.15)
        res = Result(c)
        ctx.res = res
    finally:
        c.close()
    m = served(res, body=b'hello')
    if m:
        fail(m)
    return 'served; response %s before the final CRLF' % ('sent' if early else 'held')


@case('B19', 'Missing final CRLF: the connection is closed after "0\\r\\n"',
      'RFC 9112 7.1 / 8 (incomplete message)',
      expect='no 200 with a complete body claimed for an incomplete message is harmful? -> '
             'either 400 or the response as read; must not hang')
def _b19(ctx):
    c = Conn(ctx.echo)
    try:
        c.send(chunked(b'5\r\nhello\r\n0\r\n'))
        c.s.shutdown(socket.SHUT_WR)
        c.wait_close(3.0)
        res = Result(c)
        ctx.res = res
    finally:
        c.close()
    if not res.closed:
        fail('server did not close after client half-close of an incomplete message')
    if not res.finals:
        choice('closed without a response')
    choice('answered %d then closed' % res.first.status)


reject_case('B20', 'Chunked body with LF-only line endings throughout', 'RFC 9112 7.1',
            b'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n',
            alt=served_alt('accepted LF-only chunked framing', body=b'hello'))
reject_case('B21', 'Chunk size with trailing whitespace and no extension ("5  ")', 'RFC 9112 7.1 (BWS only before ";")',
            chunked(b'5  \r\nhello\r\n0\r\n\r\n'),
            alt=served_alt('accepted trailing whitespace after chunk-size', body=b'hello'))
reject_case('B22', 'Invalid trailer field (no colon)', 'RFC 9112 7.1.2 / 5',
            chunked(b'5\r\nhello\r\n0\r\nbad trailer\r\n\r\n'))
accept_case('B23', 'Chunked body pipelined with a following request (body contains an HTTP request)',
            'RFC 9112 7.1, 9.3.2', chunked(b'1e\r\nGET /inner HTTP/1.1\r\nHost: h\r\n\r\n0\r\n\r\n'),
            body=b'GET /inner HTTP/1.1\r\nHost: h\r\n')
reject_case('B24', 'Chunk size with a non-hex character ("5g")', 'RFC 9112 7.1',
            chunked(b'5g\r\nhello\r\n0\r\n\r\n'))

# ======================================================================================
# C. Request line
# ======================================================================================


@case('C01', 'absolute-form request-target; Host field differs',
      'RFC 9112 3.2.2 (server MUST accept absolute-form; MUST ignore Host and use the target\'s authority)',
      app='demo', expect='200; PATH_INFO /p, QUERY_STRING q=1; host information from the target (example.com)')
def _c01(ctx):
    req = b'GET http://example.com/p?q=1 HTTP/1.1\r\nHost: other.invalid\r\n\r\n' + CANARY
    res = exchange(ctx.demo, req, n=2)
    ctx.res = res
    m = served(res)
    if m:
        fail(m)
    env = demo_env(res.first)
    if env.get('PATH_INFO') != '/p' or env.get('QUERY_STRING') != 'q=1':
        fail('PATH_INFO=%r QUERY_STRING=%r' % (env.get('PATH_INFO'), env.get('QUERY_STRING')))
    host = env.get('HTTP_HOST')
    if host != 'example.com':
        fail('application sees HTTP_HOST=%r (the ignored Host field), SERVER_NAME=%r; target authority '
             'example.com is not used' % (host, env.get('SERVER_NAME')))
    return 'HTTP_HOST taken from the target'


reject_case('C02', 'absolute-form without Host field in HTTP/1.1', 'RFC 9112 3.2 (MUST 400 when Host missing)',
            b'GET http://example.com/p HTTP/1.1\r\n\r\n')


@case('C03', 'absolute-form with empty path "http://example.com"', 'RFC 9112 3.2.2, RFC 9110 4.2.3',
      expect='served; path "/" (or empty)')
def _c03(ctx):
    res = exchange(ctx.echo, b'GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n' + CANARY, n=2)
    ctx.res = res
    m = served(res)
    if m:
        if rejected(res) is None:
            choice('rejected 400')
        fail(m)
    choice('X-Path=%r' % xpath(res.first))


@case('C04', 'asterisk-form with OPTIONS', 'RFC 9112 3.2.4 (OPTIONS * is valid)',
      expect='not rejected as malformed (2xx, or a non-400 answer)')
def _c04(ctx):
    res = exchange(ctx.echo, b'OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n' + CANARY, n=2)
    ctx.res = res
    if not res.finals:
        fail('no response')
    if res.first.status == 400:
        fail('OPTIONS * rejected as 400')
    if len(res.finals) < 2 or not is_canary(res.finals[1]):
        fail('next request not served after OPTIONS *')
    return '%d, X-Path=%r' % (res.first.status, xpath(res.first))


reject_case('C05', 'asterisk-form with GET', 'RFC 9112 3.2.4 (asterisk-form only for OPTIONS); 3 (invalid -> 400)',
            b'GET * HTTP/1.1\r\nHost: h\r\n\r\n')


@case('C06', 'authority-form with CONNECT', 'RFC 9112 3.2.3; RFC 9110 9.3.6 (2xx to CONNECT = tunnel)',
      expect='a non-2xx answer (400/405/501) since no tunnel is provided')
def _c06(ctx):
    res = exchange(ctx.echo, b'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', n=1,
                   close_wait=1.0)
    ctx.res = res
    if not res.finals:
        fail('no response (%s)' % desc(res))
    st = res.first.status
    if 200 <= st < 300:
        fail('CONNECT answered %d (implies a tunnel); X-Path=%r' % (st, xpath(res.first)))
    return '%d%s' % (st, ' and closed' if res.closed else '')


reject_case('C07', 'authority-form with GET', 'RFC 9112 3.2.3 (authority-form only for CONNECT)',
            b'GET example.com:80 HTTP/1.1\r\nHost: example.com\r\n\r\n')
reject_case('C08', 'Invalid character in method ("G(T")', 'RFC 9110 9.1 (method = token); RFC 9112 3',
            b'G(T / HTTP/1.1\r\nHost: h\r\n\r\n')


@case('C09', 'Lower-case method "get" (methods are case-sensitive)', 'RFC 9110 9.1 (case-sensitive; unknown -> SHOULD 501)',
      expect='not treated as GET: 501, or passed through as "get"')
def _c09(ctx):
    res = exchange(ctx.echo, b'get / HTTP/1.1\r\nHost: h\r\n\r\n' + CANARY, n=2)
    ctx.res = res
    if not res.finals:
        fail('no response')
    if res.first.status == 501:
        return '501'
    if res.first.status == 200:
        if res.first.h1('x-method') != b'get':
            fail('method changed to %r' % res.first.h1('x-method'))
        choice('passed to the application as "get" (200)')
    fail('unexpected %d' % res.first.status)


@case('C10', 'Unknown method "FOO"', 'RFC 9110 9.1 (unrecognized method SHOULD 501)',
      expect='501, or passed to the application (WSGI lets the app decide)')
def _c10(ctx):
    res = exchange(ctx.echo, b'FOO / HTTP/1.1\r\nHost: h\r\n\r\n' + CANARY, n=2)
    ctx.res = res
    if not res.finals:
        fail('no response')
    if res.first.status == 501:
        return '501'
    if res.first.status == 200 and res.first.h1('x-method') == b'FOO':
        choice('passed to the application (200)')
    fail('unexpected %d' % res.first.status)


def _lenient_or_400(cid, title, req, ref):
    @case(cid, title, ref, expect='400 (SHOULD) or whitespace-tolerant parse (MAY); never a mis-parse')
    def fn(ctx):
        res = exchange(ctx.echo, req + CANARY, n=2, close_wait=0)
        ctx.res = res
        if res.finals and res.first.status == 400:
            if len(res.finals) > 1:
                fail('request after 400 processed')
            if not res.closed:
                c2 = exchange(ctx.echo, req + CANARY, n=1, close_wait=1.5)
                ctx.res = c2
                if not c2.closed:
                    fail('400 but connection left open')
            return '400'
        if served(res) is None:
            p = xpath(res.first)
            if p != b'/':
                fail('mis-parsed: X-Path=%r' % p)
            choice('tolerated and served, X-Path=%r' % p)
        fail('unexpected: %s' % desc(res))
    return fn


_lenient_or_400('C11', 'Two spaces between method and target ("GET  / HTTP/1.1")',
                b'GET  / HTTP/1.1\r\nHost: h\r\n\r\n', 'RFC 9112 3 (single SP; SHOULD 400 or MAY parse on whitespace)')
_lenient_or_400('C12', 'Tab separators in request-line', b'GET\t/\tHTTP/1.1\r\nHost: h\r\n\r\n',
                'RFC 9112 3 (MAY treat HTAB as SP)')
_lenient_or_400('C13', 'Trailing space after HTTP-version', b'GET / HTTP/1.1 \r\nHost: h\r\n\r\n', 'RFC 9112 3')
reject_case('C14', 'Request-line without HTTP-version (HTTP/0.9 style)', 'RFC 9112 3 (request-line requires version)',
            b'GET /\r\nHost: h\r\n\r\n', statuses=(400, 505))


@case('C15', 'Request-target longer than the server parses (20 000 octets)', 'RFC 9112 3 (MUST 414)',
      expect='414 and close')
def _c15(ctx):
    req = b'GET /' + b'a' * 20000 + b' HTTP/1.1\r\nHost: h\r\n\r\n'
    res = exchange(ctx.echo, req + CANARY, n=1, close_wait=1.5)
    ctx.res = res
    m = rejected(res, (414,))
    if m:
        fail(m)
    return '414 and closed'


accept_case('C16', '8000-octet request-target is supported', 'RFC 9112 3 (SHOULD support >= 8000 octets)',
            get(b'/' + b'b' * 7999), extra=lambda res: None if xpath(res.first) == b'/' + b'b' * 7999
            else 'X-Path length %d' % len(xpath(res.first) or b''))


@case('C17', 'HTTP/1.0 request', 'RFC 9112 9.3 (1.0 without keep-alive: close after response); 6.1 (no TE to 1.0)',
      expect='200, body close-delimited or with Content-Length (no chunked), connection closed')
def _c17(ctx):
    res = exchange(ctx.echo, b'POST /ten HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc', n=1, close_wait=2.0)
    ctx.res = res
    if not res.finals or res.first.status != 200:
        fail('no 200 (%s)' % desc(res))
    r = res.first
    if r.has('transfer-encoding'):
        fail('Transfer-Encoding sent to an HTTP/1.0 client')
    if not res.closed:
        fail('connection not closed after HTTP/1.0 response')
    if r.body != b'abc':
        fail('body %r' % r.body)
    if r.status_line[:8] not in (b'HTTP/1.1', b'HTTP/1.0'):
        fail('status line %r' % r.status_line)
    return 'served, %s, closed' % r.framing


@case('C18', 'HTTP/2.0 in an HTTP/1.1 request-line', 'RFC 9110 15.6.6 (505); RFC 9112 2.3',
      expect='505 (or 400) and close')
def _c18(ctx):
    res = exchange(ctx.echo, b'GET / HTTP/2.0\r\nHost: h\r\n\r\n' + CANARY, n=1, close_wait=1.5)
    ctx.res = res
    m = rejected(res, (505, 400))
    if m:
        fail(m)
    return '%d and closed' % res.first.status


reject_case('C19', 'Version "HTTP/1.10" (two-digit minor: invalid grammar)', 'RFC 9112 2.3 (HTTP-version = DIGIT "." DIGIT)',
            b'GET / HTTP/1.10\r\nHost: h\r\n\r\n', statuses=(400, 505))


@case('C20', 'Higher minor version "HTTP/1.2"', 'RFC 9110 2.5 (SHOULD process as the highest 1.x minor)',
      expect='200, processed as HTTP/1.1')
def _c20(ctx):
    res = exchange(ctx.echo, b'GET / HTTP/1.2\r\nHost: h\r\n\r\n' + CANARY, n=2)
    ctx.res = res
    m = served(res)
    if m:
        if res.finals and res.first.status in (400, 505):
            fail('HTTP/1.2 rejected with %d (SHOULD be processed as 1.1)' % res.first.status)
        fail(m)
    return 'served'


reject_case('C21', 'Lower-case "http/1.1"', 'RFC 9112 2.3 (HTTP-name is case-sensitive %x48.54.54.50)',
            b'GET / http/1.1\r\nHost: h\r\n\r\n', statuses=(400, 505))
reject_case('C22', 'Version "HTTP/3.0"', 'RFC 9110 15.6.6', b'GET / HTTP/3.0\r\nHost: h\r\n\r\n', statuses=(505, 400))
reject_case('C23', 'Version "HTTP/1" (no minor)', 'RFC 9112 2.3', b'GET / HTTP/1\r\nHost: h\r\n\r\n', statuses=(400, 505))
reject_case('C24', 'Version "HTTP/01.1"', 'RFC 9112 2.3', b'GET / HTTP/01.1\r\nHost: h\r\n\r\n', statuses=(400, 505))
accept_case('C25', 'Empty lines (CRLF) before the request-line are ignored', 'RFC 9112 2.2 (SHOULD ignore at least one)',
            b'\r\n\r\n' + get())
reject_case('C26', 'origin-form target not starting with "/"', 'RFC 9112 3.2 (request-target forms)',
            b'GET abc HTTP/1.1\r\nHost: h\r\n\r\n')


@case('C27', 'Fragment in request-target ("/a#frag")', 'RFC 9112 3.2.1 (origin-form has no fragment)',
      expect='400, or served with the fragment not part of PATH_INFO')
def _c27(ctx):
    res = exchange(ctx.echo, get(b'/a#frag') + CANARY, n=2, close_wait=0)
    ctx.res = res
    if res.finals and res.first.status == 400:
        return '400'
    if served(res) is None:
        choice('served, X-Path=%r' % xpath(res.first))
    fail('unexpected: %s' % desc(res))


reject_case('C28', 'Raw space-like control (0x7F) / non-ASCII byte in request-target', 'RFC 9112 3.2 (invalid target)',
            b'GET /a\x7fb HTTP/1.1\r\nHost: h\r\n\r\n')
reject_case('C29', 'Empty request-line then garbage (only LF line)', 'RFC 9112 3',
            b'GARBAGE\r\n\r\n', statuses=(400, 505))
reject_case('C30', 'Method longer than the request-line limit (20 000 octets)',
            'RFC 9112 3 (a method longer than any implemented: SHOULD 501)',
            b'A' * 20000 + b' / HTTP/1.1\r\nHost: h\r\n\r\n', statuses=(501,),
            alt=('SHOULD not followed: answered 414/400 instead of 501, closed',
                 lambda res: rejected(res, (414, 400))))

# ======================================================================================
# D. Host
# ======================================================================================

reject_case('D01', 'HTTP/1.1 request without Host', 'RFC 9112 3.2 (MUST 400)', b'GET / HTTP/1.1\r\n\r\n')
accept_case('D02', 'HTTP/1.0 request without Host is served', 'RFC 9112 3.2 (Host required in 1.1 only)',
            b'GET / HTTP/1.0\r\n\r\n', canary=False)
reject_case('D03', 'Two Host fields (same value)', 'RFC 9112 3.2 (MUST 400 for more than one Host line)',
            b'GET / HTTP/1.1\r\nHost: h\r\nHost: h\r\n\r\n')
reject_case('D04', 'Two Host fields (different values)', 'RFC 9112 3.2 (MUST 400)',
            b'GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n')
reject_case('D05', 'Host with a space ("a b")', 'RFC 9112 3.2 (invalid Host value: MUST 400)',
            b'GET / HTTP/1.1\r\nHost: a b\r\n\r\n')
reject_case('D06', 'Host with a path ("a/b")', 'RFC 9112 3.2; RFC 9110 7.2 (Host = uri-host [":" port])',
            b'GET / HTTP/1.1\r\nHost: a/b\r\n\r\n')
reject_case('D07', 'Host with userinfo ("u@a")', 'RFC 9112 3.2; RFC 9110 7.2',
            b'GET / HTTP/1.1\r\nHost: u@a\r\n\r\n')
reject_case('D08', 'Host with non-numeric port ("a:http")', 'RFC 9112 3.2; RFC 9110 7.2',
            b'GET / HTTP/1.1\r\nHost: a:http\r\n\r\n')
reject_case('D09', 'Host as a list ("a, b")', 'RFC 9112 3.2 (more than one Host / invalid value)',
            b'GET / HTTP/1.1\r\nHost: a, b\r\n\r\n')
reject_case('D10', 'Host with unterminated IPv6 literal ("[::1")', 'RFC 9112 3.2; RFC 3986 3.2.2',
            b'GET / HTTP/1.1\r\nHost: [::1\r\n\r\n')
accept_case('D11', 'Empty Host value', 'RFC 9110 7.2 (empty Host when the target has no authority)',
            b'GET / HTTP/1.1\r\nHost:\r\n\r\n', alt=rej_alt(label='rejected empty Host (400)'))
accept_case('D12', 'Host with port ("example.com:8080")', 'RFC 9110 7.2', b'GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n')
accept_case('D13', 'Host as IPv6 literal with port ("[::1]:80")', 'RFC 9110 7.2; RFC 3986',
            b'GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n')
accept_case('D14', 'Host with underscore (reg-name allows unreserved "_")', 'RFC 3986 3.2.2',
            b'GET / HTTP/1.1\r\nHost: my_host.example\r\n\r\n', alt=rej_alt(label='rejected "_" in Host (400)'))
accept_case('D15', 'Host with empty port ("h:")', 'RFC 3986 3.2.3 (port = *DIGIT)',
            b'GET / HTTP/1.1\r\nHost: h:\r\n\r\n', alt=rej_alt(label='rejected empty port (400)'))
reject_case('D16', 'Host with control char (0x01)', 'RFC 9112 3.2 (invalid Host value: MUST 400)',
            b'GET / HTTP/1.1\r\nHost: a\x01b\r\n\r\n')


@case('D17', 'absolute-form target overrides Host (echo: path taken from target)',
      'RFC 9112 3.2.2', expect='200, X-Path from the target')
def _d17(ctx):
    res = exchange(ctx.echo, b'GET http://a.example/from-target HTTP/1.1\r\nHost: b.example\r\n\r\n' + CANARY, n=2)
    ctx.res = res
    m = served(res)
    if m:
        fail(m)
    if xpath(res.first) != b'/from-target':
        fail('X-Path=%r' % xpath(res.first))
    return 'served'


reject_case('D18', 'absolute-form with invalid Host field value', 'RFC 9112 3.2 (invalid Host MUST 400, even with absolute-form)',
            b'GET http://a.example/ HTTP/1.1\r\nHost: a b\r\n\r\n', alt=served_alt('accepted, Host ignored for absolute-form'))

# ======================================================================================
# E. Persistence and pipelining
# ======================================================================================


@case('E01', 'HTTP/1.1 connection is persistent by default', 'RFC 9112 9.3',
      expect='two sequential requests answered on one connection; no Connection: close')
def _e01(ctx):
    c = Conn(ctx.echo)
    try:
        c.send(get(b'/one'))
        c.wait_finals(1, 3)
        time.sleep(0.2)
        c.send(get(b'/two'))
        c.wait_finals(2, 3)
        c.settle(0.15)
        res = Result(c)
        ctx.res = res
    finally:
        c.close()
    if [xpath(r) for r in res.finals] != [b'/one', b'/two']:
        fail('responses %s' % desc(res))
    if b'close' in res.first.conn_tokens():
        fail('Connection: close on a persistent 1.1 response')
    return 'persistent'


@case('E02', 'Connection: close is honoured', 'RFC 9112 9.6 (MUST close after the response; SHOULD send close)',
      expect='response with Connection: close, then the server closes; the next request is not processed')
def _e02(ctx):
    res = exchange(ctx.echo, get(b'/x', b'Connection: close\r\n') + CANARY, n=1, close_wait=2.0)
    ctx.res = res
    if not res.finals:
        fail('no response')
    if len(res.finals) > 1:
        fail('request after Connection: close processed (MUST NOT process further requests)')
    if not res.closed:
        fail('not closed')
    if b'close' not in res.first.conn_tokens():
        fail('no Connection: close in the final response (SHOULD)')
    return 'closed with Connection: close'


@case('E03', 'Connection option "CLOSE" (case-insensitive) among other tokens', 'RFC 9110 7.6.1 (options case-insensitive)',
      expect='closed after the response')
def _e03(ctx):
    res = exchange(ctx.echo, get(b'/x', b'Connection: foo, CLOSE\r\n') + CANARY, n=1, close_wait=2.0)
    ctx.res = res
    if not res.finals:
        fail('no response')
    if len(res.finals) > 1 or not res.closed:
        fail('close option not recognised (%s)' % desc(res))
    return 'closed'


@case('E04', 'HTTP/1.0 with Connection: keep-alive (demo app, has Content-Length)', 'RFC 9112 9.3 (MAY honour keep-alive)',
      app='demo', expect='either persists (and says Connection: keep-alive) or closes')
def _e04(ctx):
    req = b'GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'
    res = exchange(ctx.demo, req + b'GET /CANARY HTTP/1.0\r\n\r\n', n=2, close_wait=1.5)
    ctx.res = res
    if not res.finals or res.first.status != 200:
        fail('no 200')
    r = res.first
    if res.first.framing == 'chunked':
        fail('chunked response to HTTP/1.0')
    if len(res.finals) >= 2:
        if b'keep-alive' not in r.conn_tokens():
            fail('kept the 1.0 connection alive without Connection: keep-alive in the response')
        choice('kept alive (Connection: keep-alive), second request answered')
    if res.closed and len(res.finals) == 1:
        choice('closed after the response (keep-alive not honoured)')
    fail('unexpected: %s' % desc(res))


@case('E05', 'HTTP/1.0 with Connection: keep-alive, body of unknown length (echo)',
      'RFC 9112 6.3 #8 / 9.3 (a close-delimited body forces close)',
      expect='no chunked; the response is delimited (close or Content-Length); closed if close-delimited')
def _e05(ctx):
    res = exchange(ctx.echo, b'POST /k HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi',
                   n=1, close_wait=2.0)
    ctx.res = res
    if not res.finals:
        fail('no response (%s)' % desc(res))
    r = res.first
    if r.has('transfer-encoding'):
        fail('Transfer-Encoding in a response to HTTP/1.0')
    if r.framing == 'close' and not res.closed:
        fail('close-delimited body but connection kept open')
    if r.body != b'hi':
        fail('body %r' % r.body)
    return '%s, closed=%s' % (r.framing, res.closed)


@case('E06', 'HTTP/1.0 without keep-alive closes', 'RFC 9112 9.3', app='demo', expect='closed after the response')
def _e06(ctx):
    res = exchange(ctx.demo, b'GET / HTTP/1.0\r\n\r\n' + b'GET /CANARY HTTP/1.0\r\n\r\n', n=1, close_wait=2.0)
    ctx.res = res
    if not res.finals:
        fail('no response')
    if len(res.finals) > 1 or not res.closed:
        fail('1.0 connection not closed (%s)' % desc(res))
    return 'closed'


@case('E07', 'Pipelining: three requests (GET, POST with body, GET) in one write',
      'RFC 9112 9.3.2 (MUST respond in the same order)', expect='three responses in order, bodies correct')
def _e07(ctx):
    req = (get(b'/p1') + post(b'/p2', b'Content-Length: 4\r\n', b'body') +
           get(b'/p3', b'X-Pad: ' + b'x' * 100 + b'\r\n'))
    res = exchange(ctx.echo, req, n=3)
    ctx.res = res
    paths = [xpath(r) for r in res.finals]
    if paths != [b'/p1', b'/p2', b'/p3']:
        fail('order/paths %r (%s)' % (paths, desc(res)))
    if res.finals[1].body != b'body':
        fail('POST body %r' % res.finals[1].body)
    return 'in order'


@case('E08', 'Pipelining: 20 requests in one write, last with Connection: close', 'RFC 9112 9.3.2, 9.6',
      expect='20 responses in order, then close')
def _e08(ctx):
    req = b''.join(get(b'/q%d' % i) for i in range(19)) + get(b'/q19', b'Connection: close\r\n')
    res = exchange(ctx.echo, req, n=20, close_wait=2.0, timeout=5)
    ctx.res = res
    paths = [xpath(r) for r in res.finals]
    if paths != [b'/q%d' % i for i in range(20)]:
        fail('paths %r' % paths)
    if not res.closed:
        fail('not closed after Connection: close')
    return 'in order, closed'


@case('E09', 'Pipelined requests mixing HEAD and GET', 'RFC 9112 9.3.2; RFC 9110 9.3.2',
      expect='responses in order; HEAD response without body so the GET response parses')
def _e09(ctx):
    req = b'HEAD /h HTTP/1.1\r\nHost: h\r\n\r\n' + get(b'/g') + b'HEAD /h2 HTTP/1.1\r\nHost: h\r\n\r\n' + CANARY
    res = exchange(ctx.echo, req, n=4, methods=['HEAD', 'GET', 'HEAD', 'GET'])
    ctx.res = res
    paths = [xpath(r) for r in res.finals]
    if paths != [b'/h', b'/g', b'/h2', b'/CANARY'] or res.leftover:
        fail('paths %r leftover %r' % (paths, res.leftover[:60]))
    return 'in order'


@case('E10', 'After Connection: close in a pipeline, later requests are not processed',
      'RFC 9112 9.6 (server MUST NOT process further requests)', expect='only first response; closed')
def _e10(ctx):
    req = get(b'/first', b'Connection: close\r\n') + post(b'/second', b'Content-Length: 1\r\n', b'x')
    res = exchange(ctx.echo, req, n=1, close_wait=2.0)
    ctx.res = res
    if len(res.finals) != 1 or xpath(res.first) != b'/first':
        fail('%s' % desc(res))
    if not res.closed:
        fail('not closed')
    return 'ok'


@case('E11', 'Responses that close the connection carry Connection: close', 'RFC 9112 9.6 (SHOULD send close)',
      expect='400 for a framing error carries Connection: close')
def _e11(ctx):
    res = exchange(ctx.echo, post(headers=b'Content-Length: x\r\n', body=b'hello'), n=1, close_wait=1.5)
    ctx.res = res
    if not res.finals:
        fail('no response')
    if res.closed and b'close' not in res.first.conn_tokens():
        fail('server closed without sending Connection: close')
    return 'Connection: close present'


@case('E12', 'Request body not read by the application (demo app) is skipped; next request works',
      'RFC 9112 6.3, 9.3 (framing must be honoured to keep the connection)',
      app='demo', expect='both answered, or the first answered with Connection: close and closed')
def _e12(ctx):
    req = post(b'/a', b'Content-Length: 10\r\n', b'GET /x HTT') + CANARY
    res = exchange(ctx.demo, req, n=2, close_wait=0)
    ctx.res = res
    if served(res) is None:
        return 'body skipped, next request served'
    if len(res.finals) == 1 and res.closed and b'close' in res.first.conn_tokens():
        choice('closed after first response')
    fail('%s' % desc(res))


# ======================================================================================
# F. Expect
# ======================================================================================

@case('F01', 'Expect: 100-continue with a body: 100 sent before the body', 'RFC 9110 10.1.1 (MUST send 100 or a final status)',
      expect='HTTP/1.1 100 Continue, then after the body 200 echoing it')
def _f01(ctx):
    c = Conn(ctx.echo)
    try:
        c.send(post(b'/e', b'Content-Length: 5\r\nExpect: 100-continue\r\n'))
        c.wait(lambda: len(c.parsed()[0]) >= 1, 2.0)
        got = c.parsed()[0]
        c.send(b'hello' + CANARY)
        c.wait_finals(2, 3)
        c.settle(0.15)
        res = Result(c)
        ctx.res = res
    finally:
        c.close()
    if not got:
        fail('nothing received within 2 s of the head (no 100 and no final status)')
    if got[0].status != 100:
        if got[0].status >= 200:
            choice('final status %d without waiting for body' % got[0].status)
        fail('first response %d' % got[0].status)
    if got[0].raw != b'HTTP/1.1 100 Continue\r\n\r\n':
        # headers allowed but note
        pass
    m = served(res, body=b'hello')
    if m:
        fail(m)
    return '100 then 200'


@case('F02', 'Expect: 100-continue on a request without content', 'RFC 9110 10.1.1 (MAY omit 100 when no content)',
      expect='200 (a 100 is permitted but pointless)')
def _f02(ctx):
    res = exchange(ctx.echo, get(b'/e', b'Expect: 100-continue\r\n') + CANARY, n=2)
    ctx.res = res
    m = served(res)
    if m:
        fail(m)
    if res.interims:
        choice('sent 100 Continue for a request without content')
    return '200 without 100'


@case('F03', 'Expect: 100-continue with the body already sent', 'RFC 9110 10.1.1 (MAY omit 100 if content received)',
      expect='200 echoing the body; a 100 before it is permitted')
def _f03(ctx):
    res = exchange(ctx.echo, post(b'/e', b'Content-Length: 5\r\nExpect: 100-continue\r\n', b'hello') + CANARY, n=2)
    ctx.res = res
    m = served(res, body=b'hello')
    if m:
        fail(m)
    return 'served%s' % (' (with 100)' if res.interims else '')


@case('F04', 'Expect: 100-continue in an HTTP/1.0 request is ignored', 'RFC 9110 10.1.1 (MUST ignore in HTTP/1.0; no 1xx to 1.0 - 15.2)',
      expect='no 100 Continue; 200 after the body')
def _f04(ctx):
    c = Conn(ctx.echo)
    try:
        c.send(b'POST /e HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n')
        c.pump(1.0)
        c.settle(0.3)
        early = c.raw
        c.send(b'hello')
        c.wait_finals(1, 3)
        c.wait_close(1.5)
        res = Result(c)
        ctx.res = res
    finally:
        c.close()
    if early.startswith(b'HTTP/1.1 100') or res.interims:
        fail('sent 100 Continue to an HTTP/1.0 client: %r' % early[:80])
    if not res.finals or res.first.status != 200 or res.first.body != b'hello':
        fail('%s' % desc(res))
    return 'no 100, 200'


@case('F05', 'Unknown expectation ("Expect: foo")', 'RFC 9110 10.1.1 (MAY respond 417)',
      expect='417 (the task brief\'s expectation); processing normally is allowed')
def _f05(ctx):
    res = exchange(ctx.echo, get(b'/e', b'Expect: foo\r\n') + CANARY, n=2, close_wait=0)
    ctx.res = res
    if res.finals and res.first.status == 417:
        return '417%s' % (' and closed' if res.closed else '; next request %s' % (
            'served' if len(res.finals) > 1 else 'not served'))
    if served(res) is None:
        choice('ignored the unknown expectation and served 200 (417 is only MAY)')
    fail('%s' % desc(res))


@case('F06', 'Expect: "100-Continue" (case-insensitive)', 'RFC 9110 10.1.1 (Expect value is case-insensitive)',
      expect='treated as 100-continue: 100 sent before the body')
def _f06(ctx):
    c = Conn(ctx.echo)
    try:
        c.send(post(b'/e', b'Content-Length: 5\r\nExpect: 100-Continue\r\n'))
        c.wait(lambda: len(c.parsed()[0]) >= 1, 2.0)
        got = c.parsed()[0]
        c.send(b'hello' + CANARY)
        c.wait_finals(2, 3)
        c.settle(0.15)
        res = Result(c)
        ctx.res = res
    finally:
        c.close()
    if not got:
        fail('no 100 (and no final) within 2 s for Expect: 100-Continue')
    if got[0].status == 417:
        fail('417 for a case variant of 100-continue')
    m = served(res, body=b'hello')
    if m:
        fail(m)
    return 'first response %d' % got[0].status


@case('F07', 'Expect: 100-continue, application never reads the body (demo): body sent late is skipped',
      'RFC 9110 10.1.1 (SHOULD say whether it closes or keeps reading); RFC 9112 9.3',
      app='demo', expect='final 200 without 100; then either Connection: close and close, or the late body '
                         'is discarded and the next request served (never parsed as a request)')
def _f07(ctx):
    c = Conn(ctx.demo)
    try:
        c.send(post(b'/e', b'Content-Length: 5\r\nExpect: 100-continue\r\n'))
        c.wait_finals(1, 2.0)
        first = c.finals()
        c.send(b'hello' + CANARY)
        c.wait_finals(2, 3.0)
        c.settle(0.2)
        res = Result(c)
        ctx.res = res
    finally:
        c.close()
    if not first:
        fail('no final response while the client waits for 100 (client must wait its own timeout)')
    r = res.first
    if r.status != 200:
        fail('first status %d' % r.status)
    if res.interims:
        return '100 was sent although the app did not read (then %s)' % desc(res)
    if b'close' in r.conn_tokens():
        if len(res.finals) > 1:
            fail('said Connection: close but processed the next request')
        return 'final 200 with Connection: close'
    if len(res.finals) >= 2 and is_canary(res.finals[1]):
        return 'late body discarded, next request served'
    fail('late body not handled: %s %r' % (desc(res), [x.status for x in res.finals]))


@case('F08', '100 Continue response has no body and no framing headers', 'RFC 9110 15.2 (1xx: no content)',
      expect='"HTTP/1.1 100 Continue" with no Content-Length/Transfer-Encoding')
def _f08(ctx):
    c = Conn(ctx.echo)
    try:
        c.send(post(b'/e', b'Content-Length: 2\r\nExpect: 100-continue\r\n'))
        c.wait(lambda: len(c.parsed()[0]) >= 1, 2.0)
        c.send(b'ok')
        c.wait_finals(1, 3)
        c.settle(0.15)
        res = Result(c)
        ctx.res = res
    finally:
        c.close()
    if not res.interims:
        skip('no 100 sent')
    r = res.interims[0]
    if r.has('content-length') or r.has('transfer-encoding'):
        fail('framing headers in 100: %r' % r.raw)
    if not res.finals or res.first.body != b'ok':
        fail(desc(res))
    return 'clean 100'


# ======================================================================================
# G. HEAD
# ======================================================================================

@case('G01', 'HEAD on demo: no body, Content-Length as GET would send', 'RFC 9110 9.3.2 (no content; SHOULD same fields)',
      app='demo', expect='no body bytes; Content-Length present and = GET length + 1 ("HEAD" vs "GET" in the page)')
def _g01(ctx):
    res = exchange(ctx.demo, b'HEAD / HTTP/1.1\r\nHost: h\r\n\r\n' + get(b'/'), n=2, methods=['HEAD', 'GET'])
    ctx.res = res
    if len(res.finals) < 2:
        fail(desc(res))
    h, g = res.finals
    if not is_canary(g) and demo_env(g).get('PATH_INFO') != '/':
        fail('GET after HEAD not parsed correctly (HEAD body sent?)')
    if g.status != 200 or h.status != 200:
        fail('statuses %d %d' % (h.status, g.status))
    hcl, gcl = h.h1('content-length'), g.h1('content-length')
    if hcl is None:
        fail('HEAD response has no Content-Length (GET has %r)' % gcl)
    if int(hcl) != int(gcl) + 1:
        fail('HEAD Content-Length %s vs GET %s (expected GET+1)' % (hcl, gcl))
    hn = sorted(n for n, _ in h.headers if n not in (b'date',))
    gn = sorted(n for n, _ in g.headers if n not in (b'date',))
    if hn != gn:
        fail('header names differ: HEAD %r GET %r' % (hn, gn))
    return 'ok'


@case('G02', 'HEAD on echo (streamed body): no body bytes on the wire', 'RFC 9110 9.3.2; RFC 9112 6.3 #1',
      expect='no body; next pipelined response parses right after the head')
def _g02(ctx):
    res = exchange(ctx.echo, b'HEAD /h HTTP/1.1\r\nHost: h\r\n\r\n' + CANARY, n=2, methods=['HEAD', 'GET'])
    ctx.res = res
    if len(res.finals) < 2 or not is_canary(res.finals[1]):
        fail('HEAD response carried body bytes or next response missing (%s) raw=%r' % (desc(res), res.raw[:300]))
    h = res.first
    return 'ok (framing headers: TE=%r CL=%r)' % (h.h1('transfer-encoding'), h.h1('content-length'))


@case('G03', 'HEAD request with Content-Length body (body must be consumed)', 'RFC 9112 6.3',
      expect='body skipped, next request served')
def _g03(ctx):
    res = exchange(ctx.echo, b'HEAD /h HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc' + CANARY, n=2,
                   methods=['HEAD', 'GET'])
    ctx.res = res
    if len(res.finals) < 2 or not is_canary(res.finals[1]):
        fail(desc(res))
    return 'ok'


# ======================================================================================
# H. Limits
# ======================================================================================

@case('H01', 'One huge header field (100 KiB)', 'RFC 6585 5 (431); RFC 9110 15.5 (4xx)',
      expect='431 (or 400) and close')
def _h01(ctx):
    req = b'GET / HTTP/1.1\r\nHost: h\r\nX-Big: ' + b'a' * 100000 + b'\r\n\r\n'
    res = exchange(ctx.echo, req, n=1, close_wait=2.0)
    ctx.res = res
    m = rejected(res, (431, 400))
    if m:
        fail(m)
    if res.first.status != 431:
        choice('400 instead of 431')
    return '431 and closed'


@case('H02', 'Head larger than 64 KiB from many moderate fields (90 x 800 B)', 'RFC 6585 5',
      expect='431 and close')
def _h02(ctx):
    req = b'GET / HTTP/1.1\r\nHost: h\r\n' + b''.join(b'X-F%d: %s\r\n' % (i, b'v' * 800) for i in range(90)) + b'\r\n'
    res = exchange(ctx.echo, req, n=1, close_wait=2.0)
    ctx.res = res
    m = rejected(res, (431, 400))
    if m:
        fail(m)
    return '%d and closed' % res.first.status


@case('H03', 'Too many header fields (200 small fields)', 'RFC 6585 5', expect='431 and close')
def _h03(ctx):
    req = b'GET / HTTP/1.1\r\nHost: h\r\n' + b''.join(b'X-F%d: v\r\n' % i for i in range(200)) + b'\r\n'
    res = exchange(ctx.echo, req, n=1, close_wait=2.0)
    ctx.res = res
    m = rejected(res, (431, 400))
    if m:
        fail(m)
    return '%d and closed' % res.first.status


@case('H04', '50 header fields are fine', 'RFC 9110 5 (servers ought to handle common sizes)',
      expect='200')
def _h04(ctx):
    req = b'GET / HTTP/1.1\r\nHost: h\r\n' + b''.join(b'X-F%d: v\r\n' % i for i in range(50)) + b'\r\n'
    res = exchange(ctx.echo, req + CANARY, n=2)
    ctx.res = res
    m = served(res)
    if m:
        fail(m)
    return 'ok'


@case('H05', 'Declared Content-Length larger than the server accepts (100 MB)', 'RFC 9110 15.5.14 (413; MAY close)',
      expect='413 without waiting for the body, then close')
def _h05(ctx):
    req = post(headers=b'Content-Length: 100000000\r\n', body=b'x' * 1000)
    res = exchange(ctx.echo, req, n=1, close_wait=2.0, timeout=3)
    ctx.res = res
    m = rejected(res, (413,))
    if m:
        fail(m)
    return '413 and closed'


@case('H06', 'Chunk size larger than the body limit (0x8000000 = 128 MiB)', 'RFC 9110 15.5.14',
      expect='413 (or 400) and close, or response cut short')
def _h06(ctx):
    req = chunked(b'8000000\r\n' + b'x' * 1000)
    res = exchange(ctx.echo, req, n=1, close_wait=2.0, timeout=3)
    ctx.res = res
    if rejected(res, (413,)) is None:
        return '413 and closed'
    if rejected(res, (400,)) is None:
        choice('400 and closed')
    if res.finals and res.first.status == 200:
        fail('200 started for a body the server cannot accept (%s)' % desc(res))
    fail(desc(res))


@case('H07', 'Long header field name (20 000 octets)', 'RFC 6585 5', expect='431 (or 400) and close')
def _h07(ctx):
    req = b'GET / HTTP/1.1\r\nHost: h\r\nX-' + b'n' * 70000 + b': v\r\n\r\n'
    res = exchange(ctx.echo, req, n=1, close_wait=2.0)
    ctx.res = res
    m = rejected(res, (431, 400))
    if m:
        fail(m)
    return '%d and closed' % res.first.status


@case('H08', 'Request body of 1 MiB with Content-Length is echoed intact', 'RFC 9112 6.2',
      expect='200 with the same 1 MiB back')
def _h08(ctx):
    body = bytes(range(256)) * 4096
    c = Conn(ctx.echo)
    try:
        t = threading.Thread(target=c.send, args=(post(headers=b'Content-Length: %d\r\n' % len(body), body=body),))
        t.start()
        c.wait_finals(1, 10)
        t.join()
        res = Result(c)
        ctx.res = res
    finally:
        c.close()
    if not res.finals or res.first.body != body:
        fail('%s body len %d' % (desc(res), len(res.first.body) if res.finals else -1))
    return 'ok'


# ======================================================================================
# I. Environ mapping
# ======================================================================================

def _xp(expected):
    return lambda res: None if xpath(res.first) == expected else 'X-Path=%r, expected %r' % (xpath(res.first), expected)


accept_case('I01', 'PATH_INFO is percent-decoded ("/a%20b")', 'CGI RFC 3875 4.1.5 / PEP 3333', get(b'/a%20b'),
            extra=_xp(b'/a b'))
accept_case('I02', 'PATH_INFO decodes %2F to "/"', 'PEP 3333 / wsgiref (PATH_INFO decoded)', get(b'/a%2Fb'),
            extra=_xp(b'/a/b'))


@case('I03', 'QUERY_STRING passed raw (not decoded)', 'CGI RFC 3875 4.1.7', expect='X-Query exactly as sent')
def _i03(ctx):
    res = exchange(ctx.echo, get(b'/q?a=%20b&c=d+e&f=%2F') + CANARY, n=2)
    ctx.res = res
    m = served(res)
    if m:
        fail(m)
    if res.first.h1('x-query') != b'a=%20b&c=d+e&f=%2F':
        fail('X-Query=%r' % res.first.h1('x-query'))
    return 'raw'


accept_case('I04', 'Empty query "?": QUERY_STRING empty, PATH_INFO without "?"', 'CGI RFC 3875 4.1.7', get(b'/p?'),
            extra=lambda res: None if (xpath(res.first), res.first.h1('x-query')) == (b'/p', b'')
            else 'X-Path=%r X-Query=%r' % (xpath(res.first), res.first.h1('x-query')))


@case('I05', 'Environ basics via demo (SCRIPT_NAME, protocol, method, url_scheme, HTTP_HOST)', 'PEP 3333; CGI RFC 3875',
      app='demo', expect="SCRIPT_NAME '', SERVER_PROTOCOL 'HTTP/1.1', REQUEST_METHOD 'GET', wsgi.url_scheme 'http', HTTP_HOST 'h'")
def _i05(ctx):
    res = exchange(ctx.demo, get(b'/x/y?z=1') + CANARY, n=2)
    ctx.res = res
    m = served(res)
    if m:
        fail(m)
    env = demo_env(res.first)
    want = {'SCRIPT_NAME': '', 'SERVER_PROTOCOL': 'HTTP/1.1', 'REQUEST_METHOD': 'GET',
            'wsgi.url_scheme': 'http', 'HTTP_HOST': 'h', 'PATH_INFO': '/x/y', 'QUERY_STRING': 'z=1'}
    bad = {k: env.get(k) for k, v in want.items() if env.get(k) != v}
    if bad:
        fail('mismatch %r' % bad)
    return 'ok'


@case('I06', 'Header names with dashes become HTTP_* with underscores', 'CGI RFC 3875 4.1.18', app='demo',
      expect="HTTP_X_CUSTOM_HEADER = 'v1'")
def _i06(ctx):
    res = exchange(ctx.demo, get(b'/', b'X-Custom-Header: v1\r\n') + CANARY, n=2)
    ctx.res = res
    m = served(res)
    if m:
        fail(m)
    v = demo_env(res.first).get('HTTP_X_CUSTOM_HEADER')
    if v != 'v1':
        fail('HTTP_X_CUSTOM_HEADER=%r' % v)
    return 'ok'


@case('I07', 'Header with underscore cannot spoof a dash header (X-Foo + X_Foo)', 'DESIGN.md ("_" never spoofs); RFC 3875 4.1.18',
      app='demo', expect="HTTP_X_FOO = 'dash' only (the underscore field dropped)")
def _i07(ctx):
    res = exchange(ctx.demo, get(b'/', b'X-Foo: dash\r\nX_Foo: under\r\n') + CANARY, n=2)
    ctx.res = res
    m = served(res)
    if m:
        fail(m)
    v = demo_env(res.first).get('HTTP_X_FOO')
    if v != 'dash':
        fail('HTTP_X_FOO=%r' % v)
    return 'ok'


@case('I08', 'Header with underscore only (X_Only) is not in the environ', 'DESIGN.md', app='demo',
      expect='no HTTP_X_ONLY')
def _i08(ctx):
    res = exchange(ctx.demo, get(b'/', b'X_Only: 1\r\n') + CANARY, n=2)
    ctx.res = res
    m = served(res)
    if m:
        fail(m)
    env = demo_env(res.first)
    if 'HTTP_X_ONLY' in env:
        fail('HTTP_X_ONLY=%r present' % env['HTTP_X_ONLY'])
    return 'dropped'


@case('I09', 'Content-Type / Content-Length map to CONTENT_TYPE / CONTENT_LENGTH only', 'CGI RFC 3875 4.1.2, 4.1.3; PEP 3333',
      app='demo', expect='CONTENT_TYPE and CONTENT_LENGTH set; no HTTP_CONTENT_TYPE / HTTP_CONTENT_LENGTH')
def _i09(ctx):
    res = exchange(ctx.demo, post(b'/', b'Content-Type: text/x-y\r\nContent-Length: 3\r\n', b'abc') + CANARY, n=2)
    ctx.res = res
    m = served(res)
    if m:
        fail(m)
    env = demo_env(res.first)
    if env.get('CONTENT_TYPE') != 'text/x-y' or env.get('CONTENT_LENGTH') != '3':
        fail('CONTENT_TYPE=%r CONTENT_LENGTH=%r' % (env.get('CONTENT_TYPE'), env.get('CONTENT_LENGTH')))
    dup = [k for k in ('HTTP_CONTENT_TYPE', 'HTTP_CONTENT_LENGTH') if k in env]
    if dup:
        fail('duplicated as %r' % dup)
    return 'ok'


@case('I10', 'Repeated header fields joined in order with comma', 'RFC 9110 5.3 (combine with "," and OWS)',
      app='demo', expect="HTTP_X_REP = '1, 2, 3' (or '1,2,3')")
def _i10(ctx):
    res = exchange(ctx.demo, get(b'/', b'X-Rep: 1\r\nX-Other: o\r\nx-rep: 2\r\nX-REP:  3 \r\n') + CANARY, n=2)
    ctx.res = res
    m = served(res)
    if m:
        fail(m)
    v = demo_env(res.first).get('HTTP_X_REP')
    if v == '1, 2, 3':
        return "joined with ', '"
    if v == '1,2,3':
        choice("joined with ',' (no space; RFC allows any OWS)")
    fail('HTTP_X_REP=%r' % v)


accept_case('I11', 'Field value OWS trimmed', 'RFC 9112 5.1', get(b'/', b'X-Ows: \t  v w \t \r\n'), app='demo',
            extra=lambda res: None if demo_env(res.first).get('HTTP_X_OWS') == 'v w'
            else 'HTTP_X_OWS=%r' % demo_env(res.first).get('HTTP_X_OWS'))


@case('I12', 'PATH_INFO with encoded non-UTF-8 byte (%FF)', 'PEP 3333 (latin-1 native strings)',
      expect='served; the byte 0xFF reaches the app (echo percent-encodes it in X-Path)')
def _i12(ctx):
    res = exchange(ctx.echo, get(b'/%FF') + CANARY, n=2)
    ctx.res = res
    m = served(res)
    if m:
        if res.finals and res.first.status == 400:
            choice('rejected 400')
        fail(m)
    return 'X-Path=%r' % xpath(res.first)


@case('I13', 'PATH_INFO with encoded NUL (%00)', 'PEP 3333; security', expect='400, or passed through (echo encodes)')
def _i13(ctx):
    res = exchange(ctx.echo, get(b'/a%00b') + CANARY, n=2)
    ctx.res = res
    if res.finals and res.first.status == 400:
        return '400'
    if served(res) is None:
        choice('passed to the app, X-Path=%r' % xpath(res.first))
    fail(desc(res))


@case('I14', 'Dot segments are not resolved by the server (/a/../b)', 'RFC 3986 5.2.4 (info)',
      expect='any; reported')
def _i14(ctx):
    res = exchange(ctx.echo, get(b'/a/../b/./c') + CANARY, n=2)
    ctx.res = res
    m = served(res)
    if m:
        if res.finals and res.first.status == 400:
            choice('rejected 400')
        fail(m)
    choice('X-Path=%r' % xpath(res.first))


@case('I15', 'CONTENT_LENGTH for a chunked request', 'PEP 3333 / CGI 4.1.2 (absent if no length known)',
      expect='CONTENT_LENGTH empty/absent (length unknown) or the decoded length; reported')
def _i15(ctx):
    res = exchange(ctx.echo, chunked(b'3\r\nabc\r\n0\r\n\r\n') + CANARY, n=2)
    ctx.res = res
    m = served(res, body=b'abc')
    if m:
        fail(m)
    v = res.first.h1('x-content-length')
    if v not in (b'', None, b'3'):
        fail('X-Content-Length=%r' % v)
    choice('X-Content-Length=%r' % v)


@case('I16', 'Repeated Cookie fields', 'RFC 6265 5.4 / RFC 9113 8.2.3 (cookies joined by "; ")', app='demo',
      expect="reported: HTTP_COOKIE joined value")
def _i16(ctx):
    res = exchange(ctx.demo, get(b'/', b'Cookie: a=1\r\nCookie: b=2\r\n') + CANARY, n=2)
    ctx.res = res
    m = served(res)
    if m:
        fail(m)
    choice('HTTP_COOKIE=%r' % demo_env(res.first).get('HTTP_COOKIE'))


@case('I17', 'SERVER_PROTOCOL for an HTTP/1.0 request', 'CGI RFC 3875 4.1.16', app='demo',
      expect="SERVER_PROTOCOL 'HTTP/1.0'")
def _i17(ctx):
    res = exchange(ctx.demo, b'GET / HTTP/1.0\r\n\r\n', n=1, close_wait=2.0)
    ctx.res = res
    if not res.finals:
        fail(desc(res))
    v = demo_env(res.first).get('SERVER_PROTOCOL')
    if v != 'HTTP/1.0':
        fail('SERVER_PROTOCOL=%r' % v)
    return 'ok'


@case('I18', 'Header name case-insensitivity (x-lower) maps to HTTP_X_LOWER', 'RFC 9110 5.1', app='demo',
      expect="HTTP_X_LOWER 'v'")
def _i18(ctx):
    res = exchange(ctx.demo, get(b'/', b'x-lower: v\r\n') + CANARY, n=2)
    ctx.res = res
    m = served(res)
    if m:
        fail(m)
    if demo_env(res.first).get('HTTP_X_LOWER') != 'v':
        fail('HTTP_X_LOWER=%r' % demo_env(res.first).get('HTTP_X_LOWER'))
    return 'ok'


# ======================================================================================
# J. Response correctness
# ======================================================================================

@case('J01', 'Date header in 200 responses (IMF-fixdate)', 'RFC 9110 6.6.1 (origin with clock MUST send Date in 2xx)',
      app='demo', expect='Date: IMF-fixdate')
def _j01(ctx):
    res = exchange(ctx.demo, get(b'/') + CANARY, n=2)
    ctx.res = res
    if not res.finals:
        fail(desc(res))
    d = res.first.h('date')
    if len(d) != 1 or not IMF_FIXDATE.match(d[0]):
        fail('Date %r' % d)
    return 'ok'


@case('J02', 'Date header in 4xx responses', 'RFC 9110 6.6.1 (MUST send Date in 4xx)', expect='Date present in 400')
def _j02(ctx):
    res = exchange(ctx.echo, b'GET / HTTP/1.1\r\n\r\n', n=1, close_wait=1.5)
    ctx.res = res
    if not res.finals:
        fail(desc(res))
    d = res.first.h('date')
    if len(d) != 1 or not IMF_FIXDATE.match(d[0]):
        fail('Date in %d: %r' % (res.first.status, d))
    return 'ok'


@case('J03', 'Status line format', 'RFC 9112 4 (HTTP-version SP 3DIGIT SP reason CRLF)', app='demo',
      expect='HTTP/1.1 200 OK')
def _j03(ctx):
    res = exchange(ctx.demo, get(b'/') + CANARY, n=2)
    ctx.res = res
    if not res.finals:
        fail(desc(res))
    if res.first.status_line != b'HTTP/1.1 200 OK':
        fail('%r' % res.first.status_line)
    return 'ok'


@case('J04', 'Chunked response to HTTP/1.1 (echo) is well-formed', 'RFC 9112 7.1, 6.1',
      expect='Transfer-Encoding: chunked, no Content-Length, valid chunks')
def _j04(ctx):
    res = exchange(ctx.echo, post(headers=b'Content-Length: 3\r\n', body=b'abc') + CANARY, n=2)
    ctx.res = res
    m = served(res, body=b'abc')
    if m:
        fail(m)
    r = res.first
    if r.has('content-length') and r.has('transfer-encoding'):
        fail('both Content-Length and Transfer-Encoding')
    return 'framing %s' % r.framing


@case('J05', '204 / 304 responses carry no body', 'RFC 9110 15.3.5, 15.4.5',
      expect='cannot be produced with demo/echo apps')
def _j05(ctx):
    skip('neither the echo nor the demo application can produce 204/304')


@case('J06', 'Error response (400) is well-formed and self-delimited', 'RFC 9112 6.3',
      expect='status line, Content-Length or close-delimited body, Connection: close')
def _j06(ctx):
    res = exchange(ctx.echo, b'GET / HTTP/1.1\r\nHost: a b\r\n\r\n', n=1, close_wait=1.5)
    ctx.res = res
    if not res.finals:
        fail(desc(res))
    r = res.first
    if r.problems:
        fail('; '.join(r.problems))
    if r.framing == 'close' and not res.closed:
        fail('close-delimited error but not closed')
    if res.parse_error:
        fail(res.parse_error)
    return 'ok (%s)' % r.framing


@case('J07', 'Response to an HTTP/1.0 request: version and no chunked', 'RFC 9110 2.5 / RFC 9112 6.1', app='echo',
      expect='no Transfer-Encoding to 1.0; status line HTTP/1.x')
def _j07(ctx):
    res = exchange(ctx.echo, b'GET /x HTTP/1.0\r\n\r\n', n=1, close_wait=2.0)
    ctx.res = res
    if not res.finals:
        fail(desc(res))
    if res.first.has('transfer-encoding'):
        fail('TE to 1.0')
    return '%r %s' % (res.first.status_line, res.first.framing)


@case('J08', 'Error status for a 4xx to an HTTP/1.0 request has no chunked encoding', 'RFC 9112 6.1',
      expect='no TE in the 400 response to a 1.0 request')
def _j08(ctx):
    res = exchange(ctx.echo, b'GET / HTTP/1.0\r\nHost : h\r\n\r\n', n=1, close_wait=1.5)
    ctx.res = res
    if not res.finals:
        fail(desc(res))
    if res.first.has('transfer-encoding'):
        fail('TE in a response to HTTP/1.0')
    if res.first.status != 400:
        fail('status %d for whitespace before colon' % res.first.status)
    return 'ok'


# ======================================================================================
# K. Line endings
# ======================================================================================

@case('K01', 'LF-only line endings in request-line and fields', 'RFC 9112 2.2 (MAY recognise bare LF)',
      expect='either served (LF accepted) or 400 and close')
def _k01(ctx):
    req = b'GET /lf HTTP/1.1\nHost: h\nX-A: 1\n\n'
    res = exchange(ctx.echo, req + CANARY, n=2, close_wait=0)
    ctx.res = res
    if served(res) is None and xpath(res.first) == b'/lf':
        choice('accepted bare LF as line terminator')
    if res.finals and res.first.status == 400:
        if len(res.finals) > 1:
            fail('request after 400 processed')
        choice('rejected bare LF (400)')
    fail(desc(res))


@case('K02', 'Mixed CRLF / LF in header section', 'RFC 9112 2.2', expect='served or 400 consistently')
def _k02(ctx):
    req = b'GET /mix HTTP/1.1\r\nHost: h\nX-A: 1\r\n\n'
    res = exchange(ctx.echo, req + CANARY, n=2, close_wait=0)
    ctx.res = res
    if served(res) is None and xpath(res.first) == b'/mix':
        choice('accepted')
    if res.finals and res.first.status == 400:
        if len(res.finals) > 1:
            fail('request after 400 processed')
        choice('rejected (400)')
    fail(desc(res))


reject_case('K03', 'Header value containing bare LF then a would-be field ("X-A: 1\\n Transfer-Encoding: chunked")',
            'RFC 9112 2.2, 5.2 (LF as terminator then obs-fold -> reject or SP)',
            b'POST / HTTP/1.1\r\nHost: h\r\nX-A: 1\n Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n',
            alt=served_alt('accepted, framed by Content-Length (5 bytes "0\\r\\n\\r\\n")', body=b'0\r\n\r\n'))


# ======================================================================================
# L. Additional framing / persistence / environ / response cases
# ======================================================================================

accept_case('B25', '1000 one-byte chunks', 'RFC 9112 7.1',
            chunked(b''.join(b'1\r\n%c\r\n' % (48 + i % 10) for i in range(1000)) + b'0\r\n\r\n'),
            body=bytes(48 + i % 10 for i in range(1000)))
accept_case('B26', 'Empty chunked body ("0\\r\\n\\r\\n" only)', 'RFC 9112 7.1', chunked(b'0\r\n\r\n'), body=b'')


@case('B27', 'Chunked request delivered in 1-3 byte segments', 'DESIGN determinism; RFC 9112 7.1',
      expect='same result as in one write: 200 echoing the body, next request answered')
def _b27(ctx):
    data = chunked(b'5;e="q"\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n') + CANARY
    parts = []
    i = 0
    k = 0
    while i < len(data):
        n = 1 + (k % 3)
        parts += [data[i:i + n], 0.002]
        i += n
        k += 1
    res = exchange(ctx.echo, parts, n=2, timeout=3)
    ctx.res = res
    m = served(res, body=b'hello world')
    if m:
        fail(m)
    return 'served'


@case('E13', 'Valid request followed by an invalid one in the same write', 'RFC 9112 9.3.2; 5.1',
      expect='200 for the first (complete), then 400 and close')
def _e13(ctx):
    req = get(b'/ok') + b'GET /bad HTTP/1.1\r\nHost : h\r\n\r\n' + CANARY
    res = exchange(ctx.echo, req, n=2, close_wait=1.5)
    ctx.res = res
    st = res.statuses()
    if st[:2] != [200, 400] or xpath(res.first) != b'/ok':
        fail('statuses %r (%s)' % (st, desc(res)))
    if len(st) > 2:
        fail('request after the 400 processed')
    if not res.closed:
        fail('not closed after 400')
    return '200, 400, closed'


@case('E14', 'Unread request body larger than the server will drain (demo, 200 KB)', 'RFC 9112 9.3, 9.6',
      app='demo', expect='either the body is drained and the next request served, or the response says '
                         'Connection: close and the connection closes (never a parse of body bytes)')
def _e14(ctx):
    body = (b'GET /x HTTP/1.1\r\nHost: h\r\n\r\n' * 7000)[:200000]
    c = Conn(ctx.demo)
    try:
        t = threading.Thread(target=c.send, args=(post(b'/big', b'Content-Length: %d\r\n' % len(body), body) + CANARY,))
        t.start()
        c.wait_finals(2, 5)
        c.wait_close(2)
        t.join(5)
        res = Result(c)
        ctx.res = res
    finally:
        c.close()
    if not res.finals or res.first.status != 200:
        fail(desc(res))
    if len(res.finals) >= 2:
        if not is_canary(res.finals[1]) or len(res.finals) > 2:
            fail('body bytes parsed as requests: %s' % [demo_env(r).get('PATH_INFO') for r in res.finals])
        return 'drained, next request served'
    if b'close' not in res.first.conn_tokens():
        fail('closed without Connection: close in the response')
    if not res.closed:
        fail('neither served the next request nor closed')
    choice('first response says Connection: close, then closed')


@case('E15', 'Unread chunked request body (demo) is skipped; next request served', 'RFC 9112 7.1, 9.3', app='demo',
      expect='both answered, or Connection: close and close')
def _e15(ctx):
    req = chunked(b'1e\r\nGET /inner HTTP/1.1\r\nHost: h\r\n\r\n0\r\n\r\n') + CANARY
    res = exchange(ctx.demo, req, n=2, close_wait=0)
    ctx.res = res
    if served(res) is None:
        return 'body skipped, next request served'
    if len(res.finals) == 1 and res.closed and b'close' in res.first.conn_tokens():
        choice('closed after first response')
    fail(desc(res))


@case('E16', 'Upgrade: h2c is ignored by an HTTP/1.1-only server', 'RFC 9110 7.8 (server MAY ignore Upgrade)',
      expect='200 (no 101), connection usable')
def _e16(ctx):
    req = get(b'/up', b'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n')
    res = exchange(ctx.echo, req + CANARY, n=2)
    ctx.res = res
    if res.interims and res.interims[0].status == 101:
        fail('101 Switching Protocols sent')
    m = served(res)
    if m:
        fail(m)
    return 'ignored'


@case('E17', 'Pipelined requests larger than the receive buffer (12 x 4 KB heads in one write)', 'RFC 9112 9.3.2',
      expect='12 responses in order')
def _e17(ctx):
    req = b''.join(get(b'/r%d' % i, b'X-Pad: ' + b'p' * 4000 + b'\r\n') for i in range(12))
    res = exchange(ctx.echo, req, n=12, timeout=5)
    ctx.res = res
    paths = [xpath(r) for r in res.finals]
    if paths != [b'/r%d' % i for i in range(12)]:
        fail('paths %r' % paths)
    return 'in order'


@case('E18', 'Pipelining: 200 requests in one write', 'RFC 9112 9.3.2', expect='200 responses in order')
def _e18(ctx):
    req = b''.join(get(b'/m%d' % i) for i in range(200))
    c = Conn(ctx.echo)
    try:
        t = threading.Thread(target=c.send, args=(req,))
        t.start()
        c.wait_finals(200, 10)
        t.join(5)
        res = Result(c)
        ctx.res = res
    finally:
        c.close()
    paths = [xpath(r) for r in res.finals]
    if paths != [b'/m%d' % i for i in range(200)]:
        fail('%d responses; first mismatch at %r' % (len(paths), next(
            (i for i, p in enumerate(paths) if p != b'/m%d' % i), None)))
    return 'in order'


@case('F09', 'Expect: 100-continue with a Content-Length over the limit', 'RFC 9110 10.1.1 (final status decidable from '
      'the head: MUST send it immediately, not 100); 15.5.14', expect='413 at once, no 100 Continue, close')
def _f09(ctx):
    c = Conn(ctx.echo)
    try:
        c.send(post(b'/e', b'Content-Length: 100000000\r\nExpect: 100-continue\r\n'))
        c.wait_finals(1, 2.0)
        c.wait_close(1.5)
        res = Result(c)
        ctx.res = res
    finally:
        c.close()
    if res.interims:
        fail('100 Continue sent for a request that will be refused')
    m = rejected(res, (413,))
    if m:
        fail(m)
    return '413 without 100, closed'


@case('F10', 'Expect: 100-continue with a chunked body', 'RFC 9110 10.1.1', expect='100, then 200 echoing the body')
def _f10(ctx):
    c = Conn(ctx.echo)
    try:
        c.send(post(b'/e', b'Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n'))
        c.wait(lambda: len(c.parsed()[0]) >= 1, 2.0)
        got = c.parsed()[0]
        c.send(b'5\r\nhello\r\n0\r\n\r\n' + CANARY)
        c.wait_finals(2, 3)
        c.settle(0.15)
        res = Result(c)
        ctx.res = res
    finally:
        c.close()
    if not got:
        fail('nothing within 2 s of the head (no 100, no final)')
    m = served(res, body=b'hello')
    if m:
        fail(m)
    return 'first response %d' % got[0].status


accept_case('D19', 'Host without space after colon ("Host:h")', 'RFC 9112 5.1 (OWS optional)',
            b'GET / HTTP/1.1\r\nHost:h\r\n\r\n')


@case('I19', 'Encoded CRLF in path cannot inject response headers (/a%0D%0AX-Injected:%20yes)',
      'RFC 9110 5.5 (no CR/LF in field values sent)', expect='no X-Injected response header; response well-formed')
def _i19(ctx):
    res = exchange(ctx.echo, get(b'/a%0D%0AX-Injected:%20yes') + CANARY, n=2, close_wait=0)
    ctx.res = res
    if any(r.has('x-injected') for r in res.all) or b'\r\nX-Injected' in res.raw:
        fail('header injected')
    if res.finals and res.first.status == 400:
        return '400'
    m = served(res)
    if m:
        fail(m)
    return 'X-Path=%r' % xpath(res.first)


@case('I20', 'Malformed percent-escapes in path ("/a%zz", "/b%")', 'RFC 3986 2.1; PEP 3333', expect='400, or kept literally')
def _i20(ctx):
    res = exchange(ctx.echo, get(b'/a%zz') + get(b'/b%') + CANARY, n=3, close_wait=0)
    ctx.res = res
    if res.finals and res.first.status == 400:
        choice('rejected 400')
    if [r.status for r in res.finals] == [200, 200, 200]:
        choice('passed literally: %r %r' % (xpath(res.finals[0]), xpath(res.finals[1])))
    fail(desc(res))


accept_case('I21', '"+" in path is not decoded to space', 'RFC 3986 (only %XX escapes)', get(b'/a+b'),
            extra=_xp(b'/a+b'))


@case('I22', 'SERVER_PORT and REMOTE_ADDR', 'CGI RFC 3875 4.1.8, 4.1.15', app='demo',
      expect="SERVER_PORT = the listening port, REMOTE_ADDR '127.0.0.1'")
def _i22(ctx):
    res = exchange(ctx.demo, get(b'/') + CANARY, n=2)
    ctx.res = res
    m = served(res)
    if m:
        fail(m)
    env = demo_env(res.first)
    if env.get('SERVER_PORT') != str(ctx.demo) or env.get('REMOTE_ADDR') != '127.0.0.1':
        fail('SERVER_PORT=%r REMOTE_ADDR=%r' % (env.get('SERVER_PORT'), env.get('REMOTE_ADDR')))
    return 'ok'


@case('J09', 'Date header value is current', 'RFC 9110 6.6.1 (best approximation of the current time)',
      app='demo', expect='within 5 s of the local clock')
def _j09(ctx):
    import email.utils
    res = exchange(ctx.demo, get(b'/') + CANARY, n=2)
    ctx.res = res
    if not res.finals or not res.first.h1('date'):
        fail(desc(res))
    t = email.utils.parsedate_to_datetime(res.first.h1('date').decode()).timestamp()
    if abs(t - time.time()) > 5:
        fail('Date %r is %.0f s off' % (res.first.h1('date'), t - time.time()))
    return 'ok'


@case('J10', 'Error response to HEAD has no body', 'RFC 9110 9.3.2', expect='400 head only, no body bytes')
def _j10(ctx):
    res = exchange(ctx.echo, b'HEAD / HTTP/1.1\r\nHost : h\r\n\r\n', n=1, methods=['HEAD'], close_wait=1.5)
    ctx.res = res
    if not res.finals or res.first.status != 400:
        fail(desc(res))
    if res.leftover:
        fail('body bytes after the HEAD error response: %r' % res.leftover[:80])
    return 'ok'


# ======================================================================================
# S. Slow clients (run concurrently)
# ======================================================================================

@case('S01', 'Request head trickled one byte every 100 ms (~3.5 s, under the 10 s head timeout)',
      'RFC 9112 9.5 (server chooses timeouts); expected behaviour', slow=True, expect='200')
def _s01(ctx):
    req = get(b'/slow', b'X-Slow: yes\r\n')
    parts = []
    for b in req:
        parts += [bytes([b]), 0.1]
    res = exchange(ctx.echo, parts[:-1], n=1, timeout=3)
    ctx.res = res
    if not res.finals or res.first.status != 200 or xpath(res.first) != b'/slow':
        fail(desc(res))
    return 'served'


@case('S02', 'Idle keep-alive connection is eventually closed', 'RFC 9112 9.5, 9.8', slow=True,
      expect='closed a few seconds after the response (configured keep-alive 5 s); no spurious response')
def _s02(ctx):
    c = Conn(ctx.echo)
    try:
        c.send(get(b'/idle'))
        c.wait_finals(1, 3)
        t_resp = time.monotonic()
        c.wait_close(KEEPALIVE_T + 8)
        dt = time.monotonic() - t_resp
        res = Result(c)
        ctx.res = res
    finally:
        c.close()
    if not res.closed:
        fail('idle connection still open after %.1f s' % dt)
    if len(res.all) > 1:
        choice('closed after %.1f s, sending %r' % (dt, res.all[-1].status_line))
    return 'closed after %.1f s of idleness' % dt


@case('S03', 'Connection that sends nothing is eventually closed', 'RFC 9112 9.5', slow=True,
      expect='closed (configured first-byte timeout 10 s); a 408 is allowed')
def _s03(ctx):
    c = Conn(ctx.echo)
    try:
        c.wait_close(FIRST_BYTE_T + 8)
        dt = time.monotonic() - c.t0
        res = Result(c)
        ctx.res = res
    finally:
        c.close()
    if not res.closed:
        fail('still open after %.1f s' % dt)
    if res.raw:
        choice('closed after %.1f s with %r' % (dt, res.raw[:40]))
    return 'closed silently after %.1f s' % dt


@case('S04', 'Slowloris: a head trickled forever (1 byte/s) is cut off', 'RFC 9112 9.5; RFC 9110 15.5.9 (408)',
      slow=True, expect='closed around the 10 s head timeout (408 permitted)')
def _s04(ctx):
    c = Conn(ctx.echo)
    try:
        c.send(b'GET / HTTP/1.1\r\nHost: h\r\nX-Slow: ')
        end = time.monotonic() + HEAD_T + 8
        while time.monotonic() < end and not c.closed:
            c.send(b'a')
            c.pump(1.0)
        dt = time.monotonic() - c.t0
        res = Result(c)
        ctx.res = res
    finally:
        c.close()
    if not res.closed:
        fail('still open after %.1f s of trickling' % dt)
    st = res.first.status if res.finals else None
    if st not in (None, 408):
        fail('closed with %r' % st)
    return 'cut after %.1f s%s' % (dt, ' with 408' if st == 408 else ' silently')


@case('S05', 'Request body trickled (10 bytes, one per 300 ms)', 'expected behaviour (body timeout 30 s)',
      slow=True, expect='200 echoing the body')
def _s05(ctx):
    parts = [post(b'/sb', b'Content-Length: 10\r\n')]
    for b in b'0123456789':
        parts += [0.3, bytes([b])]
    res = exchange(ctx.echo, parts, n=1, timeout=3)
    ctx.res = res
    if not res.finals or res.first.body != b'0123456789':
        fail(desc(res))
    return 'served'


@case('S06', 'Partial request head, then silence', 'RFC 9110 15.5.9 (408 SHOULD carry close); RFC 9112 9.5', slow=True,
      expect='closed after the head timeout; if 408 sent, it carries Connection: close')
def _s06(ctx):
    c = Conn(ctx.echo)
    try:
        c.send(b'GET / HTTP/1.1\r\nHost: h\r\n')
        c.wait_close(HEAD_T + 8)
        dt = time.monotonic() - c.t0
        res = Result(c)
        ctx.res = res
    finally:
        c.close()
    if not res.closed:
        fail('still open after %.1f s' % dt)
    if res.finals:
        r = res.first
        if r.status != 408:
            fail('closed with %d' % r.status)
        if b'close' not in r.conn_tokens():
            fail('408 without Connection: close (SHOULD)')
        return '408 after %.1f s' % dt
    return 'closed silently after %.1f s' % dt


@case('S07', 'Slow head within timeout across packets, second request on the same connection', 'RFC 9112 9.3',
      slow=True, expect='both served')
def _s07(ctx):
    c = Conn(ctx.echo)
    try:
        for piece in (b'GET /s1 HTTP/1.1\r\n', b'Host: h\r\n', b'\r\n'):
            c.send(piece)
            time.sleep(1.0)
        c.wait_finals(1, 3)
        c.send(get(b'/s2'))
        c.wait_finals(2, 3)
        res = Result(c)
        ctx.res = res
    finally:
        c.close()
    if [xpath(r) for r in res.finals] != [b'/s1', b'/s2']:
        fail(desc(res))
    return 'served'


# ======================================================================================
# Global invariants (checked on every response seen)
# ======================================================================================

INVARIANTS = {}   # name -> (ref, list of (case, engine, detail))


def invariant(name, ref, case_id, engine, detail):
    INVARIANTS.setdefault(name, (ref, []))[1].append((case_id, engine, detail))


def check_invariants(cid, engine, res, http10=False):
    if res is None:
        return
    for r in res.all:
        if r.problems:
            invariant('response-syntax', 'RFC 9112 4, 5', cid, engine, '; '.join(r.problems))
        if r.has('content-length') and r.has('transfer-encoding'):
            invariant('CL+TE in response', 'RFC 9112 6.2 (MUST NOT send CL with TE)', cid, engine, r.raw[:200])
        if 200 <= r.status < 500 and r.status >= 200:
            d = r.h('date')
            if len(d) != 1 or not IMF_FIXDATE.match(d[0]):
                invariant('Date in 2xx-4xx', 'RFC 9110 6.6.1 (MUST)', cid, engine,
                          '%d Date=%r' % (r.status, d))
        if r.status < 200 and (r.has('content-length') or r.has('transfer-encoding')):
            invariant('1xx framing', 'RFC 9110 15.2', cid, engine, r.raw[:200])
        if r.status >= 400 and r.status != 408 and res.closed and r is res.finals[-1] \
                and b'close' not in r.conn_tokens():
            invariant('close announced', 'RFC 9112 9.6 (SHOULD send close)', cid, engine, r.raw[:200])
    if res.parse_error and not (res.finals and res.finals[-1].framing == 'close'):
        invariant('response-parse', 'RFC 9112 6', cid, engine, '%s: %r' % (res.parse_error, res.leftover[:120]))
    if http10:
        for r in res.finals:
            if r.has('transfer-encoding'):
                invariant('TE to HTTP/1.0', 'RFC 9112 6.1 (MUST NOT)', cid, engine, r.raw[:200])


# ======================================================================================
# Runner
# ======================================================================================

class Ctx:
    def __init__(self, engine, ports):
        self.engine = engine
        self.echo = ports[engine]['echo']
        self.demo = ports[engine]['demo']
        self.res = None

    def port(self, app):
        return self.echo if app == 'echo' else self.demo


def run_case(cs, engine, ports):
    ctx = Ctx(engine, ports)
    t0 = time.monotonic()
    try:
        msg = cs.fn(ctx)
        kind = PASS
    except Verdict as v:
        kind, msg = v.kind, v.msg
    except Exception as e:  # a probe bug, not a server verdict
        kind, msg = 'ERROR', '%s: %s' % (type(e).__name__, e)
    dt = time.monotonic() - t0
    http10 = b'HTTP/1.0\r\n' in (ctx.res.sent if ctx.res else b'')
    check_invariants(cs.cid, engine, ctx.res, http10=http10)
    return dict(cid=cs.cid, title=cs.title, ref=cs.ref, expect=cs.expect, engine=engine, kind=kind,
                msg=msg or '', sent=ctx.res.sent if ctx.res else b'', recv=ctx.res.raw if ctx.res else b'',
                closed=ctx.res.closed if ctx.res else None, secs=dt)


def show(b, n):
    s = repr(b[:n])
    if len(b) > n:
        s += ' ...(+%d bytes)' % (len(b) - n)
    return s


def free_port():
    """A port of 127.0.0.1 that nothing listens on now (the server binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_servers(binary):
    procs = []
    ports = {}
    for engine, app in (('poll', 'echo'), ('threads', 'echo'), ('poll', 'demo'), ('threads', 'demo')):
        port = free_port()
        args = [binary, '--app', app, '--bind', '%s:%d' % (HOST, port), '--quiet']
        if engine == 'threads':
            args += ['--engine', 'threads']
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(p)
        ports.setdefault(engine, {})[app] = port
    deadline = time.monotonic() + 10
    for engine in ports:
        for app, port in ports[engine].items():
            while True:
                try:
                    socket.create_connection((HOST, port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise SystemExit('server on %d did not start' % port)
                    time.sleep(0.05)
    return procs, ports


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--bin', help='the wsgiref command to start (else --ports)')
    ap.add_argument('--ports', help='ECHO_POLL,ECHO_THREADS,DEMO_POLL,DEMO_THREADS (servers already running)')
    ap.add_argument('--only', help='comma-separated case ids')
    ap.add_argument('--engine', default='both', choices=('poll', 'threads', 'both'))
    ap.add_argument('--no-slow', action='store_true')
    ap.add_argument('--log', help='file for the full results (FAIL/CHOICE details)')
    ap.add_argument('--bytes', type=int, default=400, help='bytes of each exchange shown for FAIL/CHOICE')
    a = ap.parse_args()

    procs = []
    if a.ports:
        ep, et, dp, dt = (int(x) for x in a.ports.split(','))
        ports = {'poll': {'echo': ep, 'demo': dp}, 'threads': {'echo': et, 'demo': dt}}
    else:
        if not a.bin:
            ap.error('--bin or --ports is needed')
        procs, ports = start_servers(a.bin)
    engines = ('poll', 'threads') if a.engine == 'both' else (a.engine,)
    only = set(a.only.split(',')) if a.only else None
    cases = [c for c in CASES if (only is None or c.cid in only) and not (a.no_slow and c.slow)]
    results = []
    t0 = time.monotonic()
    try:
        slow = [(c, e) for c in cases if c.slow for e in engines if e in c.engines]
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(slow))) as ex:
            futs = [ex.submit(run_case, c, e, ports) for c, e in slow]
            for c in cases:
                if c.slow:
                    continue
                for e in engines:
                    if e in c.engines:
                        results.append(run_case(c, e, ports))
            for f in futs:
                results.append(f.result())
        # Re-run every FAIL once to rule out timing artefacts.
        by_id = {c.cid: c for c in cases}
        fails = [r for r in results if r['kind'] in (FAIL, 'ERROR')]
        if fails:
            with concurrent.futures.ThreadPoolExecutor(max_workers=len(fails)) as ex:
                again = list(ex.map(lambda r: run_case(by_id[r['cid']], r['engine'], ports), fails))
            for r, r2 in zip(fails, again):
                r['rerun'] = r2['kind']
                if r2['kind'] != r['kind']:
                    r['msg'] += '  [RE-RUN: %s - %s]' % (r2['kind'], r2['msg'])
                else:
                    r['msg'] += '  [re-run: confirmed]'
    finally:
        for p in procs:
            os.kill(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)

    order = {c.cid: i for i, c in enumerate(CASES)}
    results.sort(key=lambda r: (order[r['cid']], r['engine']))
    counts = {}
    lines = []
    for r in results:
        counts[r['kind']] = counts.get(r['kind'], 0) + 1
        lines.append('%-6s %-4s %-7s %s -- %s' % (r['kind'], r['cid'], r['engine'], r['title'], r['msg']))
    detail = []
    fail_detail = []
    for r in results:
        if r['kind'] in (FAIL, 'ERROR'):
            fail_detail.append(r)
        if r['kind'] in (FAIL, CHOICE, 'ERROR'):
            detail.append('=' * 100)
            detail.append('%s %s [%s] %s' % (r['kind'], r['cid'], r['engine'], r['title']))
            detail.append('  ref:      %s' % r['ref'])
            detail.append('  expected: %s' % r['expect'])
            detail.append('  result:   %s' % r['msg'])
            detail.append('  sent:     %s' % show(r['sent'], a.bytes))
            detail.append('  received: %s' % show(r['recv'], a.bytes))
            detail.append('  closed:   %s' % r['closed'])
    inv = []
    for name, (ref, hits) in INVARIANTS.items():
        inv.append('INVARIANT FAIL %s (%s): %d hits' % (name, ref, len(hits)))
        for cid, eng, d in hits[:8]:
            inv.append('    %s [%s] %s' % (cid, eng, d if isinstance(d, str) else show(d, 200)))
    ncases = len({r['cid'] for r in results})
    summary = ('%d case definitions, %d runs (%s) in %.0f s: %s' %
               (ncases, len(results), '+'.join(engines), time.monotonic() - t0,
                ', '.join('%s=%d' % kv for kv in sorted(counts.items()))))
    out = '\n'.join(lines + [''] + detail + [''] + inv + ['', summary]) + '\n'
    if a.log:
        with open(a.log, 'w') as f:
            f.write(out)
    print('\n'.join(lines))
    print()
    print('\n'.join(inv) if inv else 'invariants: no violations')
    print(summary)
    if a.log:
        print('details of FAIL/CHOICE in', a.log)
    else:
        for r in fail_detail:
            print('%s %s [%s] %s\n  ref: %s\n  expected: %s\n  result: %s\n  sent: %s\n  received: %s'
                  % (r['kind'], r['cid'], r['engine'], r['title'], r['ref'], r['expect'],
                     r['msg'], show(r['sent'], a.bytes), show(r['recv'], a.bytes)))
    return 1 if counts.get(FAIL) or counts.get('ERROR') or INVARIANTS else 0


if __name__ == '__main__':
    sys.exit(main())
