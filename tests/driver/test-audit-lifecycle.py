#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Audit of issue 3 (state driver across libvirtd restarts): autostart
runs once per host boot and restores a managed save image; a transient or
paused guest is found again as it was; a libvirtd killed with SIGKILL
leaves its guests running and a new one takes them over.
usage: test-audit-lifecycle.py CASE"""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from driver_common import *  # noqa: E402,F401,F403


def _host_boot(d):
    """What a reboot does to libvirt's runtime state: it is gone."""
    os.unlink(os.path.join(d.state_dir, 'autostarted'))


@case
def audit_autostart_once_per_boot():
    with Libvirtd() as d:
        c = d.connect()
        a = c.defineXML(d.guest_xml('auto'))
        a.setAutostart(1)
        d.restart()
        c = d.connect()
        # libvirtd was already running when it was marked: no autostart
        # on a mere daemon restart
        assert c.lookupByName('auto').isActive() == 0
        d.stop()
        _host_boot(d)
        d.start()
        c = d.connect()
        dom = c.lookupByName('auto')
        wait_for(lambda: dom.isActive(), what='autostart')
        assert dom.state() == [E.VIR_DOMAIN_RUNNING, E.VIR_DOMAIN_RUNNING_BOOTED], dom.state()
        dom.destroy()
        d.restart()
        c = d.connect()
        assert c.lookupByName('auto').isActive() == 0, 'autostarted twice in one boot'


@case
def audit_autostart_restores_managed_save():
    with Libvirtd() as d:
        c = d.connect()
        dom = c.defineXML(d.guest_xml('auto', dirty_mib_s=4, heartbeat_ms=50))
        dom.setAutostart(1)
        dom.create()
        time.sleep(0.5)
        dom.managedSave(0)      # saved running: restored running
        wait_for(lambda: not d.sim_pids(), what='saved guest to exit')
        d.stop()
        _host_boot(d)
        d.start()
        c = d.connect()
        dom = c.lookupByName('auto')
        wait_for(lambda: dom.isActive(), what='autostart')
        assert dom.state() == [E.VIR_DOMAIN_RUNNING, E.VIR_DOMAIN_RUNNING_RESTORED], dom.state()
        assert dom.hasManagedSaveImage(0) == 0
        time.sleep(0.5)
        dom.destroy()
        rc, hb, out = d.heartbeat_check('auto')
        assert rc == 0 and hb['missing'] == '0' and int(hb['records']) > 10, out


@case
def audit_restart_keeps_transient_and_paused():
    with Libvirtd() as d:
        c = d.connect()
        t = c.createXML(d.guest_xml('trans'), 0)
        p = c.defineXML(d.guest_xml('paused'))
        p.create()
        p.suspend()
        ids = {'trans': t.ID(), 'paused': p.ID()}
        xml = {'trans': t.XMLDesc(0), 'paused': p.XMLDesc(0)}
        ram = d.sim_call(p.ID(), 'ram-checksum')['checksum']
        d.restart()
        c = d.connect()
        t, p = c.lookupByName('trans'), c.lookupByName('paused')
        assert t.isPersistent() == 0 and t.isActive() == 1 and t.ID() == ids['trans']
        assert p.isPersistent() == 1 and p.ID() == ids['paused']
        assert p.state() == [E.VIR_DOMAIN_PAUSED, E.VIR_DOMAIN_PAUSED_USER], p.state()
        assert t.state()[0] == E.VIR_DOMAIN_RUNNING
        assert t.XMLDesc(0) == xml['trans'] and p.XMLDesc(0) == xml['paused']
        assert d.sim_call(p.ID(), 'ram-checksum')['checksum'] == ram
        p.resume()
        t.destroy()
        p.destroy()
        assert names(c) == ['paused']
        wait_for(lambda: not d.sim_pids(), what='guests to exit')


