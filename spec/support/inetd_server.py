#!/usr/bin/python3
"""A tiny inetd for the ftplib specs (started by spec/support/servers.lua).

Servers written for inetd (GNU inetutils ftpd) serve one connection each, with the
connected socket as their stdin and stdout. This listens on one loopback address and
port and, for every connection it accepts, starts the command given after "--" with
the socket as stdin and stdout (stderr goes to ours: the spec's server log).

    /usr/bin/python3 inetd_server.py --host 127.0.0.1 --port 2121 -- COMMAND [ARGS...]

Children are reaped as they end; when this process is stopped, spec/support/proc.lua's
wrapper stops its whole process tree, the children with it.
"""

import argparse
import os
import signal
import socket
import subprocess
import sys


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.host not in ("::1", "localhost") and not args.host.startswith("127."):
        parser.error("refusing to listen on a non-loopback address: " + args.host)
    if args.command and args.command[0] == "--":
        args.command = args.command[1:]
    if not args.command:
        parser.error("no command to start per connection")
    return args


def main(argv):
    args = parse_args(argv)
    # Ended children are reaped by the kernel: no zombie piles up over a spec run.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.host, args.port))
    listener.listen(64)
    print(f"inetd: listening on {args.host} port {args.port}", flush=True)
    while True:
        conn, peer = listener.accept()
        try:
            subprocess.Popen(args.command, stdin=conn, stdout=conn, close_fds=True)
        except OSError as err:
            print(f"inetd: cannot start {args.command[0]}: {err}", flush=True)
        finally:
            conn.close()


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except KeyboardInterrupt:
        os._exit(0)
