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
import contextlib
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


def must(msg):
    """FAIL with the message of a check (rejected, served, an extra check) that returned one."""
    if msg:
        fail(msg)


def said(msg, res):
    """A message given as text, or as a function of the result (which may itself raise a verdict)."""
    return msg(res) if callable(msg) else msg


def reject_case(cid, title, ref, req, statuses=(400,), app='echo', canary=True,
                alt=None, expect=None, close_wait=1.5, passed=None):
    """A request that must be rejected with `statuses` and the connection closed.
    alt: optional (label, checker(res)->None|msg) accepted as an RFC-permitted CHOICE.
    passed: the PASS message (text or function of the result), 'rejected N and closed' if None."""
    exp = expect or ('%s and close; the pipelined next request is not processed'
                     % '/'.join(map(str, statuses)))

    @case(cid, title, ref, app=app, expect=exp)
    def fn(ctx):
        res = ctx.exchange(app, req + (CANARY if canary else b''), n=1, close_wait=close_wait)
        m = rejected(res, statuses)
        if m is None:
            return said(passed, res) if passed else 'rejected %d and closed' % res.first.status
        if alt:
            label, chk = alt
            m2 = chk(res)
            if m2 is None:
                choice(label)
        fail(m)
    return fn


def accept_case(cid, title, ref, req, body=None, app='echo', extra=None, alt=None,
                expect=None, canary=True, methods=None, is_choice=False, passed='served'):
    """A request that must be served (200) with body `body`; the canary after it answered.
    extra(res) may add checks (return msg on failure).  alt: (label, checker) permitted
    alternative (e.g. rejection) reported as CHOICE.  passed: the PASS message (text, or a
    function of the result that may itself raise a CHOICE or FAIL)."""
    exp = expect or '200%s; framing stays in sync (next pipelined request answered)' % (
        ' with body %r' % body if body is not None else '')

    @case(cid, title, ref, app=app, expect=exp)
    def fn(ctx):
        res = ctx.exchange(app, req + (CANARY if canary else b''),
                           n=2 if canary else 1, methods=methods,
                           close_wait=0 if canary else 0.5)
        m = served(res, body=body, canary=canary)
        if m is None and extra:
            m = extra(res)
        if m is None:
            if is_choice:
                choice('served (request accepted)')
            return said(passed, res)
        if alt:
            label, chk = alt
            if chk(res) is None:
                choice(label)
        fail(m)
    return fn


def rule_case(cid, title, ref, req, rules, app='echo', slow=False, expect='', **kw):
    """Send `req` (exchange() keywords in kw) and judge the result by `rules`: rows of
    (test(res), verdict kind, message); the first row whose test holds gives the verdict
    (message as text or a function of the result); FAIL with desc(res) if none holds."""
    @case(cid, title, ref, app=app, slow=slow, expect=expect)
    def fn(ctx):
        return judge(ctx.exchange(app, req, **kw), rules)
    return fn


def judge(res, rules):
    for test, kind, msg in rules:
        if test(res):
            if kind == PASS:
                return said(msg, res)
            raise Verdict(kind, said(msg, res))
    fail(desc(res))


# Common rule tests and rows
def ANY(res):
    return True


def no_final(res):
    return not res.finals


def status_is(*codes):
    return lambda res: bool(res.finals) and res.first.status in codes


def failing(check):
    """A rule row: FAIL with the message of `check` (served, rejected, ...) when it returns one."""
    return (check, FAIL, check)


def not_closed(res):
    return not res.closed


def several(res):
    return len(res.finals) > 1


def says_close(res):
    return b'close' in res.first.conn_tokens()


NO_RESPONSE = (no_final, FAIL, 'no response')
NO_RESPONSE_DESC = (no_final, FAIL, desc)
NO_RESPONSE_WHY = (no_final, FAIL, lambda res: 'no response (%s)' % desc(res))
REJECTED_400 = (lambda res: rejected(res) is None, PASS, '400 and closed')
UNEXPECTED = (ANY, FAIL, lambda res: 'unexpected: %s' % desc(res))
UNEXPECTED_STATUS = (ANY, FAIL, lambda res: 'unexpected %d' % res.first.status)
# accept_case alt: any 400 answer is the server's (permitted) choice
ANSWERED_400 = ('rejected 400', lambda res: None if status_is(400)(res) else 'not 400')


def ok200(res):
    return bool(res.first) and res.first.status == 200


def served_ok(res):
    return served(res) is None


def canary_missing(res):
    return len(res.finals) < 2 or not is_canary(res.finals[1])


def has_te(res):
    return res.first.has('transfer-encoding')


def paths(res):
    return [xpath(r) for r in res.finals]


def closed_with_status(res):
    return '%d and closed' % res.first.status


def bad_date(res):
    d = res.first.h('date')
    return len(d) != 1 or not IMF_FIXDATE.match(d[0])


def date_skew(res):
    import email.utils
    return email.utils.parsedate_to_datetime(res.first.h1('date').decode()).timestamp() - time.time()


def env_of(res, key):
    return demo_env(res.first).get(key)


def env_is(key, want):
    """An extra check: the demo environ has key = want (else 'KEY=seen')."""
    return lambda res: None if env_of(res, key) == want else '%s=%r' % (key, env_of(res, key))


def env_has(want):
    """An extra check: the demo environ holds every key = value of `want`."""
    def chk(res):
        env = demo_env(res.first)
        bad = {k: env.get(k) for k, v in want.items() if env.get(k) != v}
        return 'mismatch %r' % bad if bad else None
    return chk


def sp_or_reject(key, label, leak):
    """Rules for a forbidden byte in a field value: 400 and close, or replaced by SP (CHOICE)."""
    return [REJECTED_400,
            (lambda res: ok200(res) and env_of(res, key) == 'a b', CHOICE, label),
            (ok200, FAIL, lambda res: '%s: %s=%r' % (leak, key, env_of(res, key))),
            UNEXPECTED]


def expect_100(ctx, head, rest, n=2):
    """Send a head with Expect: 100-continue, wait up to 2 s for a first response (the 100 or a
    final status), then send `rest` and wait for n final responses.  Returns (the responses
    seen before `rest` was sent, the Result)."""
    with ctx.conn() as c:
        c.send(head)
        c.wait(lambda: len(c.parsed()[0]) >= 1, 2.0)
        got = c.parsed()[0]
        c.send(rest)
        c.wait_finals(n, 3)
        c.settle(0.15)
    return got, ctx.res


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
    rule_case(cid, 'Content-Length and Transfer-Encoding both present (%s first)'
              % ('CL' if hdrs.startswith(b'Content') else 'TE'),
              'RFC 9112 6.1 (MAY reject or use TE alone; MUST close after responding), 6.3 #3',
              post(headers=hdrs, body=b'0\r\n\r\n') + CANARY, [
                  NO_RESPONSE_WHY,
                  (several, FAIL,
                   lambda res: 'request after CL+TE message processed on the same connection (%s)' % desc(res)),
                  (not_closed, FAIL, lambda res: 'connection not closed after CL+TE request (%d)' % res.first.status),
                  (status_is(400), PASS, 'rejected 400 and closed'),
                  (lambda res: res.first.status == 200 and res.first.body == b'', CHOICE,
                   'processed by Transfer-Encoding (empty body), then closed'),
                  (ANY, FAIL, lambda res: 'unexpected response %d body %r' % (res.first.status, res.first.body[:40]))],
              expect='400, or process as chunked (empty body); in both cases close; '
                     'the request after the chunked body is never processed', n=1, close_wait=1.5)

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


