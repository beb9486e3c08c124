#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Feeds malformed NBD handshakes and requests to a running server on the
unix socket argv[1] (export "", 16 MiB, read-write). Each case checks that
the server either answers with the right error and keeps the session
usable, or hangs up; never that it hangs. Prints one line per case and
exits non-zero if any case failed."""

import socket
import struct
import sys

SOCK = sys.argv[1]
IHAVEOPT = 0x49484156454F5054
REP_MAGIC = 0x3E889045565A9
REQ_MAGIC = 0x25609513
SIMPLE_MAGIC = 0x67446698
STRUCT_MAGIC = 0x668E33EF
ERR_UNSUP, ERR_INVALID, ERR_UNKNOWN, ERR_TOO_BIG = (
    (1 << 31) + 1, (1 << 31) + 3, (1 << 31) + 6, (1 << 31) + 9)
OPT_EXPORT_NAME, OPT_ABORT, OPT_GO, OPT_STRUCTURED = 1, 2, 7, 8
NBD_EINVAL, NBD_ENOSPC = 22, 28


class Closed(Exception):
    pass


def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(SOCK)
    hello = recv(s, 18)
    assert hello[:8] == b"NBDMAGIC", hello
    return s


def recv(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise Closed()
        buf += chunk
    return buf


def option(s, opt, data=b""):
    s.sendall(struct.pack(">QII", IHAVEOPT, opt, len(data)) + data)


def option_reply(s):
    magic, opt, rep, length = struct.unpack(">QIII", recv(s, 20))
    assert magic == REP_MAGIC, hex(magic)
    return opt, rep, recv(s, length)


def expect_closed(s):
    """The server must hang up (EOF or reset), not stall."""
    try:
        while s.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except socket.timeout:
        raise AssertionError("server did not close the connection")


def go(s, structured=True):
    s.sendall(struct.pack(">I", 3))
    if structured:
        option(s, OPT_STRUCTURED)
        assert option_reply(s)[1] == 1
    option(s, OPT_GO, struct.pack(">IH", 0, 0))
    while True:
        _, rep, _ = option_reply(s)
        if rep == 1:
            return
        assert rep == 3, hex(rep)


def request(s, typ, offset, length, flags=0, cookie=0x1234, payload=b""):
    s.sendall(struct.pack(">IHHQQI", REQ_MAGIC, flags, typ, cookie, offset,
                          length) + payload)


def reply_error(s):
    """Error of the next reply, simple or structured (final chunk)."""
    magic = struct.unpack(">I", recv(s, 4))[0]
    if magic == SIMPLE_MAGIC:
        err, _ = struct.unpack(">IQ", recv(s, 12))
        return err
    assert magic == STRUCT_MAGIC, hex(magic)
    flags, typ, _, length = struct.unpack(">HHQI", recv(s, 16))
    data = recv(s, length)
    assert flags & 1, "expected a single final chunk"
    if typ & 0x8000:
        return struct.unpack(">I", data[:4])[0]
    return 0


def case_bad_client_flags():
    s = connect()
    s.sendall(struct.pack(">I", 0xFFFFFFFF))
    expect_closed(s)


def case_bad_option_magic():
    s = connect()
    s.sendall(struct.pack(">I", 3) + b"NOTMAGIC" + b"\0" * 8)
    expect_closed(s)


def case_huge_option():
    s = connect()
    s.sendall(struct.pack(">I", 3))
    s.sendall(struct.pack(">QII", IHAVEOPT, 99, 0xFFFFFFFF))
    assert option_reply(s)[1] == ERR_TOO_BIG
    expect_closed(s)


def case_truncated_option():
    s = connect()
    s.sendall(struct.pack(">I", 3))
    s.sendall(struct.pack(">QII", IHAVEOPT, OPT_GO, 100) + b"\0" * 10)
    s.shutdown(socket.SHUT_WR)
    expect_closed(s)


def case_inconsistent_go():
    s = connect()
    s.sendall(struct.pack(">I", 3))
    # name length larger than the option
    option(s, OPT_GO, struct.pack(">IH", 1000, 0))
    assert option_reply(s)[1] == ERR_INVALID
    # info request count not matching the bytes sent
    option(s, OPT_GO, struct.pack(">IHH", 0, 5, 1))
    assert option_reply(s)[1] == ERR_INVALID
    # the session is still fine
    option(s, OPT_ABORT)
    assert option_reply(s)[1] == 1
    expect_closed(s)


def case_unknown_option():
    s = connect()
    s.sendall(struct.pack(">I", 3))
    option(s, 0x1234, b"abcd")
    assert option_reply(s)[1] == ERR_UNSUP
    option(s, OPT_GO, struct.pack(">I", 4) + b"nope" + struct.pack(">H", 0))
    assert option_reply(s)[1] == ERR_UNKNOWN
    option(s, OPT_ABORT)
    assert option_reply(s)[1] == 1


def case_export_name_wrong():
    s = connect()
    s.sendall(struct.pack(">I", 3))
    option(s, OPT_EXPORT_NAME, b"nope")
    expect_closed(s)


def case_bad_request_magic():
    s = connect()
    go(s)
    s.sendall(b"\xde\xad\xbe\xef" + b"\0" * 24)
    expect_closed(s)


def case_oversize_write():
    s = connect()
    go(s)
    request(s, 1, 0, 64 << 20)
    assert reply_error(s) == NBD_EINVAL
    expect_closed(s)


def case_oversize_read():
    s = connect()
    go(s)
    request(s, 0, 0, 64 << 20)
    assert reply_error(s) == NBD_EINVAL
    request(s, 0, 16 << 20, 512)           # past the end
    assert reply_error(s) == NBD_EINVAL
    request(s, 0, (1 << 64) - 512, 1024)   # offset + length overflows
    assert reply_error(s) == NBD_EINVAL
    request(s, 1, 16 << 20, 4, payload=b"abcd")
    assert reply_error(s) == NBD_ENOSPC
    request(s, 99, 0, 0)                   # unknown command
    assert reply_error(s) == NBD_EINVAL
    request(s, 0, 0, 512, flags=0x8000)    # unknown flag
    assert reply_error(s) == NBD_EINVAL
    request(s, 7, 0, 512)                  # block status not negotiated
    assert reply_error(s) == NBD_EINVAL
    request(s, 2, 0, 0)                    # NBD_CMD_DISC
    expect_closed(s)


def case_simple_replies():
    s = connect()
    go(s, structured=False)
    request(s, 0, 0, 64 << 20)
    assert reply_error(s) == NBD_EINVAL
    request(s, 0, 0, 8)
    magic, err, cookie = struct.unpack(">IIQ", recv(s, 16))
    assert (magic, err, cookie) == (SIMPLE_MAGIC, 0, 0x1234)
    recv(s, 8)
    request(s, 2, 0, 0)
    expect_closed(s)


failed = 0
for name, fn in sorted(globals().items()):
    if not name.startswith("case_"):
        continue
    try:
        fn()
        print("ok  ", name[5:])
    except (AssertionError, Closed, OSError) as e:
        failed += 1
        print("FAIL", name[5:], type(e).__name__, e)
sys.exit(1 if failed else 0)
