#!/usr/bin/env python3
"""Python's http.client against a running `wsgiref --app echo` (std-adapter/tests/clients.rs).

    it-http-client.py persistent PORT   several requests on one HTTPConnection
    it-http-client.py pipeline PORT     3 requests in one sendall, 3 responses read in order

Prints one `ok ...` line and exits 0, or fails with an AssertionError.
"""
import http.client
import socket
import sys


def check(resp, status, method, path, query, body, content_length):
    got = resp.read()
    assert resp.status == status, (resp.status, resp.reason)
    assert resp.getheader("X-Method") == method, resp.getheaders()
    assert resp.getheader("X-Path") == path, resp.getheaders()
    # An empty QUERY_STRING or CONTENT_LENGTH may come as an empty or an absent header.
    assert (resp.getheader("X-Query") or "") == query, resp.getheaders()
    assert (resp.getheader("X-Content-Length") or "") == content_length, resp.getheaders()
    assert got == body, (got[:80], body[:80])


def persistent(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    big = bytes(range(256)) * 256  # 64 KiB, every byte value
    requests = [
        ("GET", "/first", None, {}, "", b""),
        ("POST", "/post?x=1&y=%20z", b"name=value&other=2", {}, "x=1&y=%20z", None),
        ("PUT", "/big", big, {"Content-Type": "application/octet-stream"}, "", None),
        ("GET", "/last?q", None, {}, "q", b""),
    ]
    local = None
    for method, target, body, headers, query, expected in requests:
        conn.request(method, target, body=body, headers=headers)
        if local is None:
            local = conn.sock.getsockname()
        # The same socket (the same client port) carries every request.
        assert conn.sock is not None and conn.sock.getsockname() == local, "reconnected"
        resp = conn.getresponse()
        path = target.split("?", 1)[0]
        length = str(len(body)) if body is not None else ""
        check(resp, 200, method, path, query, body if expected is None else expected, length)
        assert not resp.will_close, resp.getheaders()
    # A chunked upload (encode_chunked) on the same connection.
    chunks = [b"alpha-", b"", b"beta-" * 1000, b"gamma"]
    conn.request("POST", "/chunked", body=iter(chunks), encode_chunked=True)
    assert conn.sock.getsockname() == local, "reconnected"
    resp = conn.getresponse()
    check(resp, 200, "POST", "/chunked", "", b"".join(chunks), "")
    conn.close()
    print(f"ok persistent {len(requests) + 1} requests on one connection")


class Shared:
    """One buffered reader shared by successive HTTPResponse objects (not closed by them)."""

    def __init__(self, f):
        self.f = f

    def makefile(self, *args, **kwargs):
        return self

    def close(self):
        pass

    def __getattr__(self, name):
        return getattr(self.f, name)


def pipeline(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        b"GET /one?a=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        b"POST /two HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 11\r\n\r\nhello world"
        b"DELETE /three HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    )
    reader = Shared(sock.makefile("rb"))
    expected = [
        ("GET", "/one", "a=1", b"", ""),
        ("POST", "/two", "", b"hello world", "11"),
        ("DELETE", "/three", "", b"", ""),
    ]
    for method, path, query, body, length in expected:
        resp = http.client.HTTPResponse(reader, method=method)
        resp.begin()
        check(resp, 200, method, path, query, body, length)
    # Nothing else: the connection is idle and still open (a 4th request is answered).
    sock.sendall(b"GET /four HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    resp = http.client.HTTPResponse(reader, method="GET")
    resp.begin()
    check(resp, 200, "GET", "/four", "", b"", "")
    assert reader.f.read() == b"", "bytes after the last response"
    sock.close()
    print("ok pipeline 3 responses in order")


if __name__ == "__main__":
    mode, port = sys.argv[1], int(sys.argv[2])
    {"persistent": persistent, "pipeline": pipeline}[mode](port)