# A24-A25 Transfer-Encoding in an HTTP/1.0 request: faulty framing, the connection closed
for cid, title, ref, req, expect, after in (
        ('A24', 'Transfer-Encoding: chunked in an HTTP/1.0 request (with Content-Length)',
         'RFC 9112 6.1 (HTTP/1.0 with TE: MUST treat framing as faulty, even with CL, and close)',
         b'POST / HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n',
         'framing treated as faulty (400 preferred); connection closed; bytes after not processed',
         'bytes after the message were processed as a request'),
        ('A25', 'Transfer-Encoding: chunked in an HTTP/1.0 request (no Content-Length)',
         'RFC 9112 6.1 (MUST treat as faulty framing and close)',
         b'POST / HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
         '400 preferred; connection closed',
         'bytes after the message processed')):
    rule_case(cid, title, ref, req + CANARY, [
        NO_RESPONSE_WHY,
        (several, FAIL, lambda res, after=after: '%s (%s)' % (after, desc(res))),
        (not_closed, FAIL, 'connection not closed'),
        (status_is(400), PASS, '400 and closed'),
        (ANY, CHOICE, lambda res: 'answered %d (body %r) then closed' % (res.first.status, res.first.body[:30]))],
        expect=expect, n=1, close_wait=1.5)


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
rule_case('A31', 'Whitespace-preceded line between request-line and first field',
          'RFC 9112 2.2 (MUST reject, or consume each whitespace-preceded line without processing it)',
          b'GET / HTTP/1.1\r\n X-Inject: 1\r\nHost: h\r\n\r\n' + CANARY, [
              REJECTED_400,
              (lambda res: ok200(res) and 'HTTP_X_INJECT' in demo_env(res.first), FAIL,
               lambda res: 'whitespace-preceded line processed as a field: HTTP_X_INJECT=%r'
               % env_of(res, 'HTTP_X_INJECT')),
              (ok200, CHOICE, 'line ignored, request served'),
              UNEXPECTED],
          app='demo', expect='400 and close, or the line ignored (no HTTP_X_INJECT in the environ)', n=2, close_wait=0)
reject_case('A32', 'Bare CR used as a field line terminator ("X-A: 1\\rHost: h")',
            'RFC 9112 2.2 (bare CR: MUST treat as invalid or replace by SP; then Host is missing -> 400)',
            b'GET / HTTP/1.1\r\nX-A: 1\rHost: h\r\n\r\n')
rule_case('A33', 'Bare CR inside a field value', 'RFC 9112 2.2; RFC 9110 5.5 (MUST reject or replace with SP)',
          b'GET / HTTP/1.1\r\nHost: h\r\nX-CR: a\rb\r\n\r\n' + CANARY,
          sp_or_reject('HTTP_X_CR', 'CR replaced by SP', 'bare CR passed through to the application'),
          app='demo', expect='400 and close, or value with SP in place of CR', n=2)
reject_case('A34', 'Bare CR terminating the request-line', 'RFC 9112 2.2',
            b'GET / HTTP/1.1\rHost: h\r\n\r\n')
rule_case('A35', 'NUL byte in a field value', 'RFC 9110 5.5 (MUST reject or replace NUL with SP)',
          b'GET / HTTP/1.1\r\nHost: h\r\nX-Nul: a\x00b\r\n\r\n' + CANARY,
          sp_or_reject('HTTP_X_NUL', 'NUL replaced by SP', 'NUL passed to the application'),
          app='demo', expect='400 and close, or value with SP', n=2)
reject_case('A36', 'NUL byte in a field name', 'RFC 9110 5.1 (field-name = token)',
            b'GET / HTTP/1.1\r\nHost: h\r\nX-N\x00ul: a\r\n\r\n')
reject_case('A37', 'NUL byte in the request-target', 'RFC 9112 3.2 / RFC 3986 (invalid request-line)',
            b'GET /a\x00b HTTP/1.1\r\nHost: h\r\n\r\n')
reject_case('A38', 'Field name with invalid character "X(Foo)"', 'RFC 9110 5.1 (token); RFC 9112 3 (invalid -> 400)',
            b'GET / HTTP/1.1\r\nHost: h\r\nX(Foo): 1\r\n\r\n')
reject_case('A39', 'Empty field name (": foo")', 'RFC 9110 5.1', b'GET / HTTP/1.1\r\nHost: h\r\n: foo\r\n\r\n')
reject_case('A40', 'Field line without a colon', 'RFC 9112 5', b'GET / HTTP/1.1\r\nHost: h\r\nNoColonHere\r\n\r\n')
rule_case('A41', 'Other control character (0x01) in a field value', 'RFC 9110 5.5 (field-vchar excludes CTL)',
          b'GET / HTTP/1.1\r\nHost: h\r\nX-Ctl: a\x01b\r\n\r\n' + CANARY, [
              REJECTED_400,
              (ok200, CHOICE, lambda res: 'accepted; HTTP_X_CTL=%r' % env_of(res, 'HTTP_X_CTL')),
              UNEXPECTED],
          app='demo', expect='400 preferred; RFC only mandates action for CR/LF/NUL, so passing it is a choice', n=2)
accept_case('A42', 'obs-text (0xE9) in a field value is accepted', 'RFC 9110 5.5 (obs-text allowed in field-value)',
            get(headers=b'X-Latin: caf\xe9\r\n'), app='demo', extra=env_is('HTTP_X_LATIN', 'caf\xe9'))
accept_case('A43', 'Field name with underscore "Content_Length" is not a Content-Length',
            'RFC 9110 5.1 (distinct field name); RFC 9112 6.3 #7 (no CL/TE: body length 0)',
            b'POST / HTTP/1.1\r\nHost: h\r\nContent_Length: 5\r\n\r\n', body=b'',
            extra=lambda res: None if res.first.h1('x-content-length') in (b'', None)
            else 'CONTENT_LENGTH=%r derived from Content_Length' % res.first.h1('x-content-length'),
            passed='not used for framing',
            expect='200 with empty body; the following bytes are the next request; no CONTENT_LENGTH')
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
    res = ctx.exchange('echo', req, n=2, close_wait=0)
    if served(res, body=b'hello') is None:
        choice('served')
    if res.finals and res.closed and len(res.finals) == 1 and res.first.status in (400, 413, 431):
        choice('rejected %d and closed' % res.first.status)
    if res.finals and not res.closed and res.first.status >= 400:
        res2 = ctx.exchange('echo', req, n=1, close_wait=1.5)
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
    with ctx.conn() as c:
        c.send(chunked(b'5\r\nhello\r\n0\r\n'))
        c.wait_finals(1, 1.0)
        early = len(c.finals())
        c.send(b'\r\n' + CANARY)
        c.wait_finals(2, 3.0)
        c.settle(0.15)
    must(served(ctx.res, body=b'hello'))
    return 'served; response %s before the final CRLF' % ('sent' if early else 'held')


@case('B19', 'Missing final CRLF: the connection is closed after "0\\r\\n"',
      'RFC 9112 7.1 / 8 (incomplete message)',
      expect='no 200 with a complete body claimed for an incomplete message is harmful? -> '
             'either 400 or the response as read; must not hang')
def _b19(ctx):
    with ctx.conn() as c:
        c.send(chunked(b'5\r\nhello\r\n0\r\n'))
        c.s.shutdown(socket.SHUT_WR)
        c.wait_close(3.0)
    res = ctx.res
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


def _target_authority(res):
    env = demo_env(res.first)
    if env.get('PATH_INFO') != '/p' or env.get('QUERY_STRING') != 'q=1':
        return 'PATH_INFO=%r QUERY_STRING=%r' % (env.get('PATH_INFO'), env.get('QUERY_STRING'))
    if env.get('HTTP_HOST') != 'example.com':
        return ('application sees HTTP_HOST=%r (the ignored Host field), SERVER_NAME=%r; target authority '
                'example.com is not used' % (env.get('HTTP_HOST'), env.get('SERVER_NAME')))
    return None


accept_case('C01', 'absolute-form request-target; Host field differs',
            'RFC 9112 3.2.2 (server MUST accept absolute-form; MUST ignore Host and use the target\'s authority)',
            b'GET http://example.com/p?q=1 HTTP/1.1\r\nHost: other.invalid\r\n\r\n', app='demo',
            extra=_target_authority, passed='HTTP_HOST taken from the target',
            expect='200; PATH_INFO /p, QUERY_STRING q=1; host information from the target (example.com)')
reject_case('C02', 'absolute-form without Host field in HTTP/1.1', 'RFC 9112 3.2 (MUST 400 when Host missing)',
            b'GET http://example.com/p HTTP/1.1\r\n\r\n')
accept_case('C03', 'absolute-form with empty path "http://example.com"', 'RFC 9112 3.2.2, RFC 9110 4.2.3',
            b'GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n', alt=rej_alt(label='rejected 400'),
            passed=lambda res: choice('X-Path=%r' % xpath(res.first)), expect='served; path "/" (or empty)')
