#!/usr/bin/python3
"""A pyftpdlib server for the ftplib specs (started by spec/support/servers.lua).

Run it with Debian's /usr/bin/python3, which has python3-pyftpdlib. It listens on the
loopback address it is given only; passive ports are picked by the OS.

    /usr/bin/python3 pyftpd_server.py --host 127.0.0.1 --port 2121 --root DIR \
        --user NAME --passwd SECRET [--no-anonymous] [--delay SECONDS]
        [--certfile PEM [--keyfile PEM] [--tls-control-required] [--tls-data-required]
         [--tls-min TLSv1.2|TLSv1.3] [--tls-max TLSv1.2|TLSv1.3]
         [--require-client-cert --cafile PEM]]
        [--encoding NAME] [--log-level debug|info|warning]

--delay SECONDS holds back every reply (the greeting too) by that long, to emulate a
distant server in latency benchmarks. Each connection then gets its own thread, so one
client's delays do not stall another's.
--certfile switches to explicit FTPS (AUTH TLS) with pyftpdlib's TLS_FTPHandler, which
needs python3-openssl. --tls-min/--tls-max bound the TLS versions; --require-client-cert
makes the client present a certificate signed by --cafile. pyftpdlib does not require
data connections to resume the control connection's TLS session (vsftpd does).
--encoding NAME (a Python codec, e.g. gbk) makes the server speak NAME on the wire
(commands, replies, listings) while its files keep UTF-8 names on disk, as a Windows
server with GBK names does.
"""

import argparse
import logging
import sys
import time

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer, ThreadedFTPServer

# --tls-min/--tls-max values: the names OpenSSL's MinProtocol setting uses.
TLS_VERSIONS = {"TLSv1.2": "TLS1_2_VERSION", "TLSv1.3": "TLS1_3_VERSION"}

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
    parser.add_argument("--tls-min", choices=sorted(TLS_VERSIONS))
    parser.add_argument("--tls-max", choices=sorted(TLS_VERSIONS))
    parser.add_argument("--require-client-cert", action="store_true")
    parser.add_argument("--cafile")
    parser.add_argument("--encoding")
    parser.add_argument("--log-level", default="debug",
                        choices=["debug", "info", "warning"])
    args = parser.parse_args(argv)
    if args.host not in ("::1", "localhost") and not args.host.startswith("127."):
        parser.error("refusing to listen on a non-loopback address: " + args.host)
    if args.delay < 0:
        parser.error("--delay must not be negative")
    tls_options = (args.keyfile, args.tls_control_required, args.tls_data_required,
                   args.tls_min, args.tls_max, args.require_client_cert, args.cafile)
    if any(tls_options) and not args.certfile:
        parser.error("the TLS options need --certfile")
    if args.require_client_cert and not args.cafile:
        parser.error("--require-client-cert needs --cafile")
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
        attributes["ssl_context"] = make_ssl_context(args)
        attributes["dtp_handler"] = early_handshake_dtp_handler()
    mixins = ()
    if args.encoding:
        attributes["wire_encoding"] = args.encoding
        mixins += (EncodingMixin,)
    if args.delay > 0:
        attributes["reply_delay"] = args.delay
        return type("DelayedHandler", mixins + (DelayingMixin, base_handler(args)), attributes)
    return type("SpecHandler", mixins + (base_handler(args),), attributes)


def make_ssl_context(args):
    """The server's TLS context. Made here rather than by TLS_FTPHandler, which has no
    setting for TLS versions or client certificates."""
    from OpenSSL import SSL

    context = SSL.Context(SSL.TLS_METHOD)
    context.use_certificate_chain_file(args.certfile)
    context.use_privatekey_file(args.keyfile or args.certfile)
    context.set_options(SSL.OP_NO_SSLv2 | SSL.OP_NO_SSLv3 | SSL.OP_NO_COMPRESSION)
    if args.tls_min:
        context.set_min_proto_version(getattr(SSL, TLS_VERSIONS[args.tls_min]))
    if args.tls_max:
        context.set_max_proto_version(getattr(SSL, TLS_VERSIONS[args.tls_max]))
    # Without a session id context OpenSSL refuses to resume sessions once client
    # certificates are verified, and clients resume on every data connection.
    context.set_session_id(b"ftplib-test")
    if args.require_client_cert:
        context.load_verify_locations(args.cafile)
        context.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT,
                           lambda _conn, _cert, _errno, _depth, ok: bool(ok))
    return context


def early_handshake_dtp_handler():
    """TLS_DTPHandler with the fix of pyftpdlib 1.5.8 (issue 604, pull request 612):
    1.5.7 (Debian 12) closes a data connection whose client starts the TLS handshake
    before the transfer command (curl does), as the connection is "not supposed to be
    readable yet". While the handshake is under way it must be."""
    from pyftpdlib.handlers import TLS_DTPHandler

    class EarlyHandshakeDTPHandler(TLS_DTPHandler):
        def readable(self):
            return self._ssl_accepting or super().readable()

    return EarlyHandshakeDTPHandler


class DelayingMixin:
    """Sleeps before every reply. A blocking sleep keeps replies in order and is
    harmless because the server runs one thread per connection when delaying."""

    reply_delay = 0.0

    def respond(self, resp, logfun=logging.debug):
        time.sleep(self.reply_delay)
        super().respond(resp, logfun)


class EncodingMixin:
    """Speaks wire_encoding on the control and listing connections; pyftpdlib 1.5.7
    hard-codes UTF-8 (2.0 has an `encoding` attribute). Names stay str inside, so the
    file system sees them in its own encoding (UTF-8)."""

    wire_encoding = "utf8"
    LISTINGS = ("LIST", "NLST", "MLSD")

    def decode(self, data):
        return data.decode(self.wire_encoding, self.unicode_errors)

    def push(self, s):
        # FTPHandler.push encodes in UTF-8: skip it for the byte-level push below it.
        super(FTPHandler, self).push(s.encode(self.wire_encoding, "replace"))

    def transcode(self, data):
        return data.decode("utf8", "replace").encode(self.wire_encoding, "replace")

    def push_dtp_data(self, data, isproducer=False, file=None, cmd=None):
        if cmd in self.LISTINGS and isproducer:
            data = TranscodingProducer(data, self.transcode)
        elif cmd in self.LISTINGS:
            data = self.transcode(data)
        super().push_dtp_data(data, isproducer, file, cmd)


class TranscodingProducer:
    """A listing producer whose chunks are recoded. pyftpdlib's listing producers
    give whole lines per chunk, so no character is cut in two."""

    def __init__(self, producer, transcode):
        self.producer, self.transcode = producer, transcode

    def more(self):
        return self.transcode(self.producer.more())


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
