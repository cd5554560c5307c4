#!/usr/bin/python3
"""A minimal event source for the journeyd ingest port (docs/protocol.md), in plain Python 3.

Framing, both directions: a 4-byte unsigned big-endian length N, then N bytes holding
exactly one msgpack value. A request frame is one event (a map with string keys: id,
customer, type, optional ts in ms since the epoch, optional attrs map) or a batch (an array
of such maps). The daemon answers every request frame with exactly one response frame, in
request order, once the frame's accepted events are durable:

    {"ok": bool, "accepted": int, "duplicates": int,
     "errors": [{"index": position in the batch, "error": str}]}

Because responses come in order, a source may pipeline: write many frames, then read the
responses. This script sends two single events and one batch of three for one customer
without waiting in between, then reads and prints the three responses.

A daemon with [ingest] token wants a hello first, {"hello": {"token": "..."}}, answered
{"ok": true} (--token, or JOURNEYD_INGEST_TOKEN); one with [ingest] tls_cert speaks TLS
(--tls, and --cafile to trust a certificate that no system CA signed).

Needs Debian's python3-msgpack (apt-get install python3-msgpack), hence /usr/bin/python3.

    examples/event_source.py --ingest 127.0.0.1:7400 --customer c-demo
    examples/event_source.py --ingest localhost:7400 --tls --cafile cert.pem --token s3cret
"""

import argparse
import os
import socket
import ssl
import struct
import sys
import time
import uuid

import msgpack

LENGTH_PREFIX = struct.Struct(">I")  # unsigned 32-bit, big-endian


def send_frame(sock, value):
    body = msgpack.packb(value, use_bin_type=True)
    sock.sendall(LENGTH_PREFIX.pack(len(body)) + body)


def read_exactly(sock, size):
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("the daemon closed the connection")
        chunks += chunk
    return bytes(chunks)


def read_frame(sock):
    (length,) = LENGTH_PREFIX.unpack(read_exactly(sock, LENGTH_PREFIX.size))
    return msgpack.unpackb(read_exactly(sock, length), raw=False)


def event(customer, event_type, attrs=None):
    now_ms = int(time.time() * 1000)
    # A fresh id per run: the daemon acknowledges a repeated id as a duplicate, no more.
    result = {"id": str(uuid.uuid4()), "customer": customer, "type": event_type, "ts": now_ms}
    if attrs is not None:
        result["attrs"] = attrs
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ingest", default="127.0.0.1:7400", help="ingest port HOST:PORT")
    parser.add_argument("--customer", default="c-demo", help="customer id of the events")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds")
    parser.add_argument("--token", default=os.environ.get("JOURNEYD_INGEST_TOKEN"),
                        help="[ingest] token, sent in a hello first")
    parser.add_argument("--tls", action="store_true", help="the port speaks TLS")
    parser.add_argument("--cafile", help="PEM certificate(s) to trust instead of the system's")
    args = parser.parse_args()

    host, _, port = args.ingest.rpartition(":")
    if not host or not port.isdigit():
        parser.error(f"--ingest {args.ingest!r}: expected HOST:PORT")
    host = host.strip("[]")  # "[::1]:7400"

    frames = [
        event(args.customer, "profile", {"tz": "Europe/Berlin", "consent": {"email": True}}),
        event(args.customer, "search", {"query": "bicycle"}),
        [
            event(args.customer, "view", {"listing": "l-1"}),
            event(args.customer, "favorite", {"listing": "l-1"}),
            event(args.customer, "ad_placed", {"listing": "l-2", "price": 120.5}),
        ],
    ]
    try:
        with socket.create_connection((host, int(port)), timeout=args.timeout) as plain:
            plain.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock = plain
            if args.tls:
                context = ssl.create_default_context(cafile=args.cafile)
                sock = context.wrap_socket(plain, server_hostname=host)
            if args.token:
                send_frame(sock, {"hello": {"token": args.token}})
                answer = read_frame(sock)
                if not answer.get("ok"):
                    print(f"ingest {args.ingest}: hello refused: {answer.get('error')}",
                          file=sys.stderr)
                    return 2
            for frame in frames:
                send_frame(sock, frame)
            for number, frame in enumerate(frames, start=1):
                kind = f"batch of {len(frame)}" if isinstance(frame, list) else frame["type"]
                print(f"frame {number} ({kind}): {read_frame(sock)}")
    except OSError as error:  # refused, timed out, closed: ConnectionError is one too
        print(f"ingest {args.ingest}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