rule_case('C04', 'asterisk-form with OPTIONS', 'RFC 9112 3.2.4 (OPTIONS * is valid)',
          b'OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n' + CANARY, [
              NO_RESPONSE,
              (status_is(400), FAIL, 'OPTIONS * rejected as 400'),
              (canary_missing, FAIL, 'next request not served after OPTIONS *'),
              (ANY, PASS, lambda res: '%d, X-Path=%r' % (res.first.status, xpath(res.first)))],
          expect='not rejected as malformed (2xx, or a non-400 answer)', n=2)
reject_case('C05', 'asterisk-form with GET', 'RFC 9112 3.2.4 (asterisk-form only for OPTIONS); 3 (invalid -> 400)',
            b'GET * HTTP/1.1\r\nHost: h\r\n\r\n')
rule_case('C06', 'authority-form with CONNECT', 'RFC 9112 3.2.3; RFC 9110 9.3.6 (2xx to CONNECT = tunnel)',
          b'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', [
              NO_RESPONSE_WHY,
              (lambda res: 200 <= res.first.status < 300, FAIL,
               lambda res: 'CONNECT answered %d (implies a tunnel); X-Path=%r' % (res.first.status, xpath(res.first))),
              (ANY, PASS, lambda res: '%d%s' % (res.first.status, ' and closed' if res.closed else ''))],
          expect='a non-2xx answer (400/405/501) since no tunnel is provided', n=1, close_wait=1.0)
reject_case('C07', 'authority-form with GET', 'RFC 9112 3.2.3 (authority-form only for CONNECT)',
            b'GET example.com:80 HTTP/1.1\r\nHost: example.com\r\n\r\n')
reject_case('C08', 'Invalid character in method ("G(T")', 'RFC 9110 9.1 (method = token); RFC 9112 3',
            b'G(T / HTTP/1.1\r\nHost: h\r\n\r\n')
rule_case('C09', 'Lower-case method "get" (methods are case-sensitive)', 'RFC 9110 9.1 (case-sensitive; unknown -> SHOULD 501)',
          b'get / HTTP/1.1\r\nHost: h\r\n\r\n' + CANARY, [
              NO_RESPONSE,
              (status_is(501), PASS, '501'),
              (lambda res: ok200(res) and res.first.h1('x-method') != b'get', FAIL,
               lambda res: 'method changed to %r' % res.first.h1('x-method')),
              (ok200, CHOICE, 'passed to the application as "get" (200)'),
              UNEXPECTED_STATUS],
          expect='not treated as GET: 501, or passed through as "get"', n=2)
rule_case('C10', 'Unknown method "FOO"', 'RFC 9110 9.1 (unrecognized method SHOULD 501)',
          b'FOO / HTTP/1.1\r\nHost: h\r\n\r\n' + CANARY, [
              NO_RESPONSE,
              (status_is(501), PASS, '501'),
              (lambda res: ok200(res) and res.first.h1('x-method') == b'FOO', CHOICE, 'passed to the application (200)'),
              UNEXPECTED_STATUS],
          expect='501, or passed to the application (WSGI lets the app decide)', n=2)


def _lenient_or_400(cid, title, req, ref):
    @case(cid, title, ref, expect='400 (SHOULD) or whitespace-tolerant parse (MAY); never a mis-parse')
    def fn(ctx):
        res = ctx.exchange('echo', req + CANARY, n=2, close_wait=0)
        if res.finals and res.first.status == 400:
            if len(res.finals) > 1:
                fail('request after 400 processed')
            if not res.closed and not ctx.exchange('echo', req + CANARY, n=1, close_wait=1.5).closed:
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
reject_case('C15', 'Request-target longer than the server parses (20 000 octets)', 'RFC 9112 3 (MUST 414)',
            b'GET /' + b'a' * 20000 + b' HTTP/1.1\r\nHost: h\r\n\r\n', statuses=(414,),
            passed='414 and closed', expect='414 and close')
accept_case('C16', '8000-octet request-target is supported', 'RFC 9112 3 (SHOULD support >= 8000 octets)',
            get(b'/' + b'b' * 7999), extra=lambda res: None if xpath(res.first) == b'/' + b'b' * 7999
            else 'X-Path length %d' % len(xpath(res.first) or b''))
rule_case('C17', 'HTTP/1.0 request', 'RFC 9112 9.3 (1.0 without keep-alive: close after response); 6.1 (no TE to 1.0)',
          b'POST /ten HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc', [
              (lambda res: not res.finals or res.first.status != 200, FAIL, lambda res: 'no 200 (%s)' % desc(res)),
              (has_te, FAIL, 'Transfer-Encoding sent to an HTTP/1.0 client'),
              (not_closed, FAIL, 'connection not closed after HTTP/1.0 response'),
              (lambda res: res.first.body != b'abc', FAIL, lambda res: 'body %r' % res.first.body),
              (lambda res: res.first.status_line[:8] not in (b'HTTP/1.1', b'HTTP/1.0'), FAIL,
               lambda res: 'status line %r' % res.first.status_line),
              (ANY, PASS, lambda res: 'served, %s, closed' % res.first.framing)],
          expect='200, body close-delimited or with Content-Length (no chunked), connection closed', n=1, close_wait=2.0)
reject_case('C18', 'HTTP/2.0 in an HTTP/1.1 request-line', 'RFC 9110 15.6.6 (505); RFC 9112 2.3',
            b'GET / HTTP/2.0\r\nHost: h\r\n\r\n', statuses=(505, 400), passed=closed_with_status,
            expect='505 (or 400) and close')
reject_case('C19', 'Version "HTTP/1.10" (two-digit minor: invalid grammar)', 'RFC 9112 2.3 (HTTP-version = DIGIT "." DIGIT)',
            b'GET / HTTP/1.10\r\nHost: h\r\n\r\n', statuses=(400, 505))


@case('C20', 'Higher minor version "HTTP/1.2"', 'RFC 9110 2.5 (SHOULD process as the highest 1.x minor)',
      expect='200, processed as HTTP/1.1')
def _c20(ctx):
    res = ctx.exchange('echo', b'GET / HTTP/1.2\r\nHost: h\r\n\r\n' + CANARY, n=2)
    m = served(res)
    if m and res.finals and res.first.status in (400, 505):
        fail('HTTP/1.2 rejected with %d (SHOULD be processed as 1.1)' % res.first.status)
    must(m)
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
rule_case('C27', 'Fragment in request-target ("/a#frag")', 'RFC 9112 3.2.1 (origin-form has no fragment)',
          get(b'/a#frag') + CANARY, [
              (status_is(400), PASS, '400'),
              (served_ok, CHOICE, lambda res: 'served, X-Path=%r' % xpath(res.first))],
          expect='400, or served with the fragment not part of PATH_INFO', n=2, close_wait=0)
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
accept_case('D17', 'absolute-form target overrides Host (echo: path taken from target)',
            'RFC 9112 3.2.2', b'GET http://a.example/from-target HTTP/1.1\r\nHost: b.example\r\n\r\n',
            extra=lambda res: None if xpath(res.first) == b'/from-target' else 'X-Path=%r' % xpath(res.first),
            expect='200, X-Path from the target')
reject_case('D18', 'absolute-form with invalid Host field value', 'RFC 9112 3.2 (invalid Host MUST 400, even with absolute-form)',
            b'GET http://a.example/ HTTP/1.1\r\nHost: a b\r\n\r\n', alt=served_alt('accepted, Host ignored for absolute-form'))

# ======================================================================================
# E. Persistence and pipelining
# ======================================================================================


@case('E01', 'HTTP/1.1 connection is persistent by default', 'RFC 9112 9.3',
      expect='two sequential requests answered on one connection; no Connection: close')
def _e01(ctx):
    with ctx.conn() as c:
        c.send(get(b'/one'))
        c.wait_finals(1, 3)
        time.sleep(0.2)
        c.send(get(b'/two'))
        c.wait_finals(2, 3)
        c.settle(0.15)
    res = ctx.res
    if paths(res) != [b'/one', b'/two']:
        fail('responses %s' % desc(res))
    if says_close(res):
        fail('Connection: close on a persistent 1.1 response')
    return 'persistent'


rule_case('E02', 'Connection: close is honoured', 'RFC 9112 9.6 (MUST close after the response; SHOULD send close)',
          get(b'/x', b'Connection: close\r\n') + CANARY, [
              NO_RESPONSE,
              (several, FAIL, 'request after Connection: close processed (MUST NOT process further requests)'),
              (not_closed, FAIL, 'not closed'),
              (lambda res: not says_close(res), FAIL, 'no Connection: close in the final response (SHOULD)'),
              (ANY, PASS, 'closed with Connection: close')],
          expect='response with Connection: close, then the server closes; the next request is not processed',
          n=1, close_wait=2.0)
