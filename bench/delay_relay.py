#!/usr/bin/env python3
"""A TCP relay that adds network latency in front of an FTP server on loopback, for
bench/latency.lua: every byte is held back DELAY seconds on its way in each direction
(a round trip of 2 x DELAY), as a link with that latency would, while the server itself
answers at once. Unlike a server that sleeps before each reply, the delays of bytes in
flight overlap: a client that sends a command without waiting for the reply to the one
before (pipelining) gains what it would gain on a real network.

    delay_relay.py --target PORT --delay SECONDS --portfile FILE [--rate BYTES]

Listens on 127.0.0.1 (the port, once listening, written to FILE), relays each control
connection to 127.0.0.1:PORT, and rewrites the server's passive replies (227 PASV, 229
EPSV) to ports of its own, relayed the same way to the server's data ports. Active mode
(PORT, EPRT) is not relayed. The TCP handshakes get no delay (the client's connect() to
the relay completes at once): a data connection costs no round trip of its own here,
for any client. --rate: each data connection passes at most BYTES per second from the
server, paced by the bytes sent since its first (bench/segments.lua: a per-session limit
that holds, where vsftpd's own drifts). Loopback only; stops on SIGTERM or when the
parent exits.
"""
import argparse
import asyncio
import os
import re
import signal

HOST = "127.0.0.1"
PASV = re.compile(rb"^227 .*?(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)")
EPSV = re.compile(rb"^229 .*?\((.)\1\1(\d+)\1\)")


async def delayed_pipe(reader, writer, delay, rewrite=None, rate=None):
    """Copies reader to writer, each chunk written DELAY seconds after it was read, in
    order; rewrite(line) -> line (awaitable) sees every line when given. With rate, no
    sooner than RATE bytes per second since the first chunk. The end of the input is
    passed on (after its delay) as the end of the output."""
    loop = asyncio.get_running_loop()
    # Bounded: a reader that stops reading holds the writer back, as a link's window would.
    queue = asyncio.Queue(maxsize=64)

    async def feed():
        pending = b""  # a reply line not yet whole (rewrite only)
        while True:
            try:
                data = await reader.read(65536)
            except OSError:
                data = b""
            if rewrite is not None and data:
                lines = (pending + data).split(b"\n")
                pending = lines.pop()
                data = b"".join([await rewrite(line + b"\n") for line in lines])
                if not data:
                    continue  # no whole line yet: nothing to pass on
            elif not data and pending:
                await queue.put((loop.time() + delay, pending))
            await queue.put((loop.time() + delay, data))
            if not data:
                return

    sent, first = 0, None

    async def send():
        nonlocal sent, first
        while True:
            due, data = await queue.get()
            if rate:  # the end too waits for the bytes before it
                if first is None and data:
                    first = loop.time()
                if first is not None:
                    due = max(due, first + sent / rate)
                sent += len(data)
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                break
            try:
                writer.write(data)
                await writer.drain()
            except OSError:
                feeder.cancel()  # nobody to pass it on to: stop reading
                writer.close()
                return
        try:
            if writer.can_write_eof():
                writer.write_eof()
            else:
                writer.close()
        except (ConnectionError, OSError):
            pass

    feeder = asyncio.ensure_future(feed())
    try:
        await asyncio.gather(feeder, send())
    except asyncio.CancelledError:
        pass


async def relay(client_reader, client_writer, port, delay, rewrite=None, rate=None):
    """Both directions between a client and the server's port, until both ends close;
    rate: the limit from the server to the client."""
    try:
        server_reader, server_writer = await asyncio.open_connection(HOST, port)
    except OSError:
        client_writer.close()
        return
    try:
        await asyncio.gather(
            delayed_pipe(client_reader, server_writer, delay),
            delayed_pipe(server_reader, client_writer, delay, rewrite, rate))
    finally:
        for w in (client_writer, server_writer):
            w.close()


async def data_listener(server_port, delay, rate):
    """A port of ours that relays one data connection to the server's server_port."""
    async def accepted(reader, writer):
        listener.close()
        await relay(reader, writer, server_port, delay, rate=rate)

    listener = await asyncio.start_server(accepted, HOST, 0, backlog=1)
    # A port the client never connects to closes after a while, as the server's would.
    asyncio.get_running_loop().call_later(60, listener.close)
    return listener.sockets[0].getsockname()[1]


def make_rewrite(delay, rate):
    async def rewrite(line):
        m = PASV.match(line)
        if m:
            port = int(m.group(5)) * 256 + int(m.group(6))
            ours = await data_listener(port, delay, rate)
            return ("227 Entering Passive Mode (127,0,0,1,%d,%d).\r\n" %
                    (ours // 256, ours % 256)).encode()
        m = EPSV.match(line)
        if m:
            ours = await data_listener(int(m.group(2)), delay, rate)
            return ("229 Entering Extended Passive Mode (|||%d|).\r\n" % ours).encode()
        return line
    return rewrite


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", type=int, required=True)
    parser.add_argument("--delay", type=float, required=True)
    parser.add_argument("--portfile", required=True)
    parser.add_argument("--rate", type=float, default=0)
    args = parser.parse_args()
    rewrite = make_rewrite(args.delay, args.rate or None)

    async def control(reader, writer):
        await relay(reader, writer, args.target, args.delay, rewrite)

    server = await asyncio.start_server(control, HOST, 0)
    port = server.sockets[0].getsockname()[1]
    tmp = args.portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, args.portfile)
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(
        signal.SIGTERM, lambda: stop.done() or stop.set_result(None))
    parent = os.getppid()
    while not stop.done():
        await asyncio.wait([stop], timeout=1)
        if os.getppid() != parent:
            break
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
