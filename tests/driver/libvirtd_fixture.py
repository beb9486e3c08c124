# SPDX-License-Identifier: LGPL-2.1-or-later
"""A stock libvirtd loading the xenmig module from the build tree, with the
sim backend, its own sockets, configuration and directories, for exactly the
lifetime of a test. Used by the libvirt suite (tests/driver/)."""

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid as uuidlib

import libvirt

LIBVIRTD = os.environ.get('LIBVIRTD', '/usr/sbin/libvirtd')
BUILDDIR = os.environ.get('XENMIG_BUILDDIR', '')
SIM_NS = 'https://xenmig.org/xmlns/sim/1'

# Errors are the tests' business: keep libvirt from printing them.
libvirt.registerErrorHandler(lambda ctx, err: None, None)

_event_loop_started = False


def start_event_loop():
    """python-libvirt needs an event loop for domain events (once)."""
    global _event_loop_started
    if _event_loop_started:
        return
    libvirt.virEventRegisterDefaultImpl()

    def run():
        while True:
            libvirt.virEventRunDefaultImpl()
    threading.Thread(target=run, daemon=True).start()
    _event_loop_started = True


def wait_for(pred, timeout=15.0, what='condition'):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError('timed out waiting for %s' % what)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().split(')')[-1].split()[0] != 'Z'
    except OSError:
        return False