rule_case('E03', 'Connection option "CLOSE" (case-insensitive) among other tokens', 'RFC 9110 7.6.1 (options case-insensitive)',
          get(b'/x', b'Connection: foo, CLOSE\r\n') + CANARY, [
              NO_RESPONSE,
              (lambda res: several(res) or not res.closed, FAIL, lambda res: 'close option not recognised (%s)' % desc(res)),
              (ANY, PASS, 'closed')],
          expect='closed after the response', n=1, close_wait=2.0)
rule_case('E04', 'HTTP/1.0 with Connection: keep-alive (demo app, has Content-Length)', 'RFC 9112 9.3 (MAY honour keep-alive)',
          b'GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n' + b'GET /CANARY HTTP/1.0\r\n\r\n', [
              (lambda res: not res.finals or res.first.status != 200, FAIL, 'no 200'),
              (lambda res: res.first.framing == 'chunked', FAIL, 'chunked response to HTTP/1.0'),
              (lambda res: len(res.finals) >= 2 and b'keep-alive' not in res.first.conn_tokens(), FAIL,
               'kept the 1.0 connection alive without Connection: keep-alive in the response'),
              (lambda res: len(res.finals) >= 2, CHOICE, 'kept alive (Connection: keep-alive), second request answered'),
              (lambda res: res.closed and len(res.finals) == 1, CHOICE, 'closed after the response (keep-alive not honoured)'),
              UNEXPECTED],
          app='demo', expect='either persists (and says Connection: keep-alive) or closes', n=2, close_wait=1.5)
rule_case('E05', 'HTTP/1.0 with Connection: keep-alive, body of unknown length (echo)',
          'RFC 9112 6.3 #8 / 9.3 (a close-delimited body forces close)',
          b'POST /k HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi', [
              NO_RESPONSE_WHY,
              (has_te, FAIL, 'Transfer-Encoding in a response to HTTP/1.0'),
              (lambda res: res.first.framing == 'close' and not res.closed, FAIL, 'close-delimited body but connection kept open'),
              (lambda res: res.first.body != b'hi', FAIL, lambda res: 'body %r' % res.first.body),
              (ANY, PASS, lambda res: '%s, closed=%s' % (res.first.framing, res.closed))],
          expect='no chunked; the response is delimited (close or Content-Length); closed if close-delimited',
          n=1, close_wait=2.0)
rule_case('E06', 'HTTP/1.0 without keep-alive closes', 'RFC 9112 9.3',
          b'GET / HTTP/1.0\r\n\r\n' + b'GET /CANARY HTTP/1.0\r\n\r\n', [
              NO_RESPONSE,
              (lambda res: several(res) or not res.closed, FAIL, lambda res: '1.0 connection not closed (%s)' % desc(res)),
              (ANY, PASS, 'closed')],
          app='demo', expect='closed after the response', n=1, close_wait=2.0)
rule_case('E07', 'Pipelining: three requests (GET, POST with body, GET) in one write',
          'RFC 9112 9.3.2 (MUST respond in the same order)',
          get(b'/p1') + post(b'/p2', b'Content-Length: 4\r\n', b'body') + get(b'/p3', b'X-Pad: ' + b'x' * 100 + b'\r\n'), [
              (lambda res: paths(res) != [b'/p1', b'/p2', b'/p3'], FAIL,
               lambda res: 'order/paths %r (%s)' % (paths(res), desc(res))),
              (lambda res: res.finals[1].body != b'body', FAIL, lambda res: 'POST body %r' % res.finals[1].body),
              (ANY, PASS, 'in order')],
          expect='three responses in order, bodies correct', n=3)
rule_case('E08', 'Pipelining: 20 requests in one write, last with Connection: close', 'RFC 9112 9.3.2, 9.6',
          b''.join(get(b'/q%d' % i) for i in range(19)) + get(b'/q19', b'Connection: close\r\n'), [
              (lambda res: paths(res) != [b'/q%d' % i for i in range(20)], FAIL, lambda res: 'paths %r' % paths(res)),
              (not_closed, FAIL, 'not closed after Connection: close'),
              (ANY, PASS, 'in order, closed')],
          expect='20 responses in order, then close', n=20, close_wait=2.0, timeout=5)
rule_case('E09', 'Pipelined requests mixing HEAD and GET', 'RFC 9112 9.3.2; RFC 9110 9.3.2',
          b'HEAD /h HTTP/1.1\r\nHost: h\r\n\r\n' + get(b'/g') + b'HEAD /h2 HTTP/1.1\r\nHost: h\r\n\r\n' + CANARY, [
              (lambda res: paths(res) != [b'/h', b'/g', b'/h2', b'/CANARY'] or res.leftover, FAIL,
               lambda res: 'paths %r leftover %r' % (paths(res), res.leftover[:60])),
              (ANY, PASS, 'in order')],
          expect='responses in order; HEAD response without body so the GET response parses',
          n=4, methods=['HEAD', 'GET', 'HEAD', 'GET'])
rule_case('E10', 'After Connection: close in a pipeline, later requests are not processed',
          'RFC 9112 9.6 (server MUST NOT process further requests)',
          get(b'/first', b'Connection: close\r\n') + post(b'/second', b'Content-Length: 1\r\n', b'x'), [
              (lambda res: len(res.finals) != 1 or xpath(res.first) != b'/first', FAIL, desc),
              (not_closed, FAIL, 'not closed'),
              (ANY, PASS, 'ok')],
          expect='only first response; closed', n=1, close_wait=2.0)
rule_case('E11', 'Responses that close the connection carry Connection: close', 'RFC 9112 9.6 (SHOULD send close)',
          post(headers=b'Content-Length: x\r\n', body=b'hello'), [
              NO_RESPONSE,
              (lambda res: res.closed and not says_close(res), FAIL, 'server closed without sending Connection: close'),
              (ANY, PASS, 'Connection: close present')],
          expect='400 for a framing error carries Connection: close', n=1, close_wait=1.5)
# E12, E15: an unread request body is skipped (or the connection closed with Connection: close)
UNREAD_BODY = [(served_ok, PASS, 'body skipped, next request served'),
               (lambda res: len(res.finals) == 1 and res.closed and says_close(res), CHOICE,
                'closed after first response')]
rule_case('E12', 'Request body not read by the application (demo app) is skipped; next request works',
          'RFC 9112 6.3, 9.3 (framing must be honoured to keep the connection)',
          post(b'/a', b'Content-Length: 10\r\n', b'GET /x HTT') + CANARY, UNREAD_BODY,
          app='demo', expect='both answered, or the first answered with Connection: close and closed',
          n=2, close_wait=0)


# ======================================================================================
# F. Expect
# ======================================================================================

@case('F01', 'Expect: 100-continue with a body: 100 sent before the body', 'RFC 9110 10.1.1 (MUST send 100 or a final status)',
      expect='HTTP/1.1 100 Continue, then after the body 200 echoing it')
def _f01(ctx):
    got, res = expect_100(ctx, post(b'/e', b'Content-Length: 5\r\nExpect: 100-continue\r\n'), b'hello' + CANARY)
    if not got:
        fail('nothing received within 2 s of the head (no 100 and no final status)')
    if got[0].status != 100:
        if got[0].status >= 200:
            choice('final status %d without waiting for body' % got[0].status)
        fail('first response %d' % got[0].status)
    must(served(res, body=b'hello'))
    return '100 then 200'


accept_case('F02', 'Expect: 100-continue on a request without content', 'RFC 9110 10.1.1 (MAY omit 100 when no content)',
            get(b'/e', b'Expect: 100-continue\r\n'),
            passed=lambda res: choice('sent 100 Continue for a request without content') if res.interims
            else '200 without 100',
            expect='200 (a 100 is permitted but pointless)')
accept_case('F03', 'Expect: 100-continue with the body already sent', 'RFC 9110 10.1.1 (MAY omit 100 if content received)',
            post(b'/e', b'Content-Length: 5\r\nExpect: 100-continue\r\n', b'hello'), body=b'hello',
            passed=lambda res: 'served%s' % (' (with 100)' if res.interims else ''),
            expect='200 echoing the body; a 100 before it is permitted')


