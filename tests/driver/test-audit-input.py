#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Audit of issue 3 (bad input and events through a stock libvirtd):
every refused document of the domain model's corpus (tests/domain/bad/)
gives its libvirt error code and changes nothing; a corrupt managed save
image; lifecycle events seen by two independent clients, with the right
detail codes, and none after deregistration.
usage: test-audit-input.py CASE"""

import glob
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from driver_common import *  # noqa: E402,F401,F403

BAD = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'domain', 'bad')


def _state_files(d):
    out = []
    for root, _, files in os.walk(d.config_dir):
        out += [os.path.join(root, f) for f in files]
    return sorted(out)


@case
def audit_bad_corpus_through_libvirtd():
    with Libvirtd() as d:
        c = d.connect()
        keep = c.defineXML(d.guest_xml('keep'))
        keep.create()
        before = snapshot(c)
        files = _state_files(d)
        pids = d.sim_pids()
        docs = sorted(glob.glob(os.path.join(BAD, '*.xml')))
        assert len(docs) >= 10, docs
        for path in docs:
            with open(os.path.join(path[:-4] + '.expect')) as f:
                code_name, text = f.read().split('\n')[:2]
            assert code_name.startswith('XM_ERR_'), code_name
            code = getattr(libvirt, 'VIR_ERR_' + code_name[len('XM_ERR_'):])
            with open(path) as f:
                xml = f.read()
            for fn, args in ((c.defineXML, (xml,)), (c.createXML, (xml, 0)),
                             (c.defineXMLFlags, (xml, E.VIR_DOMAIN_DEFINE_VALIDATE))):
                try:
                    e = expect_error(code, fn, *args)
                except AssertionError as ae:
                    raise AssertionError('%s: %s' % (os.path.basename(path), ae))
                assert text in e.get_error_message(), \
                    '%s: %r not in %r' % (path, text, e.get_error_message())
            assert snapshot(c) == before, path
            assert _state_files(d) == files, path
            assert d.sim_pids() == pids, path
        keep.destroy()


@case
def audit_corrupt_managed_save():
    """A damaged managed save image: the start fails with the image's error
    and changes nothing; --force-boot discards it and boots."""
    with Libvirtd() as d:
        c = d.connect()
        dom = c.defineXML(d.guest_xml('g1'))
        dom.create()
        time.sleep(0.3)
        dom.managedSave(0)
        wait_for(lambda: not d.sim_pids(), what='saved guest to exit')
        imgs = [os.path.join(d.save_dir, f) for f in os.listdir(d.save_dir)]
        assert len(imgs) == 1, imgs
        with open(imgs[0], 'r+b') as f:
            f.truncate(os.path.getsize(imgs[0]) // 2)
        before = snapshot(c)
        e = expect_error(E.VIR_ERR_OPERATION_FAILED, dom.create)
        assert 'truncated' in e.get_error_message(), e.get_error_message()
        assert snapshot(c) == before and not d.sim_pids()
        assert dom.hasManagedSaveImage(0) == 1
        dom.createWithFlags(E.VIR_DOMAIN_START_FORCE_BOOT)
        assert dom.state() == [E.VIR_DOMAIN_RUNNING, E.VIR_DOMAIN_RUNNING_BOOTED], dom.state()
        assert dom.hasManagedSaveImage(0) == 0 and os.listdir(d.save_dir) == []
        dom.destroy()


@case
def audit_events_two_clients():
    """Two connections each get every lifecycle event of the other's
    actions, with libvirt's detail codes; a deregistered callback gets no
    more."""
    with Libvirtd() as d:
        a = d.connect()
        b = d.connect()
        ea, eb = Events(a), Events(b)
        dom = a.defineXML(d.guest_xml('g1'))
        dom.createWithFlags(E.VIR_DOMAIN_START_PAUSED)
        bdom = b.lookupByName('g1')
        bdom.resume()
        bdom.suspend()
        dom.resume()
        path = os.path.join(d.dir, 'g1.save')
        bdom.save(path)
        a.restore(path)
        a.lookupByName('g1').managedSave(0)
        b.lookupByName('g1').create()
        b.lookupByName('g1').destroy()
        want = [
            ('g1', E.VIR_DOMAIN_EVENT_DEFINED, E.VIR_DOMAIN_EVENT_DEFINED_ADDED),
            ('g1', E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_BOOTED),
            ('g1', E.VIR_DOMAIN_EVENT_SUSPENDED, E.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED),
            ('g1', E.VIR_DOMAIN_EVENT_RESUMED, E.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED),
            ('g1', E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_SAVED),
            ('g1', E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_RESTORED),
            ('g1', E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_DESTROYED),
        ]
        ea.wait(want)
        eb.wait(want)

        def seq(got):
            return [e[1:] for e in got]
        # the order is the order of the actions
        expect = [
            (E.VIR_DOMAIN_EVENT_DEFINED, E.VIR_DOMAIN_EVENT_DEFINED_ADDED),
            (E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_BOOTED),
            (E.VIR_DOMAIN_EVENT_SUSPENDED, E.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED),
            (E.VIR_DOMAIN_EVENT_RESUMED, E.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED),
            (E.VIR_DOMAIN_EVENT_SUSPENDED, E.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED),
            (E.VIR_DOMAIN_EVENT_RESUMED, E.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED),
            (E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_SAVED),
            (E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_RESTORED),
            (E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_SAVED),
            (E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_RESTORED),
            (E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_DESTROYED),
        ]
        wait_for(lambda: len(ea.got) >= len(expect) and len(eb.got) >= len(expect),
                 what='all events')
        time.sleep(0.5)
        assert seq(ea.got) == expect, ea.got
        assert seq(eb.got) == expect, eb.got
        eb.close()
        n = len(eb.got)
        dom = a.lookupByName('g1')
        dom.undefine()
        ea.wait([('g1', E.VIR_DOMAIN_EVENT_UNDEFINED, E.VIR_DOMAIN_EVENT_UNDEFINED_REMOVED)])
        time.sleep(0.5)
        assert len(eb.got) == n, eb.got[n:]
        ea.close()


@case
def audit_duplicate_variants():
    """Duplicates beyond the plain ones: createXML of a defined name with
    another UUID, a defined UUID written in capitals or without dashes
    under another name, a running transient's name or UUID."""
    with Libvirtd() as d:
        c = d.connect()
        dom = c.defineXML(d.guest_xml('g1'))
        u = dom.UUIDString()
        t = c.createXML(d.guest_xml('t1'), 0)
        before = snapshot(c)
        pids = d.sim_pids()
        cases = [
            (E.VIR_ERR_OPERATION_FAILED, c.createXML, d.guest_xml('g1'), 0),
            (E.VIR_ERR_OPERATION_FAILED, c.defineXML, d.guest_xml('g2', uuid=u.upper())),
            (E.VIR_ERR_OPERATION_FAILED, c.defineXML,
             d.guest_xml('g2', uuid=u.replace('-', ''))),
            (E.VIR_ERR_OPERATION_INVALID, c.createXML, t.XMLDesc(0), 0),
            (E.VIR_ERR_OPERATION_FAILED, c.defineXML, d.guest_xml('t1')),
            (E.VIR_ERR_OPERATION_FAILED, c.defineXML,
             d.guest_xml('t2', uuid=t.UUIDString())),
            (E.VIR_ERR_OPERATION_FAILED, c.createXML,
             d.guest_xml('t3', uuid=t.UUIDString()), 0),
        ]
        for code, fn, *args in cases:
            expect_error(code, fn, *args)
            assert snapshot(c) == before, (fn, args)
            assert d.sim_pids() == pids
        assert not os.path.exists(os.path.join(d.config_dir, 'g2.xml'))
        assert not os.path.exists(os.path.join(d.config_dir, 't1.xml'))
        t.destroy()


if __name__ == '__main__':
    sys.exit(main())
