"""A hostile proxy for spec/protocol/proxy_hostile_spec.lua: it answers every client
the way MODE says, on 127.0.0.1 with a port from the OS (written to PORTFILE), until
it has run for 60 s.

    python3 spec/support/fake_proxy.py MODE PORTFILE

HTTP modes (the client's CONNECT request is read first):
  http-garbage        bytes that are no HTTP status line
  http-huge           a 200 status line, then header lines without end (1 MiB at most)
  http-stall          nothing
  http-partial        a 200 status line and one header line, then nothing
  http-close          closes the connection
  http-403            "HTTP/1.1 403 Forbidden"
  http-then-greeting  the 200 reply and, in the same send, an FTP greeting: the
                      client must take the greeting as the server's
SOCKS5 modes (the client's method offer is read first):
  socks-garbage       an HTTP reply where the method choice belongs
  socks-stall         nothing
  socks-close         closes the connection
  socks-noauth        0xFF: no acceptable method
  socks-reply-N       "no authentication", then CONNECT answered with reply code N
  socks-bad-atyp      CONNECT answered "succeeded" with address type 9
  socks-then-greeting CONNECT answered "succeeded" (a 200-byte name as the bound
                      address) and, in the same send, an FTP greeting
After a greeting, the fake FTP server answers QUIT with 221 and anything else with 502.
"""
import os
import socket
import sys
import threading
import time

MODE, PORTFILE = sys.argv[1], sys.argv[2]
GREETING = b"220 fake server through the tunnel\r\n"


def read_until(conn, marker, limit=65536):
    data = b""
    while marker not in data and len(data) < limit:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def serve_ftp(conn):
    for line in conn.makefile("rb"):
        if line.upper().startswith(b"QUIT"):
            conn.sendall(b"221 bye\r\n")
            return
        conn.sendall(b"502 not here\r\n")


def http(conn):
    read_until(conn, b"\r\n\r\n")
    if MODE == "http-garbage":
        conn.sendall(b"\x00\xff\x13garbage, not HTTP\r\n\r\n")
    elif MODE == "http-huge":
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        for _ in range(1024):
            conn.sendall(b"X-Pad: " + b"a" * 1000 + b"\r\n")
    elif MODE == "http-partial":
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-One: line\r\n")
    elif MODE == "http-403":
        conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
    elif MODE == "http-then-greeting":
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n" + GREETING)
        serve_ftp(conn)
        return
    elif MODE == "http-close":
        return
    time.sleep(30)


def socks(conn):
    conn.recv(2 + 255)
    if MODE == "socks-garbage":
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    elif MODE == "socks-noauth":
        conn.sendall(b"\x05\xff")
    elif MODE == "socks-close":
        return
    elif MODE == "socks-stall":
        time.sleep(30)
        return
    else:
        conn.sendall(b"\x05\x00")
        conn.recv(4 + 256 + 2)
        if MODE.startswith("socks-reply-"):
            code = int(MODE[len("socks-reply-"):])
            conn.sendall(bytes([5, code, 0, 1, 0, 0, 0, 0, 0, 0]))
        elif MODE == "socks-bad-atyp":
            conn.sendall(bytes([5, 0, 0, 9, 0, 0, 0, 0, 0, 0]))
        elif MODE == "socks-then-greeting":
            name = b"n" * 200
            conn.sendall(bytes([5, 0, 0, 3, len(name)]) + name + b"\x00\x15" + GREETING)
            serve_ftp(conn)
            return
    time.sleep(30)


def handle(conn):
    try:
        (http if MODE.startswith("http") else socks)(conn)
    except OSError:
        pass
    finally:
        conn.close()


def main():
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    with open(PORTFILE + ".tmp", "w") as f:
        f.write(str(server.getsockname()[1]))
    os.rename(PORTFILE + ".tmp", PORTFILE)
    server.settimeout(1)
    started = time.time()
    while time.time() - started < 60:
        try:
            conn, _ = server.accept()
        except socket.timeout:
            continue
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


main()
