#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A lying destination ends `xenmig-mirror copy` with an error, never a hang
and never a "done". The destination is a minimal NBD server in this script
(fixed newstyle, simple replies) that handshakes correctly and then lies:

  bad-magic     answers the first write with a reply of a wrong magic
  wrong-cookie  answers the first write with a cookie that was never sent
  vanish        handshakes, then closes the connection when
                the first write arrives (a peer that vanishes mid-request)

The tool must exit 1 within 30 s with a message prefixed "xenmig-mirror: "
and must not print its "copy: copied" summary.
"""
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading

NBDMAGIC = 0x4e42444d41474943
IHAVEOPT = 0x49484156454F5054
REPLY_MAGIC = 0x3e889045565a9
SIMPLE_REPLY = 0x67446698
REQUEST_MAGIC = 0x25609513
OPT_GO, OPT_ABORT = 7, 2
REP_ACK, REP_INFO, REP_ERR_UNSUP = 1, 3, 0x80000001
SIZE = 8 * 1024 * 1024


def recvall(c, n):
    b = b""
    while len(b) < n:
        chunk = c.recv(n - len(b))
        if not chunk:
            raise EOFError
        b += chunk
    return b


def opt_reply(c, opt, rtype, data=b""):
    c.sendall(struct.pack(">QIII", REPLY_MAGIC, opt, rtype, len(data)) + data)


def serve_one(c, how):
    c.sendall(struct.pack(">QQH", NBDMAGIC, IHAVEOPT, 3))  # fixed, no zeroes
    recvall(c, 4)
    while True:
        _magic, opt, length = struct.unpack(">QII", recvall(c, 16))
        recvall(c, length)
        if opt == OPT_GO:
            # NBD_INFO_EXPORT: size, flags HAS_FLAGS|SEND_FLUSH
            opt_reply(c, opt, REP_INFO, struct.pack(">HQH", 0, SIZE, 1 | 4))
            opt_reply(c, opt, REP_ACK)
            break
        if opt == OPT_ABORT:
            opt_reply(c, opt, REP_ACK)
            return
        opt_reply(c, opt, REP_ERR_UNSUP)
    while True:
        magic, _flags, cmd, cookie, _off, length = struct.unpack(
            ">IHHQQI", recvall(c, 28))
        if magic != REQUEST_MAGIC:
            return
        if cmd == 1:  # write
            recvall(c, length)
            if how == "bad-magic":
                c.sendall(struct.pack(">IIQ", 0xdeadbeef, 0, cookie))
            elif how == "wrong-cookie":
                c.sendall(struct.pack(">IIQ", SIMPLE_REPLY, 0, cookie ^ 0x5a5a5a5a))
            else:
                return
            # then hold the connection open: a client waiting for the real
            # reply would hang here forever
            threading.Event().wait(60)
            return
        if cmd == 2:  # disconnect
            return
        c.sendall(struct.pack(">IIQ", SIMPLE_REPLY, 0, cookie))


def main():
    how = sys.argv[1]
    builddir = os.environ["XENMIG_BUILDDIR"]
    tool = os.path.join(builddir, "tools", "mirror", "xenmig-mirror")
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "src.img")
        with open(src, "wb") as f:
            f.write(os.urandom(SIZE))
        sock_path = os.path.join(tmp, "dst.sock")
        lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lsock.bind(sock_path)
        lsock.listen(16)

        def acceptor():
            while True:
                try:
                    c, _ = lsock.accept()
                except OSError:
                    return
                threading.Thread(target=lambda: guarded(c), daemon=True).start()

        def guarded(c):
            try:
                serve_one(c, how)
            except (EOFError, OSError):
                pass
            finally:
                c.close()

        threading.Thread(target=acceptor, daemon=True).start()
        proc = subprocess.Popen(
            [tool, "copy", src, "nbd+unix:///?socket=" + sock_path,
             "--connections", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            print("FAIL: xenmig-mirror still running 30 s after the peer lied")
            return 1
        finally:
            lsock.close()
        print("exit %d, stderr: %s" % (proc.returncode, err.strip()))
        if proc.returncode != 1:
            print("FAIL: exit code %d, expected 1" % proc.returncode)
            return 1
        if not any(l.startswith("xenmig-mirror: ") for l in err.splitlines()):
            print("FAIL: no message prefixed 'xenmig-mirror: '")
            return 1
        if "copy: copied" in err:
            print("FAIL: the tool printed its success summary")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
