# SPDX-License-Identifier: LGPL-2.1-or-later
"""Helpers of the libvirt suite's python tests (test-*.py CASE, one
behaviour per case): the case registry, error and event assertions."""

import sys
import threading

import libvirt
from libvirtd_fixture import Libvirtd, start_event_loop, wait_for  # noqa: F401

BAD_FLAG = 1 << 30
CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def expect_error(code, fn, *args, domain=None):
    """Calls fn(*args), which must fail with libvirt error @code (and, if
    given, error domain @domain)."""
    try:
        fn(*args)
    except libvirt.libvirtError as e:
        if domain is not None and e.get_error_domain() != domain:
            raise AssertionError('%s: error domain %d, expected %d (%s)' %
                                 (getattr(fn, '__name__', fn), e.get_error_domain(),
                                  domain, e.get_error_message()))
        if e.get_error_code() != code:
            raise AssertionError('%s: expected error %d, got %d (%s)' %
                                 (getattr(fn, '__name__', fn), code,
                                  e.get_error_code(), e.get_error_message()))
        return e
    raise AssertionError('%s: no error, expected %d' % (getattr(fn, '__name__', fn), code))


def names(conn, flags=0):
    return sorted(d.name() for d in conn.listAllDomains(flags))


def snapshot(conn):
    """What 'changes nothing' compares: every domain, its state and XML."""
    return sorted((d.name(), d.UUIDString(), d.state()[0], d.XMLDesc(0))
                  for d in conn.listAllDomains(0))


class Events:
    def __init__(self, conn):
        start_event_loop()
        self.got = []
        self.lock = threading.Lock()
        self.conn = conn
        self.id = conn.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._cb, None)

    def _cb(self, conn, dom, event, detail, opaque):
        with self.lock:
            self.got.append((dom.name(), event, detail))

    def wait(self, expected, timeout=15):
        def have():
            with self.lock:
                return all(e in self.got for e in expected)
        try:
            wait_for(have, timeout, 'events %s' % (expected,))
        except AssertionError:
            raise AssertionError('expected %s, got %s' % (expected, self.got))

    def close(self):
        self.conn.domainEventDeregisterAny(self.id)


E = libvirt


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        sys.stderr.write('usage: %s CASE\ncases: %s\n' % (sys.argv[0], ' '.join(CASES)))
        return 2
    CASES[sys.argv[1]]()
    print('ok', sys.argv[1])
    return 0

