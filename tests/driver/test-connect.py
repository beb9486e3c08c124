#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Connection, node and definition entry points
(stock libvirtd, python3-libvirt). usage: test-connect.py CASE"""

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from driver_common import *  # noqa: E402,F401,F403


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
def connect_read_only():
    with Libvirtd() as d:
        c = d.connect()
        c.defineXML(d.guest_xml('g1'))
        ro = libvirt.openReadOnly(d.uri)
        assert [x.name() for x in ro.listAllDomains()] == ['g1']
        assert ro.getType() == 'Xen'
        expect_error(E.VIR_ERR_OPERATION_DENIED, ro.defineXML, d.guest_xml('g2'))
        expect_error(E.VIR_ERR_OPERATION_DENIED, ro.lookupByName('g1').create)
        ro.close()
        assert names(c) == ['g1'] and c.lookupByName('g1').isActive() == 0


@case
def connect_capabilities():
    with Libvirtd() as d:
        c = d.connect()
        caps = ET.fromstring(c.getCapabilities())
        assert caps.find('host/cpu/arch').text == os.uname().machine
        host_uuid = caps.find('host/uuid').text
        assert re.fullmatch(r'[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}', host_uuid), host_uuid
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
        expect_error(E.VIR_ERR_NO_SUPPORT, dom.snapshotCreateXML, '<domainsnapshot/>', 0)


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
        # no NVRAM exists: the flag is accepted and removes nothing else
        dom.undefineFlags(E.VIR_DOMAIN_UNDEFINE_NVRAM)
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


if __name__ == '__main__':
    sys.exit(main())
