#!/usr/bin/env python3
"""Keep-alive load for callgrind runs.

usage: client.py seq|pipe|c50 PORT
  seq : 20,000 sequential GET /plaintext on one keep-alive connection
  pipe: 32,000 GET /plaintext on one connection, pipelined in batches of 16
  c50 : 20,000 GET /plaintext over 50 keep-alive connections, one request on each per round
Each response is read completely (headers + Content-Length body) and checked for 200.
Prints the number of requests completed on stdout (last line).
"""
import socket
import sys

HOST = "127.0.0.1"
REQ = b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"
SEQ_N = 20000
CONNS = 50
PIPE_N = 32000
BATCH = 16


class Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed by server")
        self.buf += chunk

    def response(self):
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            self._fill()
        head = bytes(self.buf[:end]).decode("latin-1")
        lines = head.split("\r\n")
        status = lines[0].split(" ", 2)
        if len(status) < 2 or status[1] != "200":
            raise RuntimeError("bad status line: %r" % lines[0])
        clen = None
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                clen = int(value.strip())
            elif name == "transfer-encoding":
                raise RuntimeError("unexpected Transfer-Encoding: %r" % value)
        if clen is None:
            raise RuntimeError("no Content-Length in response: %r" % head)
        total = end + 4 + clen
        while len(self.buf) < total:
            self._fill()
        body = bytes(self.buf[end + 4:total])
        del self.buf[:total]
        return body


def connect(port):
    s = socket.create_connection((HOST, port), timeout=120)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def run_seq(port):
    s = connect(port)
    r = Reader(s)
    for _ in range(SEQ_N):
        s.sendall(REQ)
        r.response()
    if r.buf:
        raise RuntimeError("unexpected extra bytes: %r" % bytes(r.buf[:80]))
    s.close()
    return SEQ_N


def run_pipe(port):
    assert PIPE_N % BATCH == 0
    s = connect(port)
    r = Reader(s)
    batch = REQ * BATCH
    for _ in range(PIPE_N // BATCH):
        s.sendall(batch)
        for _ in range(BATCH):
            r.response()
    if r.buf:
        raise RuntimeError("unexpected extra bytes: %r" % bytes(r.buf[:80]))
    s.close()
    return PIPE_N


def run_c50(port):
    assert SEQ_N % CONNS == 0
    socks = [connect(port) for _ in range(CONNS)]
    readers = [Reader(s) for s in socks]
    for _ in range(SEQ_N // CONNS):
        for s in socks:
            s.sendall(REQ)
        for r in readers:
            r.response()
    for s, r in zip(socks, readers):
        if r.buf:
            raise RuntimeError("unexpected extra bytes: %r" % bytes(r.buf[:80]))
        s.close()
    return SEQ_N


def main():
    modes = {"seq": run_seq, "pipe": run_pipe, "c50": run_c50}
    if len(sys.argv) != 3 or sys.argv[1] not in modes:
        sys.exit("usage: client.py seq|pipe|c50 PORT")
    print(modes[sys.argv[1]](int(sys.argv[2])))


if __name__ == "__main__":
    main()
