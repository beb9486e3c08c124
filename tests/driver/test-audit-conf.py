#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Audit of issue 3 (configuration): the libxl.conf the build ships, with
every documented key uncommented (directories moved to the test's and the
sim backend chosen), is accepted by the module under a stock libvirtd, and
its values are the ones used.
usage: test-audit-conf.py CASE"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from driver_common import *  # noqa: E402,F401,F403
from libvirtd_fixture import BUILDDIR  # noqa: E402


@case
def audit_shipped_conf_every_key():
    shipped = os.path.join(BUILDDIR, 'src', 'driver', 'libxl.conf')
    with open(shipped) as f:
        text = f.read()
    d = Libvirtd()
    try:
        keys = []
        override = {
            'backend': '"sim"',
            'state_dir': '"%s"' % d.state_dir,
            'config_dir': '"%s"' % d.config_dir,
            'autostart_dir': '"%s"' % os.path.join(d.config_dir, 'autostart'),
            'save_dir': '"%s"' % d.save_dir,
        }
        out = []
        for line in text.splitlines():
            m = re.match(r'^#([a-z_]+) = (.*)$', line)
            if m:
                keys.append(m.group(1))
                line = '%s = %s' % (m.group(1), override.get(m.group(1), m.group(2)))
            out.append(line)
        assert {'backend', 'state_dir', 'config_dir', 'save_dir',
                'sim_host_name', 'sim_host_memory_mib', 'sim_host_cpus'} <= set(keys), keys
        with open(d.conf, 'w') as f:
            f.write('\n'.join(out) + '\n')
        d.start()
        c = d.connect()
        m = {k: re.search(r'^%s = (.*)$' % k, '\n'.join(out), re.M).group(1) for k in keys}
        assert c.getHostname() == m['sim_host_name'].strip('"'), c.getHostname()
        info = c.getInfo()
        assert info[1] == int(m['sim_host_memory_mib']) and info[2] == int(m['sim_host_cpus']), info
        dom = c.defineXML(d.guest_xml('g1'))
        dom.setAutostart(1)
        assert os.path.exists(os.path.join(d.config_dir, 'g1.xml'))
        assert os.path.islink(os.path.join(d.config_dir, 'autostart', 'g1.xml'))
        dom.create()
        dom.managedSave(0)
        assert len(os.listdir(d.save_dir)) == 1, os.listdir(d.save_dir)
        dom.managedSaveRemove(0)
    except BaseException:
        print(d.output())
        raise
    finally:
        d.cleanup()


@case
def audit_foreign_definitions_left_alone():
    """Definitions in config_dir the domain model refuses (libvirt's own
    libxl driver may have written them) and status files that are not
    xenmig's: libvirtd starts, the good definitions are listed, the others
    are skipped and left byte for byte on disk."""
    d = Libvirtd()
    try:
        good = d.guest_xml('good')
        foreign = d.guest_xml('foreign').replace(
            '<devices>', '<devices>\n    <hostdev mode="subsystem" type="pci"/>')
        files = {
            os.path.join(d.config_dir, 'good.xml'): good,
            os.path.join(d.config_dir, 'foreign.xml'): foreign,
            os.path.join(d.config_dir, 'garbage.xml'): '<domain',
            os.path.join(d.state_dir, 'libvirt-status.xml'): '<domstatus state="running"/>',
        }
        for path, text in files.items():
            with open(path, 'w') as f:
                f.write(text)
        d.start()
        c = d.connect()
        assert names(c) == ['good'], names(c)
        assert d.proc.poll() is None
        for path, text in files.items():
            with open(path) as f:
                assert f.read() == text, path
    except BaseException:
        print(d.output())
        raise
    finally:
        d.cleanup()


if __name__ == '__main__':
    sys.exit(main())