@case('F04', 'Expect: 100-continue in an HTTP/1.0 request is ignored', 'RFC 9110 10.1.1 (MUST ignore in HTTP/1.0; no 1xx to 1.0 - 15.2)',
      expect='no 100 Continue; 200 after the body')
def _f04(ctx):
    with ctx.conn() as c:
        c.send(b'POST /e HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n')
        c.pump(1.0)
        c.settle(0.3)
        early = c.raw
        c.send(b'hello')
        c.wait_finals(1, 3)
        c.wait_close(1.5)
    res = ctx.res
    if early.startswith(b'HTTP/1.1 100') or res.interims:
        fail('sent 100 Continue to an HTTP/1.0 client: %r' % early[:80])
    if not res.finals or res.first.status != 200 or res.first.body != b'hello':
        fail('%s' % desc(res))
    return 'no 100, 200'


rule_case('F05', 'Unknown expectation ("Expect: foo")', 'RFC 9110 10.1.1 (MAY respond 417)',
          get(b'/e', b'Expect: foo\r\n') + CANARY, [
              (status_is(417), PASS, lambda res: '417%s' % (' and closed' if res.closed else '; next request %s' % (
                  'served' if len(res.finals) > 1 else 'not served'))),
              (served_ok, CHOICE, 'ignored the unknown expectation and served 200 (417 is only MAY)')],
          expect='417 (the task brief\'s expectation); processing normally is allowed', n=2, close_wait=0)


@case('F06', 'Expect: "100-Continue" (case-insensitive)', 'RFC 9110 10.1.1 (Expect value is case-insensitive)',
      expect='treated as 100-continue: 100 sent before the body')
def _f06(ctx):
    got, res = expect_100(ctx, post(b'/e', b'Content-Length: 5\r\nExpect: 100-Continue\r\n'), b'hello' + CANARY)
    if not got:
        fail('no 100 (and no final) within 2 s for Expect: 100-Continue')
    if got[0].status == 417:
        fail('417 for a case variant of 100-continue')
    must(served(res, body=b'hello'))
    return 'first response %d' % got[0].status


@case('F07', 'Expect: 100-continue, application never reads the body (demo): body sent late is skipped',
      'RFC 9110 10.1.1 (SHOULD say whether it closes or keeps reading); RFC 9112 9.3',
      app='demo', expect='final 200 without 100; then either Connection: close and close, or the late body '
                         'is discarded and the next request served (never parsed as a request)')
def _f07(ctx):
    with ctx.conn('demo') as c:
        c.send(post(b'/e', b'Content-Length: 5\r\nExpect: 100-continue\r\n'))
        c.wait_finals(1, 2.0)
        first = c.finals()
        c.send(b'hello' + CANARY)
        c.wait_finals(2, 3.0)
        c.settle(0.2)
    res = ctx.res
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
    _, res = expect_100(ctx, post(b'/e', b'Content-Length: 2\r\nExpect: 100-continue\r\n'), b'ok', n=1)
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
    res = ctx.exchange('demo', b'HEAD / HTTP/1.1\r\nHost: h\r\n\r\n' + get(b'/'), n=2, methods=['HEAD', 'GET'])
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


rule_case('G02', 'HEAD on echo (streamed body): no body bytes on the wire', 'RFC 9110 9.3.2; RFC 9112 6.3 #1',
          b'HEAD /h HTTP/1.1\r\nHost: h\r\n\r\n' + CANARY, [
              (canary_missing, FAIL, lambda res: 'HEAD response carried body bytes or next response missing (%s) raw=%r'
               % (desc(res), res.raw[:300])),
              (ANY, PASS, lambda res: 'ok (framing headers: TE=%r CL=%r)'
               % (res.first.h1('transfer-encoding'), res.first.h1('content-length')))],
          expect='no body; next pipelined response parses right after the head', n=2, methods=['HEAD', 'GET'])
rule_case('G03', 'HEAD request with Content-Length body (body must be consumed)', 'RFC 9112 6.3',
          b'HEAD /h HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc' + CANARY,
          [(canary_missing, FAIL, desc), (ANY, PASS, 'ok')],
          expect='body skipped, next request served', n=2, methods=['HEAD', 'GET'])


# ======================================================================================
# H. Limits
# ======================================================================================

# Limits: a head the server will not take is refused with 431 (or 400) and the connection closed
TOO_LARGE = dict(statuses=(431, 400), canary=False, close_wait=2.0, passed=closed_with_status)

reject_case('H01', 'One huge header field (100 KiB)', 'RFC 6585 5 (431); RFC 9110 15.5 (4xx)',
            b'GET / HTTP/1.1\r\nHost: h\r\nX-Big: ' + b'a' * 100000 + b'\r\n\r\n',
            **dict(TOO_LARGE, passed=lambda res: choice('400 instead of 431') if res.first.status != 431
                   else '431 and closed'),
            expect='431 (or 400) and close')
reject_case('H02', 'Head larger than 64 KiB from many moderate fields (90 x 800 B)', 'RFC 6585 5',
            b'GET / HTTP/1.1\r\nHost: h\r\n' + b''.join(b'X-F%d: %s\r\n' % (i, b'v' * 800) for i in range(90)) + b'\r\n',
            **TOO_LARGE, expect='431 and close')
reject_case('H03', 'Too many header fields (200 small fields)', 'RFC 6585 5',
            b'GET / HTTP/1.1\r\nHost: h\r\n' + b''.join(b'X-F%d: v\r\n' % i for i in range(200)) + b'\r\n',
            **TOO_LARGE, expect='431 and close')
accept_case('H04', '50 header fields are fine', 'RFC 9110 5 (servers ought to handle common sizes)',
            b'GET / HTTP/1.1\r\nHost: h\r\n' + b''.join(b'X-F%d: v\r\n' % i for i in range(50)) + b'\r\n',
            passed='ok', expect='200')
reject_case('H05', 'Declared Content-Length larger than the server accepts (100 MB)', 'RFC 9110 15.5.14 (413; MAY close)',
            post(headers=b'Content-Length: 100000000\r\n', body=b'x' * 1000),
            **dict(TOO_LARGE, statuses=(413,), passed='413 and closed'),
            expect='413 without waiting for the body, then close')
rule_case('H06', 'Chunk size larger than the body limit (0x8000000 = 128 MiB)', 'RFC 9110 15.5.14',
          chunked(b'8000000\r\n' + b'x' * 1000), [
              (lambda res: rejected(res, (413,)) is None, PASS, '413 and closed'),
              (lambda res: rejected(res, (400,)) is None, CHOICE, '400 and closed'),
              (status_is(200), FAIL, lambda res: '200 started for a body the server cannot accept (%s)' % desc(res))],
          expect='413 (or 400) and close, or response cut short', n=1, close_wait=2.0, timeout=3)
reject_case('H07', 'Long header field name (20 000 octets)', 'RFC 6585 5',
            b'GET / HTTP/1.1\r\nHost: h\r\nX-' + b'n' * 70000 + b': v\r\n\r\n',
            **TOO_LARGE, expect='431 (or 400) and close')


@case('H08', 'Request body of 1 MiB with Content-Length is echoed intact', 'RFC 9112 6.2',
      expect='200 with the same 1 MiB back')
def _h08(ctx):
    body = bytes(range(256)) * 4096
    res = ctx.flood('echo', post(headers=b'Content-Length: %d\r\n' % len(body), body=body), 1, 10, join=None)
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
accept_case('I03', 'QUERY_STRING passed raw (not decoded)', 'CGI RFC 3875 4.1.7', get(b'/q?a=%20b&c=d+e&f=%2F'),
            extra=lambda res: None if res.first.h1('x-query') == b'a=%20b&c=d+e&f=%2F'
            else 'X-Query=%r' % res.first.h1('x-query'),
            passed='raw', expect='X-Query exactly as sent')
accept_case('I04', 'Empty query "?": QUERY_STRING empty, PATH_INFO without "?"', 'CGI RFC 3875 4.1.7', get(b'/p?'),
            extra=lambda res: None if (xpath(res.first), res.first.h1('x-query')) == (b'/p', b'')
            else 'X-Path=%r X-Query=%r' % (xpath(res.first), res.first.h1('x-query')))
