"""Idle TLS keep-alive connections against one server process, for
idle_conns.sh: opens N connections (or as many as the server takes), each does one authenticated GET and
then stays open and silent; prints the server's RSS growth per connection
(over the connections opened) and how many are still open after a
settle time.

    idle_client.py PORT PID N TOKEN PATH
"""
import os
import select
import socket
import ssl
import sys
import time


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit("no VmRSS")


def request(ctx, port, token, path):
    # A server at its connection cap leaves new clients in the listen
    # backlog: the handshake times out.
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    s.sendall(
        f"GET {path} HTTP/1.1\r\nHost: localhost\r\n"
        f"Authorization: Bearer {token}\r\nAccept: application/scim+json\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("connection closed before the answer")
        head += chunk
    top, _, body = head.partition(b"\r\n\r\n")
    status = top.split(b" ", 2)[1]
    if status != b"200":
        raise SystemExit(f"answer {status.decode()}: {top.decode(errors='replace')}")
    length = 0
    for line in top.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += s.recv(65536)
    s.settimeout(None)
    return s


def main():
    port, pid, n, token, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # Localhost against the dev certificate: what is measured is the
    # server's memory, not the client's verification.
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    # One connection first (the upstream pool, lazy tables), then the baseline.
    first = request(ctx, port, token, path)
    time.sleep(1)
    before = rss_kb(pid)
    conns = []
    try:
        for _ in range(n):
            conns.append(request(ctx, port, token, path))
    except (OSError, TimeoutError) as e:
        print(f"connection {len(conns) + 1} of {n} failed: {e}", file=sys.stderr)
    time.sleep(float(os.environ.get("SETTLE", "2")))
    after = rss_kb(pid)
    # A closed connection reads as EOF (readable); an idle open one does not.
    poller = select.poll()
    for c in conns:
        poller.register(c.fileno(), select.POLLIN | select.POLLHUP)
    closed = {fd for fd, _ in poller.poll(0)}
    held = len(conns) - len(closed)
    print(f"{n} {held} {before} {after} {(after - before) / max(len(conns), 1):.1f}")
    for c in conns:
        c.close()
    first.close()


main()
