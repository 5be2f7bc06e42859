#!/usr/bin/env python3
"""A TCP relay that stands in for a WAN link where tc netem is not available: every byte is held back `delay`
milliseconds in each direction and each direction is paced to `rate` bits per second.

    delay-relay.py LISTEN_PORT TARGET_HOST TARGET_PORT [--delay-ms 10] [--rate-mbit 1000]

It prints the port it listens on (127.0.0.1; 0 picks a free one) and relays until its standard input closes. Used by
`siteloc-bench smb --wan`; see Benchmarks/README.md.
"""
import argparse
import asyncio
import collections
import os
import sys
import time


# When each direction of the link is free again: every connection through the relay shares the link's rate, as
# connections share a real link.
link_free_at = {"up": 0.0, "down": 0.0}


async def pump(reader, writer, delay, rate, direction):
    """Copies reader to writer; each chunk leaves `delay` seconds after it arrived, and the direction's link carries
    no more than `rate` B/s over all connections."""
    queue = collections.deque()
    arrived = asyncio.Event()
    done = False

    async def receive():
        nonlocal done
        try:
            while True:
                chunk = await reader.read(256 * 1024)
                if not chunk:
                    break
                queue.append((time.monotonic() + delay, chunk))
                arrived.set()
        except (ConnectionError, asyncio.CancelledError):
            pass
        done = True
        arrived.set()

    receiving = asyncio.ensure_future(receive())
    try:
        while True:
            if not queue:
                if done:
                    break
                arrived.clear()
                await arrived.wait()
                continue
            due, chunk = queue.popleft()
            now = time.monotonic()
            # The link is busy until the chunks before this one, of any connection, have been clocked out at `rate`.
            start = max(due, link_free_at[direction])
            link_free_at[direction] = start + len(chunk) / rate
            if start > now:
                await asyncio.sleep(start - now)
            writer.write(chunk)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        receiving.cancel()
        try:
            writer.close()
        except Exception:
            pass


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("listen_port", type=int)
    parser.add_argument("target_host")
    parser.add_argument("target_port", type=int)
    parser.add_argument("--delay-ms", type=float, default=10.0)
    parser.add_argument("--rate-mbit", type=float, default=1000.0)
    arguments = parser.parse_args()
    delay = arguments.delay_ms / 1000
    rate = arguments.rate_mbit * 1e6 / 8

    async def connected(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection(arguments.target_host, arguments.target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            pump(client_reader, server_writer, delay, rate, "up"), pump(server_reader, client_writer, delay, rate, "down")
        )

    server = await asyncio.start_server(connected, "127.0.0.1", arguments.listen_port)
    print(server.sockets[0].getsockname()[1], flush=True)
    # The relay lives as long as whoever started it keeps its standard input open.
    loop = asyncio.get_running_loop()
    parent_gone = loop.create_future()
    loop.add_reader(sys.stdin.fileno(), lambda: parent_gone.done() or os.read(sys.stdin.fileno(), 4096) or
                    parent_gone.set_result(None))
    async with server:
        await parent_gone


if __name__ == "__main__":
    asyncio.run(main())
