#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Starting, stopping, autostart, events, libvirtd restarts
(stock libvirtd, python3-libvirt). usage: test-lifecycle.py CASE"""

import os
import sys
import threading
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from driver_common import *  # noqa: E402,F401,F403


@case
def lifecycle_start_suspend_resume_destroy():
    with Libvirtd() as d:
        c = d.connect()
        dom = c.defineXML(d.guest_xml('g1'))
        dom.create()
        assert dom.isActive() == 1
        assert dom.state() == [E.VIR_DOMAIN_RUNNING, E.VIR_DOMAIN_RUNNING_BOOTED]
        domid = dom.ID()
        assert domid > 0 and c.lookupByID(domid).name() == 'g1'
        assert len(d.sim_pids()) == 1
        expect_error(E.VIR_ERR_OPERATION_INVALID, dom.create)
        dom.suspend()
        assert dom.state() == [E.VIR_DOMAIN_PAUSED, E.VIR_DOMAIN_PAUSED_USER]
        assert d.sim_call(domid, 'info').get('state') == 'paused'
        dom.resume()
        assert dom.state() == [E.VIR_DOMAIN_RUNNING, E.VIR_DOMAIN_RUNNING_UNPAUSED]
        assert d.sim_call(domid, 'info').get('state') == 'running'
        dom.destroy()
        assert dom.state() == [E.VIR_DOMAIN_SHUTOFF, E.VIR_DOMAIN_SHUTOFF_DESTROYED]
        wait_for(lambda: not d.sim_pids(), what='sim guest to exit')
        expect_error(E.VIR_ERR_OPERATION_INVALID, dom.destroy)
        expect_error(E.VIR_ERR_NO_DOMAIN, c.lookupByID, domid)


@case
def lifecycle_start_paused():
    with Libvirtd() as d:
        c = d.connect()
        dom = c.defineXML(d.guest_xml('g1'))
        dom.createWithFlags(E.VIR_DOMAIN_START_PAUSED)
        assert dom.state()[0] == E.VIR_DOMAIN_PAUSED
        dom.resume()
        assert dom.state()[0] == E.VIR_DOMAIN_RUNNING
        expect_error(E.VIR_ERR_INVALID_ARG, dom.destroyFlags, BAD_FLAG)
        dom.destroy()


@case
def lifecycle_shutdown():
    with Libvirtd() as d:
        c = d.connect()
        dom = c.defineXML(d.guest_xml('g1'))
        dom.create()
        dom.shutdown()
        wait_for(lambda: dom.state()[0] == E.VIR_DOMAIN_SHUTOFF, what='shutoff')
        assert dom.state()[1] == E.VIR_DOMAIN_SHUTOFF_SHUTDOWN
        wait_for(lambda: not d.sim_pids(), what='sim guest to exit')
        assert names(c) == ['g1']


@case
def lifecycle_transient():
    with Libvirtd() as d:
        c = d.connect()
        dom = c.createXML(d.guest_xml('t1'), 0)
        assert dom.isActive() == 1 and dom.isPersistent() == 0
        expect_error(E.VIR_ERR_OPERATION_INVALID, dom.setAutostart, 1)
        expect_error(E.VIR_ERR_OPERATION_INVALID, dom.managedSave, 0)
        dom.destroy()
        assert names(c) == []


@case
def lifecycle_guest_poweroff_and_reboot():
    """Guest-initiated power-off and reboot follow on_poweroff/on_reboot."""
    with Libvirtd() as d:
        c = d.connect()
        dom = c.defineXML(d.guest_xml('g1'))
        dom.create()
        old = dom.ID()
        d.sim_call(old, 'reboot')          # on_reboot = restart
        # virDomainPtr caches the ID: look it up again
        wait_for(lambda: c.lookupByName('g1').ID() not in (-1, old),
                 what='restart with a new domid')
        assert dom.state()[0] == E.VIR_DOMAIN_RUNNING
        assert len(d.sim_pids()) == 1
        d.sim_call(c.lookupByName('g1').ID(), 'poweroff')   # on_poweroff = destroy
        wait_for(lambda: dom.state()[0] == E.VIR_DOMAIN_SHUTOFF, what='shutoff')
        assert dom.state()[1] == E.VIR_DOMAIN_SHUTOFF_SHUTDOWN
        wait_for(lambda: not d.sim_pids(), what='sim guest to exit')


@case
def lifecycle_memory_vcpus():
    with Libvirtd() as d:
        c = d.connect()
        dom = c.defineXML(d.guest_xml('g1', memory_mib=128))
        assert dom.vcpusFlags(E.VIR_DOMAIN_AFFECT_CONFIG) == 1
        dom.setMemoryFlags(96 * 1024, E.VIR_DOMAIN_AFFECT_CONFIG)
        assert dom.info()[2] == 96 * 1024
        dom.create()
        assert dom.maxVcpus() == 1
        dom.setMemory(64 * 1024)
        assert dom.info()[2] == 64 * 1024
        expect_error(E.VIR_ERR_INVALID_ARG, dom.setMemory, 1024 * 1024)
        expect_error(E.VIR_ERR_OPERATION_INVALID, dom.setMaxMemory, 256 * 1024)
        # live only: the next boot uses the config's 96 MiB again
        assert dom.isUpdated() == 1
        dom.destroy()
        assert dom.info()[2] == 96 * 1024 and dom.isUpdated() == 0


@case
def lifecycle_reboot_api():
    with Libvirtd() as d:
        c = d.connect()
        reboots = []
        c.domainEventRegisterAny(None, E.VIR_DOMAIN_EVENT_ID_REBOOT,
                                 lambda conn, dom, op: reboots.append(dom.name()), None)
        ev = Events(c)
        dom = c.defineXML(d.guest_xml('g1'))
        dom.create()
        old = dom.ID()
        dom.reboot(0)
        wait_for(lambda: reboots == ['g1'], what='the reboot event')
        # a reboot is no stop for libvirt's clients
        assert not [e for e in ev.got if e[1] == E.VIR_DOMAIN_EVENT_STOPPED], ev.got
        wait_for(lambda: c.lookupByName('g1').ID() not in (-1, old),
                 what='reboot with a new domid')
        assert dom.state()[0] == E.VIR_DOMAIN_RUNNING
        assert len(d.sim_pids()) == 1
        dom.destroy()


@case
def lifecycle_crash_preserve():
    with Libvirtd() as d:
        c = d.connect()
        dom = c.defineXML(d.guest_xml('g1', on_crash='preserve'))
        dom.create()
        d.sim_call(dom.ID(), 'crash')
        wait_for(lambda: dom.state()[0] == E.VIR_DOMAIN_CRASHED, what='crashed state')
        assert dom.isActive() == 1
        dom.destroy()
        assert dom.state()[0] == E.VIR_DOMAIN_SHUTOFF


@case
def define_while_running():
    """A new definition of a running domain waits for the next boot."""
    with Libvirtd() as d:
        c = d.connect()
        dom = c.defineXML(d.guest_xml('g1', memory_mib=64))
        dom.create()
        new = dom.XMLDesc(E.VIR_DOMAIN_XML_INACTIVE).replace(
            "<memory unit='KiB'>65536</memory>", "<memory unit='KiB'>98304</memory>")
        assert '98304' in new
        c.defineXML(new)
        assert dom.isUpdated() == 1
        assert dom.maxMemory() == 65536
        assert '98304' in dom.XMLDesc(E.VIR_DOMAIN_XML_INACTIVE)
        assert '98304' not in dom.XMLDesc(0)
        dom.destroy()
        assert dom.isUpdated() == 0 and dom.maxMemory() == 98304


@case
def undefine_while_running():
    """Undefining a running domain leaves it running as a transient one."""
    with Libvirtd() as d:
        c = d.connect()
        dom = c.defineXML(d.guest_xml('g1'))
        dom.create()
        dom.undefine()
        assert dom.isActive() == 1 and dom.isPersistent() == 0
        assert not os.path.exists(os.path.join(d.config_dir, 'g1.xml'))
        dom.destroy()
        assert names(c) == []


@case
def reload_picks_up_new_config():
    with Libvirtd() as d:
        c = d.connect()
        with open(os.path.join(d.config_dir, 'late.xml'), 'w') as f:
            f.write(d.guest_xml('late'))
        assert names(c) == []
        d.proc.send_signal(1)   # SIGHUP: libvirtd reloads its drivers
        wait_for(lambda: names(c) == ['late'], what='reload')
        assert c.lookupByName('late').isPersistent() == 1


@case
def running_domain_inhibits_idle_exit():
    """libvirtd --timeout does not exit while a domain runs (it must be
    there to handle the guest's own shutdown), and does once none does."""
    d = Libvirtd(args=['--timeout', '2'])
    try:
        d.start()
        c = libvirt.open(d.uri)
        c.defineXML(d.guest_xml('g1')).create()
        # a virDomainPtr left alive would keep the connection open
        c.close()
        time.sleep(5)
        assert d.proc.poll() is None, 'libvirtd exited with a domain running'
        c = libvirt.open(d.uri)
        c.lookupByName('g1').destroy()
        c.close()
        wait_for(lambda: d.proc.poll() is not None, 20, 'libvirtd to exit on idle')
    finally:
        d.cleanup()


@case
def concurrent_clients():
    """libvirtd runs entry points on several worker threads at once."""
    with Libvirtd() as d:
        errors = []
        stop = threading.Event()
        xmls = {'w%d' % i: d.guest_xml('w%d' % i) for i in range(3)}

        def worker(name):
            try:
                c = libvirt.open(d.uri)
                for _ in range(4):
                    dom = c.defineXML(xmls[name])
                    dom.create()
                    dom.suspend()
                    dom.resume()
                    dom.XMLDesc(0)
                    dom.destroy()
                    dom.undefine()
                c.close()
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append((name, e))

        def reader():
            try:
                c = libvirt.open(d.uri)
                while not stop.is_set():
                    for dom in c.listAllDomains(0):
                        try:
                            dom.info()
                            dom.XMLDesc(0)
                        except libvirt.libvirtError as e:
                            # the domain may go away between list and info
                            if e.get_error_code() != E.VIR_ERR_NO_DOMAIN:
                                raise
                c.close()
            except Exception as e:  # noqa: BLE001
                errors.append(('reader', e))

        threads = [threading.Thread(target=worker, args=(n,)) for n in xmls]
        r = threading.Thread(target=reader)
        r.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        stop.set()
        r.join(30)
        assert not errors, errors
        c = d.connect()
        assert names(c) == []
        wait_for(lambda: not d.sim_pids(), what='every guest to exit')


@case
def metadata_title_description():
    with Libvirtd() as d:
        c = d.connect()
        dom = c.defineXML(d.guest_xml('g1'))
        M = E
        expect_error(E.VIR_ERR_NO_DOMAIN_METADATA, dom.metadata,
                     M.VIR_DOMAIN_METADATA_TITLE, None, 0)
        dom.setMetadata(M.VIR_DOMAIN_METADATA_TITLE, 'Web server', None, None, 0)
        dom.setMetadata(M.VIR_DOMAIN_METADATA_DESCRIPTION, 'serves\npages', None, None, 0)
        assert dom.metadata(M.VIR_DOMAIN_METADATA_TITLE, None, 0) == 'Web server'
        root = ET.fromstring(dom.XMLDesc(0))
        assert root.find('title').text == 'Web server'
        assert root.find('description').text == 'serves\npages'
        dom.create()
        dom.setMetadata(M.VIR_DOMAIN_METADATA_TITLE, 'live only', None, None,
                        E.VIR_DOMAIN_AFFECT_LIVE)
        assert dom.metadata(M.VIR_DOMAIN_METADATA_TITLE, None, 0) == 'live only'
        assert dom.metadata(M.VIR_DOMAIN_METADATA_TITLE, None,
                            E.VIR_DOMAIN_AFFECT_CONFIG) == 'Web server'
        expect_error(E.VIR_ERR_INVALID_ARG, dom.setMetadata,
                     M.VIR_DOMAIN_METADATA_TITLE, 'a\nb', None, None, 0)
        expect_error(E.VIR_ERR_ARGUMENT_UNSUPPORTED, dom.metadata,
                     M.VIR_DOMAIN_METADATA_ELEMENT, 'https://example.org/x', 0)
        dom.destroy()
        assert dom.metadata(M.VIR_DOMAIN_METADATA_TITLE, None, 0) == 'Web server'
        dom.setMetadata(M.VIR_DOMAIN_METADATA_TITLE, None, None, None, 0)
        expect_error(E.VIR_ERR_NO_DOMAIN_METADATA, dom.metadata,
                     M.VIR_DOMAIN_METADATA_TITLE, None, 0)


@case
def autostart_at_libvirtd_start():
    with Libvirtd() as d:
        c = d.connect()
        a = c.defineXML(d.guest_xml('auto'))
        c.defineXML(d.guest_xml('manual'))
        a.setAutostart(1)
        assert a.autostart() == 1
        assert os.path.islink(os.path.join(d.config_dir, 'autostart', 'auto.xml'))
        d.stop()
        # a host boot: the runtime state directory starts empty
        os.unlink(os.path.join(d.state_dir, 'autostarted'))
        d.start()
        c = d.connect()
        wait_for(lambda: c.lookupByName('auto').isActive(), what='autostart')
        assert c.lookupByName('manual').isActive() == 0
        assert c.lookupByName('auto').autostart() == 1
        c.lookupByName('auto').setAutostart(0)
        assert not os.path.exists(os.path.join(d.config_dir, 'autostart', 'auto.xml'))
        c.lookupByName('auto').destroy()


@case
def events_lifecycle():
    with Libvirtd() as d:
        c = d.connect()
        ev = Events(c)
        legacy = []
        start_event_loop()

        def legacy_cb(conn, dom, e, det, op):
            legacy.append((e, det))
        c.domainEventRegister(legacy_cb, None)
        dom = c.defineXML(d.guest_xml('g1'))
        ev.wait([('g1', E.VIR_DOMAIN_EVENT_DEFINED, E.VIR_DOMAIN_EVENT_DEFINED_ADDED)])
        c.defineXML(dom.XMLDesc(0))
        ev.wait([('g1', E.VIR_DOMAIN_EVENT_DEFINED, E.VIR_DOMAIN_EVENT_DEFINED_UPDATED)])
        dom.create()
        ev.wait([('g1', E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_BOOTED)])
        dom.suspend()
        ev.wait([('g1', E.VIR_DOMAIN_EVENT_SUSPENDED, E.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED)])
        dom.resume()
        ev.wait([('g1', E.VIR_DOMAIN_EVENT_RESUMED, E.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED)])
        dom.destroy()
        ev.wait([('g1', E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_DESTROYED)])
        dom.create()
        dom.shutdown()
        ev.wait([('g1', E.VIR_DOMAIN_EVENT_SHUTDOWN, E.VIR_DOMAIN_EVENT_SHUTDOWN_FINISHED),
                 ('g1', E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN)])
        dom.create()
        d.sim_call(c.lookupByName('g1').ID(), 'crash')      # on_crash = destroy
        ev.wait([('g1', E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_CRASHED)])
        dom.undefine()
        ev.wait([('g1', E.VIR_DOMAIN_EVENT_UNDEFINED, E.VIR_DOMAIN_EVENT_UNDEFINED_REMOVED)])
        wait_for(lambda: (E.VIR_DOMAIN_EVENT_UNDEFINED,
                          E.VIR_DOMAIN_EVENT_UNDEFINED_REMOVED) in legacy,
                 what='the legacy callback')
        c.domainEventDeregister(legacy_cb)
        ev.close()


@case
def libvirtd_restart_keeps_guest():
    with Libvirtd() as d:
        c = d.connect()
        dom = c.defineXML(d.guest_xml('g1', heartbeat_ms=50))
        dom.create()
        domid = dom.ID()
        pids = d.sim_pids()
        d.stop()
        # long enough that a guest stopped with libvirtd shows a gap
        time.sleep(2.0)
        assert d.sim_pids() == pids, 'the guest must outlive libvirtd'
        d.start()
        c = d.connect()
        dom = c.lookupByName('g1')
        assert dom.isActive() == 1 and dom.ID() == domid
        assert dom.state()[0] == E.VIR_DOMAIN_RUNNING
        assert names(c, E.VIR_CONNECT_LIST_DOMAINS_ACTIVE) == ['g1']
        dom.suspend()
        dom.resume()
        dom.destroy()
        wait_for(lambda: not d.sim_pids(), what='sim guest to exit')
        rc, hb, out = d.heartbeat_check('g1')
        assert rc == 0 and hb['missing'] == '0' and int(hb['max_gap_ms']) < 1500, out


@case
def libvirtd_restart_forgets_dead_guest():
    with Libvirtd() as d:
        c = d.connect()
        c.createXML(d.guest_xml('t1'), 0)
        pids = d.sim_pids()
        d.stop()
        for p in pids:
            os.kill(p, 9)
        wait_for(lambda: not d.sim_pids(), what='guest to die')
        d.start()
        c = d.connect()
        assert names(c) == []


if __name__ == '__main__':
    sys.exit(main())