accept_case('I05', 'Environ basics via demo (SCRIPT_NAME, protocol, method, url_scheme, HTTP_HOST)', 'PEP 3333; CGI RFC 3875',
            get(b'/x/y?z=1'), app='demo', passed='ok',
            extra=env_has({'SCRIPT_NAME': '', 'SERVER_PROTOCOL': 'HTTP/1.1', 'REQUEST_METHOD': 'GET',
                           'wsgi.url_scheme': 'http', 'HTTP_HOST': 'h', 'PATH_INFO': '/x/y', 'QUERY_STRING': 'z=1'}),
            expect="SCRIPT_NAME '', SERVER_PROTOCOL 'HTTP/1.1', REQUEST_METHOD 'GET', wsgi.url_scheme 'http', HTTP_HOST 'h'")
accept_case('I06', 'Header names with dashes become HTTP_* with underscores', 'CGI RFC 3875 4.1.18',
            get(b'/', b'X-Custom-Header: v1\r\n'), app='demo', extra=env_is('HTTP_X_CUSTOM_HEADER', 'v1'),
            passed='ok', expect="HTTP_X_CUSTOM_HEADER = 'v1'")
accept_case('I07', 'Header with underscore cannot spoof a dash header (X-Foo + X_Foo)', 'DESIGN.md ("_" never spoofs); RFC 3875 4.1.18',
            get(b'/', b'X-Foo: dash\r\nX_Foo: under\r\n'), app='demo', extra=env_is('HTTP_X_FOO', 'dash'),
            passed='ok', expect="HTTP_X_FOO = 'dash' only (the underscore field dropped)")
accept_case('I08', 'Header with underscore only (X_Only) is not in the environ', 'DESIGN.md',
            get(b'/', b'X_Only: 1\r\n'), app='demo',
            extra=lambda res: 'HTTP_X_ONLY=%r present' % env_of(res, 'HTTP_X_ONLY')
            if 'HTTP_X_ONLY' in demo_env(res.first) else None,
            passed='dropped', expect='no HTTP_X_ONLY')


def _content_vars(res):
    env = demo_env(res.first)
    if env.get('CONTENT_TYPE') != 'text/x-y' or env.get('CONTENT_LENGTH') != '3':
        return 'CONTENT_TYPE=%r CONTENT_LENGTH=%r' % (env.get('CONTENT_TYPE'), env.get('CONTENT_LENGTH'))
    dup = [k for k in ('HTTP_CONTENT_TYPE', 'HTTP_CONTENT_LENGTH') if k in env]
    return 'duplicated as %r' % dup if dup else None


accept_case('I09', 'Content-Type / Content-Length map to CONTENT_TYPE / CONTENT_LENGTH only', 'CGI RFC 3875 4.1.2, 4.1.3; PEP 3333',
            post(b'/', b'Content-Type: text/x-y\r\nContent-Length: 3\r\n', b'abc'), app='demo',
            extra=_content_vars, passed='ok',
            expect='CONTENT_TYPE and CONTENT_LENGTH set; no HTTP_CONTENT_TYPE / HTTP_CONTENT_LENGTH')
accept_case('I10', 'Repeated header fields joined in order with comma', 'RFC 9110 5.3 (combine with "," and OWS)',
            get(b'/', b'X-Rep: 1\r\nX-Other: o\r\nx-rep: 2\r\nX-REP:  3 \r\n'), app='demo',
            passed=lambda res: judge(res, [
                (lambda r: env_of(r, 'HTTP_X_REP') == '1, 2, 3', PASS, "joined with ', '"),
                (lambda r: env_of(r, 'HTTP_X_REP') == '1,2,3', CHOICE, "joined with ',' (no space; RFC allows any OWS)"),
                (ANY, FAIL, lambda r: 'HTTP_X_REP=%r' % env_of(r, 'HTTP_X_REP'))]),
            expect="HTTP_X_REP = '1, 2, 3' (or '1,2,3')")
accept_case('I11', 'Field value OWS trimmed', 'RFC 9112 5.1', get(b'/', b'X-Ows: \t  v w \t \r\n'), app='demo',
            extra=env_is('HTTP_X_OWS', 'v w'))
accept_case('I12', 'PATH_INFO with encoded non-UTF-8 byte (%FF)', 'PEP 3333 (latin-1 native strings)', get(b'/%FF'),
            alt=ANSWERED_400, passed=lambda res: 'X-Path=%r' % xpath(res.first),
            expect='served; the byte 0xFF reaches the app (echo percent-encodes it in X-Path)')
rule_case('I13', 'PATH_INFO with encoded NUL (%00)', 'PEP 3333; security', get(b'/a%00b') + CANARY, [
              (status_is(400), PASS, '400'),
              (served_ok, CHOICE, lambda res: 'passed to the app, X-Path=%r' % xpath(res.first))],
          expect='400, or passed through (echo encodes)', n=2)
accept_case('I14', 'Dot segments are not resolved by the server (/a/../b)', 'RFC 3986 5.2.4 (info)', get(b'/a/../b/./c'),
            alt=ANSWERED_400, passed=lambda res: choice('X-Path=%r' % xpath(res.first)), expect='any; reported')
accept_case('I15', 'CONTENT_LENGTH for a chunked request', 'PEP 3333 / CGI 4.1.2 (absent if no length known)',
            chunked(b'3\r\nabc\r\n0\r\n\r\n'), body=b'abc',
            extra=lambda res: None if res.first.h1('x-content-length') in (b'', None, b'3')
            else 'X-Content-Length=%r' % res.first.h1('x-content-length'),
            passed=lambda res: choice('X-Content-Length=%r' % res.first.h1('x-content-length')),
            expect='CONTENT_LENGTH empty/absent (length unknown) or the decoded length; reported')
accept_case('I16', 'Repeated Cookie fields', 'RFC 6265 5.4 / RFC 9113 8.2.3 (cookies joined by "; ")',
            get(b'/', b'Cookie: a=1\r\nCookie: b=2\r\n'), app='demo',
            passed=lambda res: choice('HTTP_COOKIE=%r' % env_of(res, 'HTTP_COOKIE')),
            expect="reported: HTTP_COOKIE joined value")
rule_case('I17', 'SERVER_PROTOCOL for an HTTP/1.0 request', 'CGI RFC 3875 4.1.16', b'GET / HTTP/1.0\r\n\r\n',
          [NO_RESPONSE_DESC, failing(env_is('SERVER_PROTOCOL', 'HTTP/1.0')), (ANY, PASS, 'ok')],
          app='demo', expect="SERVER_PROTOCOL 'HTTP/1.0'", n=1, close_wait=2.0)
accept_case('I18', 'Header name case-insensitivity (x-lower) maps to HTTP_X_LOWER', 'RFC 9110 5.1',
            get(b'/', b'x-lower: v\r\n'), app='demo', extra=env_is('HTTP_X_LOWER', 'v'), passed='ok',
            expect="HTTP_X_LOWER 'v'")


# ======================================================================================
# J. Response correctness
# ======================================================================================
rule_case('J01', 'Date header in 200 responses (IMF-fixdate)', 'RFC 9110 6.6.1 (origin with clock MUST send Date in 2xx)',
          get(b'/') + CANARY, [NO_RESPONSE_DESC, (bad_date, FAIL, lambda res: 'Date %r' % res.first.h('date')),
                               (ANY, PASS, 'ok')],
          app='demo', expect='Date: IMF-fixdate', n=2)
rule_case('J02', 'Date header in 4xx responses', 'RFC 9110 6.6.1 (MUST send Date in 4xx)', b'GET / HTTP/1.1\r\n\r\n',
          [NO_RESPONSE_DESC, (bad_date, FAIL, lambda res: 'Date in %d: %r' % (res.first.status, res.first.h('date'))),
           (ANY, PASS, 'ok')],
          expect='Date present in 400', n=1, close_wait=1.5)
rule_case('J03', 'Status line format', 'RFC 9112 4 (HTTP-version SP 3DIGIT SP reason CRLF)', get(b'/') + CANARY,
          [NO_RESPONSE_DESC, (lambda res: res.first.status_line != b'HTTP/1.1 200 OK', FAIL,
                              lambda res: '%r' % res.first.status_line), (ANY, PASS, 'ok')],
          app='demo', expect='HTTP/1.1 200 OK', n=2)
