#!/usr/bin/python3
# pty-run.py TRIGGER CMD [ARG...]
#
# Runs CMD on a pseudo-terminal (virsh handles Ctrl-C during a migration
# only on a terminal), copies its output to standard output, and types
# Ctrl-C into the terminal once the file TRIGGER exists. Exits with CMD's
# status.
import os
import pty
import select
import sys

trigger, argv = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
sent = False
while True:
    if not sent and os.path.exists(trigger):
        os.write(fd, b"\x03")
        sent = True
    r, _, _ = select.select([fd], [], [], 0.1)
    if r:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode")
         else (status >> 8))
