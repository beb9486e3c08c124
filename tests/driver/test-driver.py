#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The libvirt driver module under a stock libvirtd, through python3-libvirt.
usage: test-driver.py CASE   (one behaviour per case; meson runs each)"""

import os
import shutil
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import libvirt  # noqa: E402
from libvirtd_fixture import Libvirtd, start_event_loop, wait_for  # noqa: E402

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


# ---------------------------------------------------------------- connect

@case
def connect_basics():
    with Libvirtd(host_name='hostA') as d:
        c = d.connect()
        assert c.getType() == 'Xen', c.getType()
        assert c.getVersion() > 0
        assert c.getHostname() == 'hostA', c.getHostname()
        assert c.isAlive() == 1
        assert c.getURI().startswith('xen:///system'), c.getURI()
        info = c.getInfo()
        assert info[0] == 'x86_64' and info[1] == 4096 and info[2] == 2, info
        assert c.getFreeMemory() > 0
        assert c.getCellsFreeMemory(0, 1)[0] > 0
        assert c.getMaxVcpus('xen') > 0
        assert c.getCPUMap() == (2, [True, True], 2), c.getCPUMap()
        assert c.getSecurityModel() == ['', ''], c.getSecurityModel()
        assert names(c) == []


@case
def connect_capabilities():
    with Libvirtd() as d:
        c = d.connect()
        caps = ET.fromstring(c.getCapabilities())
        assert caps.find('host/cpu/arch').text == os.uname().machine
        os_types = {g.find('os_type').text for g in caps.findall('guest')}
        assert {'xen', 'xenpvh', 'hvm'} <= os_types, os_types
        for g in caps.findall('guest'):
            assert g.find('arch/domain').get('type') == 'xen'
        # libvirt's schema: 9.0.0's does not know os_type xenpvh yet, which
        # libvirt's own libxl driver reports, so those entries are left out
        for g in caps.findall('guest'):
            if g.find('os_type').text == 'xenpvh':
                caps.remove(g)
        rng = '/usr/share/libvirt/schemas/capability.rng'
        if os.path.exists(rng) and shutil.which('xmllint'):
            path = os.path.join(d.dir, 'caps.xml')
            ET.ElementTree(caps).write(path)
            r = subprocess.run(['xmllint', '--noout', '--relaxng', rng, path],
                               capture_output=True, text=True)
            assert r.returncode == 0, r.stderr


@case
def connect_bad_path():
    with Libvirtd() as d:
        uri = 'xen:///session?socket=' + d.sock
        expect_error(E.VIR_ERR_INTERNAL_ERROR, libvirt.open, uri)


@case
def connect_no_xen_declines():
    """backend libxl on a host without Xen: libvirtd still runs, the xen
    driver steps aside and says so."""
    if os.path.exists('/dev/xen/privcmd'):
        print('# this host runs Xen: nothing to check')
        return
    d = Libvirtd(extra_conf='backend = "libxl"\n')
    try:
        d.start(expect_driver=False)
        e = expect_error(E.VIR_ERR_INTERNAL_ERROR, libvirt.open, d.uri)
        assert 'not active' in e.get_error_message(), e.get_error_message()
        assert d.proc.poll() is None, 'libvirtd must keep running'
    finally:
        d.cleanup()


@case
def connect_bad_config_stops_libvirtd():
    d = Libvirtd(extra_conf='state_dir = 42\n')
    try:
        try:
            d.start(expect_driver=False)
            wait_for(lambda: d.proc.poll() is not None, 20, 'libvirtd to exit')
        except RuntimeError:
            pass
        assert "'state_dir' must be a string" in d.output(), d.output()
    finally:
        d.cleanup()


@case
def connect_unsupported_entry_point():
    with Libvirtd() as d:
        c = d.connect()
        dom = c.defineXML(d.guest_xml('g1'))
        # a slot the module leaves empty: libvirt itself answers NO_SUPPORT
        expect_error(E.VIR_ERR_NO_SUPPORT, dom.snapshotNum, 0)
        # migration is not implemented yet and says so
        assert c.getLibVersion() > 0


@case
def migration_not_implemented():
    """Until migration exists the driver offers no migration feature, and
    libvirt refuses with its own errors; the guest keeps running."""
    with Libvirtd() as d:
        c = d.connect()
        c2 = d.connect()
        dom = c.defineXML(d.guest_xml('g1'))
        dom.create()
        expect_error(E.VIR_ERR_NO_SUPPORT, dom.migrate, c2, E.VIR_MIGRATE_LIVE,
                     None, None, 0)
        expect_error(E.VIR_ERR_ARGUMENT_UNSUPPORTED, dom.migrateToURI3,
                     'xen+tcp://127.0.0.1/system', {},
                     E.VIR_MIGRATE_PEER2PEER | E.VIR_MIGRATE_LIVE)
        assert dom.state()[0] == E.VIR_DOMAIN_RUNNING
        dom.destroy()


# ---------------------------------------------------------------- define

@case
def define_dumpxml_roundtrip():
    with Libvirtd() as d:
        c = d.connect()
        dom = c.defineXML(d.guest_xml('g1'))
        xml1 = dom.XMLDesc(0)
        dom2 = c.defineXML(xml1)
        assert dom2.UUIDString() == dom.UUIDString()
        assert dom2.XMLDesc(0) == xml1
        assert ET.fromstring(xml1).find('name').text == 'g1'
        # what libvirtd keeps on disk is that definition
        with open(os.path.join(d.config_dir, 'g1.xml')) as f:
            assert ET.fromstring(f.read()).find('uuid').text == dom.UUIDString()


@case
def define_list_undefine():
    with Libvirtd() as d:
        c = d.connect()
        dom = c.defineXML(d.guest_xml('g1'))
        assert names(c) == ['g1']
        assert c.numOfDefinedDomains() == 1 and c.listDefinedDomains() == ['g1']
        assert c.numOfDomains() == 0
        assert dom.isPersistent() == 1 and dom.isActive() == 0
        assert dom.info()[0] == E.VIR_DOMAIN_SHUTOFF
        assert dom.info()[1] == 64 * 1024
        assert dom.OSType() == 'xenpvh'
        assert dom.maxMemory() == 64 * 1024
        assert c.lookupByUUIDString(dom.UUIDString()).name() == 'g1'
        dom.undefine()
        assert names(c) == []
        assert not os.path.exists(os.path.join(d.config_dir, 'g1.xml'))
        expect_error(E.VIR_ERR_NO_DOMAIN, c.lookupByName, 'g1')


@case
def define_persists_across_restart():
    with Libvirtd() as d:
        c = d.connect()
        dom = c.defineXML(d.guest_xml('g1'))
        u = dom.UUIDString()
        d.restart()
        c = d.connect()
        assert c.lookupByName('g1').UUIDString() == u


@case
def list_all_filters():
    with Libvirtd() as d:
        c = d.connect()
        run = c.defineXML(d.guest_xml('run'))
        c.defineXML(d.guest_xml('off'))
        auto = c.defineXML(d.guest_xml('auto'))
        auto.setAutostart(1)
        run.create()
        c.createXML(d.guest_xml('trans'), 0)
        F = libvirt
        assert names(c) == ['auto', 'off', 'run', 'trans']
        assert names(c, F.VIR_CONNECT_LIST_DOMAINS_ACTIVE) == ['run', 'trans']
        assert names(c, F.VIR_CONNECT_LIST_DOMAINS_INACTIVE) == ['auto', 'off']
        assert names(c, F.VIR_CONNECT_LIST_DOMAINS_TRANSIENT) == ['trans']
        assert names(c, F.VIR_CONNECT_LIST_DOMAINS_PERSISTENT) == ['auto', 'off', 'run']
        assert names(c, F.VIR_CONNECT_LIST_DOMAINS_AUTOSTART) == ['auto']
        assert names(c, F.VIR_CONNECT_LIST_DOMAINS_NO_AUTOSTART) == ['off', 'run', 'trans']
        assert names(c, F.VIR_CONNECT_LIST_DOMAINS_SHUTOFF) == ['auto', 'off']
        run.suspend()
        assert names(c, F.VIR_CONNECT_LIST_DOMAINS_PAUSED) == ['run']
        assert names(c, F.VIR_CONNECT_LIST_DOMAINS_RUNNING) == ['trans']
        assert names(c, F.VIR_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT) == []
        assert names(c, F.VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE) == []
        assert names(c, F.VIR_CONNECT_LIST_DOMAINS_ACTIVE |
                     F.VIR_CONNECT_LIST_DOMAINS_INACTIVE) == names(c)
        assert sorted(c.listDomainsID()) == sorted([run.ID(), c.lookupByName('trans').ID()])


# ---------------------------------------------------------------- lifecycle

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


# ---------------------------------------------------------------- autostart

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


# ---------------------------------------------------------------- events

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


# ---------------------------------------------------------------- save/restore

def _ram(d, dom):
    domid = dom.connect().lookupByName(dom.name()).ID()
    return d.sim_call(domid, 'ram-checksum')['checksum']


@case
def save_restore():
    with Libvirtd() as d:
        c = d.connect()
        ev = Events(c)
        dom = c.defineXML(d.guest_xml('g1', dirty_mib_s=4))
        dom.create()
        time.sleep(1.0)
        dom.suspend()
        ram = _ram(d, dom)
        path = os.path.join(d.dir, 'g1.save')
        dom.save(path)
        ev.wait([('g1', E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_SAVED)])
        assert dom.state() == [E.VIR_DOMAIN_SHUTOFF, E.VIR_DOMAIN_SHUTOFF_SAVED]
        wait_for(lambda: not d.sim_pids(), what='saved guest to exit')
        stats = dom.jobStats(E.VIR_DOMAIN_JOB_STATS_COMPLETED)
        assert stats['type'] == E.VIR_DOMAIN_JOB_COMPLETED, stats
        assert stats['operation'] == E.VIR_DOMAIN_JOB_OPERATION_SAVE, stats
        assert stats['data_processed'] > 0
        xml = c.saveImageGetXMLDesc(path, 0)
        assert ET.fromstring(xml).find('name').text == 'g1'
        # the image was saved paused and restores paused: memory as saved
        c.restore(path)
        ev.wait([('g1', E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_RESTORED)])
        dom = c.lookupByName('g1')
        assert dom.state()[0] == E.VIR_DOMAIN_PAUSED
        assert _ram(d, dom) == ram
        dom.resume()
        time.sleep(1.0)
        dom.destroy()
        rc, hb, out = d.heartbeat_check('g1')
        assert rc == 0 and hb['missing'] == '0' and int(hb['records']) > 10, out


@case
def save_restore_running():
    with Libvirtd() as d:
        c = d.connect()
        dom = c.defineXML(d.guest_xml('g1'))
        dom.create()
        time.sleep(0.5)
        path = os.path.join(d.dir, 'g1.save')
        dom.save(path)
        c.restore(path)
        dom = c.lookupByName('g1')
        assert dom.state() == [E.VIR_DOMAIN_RUNNING, E.VIR_DOMAIN_RUNNING_RESTORED]
        time.sleep(0.5)
        dom.destroy()
        rc, hb, out = d.heartbeat_check('g1')
        assert rc == 0 and hb['missing'] == '0', out


@case
def managedsave():
    with Libvirtd() as d:
        c = d.connect()
        ev = Events(c)
        dom = c.defineXML(d.guest_xml('g1', dirty_mib_s=4))
        dom.create()
        time.sleep(0.5)
        dom.suspend()
        ram = _ram(d, dom)
        dom.managedSave(0)
        assert dom.hasManagedSaveImage(0) == 1
        assert names(c, E.VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE) == ['g1']
        assert dom.info()[0] == E.VIR_DOMAIN_SHUTOFF
        expect_error(E.VIR_ERR_OPERATION_INVALID, dom.undefine)
        dom.create()            # starts from the image
        ev.wait([('g1', E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_RESTORED)])
        assert dom.hasManagedSaveImage(0) == 0
        assert dom.state()[0] == E.VIR_DOMAIN_PAUSED
        assert _ram(d, dom) == ram
        dom.resume()
        time.sleep(0.5)
        dom.managedSave(0)
        dom.managedSaveRemove(0)
        assert dom.hasManagedSaveImage(0) == 0
        dom.create()
        assert dom.state() == [E.VIR_DOMAIN_RUNNING, E.VIR_DOMAIN_RUNNING_BOOTED]
        dom.destroy()
        rc, hb, out = d.heartbeat_check('g1')
        # a fresh boot after the image was dropped: sequence numbers go on,
        # so the only check is that the ring is readable
        assert rc in (0, 1) and int(hb['records']) > 0, out


@case
def managedsave_undefine_flag():
    with Libvirtd() as d:
        c = d.connect()
        dom = c.defineXML(d.guest_xml('g1'))
        dom.create()
        dom.managedSave(0)
        dom.undefineFlags(E.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
        assert names(c) == []
        assert os.listdir(d.save_dir) == []


def _saved_guest(d, c):
    dom = c.defineXML(d.guest_xml('g1'))
    dom.create()
    time.sleep(0.3)
    path = os.path.join(d.dir, 'g1.save')
    dom.save(path)
    wait_for(lambda: not d.sim_pids(), what='saved guest to exit')
    return path


@case
def save_job_progress():
    """virsh domjobinfo during a save shows the memory stream moving."""
    with Libvirtd() as d:
        c = d.connect()
        dom = c.defineXML(d.guest_xml('g1', memory_mib=256))
        dom.create()
        path = os.path.join(d.dir, 'g1.save')
        err = []

        def save():
            c2 = libvirt.open(d.uri)
            try:
                c2.lookupByName('g1').save(path)
            except libvirt.libvirtError as e:
                err.append(e)
            c2.close()
        t = threading.Thread(target=save)
        t.start()
        seen = []
        while t.is_alive():
            info = dom.jobInfo()
            if info[0] == E.VIR_DOMAIN_JOB_UNBOUNDED:
                seen.append(info)
            time.sleep(0.01)
        t.join()
        assert not err, err
        assert seen, 'no job seen during the save'
        # dataTotal, dataProcessed: processed never exceeds total
        assert all(i[4] <= i[3] for i in seen), seen
        stats = dom.jobStats(E.VIR_DOMAIN_JOB_STATS_COMPLETED)
        assert stats['data_processed'] >= seen[-1][4]
        # the completed job is reported once unless kept
        assert dom.jobStats(E.VIR_DOMAIN_JOB_STATS_COMPLETED)['type'] == E.VIR_DOMAIN_JOB_NONE


@case
def save_failure_keeps_guest_running():
    with Libvirtd() as d:
        c = d.connect()
        dom = c.defineXML(d.guest_xml('g1'))
        dom.create()
        domid = dom.ID()
        expect_error(E.VIR_ERR_OPERATION_FAILED, dom.save, '/nonexistent/dir/g1.save',
                     domain=E.VIR_FROM_LIBXL)
        assert dom.state()[0] == E.VIR_DOMAIN_RUNNING and dom.ID() == domid
        assert d.sim_call(domid, 'info').get('state') == 'running'
        # a target that is not ours to remove
        e = expect_error(E.VIR_ERR_SYSTEM_ERROR, dom.save, '/dev/full')
        assert 'No space left' in e.get_error_message(), e.get_error_message()
        assert os.path.exists('/dev/full')
        assert dom.state()[0] == E.VIR_DOMAIN_RUNNING
        dom.destroy()


@case
def save_fails_midstream():
    """The disk fills up while the memory stream is written: the guest
    goes on running where it was, nothing is left behind."""
    with Libvirtd() as d:
        small = os.path.join(d.dir, 'small')
        os.mkdir(small)
        if subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', small],
                          capture_output=True).returncode != 0:
            print('# cannot mount a tmpfs (not root?): skipped')
            return
        try:
            c = d.connect()
            dom = c.defineXML(d.guest_xml('g1', memory_mib=64, heartbeat_ms=50))
            dom.create()
            time.sleep(0.5)
            try:
                dom.save(os.path.join(small, 'g1.save'))
                raise AssertionError('a save onto a full disk succeeded')
            except libvirt.libvirtError as e:
                # the backend's write error, passed through
                assert 'No space left' in e.get_error_message(), e.get_error_message()
            assert os.listdir(small) == [], os.listdir(small)
            assert dom.state()[0] == E.VIR_DOMAIN_RUNNING, dom.state()
            assert d.sim_call(dom.ID(), 'info').get('state') == 'running'
            time.sleep(0.5)
            dom.destroy()
            rc, hb, out = d.heartbeat_check('g1')
            assert rc == 0 and hb['missing'] == '0', out
        finally:
            subprocess.run(['umount', small])


@case
def restore_refused_cases():
    """A restore that cannot proceed changes nothing."""
    with Libvirtd() as d:
        c = d.connect()
        path = _saved_guest(d, c)
        dom = c.lookupByName('g1')
        other = d.guest_xml('other')
        expect_error(E.VIR_ERR_INVALID_ARG, c.restoreFlags, path, other, 0)
        expect_error(E.VIR_ERR_INVALID_ARG, c.restoreFlags, path, None,
                     E.VIR_DOMAIN_SAVE_RUNNING | E.VIR_DOMAIN_SAVE_PAUSED)
        expect_error(E.VIR_ERR_OPERATION_FAILED, c.restore, '/nonexistent.save')
        dom.create()
        before = snapshot(c)
        expect_error(E.VIR_ERR_OPERATION_INVALID, c.restore, path)
        assert snapshot(c) == before and len(d.sim_pids()) == 1
        dom.destroy()
        # the image still restores once the domain is off
        c.restore(path)
        assert c.lookupByName('g1').isActive() == 1
        c.lookupByName('g1').destroy()


@case
def save_abort():
    """virsh domjobabort during a save: the guest goes on running."""
    with Libvirtd() as d:
        c = d.connect()
        dom = c.defineXML(d.guest_xml('g1', memory_mib=256, heartbeat_ms=50))
        dom.create()
        expect_error(E.VIR_ERR_OPERATION_INVALID, dom.abortJob)
        path = os.path.join(d.dir, 'g1.save')
        result = []

        def save():
            c2 = libvirt.open(d.uri)
            try:
                c2.lookupByName('g1').save(path)
                result.append('saved')
            except libvirt.libvirtError as e:
                result.append(e.get_error_code())
            c2.close()
        t = threading.Thread(target=save)
        t.start()
        wait_for(lambda: dom.jobInfo()[0] == E.VIR_DOMAIN_JOB_UNBOUNDED and
                 dom.jobInfo()[4] > 0, what='the save to be under way')
        dom.abortJob()
        t.join(60)
        assert result == [E.VIR_ERR_OPERATION_ABORTED], result
        assert dom.state()[0] == E.VIR_DOMAIN_RUNNING, dom.state()
        assert not os.path.exists(path)
        assert dom.jobStats(E.VIR_DOMAIN_JOB_STATS_COMPLETED)['type'] == E.VIR_DOMAIN_JOB_FAILED
        time.sleep(0.5)
        dom.destroy()
        rc, hb, out = d.heartbeat_check('g1')
        assert rc == 0 and hb['missing'] == '0', out


@case
def restore_corrupt_image():
    with Libvirtd() as d:
        c = d.connect()
        path = _saved_guest(d, c)
        size = os.path.getsize(path)
        with open(path, 'r+b') as f:
            f.seek(size - 4096)
            b = f.read(1)
            f.seek(size - 4096)
            f.write(bytes([b[0] ^ 0xff]))
        before = snapshot(c)
        e = expect_error(E.VIR_ERR_OPERATION_FAILED, c.restore, path)
        assert 'checksum' in e.get_error_message(), e.get_error_message()
        assert snapshot(c) == before and not d.sim_pids()
        # a header that is not ours at all
        with open(path, 'r+b') as f:
            f.write(b'garbage!')
        expect_error(E.VIR_ERR_OPERATION_FAILED, c.restore, path)
        expect_error(E.VIR_ERR_OPERATION_FAILED, c.saveImageGetXMLDesc, path, 0)
        assert snapshot(c) == before and not d.sim_pids()


@case
def restore_truncated_image():
    with Libvirtd() as d:
        c = d.connect()
        path = _saved_guest(d, c)
        with open(path, 'r+b') as f:
            f.truncate(os.path.getsize(path) // 2)
        before = snapshot(c)
        e = expect_error(E.VIR_ERR_OPERATION_FAILED, c.restore, path)
        assert 'truncated' in e.get_error_message(), e.get_error_message()
        assert snapshot(c) == before and not d.sim_pids()
        with open(path, 'r+b') as f:
            f.truncate(10)
        expect_error(E.VIR_ERR_OPERATION_FAILED, c.restore, path)
        assert snapshot(c) == before and not d.sim_pids()


# ---------------------------------------------------------------- restart

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


# ---------------------------------------------------------------- bad input

@case
def bad_xml():
    with Libvirtd() as d:
        c = d.connect()
        c.defineXML(d.guest_xml('keep'))
        before = snapshot(c)
        expect_error(E.VIR_ERR_XML_ERROR, c.defineXML, '<domain type="xen"><name>x</nam')
        expect_error(E.VIR_ERR_XML_ERROR, c.createXML, '<domain', 0)
        bad = d.guest_xml('g2').replace('<vcpu>', '<frobnicate/><vcpu>')
        e = expect_error(E.VIR_ERR_CONFIG_UNSUPPORTED, c.defineXML, bad)
        assert 'frobnicate' in e.get_error_message(), e.get_error_message()
        assert snapshot(c) == before
        assert not os.path.exists(os.path.join(d.config_dir, 'g2.xml'))


@case
def bad_duplicates():
    with Libvirtd() as d:
        c = d.connect()
        dom = c.defineXML(d.guest_xml('g1'))
        before = snapshot(c)
        # same name, another UUID
        expect_error(E.VIR_ERR_OPERATION_FAILED, c.defineXML, d.guest_xml('g1'))
        # same UUID, another name
        expect_error(E.VIR_ERR_OPERATION_FAILED, c.defineXML,
                     d.guest_xml('g2', uuid=dom.UUIDString()))
        expect_error(E.VIR_ERR_OPERATION_FAILED, c.createXML,
                     d.guest_xml('g3', uuid=dom.UUIDString()), 0)
        assert snapshot(c) == before
        dom.create()
        # starting the same domain again from XML
        expect_error(E.VIR_ERR_OPERATION_INVALID, c.createXML,
                     dom.XMLDesc(E.VIR_DOMAIN_XML_INACTIVE), 0)
        dom.destroy()


@case
def bad_flags():
    with Libvirtd() as d:
        c = d.connect()
        dom = c.defineXML(d.guest_xml('g1'))
        before = snapshot(c)
        calls = [
            (c.defineXMLFlags, d.guest_xml('g2'), BAD_FLAG),
            (c.createXML, d.guest_xml('g3'), BAD_FLAG),
            (c.listAllDomains, BAD_FLAG),
            (dom.createWithFlags, BAD_FLAG),
            (dom.undefineFlags, BAD_FLAG),
            (dom.XMLDesc, BAD_FLAG),
            (dom.XMLDesc, E.VIR_DOMAIN_XML_UPDATE_CPU),
            (dom.state, BAD_FLAG),
            (dom.setMemoryFlags, 1024, BAD_FLAG),
            (dom.vcpusFlags, BAD_FLAG),
            (dom.managedSave, BAD_FLAG),
            (dom.hasManagedSaveImage, BAD_FLAG),
            (dom.managedSaveRemove, BAD_FLAG),
            (dom.jobStats, BAD_FLAG),
            (dom.createWithFlags, E.VIR_DOMAIN_START_AUTODESTROY),
            (c.restoreFlags, '/nonexistent', None, BAD_FLAG),
            (c.saveImageGetXMLDesc, '/nonexistent', BAD_FLAG),
        ]
        for fn, *args in calls:
            e = expect_error(E.VIR_ERR_INVALID_ARG, fn, *args, domain=E.VIR_FROM_LIBXL)
            assert 'unsupported flags' in e.get_error_message(), e.get_error_message()
        assert snapshot(c) == before
        dom.create()
        for fn, *args in [(dom.shutdownFlags, BAD_FLAG), (dom.reboot, BAD_FLAG),
                          (dom.destroyFlags, BAD_FLAG),
                          (dom.saveFlags, '/tmp/x', None, BAD_FLAG)]:
            expect_error(E.VIR_ERR_INVALID_ARG, fn, *args)
        assert dom.state()[0] == E.VIR_DOMAIN_RUNNING
        dom.destroy()


@case
def bad_lookups():
    with Libvirtd() as d:
        c = d.connect()
        expect_error(E.VIR_ERR_NO_DOMAIN, c.lookupByName, 'nope')
        expect_error(E.VIR_ERR_NO_DOMAIN, c.lookupByUUIDString,
                     '00000000-0000-0000-0000-000000000001')
        expect_error(E.VIR_ERR_NO_DOMAIN, c.lookupByID, 4242)
        dom = c.defineXML(d.guest_xml('g1'))
        dom.undefine()
        expect_error(E.VIR_ERR_NO_DOMAIN, dom.create)
        expect_error(E.VIR_ERR_NO_DOMAIN, dom.info)


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        sys.stderr.write('usage: %s CASE\ncases: %s\n' % (sys.argv[0], ' '.join(CASES)))
        return 2
    CASES[sys.argv[1]]()
    print('ok', sys.argv[1])
    return 0


if __name__ == '__main__':
    sys.exit(main())