accept_case('J04', 'Chunked response to HTTP/1.1 (echo) is well-formed', 'RFC 9112 7.1, 6.1',
            post(headers=b'Content-Length: 3\r\n', body=b'abc'), body=b'abc',
            extra=lambda res: 'both Content-Length and Transfer-Encoding'
            if res.first.has('content-length') and has_te(res) else None,
            passed=lambda res: 'framing %s' % res.first.framing,
            expect='Transfer-Encoding: chunked, no Content-Length, valid chunks')


@case('J05', '204 / 304 responses carry no body', 'RFC 9110 15.3.5, 15.4.5',
      expect='cannot be produced with demo/echo apps')
def _j05(ctx):
    skip('neither the echo nor the demo application can produce 204/304')


rule_case('J06', 'Error response (400) is well-formed and self-delimited', 'RFC 9112 6.3',
          b'GET / HTTP/1.1\r\nHost: a b\r\n\r\n', [
              NO_RESPONSE_DESC,
              (lambda res: res.first.problems, FAIL, lambda res: '; '.join(res.first.problems)),
              (lambda res: res.first.framing == 'close' and not res.closed, FAIL, 'close-delimited error but not closed'),
              (lambda res: res.parse_error, FAIL, lambda res: res.parse_error),
              (ANY, PASS, lambda res: 'ok (%s)' % res.first.framing)],
          expect='status line, Content-Length or close-delimited body, Connection: close', n=1, close_wait=1.5)
rule_case('J07', 'Response to an HTTP/1.0 request: version and no chunked', 'RFC 9110 2.5 / RFC 9112 6.1',
          b'GET /x HTTP/1.0\r\n\r\n', [
              NO_RESPONSE_DESC,
              (has_te, FAIL, 'TE to 1.0'),
              (ANY, PASS, lambda res: '%r %s' % (res.first.status_line, res.first.framing))],
          expect='no Transfer-Encoding to 1.0; status line HTTP/1.x', n=1, close_wait=2.0)
rule_case('J08', 'Error status for a 4xx to an HTTP/1.0 request has no chunked encoding', 'RFC 9112 6.1',
          b'GET / HTTP/1.0\r\nHost : h\r\n\r\n', [
              NO_RESPONSE_DESC,
              (has_te, FAIL, 'TE in a response to HTTP/1.0'),
              (lambda res: res.first.status != 400, FAIL, lambda res: 'status %d for whitespace before colon' % res.first.status),
              (ANY, PASS, 'ok')],
          expect='no TE in the 400 response to a 1.0 request', n=1, close_wait=1.5)


# ======================================================================================
# K. Line endings
# ======================================================================================

# K01-K02 bare LF line endings: accepted (served, path intact) or 400
for cid, title, ref, req, path, accepted, refused, expect in (
        ('K01', 'LF-only line endings in request-line and fields', 'RFC 9112 2.2 (MAY recognise bare LF)',
         b'GET /lf HTTP/1.1\nHost: h\nX-A: 1\n\n', b'/lf', 'accepted bare LF as line terminator',
         'rejected bare LF (400)', 'either served (LF accepted) or 400 and close'),
        ('K02', 'Mixed CRLF / LF in header section', 'RFC 9112 2.2',
         b'GET /mix HTTP/1.1\r\nHost: h\nX-A: 1\r\n\n', b'/mix', 'accepted', 'rejected (400)',
         'served or 400 consistently')):
    rule_case(cid, title, ref, req + CANARY, [
        (lambda res, path=path: served_ok(res) and xpath(res.first) == path, CHOICE, accepted),
        (lambda res: status_is(400)(res) and several(res), FAIL, 'request after 400 processed'),
        (status_is(400), CHOICE, refused)],
        expect=expect, n=2, close_wait=0)


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
    must(served(ctx.exchange('echo', parts, n=2, timeout=3), body=b'hello world'))
    return 'served'


rule_case('E13', 'Valid request followed by an invalid one in the same write', 'RFC 9112 9.3.2; 5.1',
          get(b'/ok') + b'GET /bad HTTP/1.1\r\nHost : h\r\n\r\n' + CANARY, [
              (lambda res: res.statuses()[:2] != [200, 400] or xpath(res.first) != b'/ok', FAIL,
               lambda res: 'statuses %r (%s)' % (res.statuses(), desc(res))),
              (lambda res: len(res.statuses()) > 2, FAIL, 'request after the 400 processed'),
              (not_closed, FAIL, 'not closed after 400'),
              (ANY, PASS, '200, 400, closed')],
          expect='200 for the first (complete), then 400 and close', n=2, close_wait=1.5)


@case('E14', 'Unread request body larger than the server will drain (demo, 200 KB)', 'RFC 9112 9.3, 9.6',
      app='demo', expect='either the body is drained and the next request served, or the response says '
                         'Connection: close and the connection closes (never a parse of body bytes)')
def _e14(ctx):
    body = (b'GET /x HTTP/1.1\r\nHost: h\r\n\r\n' * 7000)[:200000]
    res = ctx.flood('demo', post(b'/big', b'Content-Length: %d\r\n' % len(body), body) + CANARY, 2, 5, close_wait=2)
    if not res.finals or res.first.status != 200:
        fail(desc(res))
    if len(res.finals) >= 2:
        if not is_canary(res.finals[1]) or len(res.finals) > 2:
            fail('body bytes parsed as requests: %s' % [demo_env(r).get('PATH_INFO') for r in res.finals])
        return 'drained, next request served'
    if not says_close(res):
        fail('closed without Connection: close in the response')
    if not res.closed:
        fail('neither served the next request nor closed')
    choice('first response says Connection: close, then closed')


rule_case('E15', 'Unread chunked request body (demo) is skipped; next request served', 'RFC 9112 7.1, 9.3',
          chunked(b'1e\r\nGET /inner HTTP/1.1\r\nHost: h\r\n\r\n0\r\n\r\n') + CANARY, UNREAD_BODY,
          app='demo', expect='both answered, or Connection: close and close', n=2, close_wait=0)
rule_case('E16', 'Upgrade: h2c is ignored by an HTTP/1.1-only server', 'RFC 9110 7.8 (server MAY ignore Upgrade)',
          get(b'/up', b'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n')
          + CANARY, [
              (lambda res: res.interims and res.interims[0].status == 101, FAIL, '101 Switching Protocols sent'),
              failing(served),
              (ANY, PASS, 'ignored')],
          expect='200 (no 101), connection usable', n=2)
rule_case('E17', 'Pipelined requests larger than the receive buffer (12 x 4 KB heads in one write)', 'RFC 9112 9.3.2',
          b''.join(get(b'/r%d' % i, b'X-Pad: ' + b'p' * 4000 + b'\r\n') for i in range(12)), [
              (lambda res: paths(res) != [b'/r%d' % i for i in range(12)], FAIL, lambda res: 'paths %r' % paths(res)),
              (ANY, PASS, 'in order')],
          expect='12 responses in order', n=12, timeout=5)


@case('E18', 'Pipelining: 200 requests in one write', 'RFC 9112 9.3.2', expect='200 responses in order')
def _e18(ctx):
    ps = paths(ctx.flood('echo', b''.join(get(b'/m%d' % i) for i in range(200)), 200, 10))
    if ps != [b'/m%d' % i for i in range(200)]:
        fail('%d responses; first mismatch at %r' % (len(ps), next(
            (i for i, p in enumerate(ps) if p != b'/m%d' % i), None)))
    return 'in order'


@case('F09', 'Expect: 100-continue with a Content-Length over the limit', 'RFC 9110 10.1.1 (final status decidable from '
      'the head: MUST send it immediately, not 100); 15.5.14', expect='413 at once, no 100 Continue, close')
def _f09(ctx):
    with ctx.conn() as c:
        c.send(post(b'/e', b'Content-Length: 100000000\r\nExpect: 100-continue\r\n'))
        c.wait_finals(1, 2.0)
        c.wait_close(1.5)
    if ctx.res.interims:
        fail('100 Continue sent for a request that will be refused')
    must(rejected(ctx.res, (413,)))
    return '413 without 100, closed'


@case('F10', 'Expect: 100-continue with a chunked body', 'RFC 9110 10.1.1', expect='100, then 200 echoing the body')
def _f10(ctx):
    got, res = expect_100(ctx, post(b'/e', b'Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n'),
                          b'5\r\nhello\r\n0\r\n\r\n' + CANARY)
    if not got:
        fail('nothing within 2 s of the head (no 100, no final)')
    must(served(res, body=b'hello'))
    return 'first response %d' % got[0].status


