#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""src/driver/gen-libvirt-layout.py: parses a libvirt-like source tree,
refuses what it cannot classify, and the checked-in layout yields a header
that compiles with the expected table sizes. With LIBVIRT_SRC pointing at
the installed version's source, the checked-in layout must regenerate
byte for byte."""

import os
import subprocess
import sys
import tempfile

SRC = os.environ.get('XENMIG_SRCDIR', os.path.join(os.path.dirname(__file__), '..', '..'))
GEN = os.path.join(SRC, 'src', 'driver', 'gen-libvirt-layout.py')


def gen(*args):
    return subprocess.run([sys.executable, GEN] + list(args), capture_output=True, text=True)


def write(root, rel, text):
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, 'w') as f:
        f.write(text)


def fake_tree(root, extra_field=''):
    write(root, 'include/libvirt/libvirt-host.h',
          'typedef struct _virConnect virConnect;\ntypedef virConnect *virConnectPtr;\n')
    write(root, 'include/libvirt/libvirt-common.h.in',
          'typedef struct _virTypedParameter virTypedParameter;\n'
          'typedef virTypedParameter *virTypedParameterPtr;\n')
    write(root, 'src/driver-hypervisor.h', '''
typedef int
(*virDrvConnectOpen)(virConnectPtr conn, virConf *conf, unsigned int flags);
typedef virDrvOpenStatus
(*virDrvConnectClose)(virConnectPtr conn);
typedef char *
(*virDrvConnectGetHostname)(virConnectPtr conn /* comment */);
typedef int
(*virDrvConnectList)(virConnectPtr conn, char **const names, int maxnames);
struct _virHypervisorDriver {
    const char *name; /* the name */
    virDrvConnectOpen connectOpen;
    virDrvConnectClose connectClose;
    virDrvConnectGetHostname connectGetHostname;
    virDrvConnectList connectList;
%s};
''' % extra_field)
    write(root, 'src/driver.h', '''
struct _virConnectDriver {
    bool localOnly;
    const char **uriSchemes;
    virHypervisorDriver *hypervisorDriver;
};
''')
    write(root, 'src/driver-state.h', '''
typedef virDrvStateInitResult
(*virDrvStateInitialize)(bool privileged, const char *root,
                         virStateInhibitCallback callback, void *opaque);
typedef int
(*virDrvStateCleanup)(void);
struct _virStateDriver {
    const char *name;
    bool initialized;
    virDrvStateInitialize stateInitialize;
    virDrvStateCleanup stateCleanup;
};
''')


def test_fake_tree(tmp):
    root = os.path.join(tmp, 'fake')
    fake_tree(root)
    out = os.path.join(tmp, 'fake.layout')
    r = gen('--emit-layout', '--libvirt-src', root, '--version', '1.2.3', '-o', out)
    assert r.returncode == 0, r.stderr
    lines = [l for l in open(out).read().splitlines() if not l.startswith('#')]
    assert lines[0] == 'version\t1.2.3', lines
    # order, internal pointer types as void *, internal enums as int
    assert lines[1:7] == [
        'struct\tvirHypervisorDriver',
        'data\tname\tconst char *',
        'fn\tconnectOpen\tint\tvirConnectPtr, void *, unsigned int',
        'fn\tconnectClose\tint\tvirConnectPtr',
        'fn\tconnectGetHostname\tchar *\tvirConnectPtr',
        'fn\tconnectList\tint\tvirConnectPtr, char **const, int',
    ], lines
    assert 'data\thypervisorDriver\tvoid *' in lines
    assert 'fn\tstateInitialize\tint\tbool, const char *, void *, void *' in lines
    assert 'fn\tstateCleanup\tint\tvoid' in lines
    hdr = os.path.join(tmp, 'fake.h')
    r = gen('--emit-header', '--layout', out, '-o', hdr)
    assert r.returncode == 0, r.stderr
    text = open(hdr).read()
    assert '#define XM_VIRHYPERVISORDRIVER_NFIELDS 5' in text, text
    assert 'int (*connectList)(virConnectPtr, char **const, int);' in text, text


def test_unknown_type_refused(tmp):
    root = os.path.join(tmp, 'bad')
    fake_tree(root, '    virSomeInternalStruct inlineStruct;\n')
    r = gen('--emit-layout', '--libvirt-src', root, '--version', '1.2.3',
            '-o', os.path.join(tmp, 'bad.layout'))
    assert r.returncode == 1, r
    assert 'virSomeInternalStruct' in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(tmp, 'bad.layout'))


def test_malformed_layout_refused(tmp):
    p = os.path.join(tmp, 'm.layout')
    with open(p, 'w') as f:
        f.write('version\t9.9.9\nstruct\tvirHypervisorDriver\nfn\tbroken\n')
    r = gen('--emit-header', '--layout', p, '-o', os.path.join(tmp, 'm.h'))
    assert r.returncode == 1 and 'malformed' in r.stderr, r


def test_checked_in_layouts_compile(tmp):
    d = os.path.join(SRC, 'src', 'driver', 'layouts')
    for fn in sorted(os.listdir(d)):
        hdr = os.path.join(tmp, fn + '.h')
        r = gen('--emit-header', '--layout', os.path.join(d, fn), '-o', hdr)
        assert r.returncode == 0, r.stderr
        c = os.path.join(tmp, 'check.c')
        with open(c, 'w') as f:
            f.write('#include "%s"\n' % hdr)
            f.write('_Static_assert(sizeof(XmVirHypervisorDriver) == '
                    'XM_VIRHYPERVISORDRIVER_NFIELDS * sizeof(void *), "hv");\n')
            # the bool is padded to a pointer's size
            f.write('_Static_assert(sizeof(XmVirStateDriver) == '
                    'XM_VIRSTATEDRIVER_NFIELDS * sizeof(void *), "st");\n')
        r = subprocess.run(['cc', '-fsyntax-only', '-Wall', '-Werror', c],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        if fn == 'libvirt-9.0.0.layout':
            assert '#define XM_VIRHYPERVISORDRIVER_NFIELDS 258' in open(hdr).read()


def test_regenerates_identically(tmp):
    src = os.environ.get('LIBVIRT_SRC')
    if not src or not os.path.isdir(src):
        print('# LIBVIRT_SRC not set: regeneration not checked')
        return
    version = os.path.basename(os.path.normpath(src)).split('-')[-1]
    out = os.path.join(tmp, 'regen.layout')
    r = gen('--emit-layout', '--libvirt-src', src, '--version', version, '-o', out)
    assert r.returncode == 0, r.stderr
    want = os.path.join(SRC, 'src', 'driver', 'layouts', 'libvirt-%s.layout' % version)
    assert open(out).read() == open(want).read(), 'layout differs from ' + want


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for name, fn in sorted(globals().items()):
            if name.startswith('test_'):
                fn(tmp)
                print('ok', name)


if __name__ == '__main__':
    main()
