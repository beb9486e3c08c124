#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""save, restore, managed save, job info and abort
(stock libvirtd, python3-libvirt). usage: test-save.py CASE"""

import os
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from driver_common import *  # noqa: E402,F401,F403


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
        dom.destroy()
        rc, hb, out = d.heartbeat_check('g1')
        assert rc == 0 and hb['missing'] == '0' and int(hb['records']) > 5, out
        # an image removed: the next start boots
        dom.create()
        dom.managedSave(0)
        dom.managedSaveRemove(0)
        assert dom.hasManagedSaveImage(0) == 0
        dom.create()
        assert dom.state() == [E.VIR_DOMAIN_RUNNING, E.VIR_DOMAIN_RUNNING_BOOTED]
        dom.destroy()


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


if __name__ == '__main__':
    sys.exit(main())
