#!/usr/bin/env python3
"""A small HTTP/1.1 server for `handoff run`: Python 3.7+, standard library only.

    handoff run -listen http=tcp://127.0.0.1:8080 -- python3 examples/run/server.py

It serves from the sockets it inherits the systemd way (LISTEN_FDS, fds 3
onward, LISTEN_PID naming this process), says READY=1 on NOTIFY_SOCKET
once it accepts, and on SIGTERM (or SIGINT) drains: it stops accepting,
finishes every request in flight, answers later requests on open
connections with `Connection: close`, closes keep-alive connections only
once they idled a grace period, and exits 0.

GET / answers 200 with the serving pid in X-Pid; GET /slow?ms=N answers
after N milliseconds, to hold a request in flight across an upgrade.
"""

import os
import selectors
import signal
import socket
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

LISTEN_FDS_START = 3  # SD_LISTEN_FDS_START
IDLE_GRACE = 1.0  # while draining, close a keep-alive connection idle this long
DRAIN_TIMEOUT = float(os.environ.get("DRAIN_TIMEOUT", "30"))
MAX_HEAD = 16 * 1024

draining = threading.Event()
conns_lock = threading.Lock()
conns = set()


def log(msg):
    print(f"server.py pid={os.getpid()}: {msg}", file=sys.stderr, flush=True)


def listen_sockets():
    """The sockets passed by sd_listen_fds rules, or exit 2."""
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        sys.exit("server.py: no sockets for this process (LISTEN_PID); run it under handoff run or systemd")
    n = int(os.environ.get("LISTEN_FDS", "0"))
    for key in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(key, None)  # our own children must not take them
    socks = []
    for fd in range(LISTEN_FDS_START, LISTEN_FDS_START + n):
        s = socket.socket(fileno=fd)
        if s.type != socket.SOCK_STREAM:
            continue
        s.setblocking(False)  # shared with the other generation: never block in accept
        socks.append(s)
    if not socks:
        sys.exit("server.py: no stream socket among LISTEN_FDS")
    return socks


def sd_notify(state):
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return
    if path.startswith("@"):
        path = "\0" + path[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
        s.connect(path)
        s.sendall(state.encode())


class Conn:
    """One client connection, served on its own thread."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def serve(self):
        try:
            while self.one_request():
                pass
        except OSError:
            pass
        finally:
            with conns_lock:
                conns.discard(self)
            self.sock.close()

    def wait_readable(self):
        """Wait for request bytes; False when the connection should close:
        the client went away, or it idled past the grace while draining."""
        idle_since = time.monotonic()
        while b"\r\n\r\n" not in self.buf:
            self.sock.settimeout(0.1)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                if draining.is_set() and not self.buf and time.monotonic() - idle_since >= IDLE_GRACE:
                    return False
                continue
            if not chunk:
                return False
            self.buf += chunk
            if len(self.buf) > MAX_HEAD:
                return False
        return True

    def one_request(self):
        if not self.wait_readable():
            return False
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            self.respond(400, b"bad request line\n", close=True)
            return False
        method, target, version = parts
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        length = int(headers.get("content-length", "0") or "0")
        while len(self.buf) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                return False
            self.buf += chunk
        self.buf = self.buf[length:]
        close = version != "HTTP/1.1" or headers.get("connection", "").lower() == "close"
        url = urlsplit(target)
        if url.path == "/slow":
            ms = int(parse_qs(url.query).get("ms", ["1000"])[0])
            time.sleep(ms / 1000)
        elif url.path != "/":
            self.respond(404, b"not found\n", close)
            return not close
        close = close or draining.is_set()  # decided after the work: a drain may have begun
        self.respond(200, f"hello from pid {os.getpid()}\n".encode(), close)
        return not close

    def respond(self, code, body, close):
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[code]
        head = (f"HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain\r\n"
                f"Content-Length: {len(body)}\r\nX-Pid: {os.getpid()}\r\n")
        if close:
            head += "Connection: close\r\n"
        self.sock.settimeout(10)
        self.sock.sendall(head.encode() + b"\r\n" + body)


def accept_loop(socks, wake_r):
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    sel.register(wake_r, selectors.EVENT_READ)
    while not draining.is_set():
        for key, _ in sel.select():
            if key.fileobj is wake_r:
                continue
            try:
                c, _ = key.fileobj.accept()  # the other generation may have taken it
            except (BlockingIOError, InterruptedError):
                continue
            c.setblocking(True)
            conn = Conn(c)
            with conns_lock:
                conns.add(conn)
            threading.Thread(target=conn.serve, daemon=True).start()
    sel.close()
    for s in socks:
        s.close()  # this process stops accepting; the socket lives on in the others


def main():
    socks = listen_sockets()
    wake_r, wake_w = socket.socketpair()
    wake_r.setblocking(False)
    wake_w.setblocking(False)
    signal.set_wakeup_fd(wake_w.fileno())

    def stop(signum, _frame):
        if not draining.is_set():
            log(f"signal {signum}: draining")
            draining.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sd_notify(f"READY=1\nSTATUS=serving on {len(socks)} socket(s)")
    log("ready")
    accept_loop(socks, wake_r)
    sd_notify("STOPPING=1")
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while time.monotonic() < deadline:
        with conns_lock:
            if not conns:
                break
        time.sleep(0.02)
    with conns_lock:
        left = len(conns)
    log(f"drained ({left} connections cut at the deadline)" if left else "drained")
    return 0


if __name__ == "__main__":
    sys.exit(main())