accept_case('D19', 'Host without space after colon ("Host:h")', 'RFC 9112 5.1 (OWS optional)',
            b'GET / HTTP/1.1\r\nHost:h\r\n\r\n')
rule_case('I19', 'Encoded CRLF in path cannot inject response headers (/a%0D%0AX-Injected:%20yes)',
          'RFC 9110 5.5 (no CR/LF in field values sent)', get(b'/a%0D%0AX-Injected:%20yes') + CANARY, [
              (lambda res: any(r.has('x-injected') for r in res.all) or b'\r\nX-Injected' in res.raw, FAIL,
               'header injected'),
              (status_is(400), PASS, '400'),
              failing(served),
              (ANY, PASS, lambda res: 'X-Path=%r' % xpath(res.first))],
          expect='no X-Injected response header; response well-formed', n=2, close_wait=0)
rule_case('I20', 'Malformed percent-escapes in path ("/a%zz", "/b%")', 'RFC 3986 2.1; PEP 3333',
          get(b'/a%zz') + get(b'/b%') + CANARY, [
              (status_is(400), CHOICE, 'rejected 400'),
              (lambda res: res.statuses() == [200, 200, 200], CHOICE,
               lambda res: 'passed literally: %r %r' % (xpath(res.finals[0]), xpath(res.finals[1])))],
          expect='400, or kept literally', n=3, close_wait=0)
accept_case('I21', '"+" in path is not decoded to space', 'RFC 3986 (only %XX escapes)', get(b'/a+b'),
            extra=_xp(b'/a+b'))


@case('I22', 'SERVER_PORT and REMOTE_ADDR', 'CGI RFC 3875 4.1.8, 4.1.15', app='demo',
      expect="SERVER_PORT = the listening port, REMOTE_ADDR '127.0.0.1'")
def _i22(ctx):
    res = ctx.exchange('demo', get(b'/') + CANARY, n=2)
    must(served(res))
    env = demo_env(res.first)
    if env.get('SERVER_PORT') != str(ctx.demo) or env.get('REMOTE_ADDR') != '127.0.0.1':
        fail('SERVER_PORT=%r REMOTE_ADDR=%r' % (env.get('SERVER_PORT'), env.get('REMOTE_ADDR')))
    return 'ok'


rule_case('J09', 'Date header value is current', 'RFC 9110 6.6.1 (best approximation of the current time)',
          get(b'/') + CANARY, [
              (lambda res: not res.finals or not res.first.h1('date'), FAIL, desc),
              (lambda res: abs(date_skew(res)) > 5, FAIL,
               lambda res: 'Date %r is %.0f s off' % (res.first.h1('date'), date_skew(res))),
              (ANY, PASS, 'ok')],
          app='demo', expect='within 5 s of the local clock', n=2)
rule_case('J10', 'Error response to HEAD has no body', 'RFC 9110 9.3.2', b'HEAD / HTTP/1.1\r\nHost : h\r\n\r\n', [
              (lambda res: not res.finals or res.first.status != 400, FAIL, desc),
              (lambda res: res.leftover, FAIL, lambda res: 'body bytes after the HEAD error response: %r' % res.leftover[:80]),
              (ANY, PASS, 'ok')],
          expect='400 head only, no body bytes', n=1, methods=['HEAD'], close_wait=1.5)


# ======================================================================================
# S. Slow clients (run concurrently)
# ======================================================================================
rule_case('S01', 'Request head trickled one byte every 100 ms (~3.5 s, under the 10 s head timeout)',
          'RFC 9112 9.5 (server chooses timeouts); expected behaviour',
          [p for b in get(b'/slow', b'X-Slow: yes\r\n') for p in (bytes([b]), 0.1)][:-1], [
              (lambda res: not res.finals or res.first.status != 200 or xpath(res.first) != b'/slow', FAIL, desc),
              (ANY, PASS, 'served')],
          slow=True, expect='200', n=1, timeout=3)


@case('S02', 'Idle keep-alive connection is eventually closed', 'RFC 9112 9.5, 9.8', slow=True,
      expect='closed a few seconds after the response (configured keep-alive 5 s); no spurious response')
def _s02(ctx):
    with ctx.conn() as c:
        c.send(get(b'/idle'))
        c.wait_finals(1, 3)
        t_resp = time.monotonic()
        c.wait_close(KEEPALIVE_T + 8)
        dt = time.monotonic() - t_resp
    res = ctx.res
    if not res.closed:
        fail('idle connection still open after %.1f s' % dt)
    if len(res.all) > 1:
        choice('closed after %.1f s, sending %r' % (dt, res.all[-1].status_line))
    return 'closed after %.1f s of idleness' % dt


@case('S03', 'Connection that sends nothing is eventually closed', 'RFC 9112 9.5', slow=True,
      expect='closed (configured first-byte timeout 10 s); a 408 is allowed')
def _s03(ctx):
    with ctx.conn() as c:
        c.wait_close(FIRST_BYTE_T + 8)
        dt = time.monotonic() - c.t0
    if not ctx.res.closed:
        fail('still open after %.1f s' % dt)
    if ctx.res.raw:
        choice('closed after %.1f s with %r' % (dt, ctx.res.raw[:40]))
    return 'closed silently after %.1f s' % dt


@case('S04', 'Slowloris: a head trickled forever (1 byte/s) is cut off', 'RFC 9112 9.5; RFC 9110 15.5.9 (408)',
      slow=True, expect='closed around the 10 s head timeout (408 permitted)')
def _s04(ctx):
    with ctx.conn() as c:
        c.send(b'GET / HTTP/1.1\r\nHost: h\r\nX-Slow: ')
        end = time.monotonic() + HEAD_T + 8
        while time.monotonic() < end and not c.closed:
            c.send(b'a')
            c.pump(1.0)
        dt = time.monotonic() - c.t0
    res = ctx.res
    if not res.closed:
        fail('still open after %.1f s of trickling' % dt)
    st = res.first.status if res.finals else None
    if st not in (None, 408):
        fail('closed with %r' % st)
    return 'cut after %.1f s%s' % (dt, ' with 408' if st == 408 else ' silently')


rule_case('S05', 'Request body trickled (10 bytes, one per 300 ms)', 'expected behaviour (body timeout 30 s)',
          [post(b'/sb', b'Content-Length: 10\r\n')] + [p for b in b'0123456789' for p in (0.3, bytes([b]))], [
              (lambda res: not res.finals or res.first.body != b'0123456789', FAIL, desc),
              (ANY, PASS, 'served')],
          slow=True, expect='200 echoing the body', n=1, timeout=3)


@case('S06', 'Partial request head, then silence', 'RFC 9110 15.5.9 (408 SHOULD carry close); RFC 9112 9.5', slow=True,
      expect='closed after the head timeout; if 408 sent, it carries Connection: close')
def _s06(ctx):
    with ctx.conn() as c:
        c.send(b'GET / HTTP/1.1\r\nHost: h\r\n')
        c.wait_close(HEAD_T + 8)
        dt = time.monotonic() - c.t0
    res = ctx.res
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
    with ctx.conn() as c:
        for piece in (b'GET /s1 HTTP/1.1\r\n', b'Host: h\r\n', b'\r\n'):
            c.send(piece)
            time.sleep(1.0)
        c.wait_finals(1, 3)
        c.send(get(b'/s2'))
        c.wait_finals(2, 3)
    if paths(ctx.res) != [b'/s1', b'/s2']:
        fail(desc(ctx.res))
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

    def exchange(self, app, data, **kw):
        """exchange() with the `app` server; the result is kept for the report."""
        self.res = exchange(self.port(app), data, **kw)
        return self.res

    @contextlib.contextmanager
    def conn(self, app='echo'):
        """A connection driven by hand; its Result is kept for the report when the block ends."""
        c = Conn(self.port(app))
        try:
            yield c
            self.res = Result(c)
        finally:
            c.close()

    def flood(self, app, data, n, timeout, close_wait=0, join=5):
        """Send `data` from a thread (too large to send before reading) while waiting for n
        final responses, then (close_wait) for the close."""
        with self.conn(app) as c:
            t = threading.Thread(target=c.send, args=(data,))
            t.start()
            c.wait_finals(n, timeout)
            if close_wait:
                c.wait_close(close_wait)
            t.join(join)
        return self.res


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
