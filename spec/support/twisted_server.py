#!/usr/bin/python3
"""Twisted's FTP server for the ftplib specs (started by spec/support/servers.lua).

Run it with Debian's /usr/bin/python3, which has python3-twisted. It listens on the
loopback address it is given only; the user and anonymous both see --root (anonymous
read-only, as Twisted's anonymous shell is).

    /usr/bin/python3 twisted_server.py --host 127.0.0.1 --port 2121 --root DIR \
        --user NAME --passwd SECRET

Twisted's server is one of the odd ones, which is why the specs use it: no EPSV (PASV
only, so IPv4 only), no REST, APPE, MLSD or ABOR (ABOR is "502 not implemented"), and
it reads no command while a transfer runs.
"""

import argparse
import sys

from twisted.cred import checkers, portal
from twisted.internet import reactor
from twisted.protocols import ftp
from twisted.python import filepath


class OneRootRealm(ftp.BaseFTPRealm):
    """Every user's home is the served folder."""

    def __init__(self, root):
        ftp.BaseFTPRealm.__init__(self, root)
        self.root = filepath.FilePath(root)

    def getHomeDirectory(self, avatarId):
        return self.root


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--passwd", required=True)
    args = parser.parse_args(argv)
    if not args.host.startswith("127."):
        parser.error("refusing to listen on a non-loopback IPv4 address: " + args.host)
    return args


def main(argv):
    args = parse_args(argv)
    users = checkers.InMemoryUsernamePasswordDatabaseDontUse()
    # Twisted's FTP protocol hands the checker the name as bytes or str depending on
    # the version: both are known.
    users.addUser(args.user.encode(), args.passwd.encode())
    users.addUser(args.user, args.passwd)
    the_portal = portal.Portal(OneRootRealm(args.root),
                               [checkers.AllowAnonymousAccess(), users])
    factory = ftp.FTPFactory(the_portal)
    factory.allowAnonymous = True
    # Passive data ports on the same loopback address, picked by the OS.
    factory.passivePortRange = range(0, 1)
    reactor.listenTCP(args.port, factory, interface=args.host)
    print(f"twisted: listening on {args.host} port {args.port}", flush=True)
    reactor.run()


if __name__ == "__main__":
    main(sys.argv[1:])
