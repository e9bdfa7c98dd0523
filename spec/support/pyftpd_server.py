#!/usr/bin/python3
"""A pyftpdlib server for the ftplib specs (started by spec/support/servers.lua).

Run it with Debian's /usr/bin/python3, which has python3-pyftpdlib. It listens on the
loopback address it is given only; passive ports are picked by the OS.

    /usr/bin/python3 pyftpd_server.py --host 127.0.0.1 --port 2121 --root DIR \
        --user NAME --passwd SECRET [--no-anonymous] [--delay SECONDS]
        [--certfile PEM [--keyfile PEM] [--tls-control-required] [--tls-data-required]]
        [--log-level debug|info|warning]

--delay SECONDS holds back every reply (the greeting too) by that long, to emulate a
distant server in latency benchmarks. Each connection then gets its own thread, so one
client's delays do not stall another's.
--certfile switches to explicit FTPS (AUTH TLS) with pyftpdlib's TLS_FTPHandler, which
needs python3-openssl.
"""

import argparse
import logging
import sys
import time

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer, ThreadedFTPServer

USER_PERMS = "elradfmwMT"  # everything, including MFMT (T) and SITE CHMOD (M)
ANONYMOUS_PERMS = "elr"  # read only: change dir, list, retrieve


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--passwd", required=True)
    parser.add_argument("--no-anonymous", action="store_true")
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--certfile")
    parser.add_argument("--keyfile")
    parser.add_argument("--tls-control-required", action="store_true")
    parser.add_argument("--tls-data-required", action="store_true")
    parser.add_argument("--log-level", default="debug",
                        choices=["debug", "info", "warning"])
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        parser.error("refusing to listen on a non-loopback address: " + args.host)
    if args.delay < 0:
        parser.error("--delay must not be negative")
    if (args.keyfile or args.tls_control_required or args.tls_data_required) \
            and not args.certfile:
        parser.error("the TLS options need --certfile")
    return args


def base_handler(args):
    if not args.certfile:
        return FTPHandler
    # Imported only here: plain runs must not need python3-openssl.
    from pyftpdlib.handlers import TLS_FTPHandler
    return TLS_FTPHandler


def make_handler(args):
    """A handler class configured from the command line."""
    authorizer = DummyAuthorizer()
    authorizer.add_user(args.user, args.passwd, args.root, perm=USER_PERMS)
    if not args.no_anonymous:
        authorizer.add_anonymous(args.root, perm=ANONYMOUS_PERMS)

    attributes = {
        "authorizer": authorizer,
        # A data connection must come from the client's own address (the default;
        # stated here because the specs count on it).
        "permit_foreign_addresses": False,
        "passive_ports": None,
        # No 3-second pause after a wrong password, which specs provoke on purpose.
        "auth_failed_timeout": 0,
    }
    if args.certfile:
        attributes["certfile"] = args.certfile
        attributes["keyfile"] = args.keyfile
        attributes["tls_control_required"] = args.tls_control_required
        attributes["tls_data_required"] = args.tls_data_required
    if args.delay > 0:
        attributes["reply_delay"] = args.delay
        return type("DelayedHandler", (DelayingMixin, base_handler(args)), attributes)
    return type("SpecHandler", (base_handler(args),), attributes)


class DelayingMixin:
    """Sleeps before every reply. A blocking sleep keeps replies in order and is
    harmless because the server runs one thread per connection when delaying."""

    reply_delay = 0.0

    def respond(self, resp, logfun=logging.debug):
        time.sleep(self.reply_delay)
        super().respond(resp, logfun)


def main(argv):
    args = parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(message)s",
    )
    handler = make_handler(args)
    server_class = ThreadedFTPServer if args.delay > 0 else FTPServer
    server = server_class((args.host, args.port), handler)
    server.serve_forever(handle_exit=True)


if __name__ == "__main__":
    main(sys.argv[1:])