@case
def audit_libvirtd_killed_keeps_guest():
    with Libvirtd() as d:
        c = d.connect()
        dom = c.defineXML(d.guest_xml('g1', heartbeat_ms=50))
        dom.create()
        domid = dom.ID()
        pids = d.sim_pids()
        for x in d.conns:
            try:
                x.close()
            except libvirt.libvirtError:
                pass
        d.conns = []
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        time.sleep(1.5)
        assert d.sim_pids() == pids, 'the guest died with libvirtd'
        if os.path.exists(d.sock):
            os.unlink(d.sock)
        d.proc = None
        d.start()
        c = d.connect()
        ev = Events(c)
        dom = c.lookupByName('g1')
        assert dom.ID() == domid and dom.state()[0] == E.VIR_DOMAIN_RUNNING
        # the new libvirtd really controls it: a guest shutdown is seen
        dom.shutdown()
        ev.wait([('g1', E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN)])
        wait_for(lambda: not d.sim_pids(), what='guest to exit')
        rc, hb, out = d.heartbeat_check('g1')
        assert rc == 0 and hb['missing'] == '0' and int(hb['max_gap_ms']) < 1000, out


@case
def audit_restart_actions_send_events():
    """A guest power-off under on_poweroff=restart and a crash under
    on_crash=restart: the domain runs again with a new domid, and the
    clients are told - stopped (shutdown / crashed), then started
    (booted), as libvirt's libxl driver reports it."""
    with Libvirtd() as d:
        c = d.connect()
        ev = Events(c)
        for name, action, stop in (('off', 'poweroff', E.VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN),
                                   ('crash', 'crash', E.VIR_DOMAIN_EVENT_STOPPED_CRASHED)):
            dom = c.defineXML(d.guest_xml(name, on_poweroff='restart', on_crash='restart'))
            dom.create()
            old = dom.ID()
            d.sim_call(old, action)
            wait_for(lambda: c.lookupByName(name).ID() not in (-1, old),
                     what='%s: restart with a new domid' % name)
            ev.wait([(name, E.VIR_DOMAIN_EVENT_STOPPED, stop)])
            wait_for(lambda: [e for e in ev.got if e[0] == name][-1][1] ==
                     E.VIR_DOMAIN_EVENT_STARTED, what='%s: started after the stop' % name)
            mine = [e[1:] for e in ev.got if e[0] == name]
            i = mine.index((E.VIR_DOMAIN_EVENT_STOPPED, stop))
            assert mine[i + 1:] == [(E.VIR_DOMAIN_EVENT_STARTED,
                                     E.VIR_DOMAIN_EVENT_STARTED_BOOTED)], mine
            assert dom.state() == [E.VIR_DOMAIN_RUNNING, E.VIR_DOMAIN_RUNNING_BOOTED], dom.state()
            dom.destroy()
        wait_for(lambda: not d.sim_pids(), what='guests to exit')


@case
def audit_autostart_failure_isolated():
    """One autostart domain that cannot start (its disk is gone) neither
    stops libvirtd nor the other autostart domains; starting it by hand
    names the missing disk."""
    with Libvirtd() as d:
        c = d.connect()
        for n in ('broken', 'fine'):
            c.defineXML(d.guest_xml(n)).setAutostart(1)
        d.stop()
        os.unlink(os.path.join(d.dir, 'images', 'broken.img'))
        _host_boot(d)
        d.start()
        c = d.connect()
        wait_for(lambda: c.lookupByName('fine').isActive(), what='autostart of fine')
        assert c.lookupByName('broken').state()[0] == E.VIR_DOMAIN_SHUTOFF
        assert len(d.sim_pids()) == 1
        e = expect_error(E.VIR_ERR_OPERATION_FAILED, c.lookupByName('broken').create)
        assert 'broken.img' in e.get_error_message(), e.get_error_message()
        c.lookupByName('fine').destroy()


if __name__ == '__main__':
    sys.exit(main())
