#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Bad input: each error has libvirt's code and changes nothing
(stock libvirtd, python3-libvirt). usage: test-bad-input.py CASE"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from driver_common import *  # noqa: E402,F401,F403


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
        expect_error(E.VIR_ERR_OPERATION_INVALID, dom.undefineFlags,
                     E.VIR_DOMAIN_UNDEFINE_NVRAM | E.VIR_DOMAIN_UNDEFINE_KEEP_NVRAM)
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


if __name__ == '__main__':
    sys.exit(main())
