#!/usr/bin/python3
"""An aioftp server for the ftplib specs (started by spec/support/servers.lua).

Run it with Debian's /usr/bin/python3, which has python3-aioftp. It listens on the
loopback address it is given only; passive ports are picked by the OS.

    /usr/bin/python3 aioftp_server.py --host 127.0.0.1 --port 2121 --root DIR \
        --user NAME --passwd SECRET [--certfile PEM --keyfile PEM]

--certfile: implicit FTPS (TLS from the first byte: aioftp has no AUTH TLS).
The user may read and write --root; anonymous may read it.

aioftp is one of the odd servers the specs use on purpose: passive only (EPSV, PASV),
no NOOP, SIZE, MDTM, FEAT or NLST ("502 ... not implemented"), "257 " with no path
for MKD, and it drops the connection on any byte that is not UTF-8 (so on the Telnet
IP/Synch some clients send before ABOR).
"""

import argparse
import asyncio
import pathlib
import ssl
import sys

import aioftp


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--passwd", required=True)
    parser.add_argument("--certfile")
    parser.add_argument("--keyfile")
    args = parser.parse_args(argv)
    if args.host not in ("::1", "localhost") and not args.host.startswith("127."):
        parser.error("refusing to listen on a non-loopback address: " + args.host)
    if args.keyfile and not args.certfile:
        parser.error("--keyfile needs --certfile")
    return args


def tls_context(args):
    if not args.certfile:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.certfile, args.keyfile)
    return context


async def serve(args):
    root = pathlib.Path(args.root)
    users = [
        aioftp.User(args.user, args.passwd, base_path=root),
        aioftp.User(base_path=root, permissions=[aioftp.Permission("/", writable=False)]),
    ]
    server = aioftp.Server(users, ssl=tls_context(args))
    await server.start(args.host, args.port)
    print(f"aioftp: listening on {args.host} port {args.port}", flush=True)
    await server.serve_forever()


def main(argv):
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main(sys.argv[1:])