class Libvirtd:
    def __init__(self, host_name='xenmig-test-host', extra_conf='', args=()):
        if not BUILDDIR:
            raise RuntimeError('XENMIG_BUILDDIR is not set (run through meson test)')
        self.dir = tempfile.mkdtemp(prefix='xmd-')
        self.host_name = host_name
        for d in ('run', 'state', 'config', 'save', 'images'):
            os.mkdir(os.path.join(self.dir, d))
        self.sock = os.path.join(self.dir, 'run', 'libvirt-sock')
        self.uri = 'xen:///system?socket=' + self.sock
        self.state_dir = os.path.join(self.dir, 'state')
        self.config_dir = os.path.join(self.dir, 'config')
        self.save_dir = os.path.join(self.dir, 'save')
        self.log = os.path.join(self.dir, 'libvirtd.log')
        self.pidfile = os.path.join(self.dir, 'libvirtd.pid')
        with open(os.path.join(self.dir, 'libvirtd.conf'), 'w') as f:
            f.write('unix_sock_dir = "%s"\n' % os.path.join(self.dir, 'run'))
            f.write('unix_sock_rw_perms = "0700"\n')
            f.write('auth_unix_rw = "none"\nauth_unix_ro = "none"\n')
            f.write('listen_tls = 0\nlisten_tcp = 0\n')
            f.write('log_outputs = "3:file:%s"\n' % self.log)
        self.conf = os.path.join(self.dir, 'xenmig.conf')
        with open(self.conf, 'w') as f:
            f.write('backend = "sim"\n')
            f.write('state_dir = "%s"\n' % self.state_dir)
            f.write('config_dir = "%s"\n' % self.config_dir)
            f.write('save_dir = "%s"\n' % self.save_dir)
            f.write('sim_host_name = "%s"\n' % host_name)
            f.write('sim_host_memory_mib = 4096\nsim_host_cpus = 2\n')
            f.write(extra_conf)
        self.proc = None
        self.conns = []
        self.args = list(args)

    # -- daemon --
    def start(self, expect_driver=True):
        """Starts libvirtd; waits until xen:///system opens, or (without
        @expect_driver) only until the socket exists."""
        env = dict(os.environ)
        env['LIBVIRT_DRIVER_DIR'] = os.path.join(BUILDDIR, 'src', 'driver')
        env['XENMIG_CONF'] = self.conf
        env['XENMIG_SIM_GUEST'] = os.path.join(BUILDDIR, 'src', 'backend',
                                               'xenmig-sim-guest')
        self.stdout = open(os.path.join(self.dir, 'libvirtd.stdout'), 'a')
        self.proc = subprocess.Popen(
            [LIBVIRTD, '--config', os.path.join(self.dir, 'libvirtd.conf'),
             '--pid-file', self.pidfile] + self.args,
            env=env, stdout=self.stdout, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)
        end = time.monotonic() + 30
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError('libvirtd exited with %d:\n%s' %
                                   (self.proc.returncode, self.output()))
            if os.path.exists(self.sock) and not expect_driver:
                return self
            if os.path.exists(self.sock):
                try:
                    c = libvirt.open(self.uri)
                    c.close()
                    return self
                except libvirt.libvirtError:
                    pass
            time.sleep(0.1)
        raise RuntimeError('libvirtd did not come up:\n' + self.output())

    def stop(self):
        for c in self.conns:
            try:
                c.close()
            except libvirt.libvirtError:
                pass
        self.conns = []
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if os.path.exists(self.sock):
            os.unlink(self.sock)

    def restart(self):
        self.stop()
        return self.start()

    def output(self):
        out = ''
        for f in ('libvirtd.stdout', 'libvirtd.log'):
            p = os.path.join(self.dir, f)
            if os.path.exists(p):
                with open(p, errors='replace') as fh:
                    out += '--- %s ---\n%s' % (f, fh.read()[-6000:])
        return out

    def connect(self):
        # before the open: the remote driver watches its socket for events
        # only if an event loop exists when the connection is made
        start_event_loop()
        c = libvirt.open(self.uri)
        self.conns.append(c)
        return c

    # -- sim guests --
    def _live_pids(self, pattern, skip=None):
        pids = []
        for p in glob.glob(os.path.join(self.state_dir, 'sim', pattern)):
            if skip and p.endswith(skip):
                continue
            try:
                with open(p) as f:
                    pid = int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                continue
            if pid_alive(pid):
                pids.append(pid)
        return pids

    def sim_pids(self):
        """PIDs of the sim guest processes this daemon's backend started."""
        return self._live_pids('*.pid', skip='.dp.pid')

    def datapath_pids(self):
        """PIDs of the guests' datapath daemons."""
        return self._live_pids('*.dp.pid')

    def sim_call(self, domid, line):
        path = os.path.join(self.state_dir, 'sim', '%d.sock' % domid)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        s.connect(path)
        s.sendall(line.encode() + b'\n')
        data = b''
        while not data.endswith(b'\n'):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        reply = data.decode().strip()
        if not reply.startswith('ok'):
            raise AssertionError('sim guest %d: %s -> %s' % (domid, line, reply))
        return dict(kv.split('=', 1) for kv in reply[2:].split() if '=' in kv)

    def image(self, name, size_mib=32):
        path = os.path.join(self.dir, 'images', name + '.img')
        with open(path, 'wb') as f:
            f.truncate(size_mib << 20)
        return path

    def guest_xml(self, name, uuid=None, memory_mib=64, heartbeat_ms=100,
                  dirty_mib_s=1, write_mib_s=1, on_poweroff='destroy',
                  on_reboot='restart', on_crash='destroy'):
        uuid = uuid or str(uuidlib.uuid4())
        disk = self.image(name)
        return """<domain type='xen'>
  <name>%s</name>
  <uuid>%s</uuid>
  <memory unit='MiB'>%d</memory>
  <currentMemory unit='MiB'>%d</currentMemory>
  <vcpu>1</vcpu>
  <metadata>
    <xenmig:sim xmlns:xenmig='%s' ram-dirty-mib-s='%d' disk-write-mib-s='%d' heartbeat-ms='%d'/>
  </metadata>
  <os>
    <type arch='x86_64' machine='xenpvh'>xenpvh</type>
  </os>
  <on_poweroff>%s</on_poweroff>
  <on_reboot>%s</on_reboot>
  <on_crash>%s</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='%s'/>
      <target dev='xvda' bus='xen'/>
    </disk>
  </devices>
</domain>
""" % (name, uuid, memory_mib, memory_mib, SIM_NS, dirty_mib_s, write_mib_s,
       heartbeat_ms, on_poweroff, on_reboot, on_crash, disk)

    def heartbeat_check(self, name):
        """Runs xenmig-sim-guest heartbeat-check on the guest's image."""
        tool = os.path.join(BUILDDIR, 'src', 'backend', 'xenmig-sim-guest')
        r = subprocess.run([tool, 'heartbeat-check',
                            os.path.join(self.dir, 'images', name + '.img')],
                           capture_output=True, text=True)
        fields = dict(kv.split('=', 1) for kv in r.stdout.split() if '=' in kv)
        return r.returncode, fields, r.stdout + r.stderr

    def processes_using_dir(self):
        pids = []
        for entry in os.listdir('/proc'):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                with open('/proc/%s/cmdline' % entry, 'rb') as f:
                    cmdline = f.read().decode(errors='replace')
            except OSError:
                continue
            args = cmdline.split('\0')
            if (args[0].endswith('/xenmig-sim-guest')
                    and any(self.dir + '/' in a for a in args)):
                pids.append(int(entry))
        return pids

    # -- lifetime --
    def cleanup(self):
        self.stop()
        # sim guests outlive libvirtd by design: stop ours
        for pid in self.sim_pids() + self.datapath_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        # A guest that never wrote its pid file (e.g. one still reading a
        # restore stream) is found by its config path under our directory;
        # say so, since that is a guest the backend lost track of.
        for pid in self.processes_using_dir():
            print('killing stray process %d still using %s' % (pid, self.dir))
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if os.environ.get('XENMIG_KEEP_TEST_DIR'):
            print('kept', self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc):
        if exc[0] is not None:
            print(self.output())
        self.cleanup()
        return False
