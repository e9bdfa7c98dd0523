"""The benchmark client for Python's ftplib, with 64 KiB blocks.

Same arguments as bench/clients/ftplib.lua:
    /usr/bin/python3 bench/clients/pyftplib.py [--tls CAFILE] HOST PORT USER PASSWD MODE ARGS...
--tls CAFILE: explicit FTPS (ftplib.FTP_TLS: AUTH TLS at login, then PROT P), with an
ssl context that trusts the CA in CAFILE.
"""
import ftplib
import ssl
import sys

BLOCKSIZE = 65536


def get_func(ftp, remote):
    total = 0

    def count(chunk):
        nonlocal total
        total += len(chunk)

    ftp.retrbinary("RETR " + remote, count, BLOCKSIZE)
    print(total, "bytes", file=sys.stderr)


def get_file(ftp, remote, localpath):
    with open(localpath, "wb") as f:
        ftp.retrbinary("RETR " + remote, f.write, BLOCKSIZE)


def put_file(ftp, localpath, remote):
    with open(localpath, "rb") as f:
        ftp.storbinary("STOR " + remote, f, BLOCKSIZE)


def many(ftp, directory, count, localdir):
    for i in range(1, int(count) + 1):
        name = "f%04d" % i
        with open(localdir + "/" + name, "wb") as f:
            ftp.retrbinary("RETR " + directory + "/" + name, f.write, BLOCKSIZE)


def many_mem(ftp, directory, count):
    total = 0
    for i in range(1, int(count) + 1):
        chunks = []
        ftp.retrbinary("RETR %s/f%04d" % (directory, i), chunks.append, BLOCKSIZE)
        total += len(b"".join(chunks))
    print(total, "bytes", file=sys.stderr)


MODES = {
    "get-func": get_func,
    "get-file": get_file,
    "put-file": put_file,
    "many": many,
    "many-mem": many_mem,
}


def main():
    args = sys.argv[1:]
    cafile = None
    if args[:1] == ["--tls"]:
        cafile, args = args[1], args[2:]
    host, port, user, passwd, mode = args[:5]
    if cafile:
        ftp = ftplib.FTP_TLS(context=ssl.create_default_context(cafile=cafile))
    else:
        ftp = ftplib.FTP()
    ftp.connect(host, int(port))
    ftp.login(user, passwd)  # FTP_TLS: AUTH TLS first
    if cafile:
        ftp.prot_p()
    MODES[mode](ftp, *args[5:])
    ftp.quit()


if __name__ == "__main__":
    main()
