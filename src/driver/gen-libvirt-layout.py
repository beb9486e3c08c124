#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Derive the layouts of libvirt's internal driver tables.

libvirtd loads a connection-driver module and reads three of its structs
(virHypervisorDriver, virConnectDriver, virStateDriver) whose layouts are
internal to libvirt and change between releases.  This script reads them
from a libvirt source tree of exactly the installed version and records the
facts xenmig needs -- field names, their order and their types -- in a small
data file ("layout"), from which it then generates a C header.

  --emit-layout --libvirt-src DIR --version V -o FILE
        parse DIR/src/{driver-hypervisor.h,driver.h,driver-state.h}
  --emit-header --layout FILE -o HEADER
        write the C header used by src/driver/ from a layout file
  --emit-header --libvirt-src DIR --version V -o HEADER
        both steps in one go

Types that are internal to libvirt are recorded as what the ABI needs:
pointers to internal types become "void *", internal enums become "int".
An internal type the script cannot classify stops it with an error rather
than guess.
"""

import argparse
import os
import re
import sys

STRUCTS = [
    # (struct name, header under src/)
    ('virHypervisorDriver', 'driver-hypervisor.h'),
    ('virConnectDriver', 'driver.h'),
    ('virStateDriver', 'driver-state.h'),
]

# Internal enums returned by driver callbacks: int-sized on every ABI
# libvirt supports.
INTERNAL_ENUMS = {'virDrvOpenStatus', 'virDrvStateInitResult'}

C_BASE = {'void', 'int', 'char', 'bool', 'size_t', 'long', 'unsigned',
          'short', 'double', 'const', 'signed'}


def die(msg):
    sys.stderr.write('gen-libvirt-layout: error: %s\n' % msg)
    sys.exit(1)


def strip_comments(text):
    text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
    return re.sub(r'//[^\n]*', ' ', text)


def public_type_names(src):
    """Every type name the installed public headers define."""
    names = set()
    incdir = os.path.join(src, 'include', 'libvirt')
    if not os.path.isdir(incdir):
        die('%s: not a libvirt source tree (no include/libvirt)' % src)
    for fn in os.listdir(incdir):
        if not (fn.endswith('.h') or fn.endswith('.h.in')):
            continue
        text = strip_comments(open(os.path.join(incdir, fn)).read())
        for m in re.finditer(r'typedef\b[^;]*?\(\s*\*\s*(\w+)\s*\)', text):
            names.add(m.group(1))
        for m in re.finditer(r'typedef\b[^;(]*?\b(\w+)\s*;', text):
            names.add(m.group(1))
        for m in re.finditer(r'}\s*(\w+)\s*;', text):
            names.add(m.group(1))
    return names


def normalize_type(t, public, where):
    """Map one C type (no declarator name) to its ABI spelling."""
    t = ' '.join(t.replace('*', ' * ').split())
    t = t.replace('* *', '**').replace('* *', '**')
    words = re.findall(r'\w+', t)
    unknown = [w for w in words if w not in C_BASE and w not in public]
    if not unknown:
        return t.replace(' *', ' *').replace('* const', '*const')
    if len(unknown) > 1:
        die('%s: cannot classify type "%s"' % (where, t))
    name = unknown[0]
    if '*' in t:
        return 'void *'
    if name in INTERNAL_ENUMS:
        return 'int'
    if name.endswith('Callback'):
        # internal function-pointer typedefs (virStateInhibitCallback)
        return 'void *'
    die('%s: internal type "%s" is neither a pointer nor a known enum; '
        'teach %s about it' % (where, t, os.path.basename(sys.argv[0])))


def split_params(params):
    params = ' '.join(params.split())
    if params in ('', 'void'):
        return []
    return [p.strip() for p in params.split(',')]


def param_type(p):
    """'const char *name' -> 'const char *'; handles 'char **const foo'."""
    m = re.match(r'^(.*?)(\b\w+)$', p)
    if not m or not m.group(1).strip():
        return p
    return m.group(1).strip()


def parse_struct(src, struct, header, public):
    path = os.path.join(src, 'src', header)
    try:
        text = strip_comments(open(path).read())
    except OSError as e:
        die('%s: %s' % (path, e.strerror))
    typedefs = {}
    for m in re.finditer(r'typedef\s+([^;()]*?)\s*\(\s*\*\s*(\w+)\s*\)\s*\(([^)]*)\)\s*;',
                         text, re.S):
        typedefs[m.group(2)] = (' '.join(m.group(1).split()), m.group(3))
    m = re.search(r'struct\s+_%s\s*\{(.*?)\};' % struct, text, re.S)
    if not m:
        die('%s: struct _%s not found' % (path, struct))
    fields = []
    for decl in m.group(1).split(';'):
        decl = ' '.join(decl.split())
        if not decl:
            continue
        dm = re.match(r'^(.*?)(\w+)$', decl)
        if not dm:
            die('%s: cannot parse field "%s"' % (path, decl))
        ftype, fname = dm.group(1).strip(), dm.group(2)
        where = '%s.%s' % (struct, fname)
        if ftype in typedefs:
            ret, params = typedefs[ftype]
            ret = normalize_type(ret, public, where)
            ptypes = [normalize_type(param_type(p), public, where)
                      for p in split_params(params)]
            fields.append(('fn', fname, ret, ptypes))
        else:
            fields.append(('data', fname, normalize_type(ftype, public, where), None))
    return fields


def emit_layout(src, version, out):
    public = public_type_names(src)
    lines = ['# libvirt driver-table layout for libvirt %s.' % version,
             '# Generated by src/driver/gen-libvirt-layout.py --emit-layout from',
             '# that version\'s src/driver-hypervisor.h, src/driver.h and',
             '# src/driver-state.h. Do not edit; regenerate.',
             'version\t%s' % version]
    for struct, header in STRUCTS:
        fields = parse_struct(src, struct, header, public)
        lines.append('struct\t%s' % struct)
        for kind, name, t, params in fields:
            if kind == 'fn':
                lines.append('fn\t%s\t%s\t%s' % (name, t, ', '.join(params) or 'void'))
            else:
                lines.append('data\t%s\t%s' % (name, t))
        lines.append('end')
    write(out, '\n'.join(lines) + '\n')


def read_layout(path):
    version = None
    structs = []
    cur = None
    for n, line in enumerate(open(path), 1):
        line = line.rstrip('\n')
        if not line or line.startswith('#'):
            continue
        parts = line.split('\t')
        where = '%s:%d' % (path, n)
        if parts[0] == 'version' and len(parts) == 2:
            version = parts[1]
        elif parts[0] == 'struct' and len(parts) == 2 and cur is None:
            cur = (parts[1], [])
        elif parts[0] == 'end' and cur is not None:
            structs.append(cur)
            cur = None
        elif parts[0] == 'fn' and len(parts) == 4 and cur is not None:
            params = [] if parts[3] == 'void' else parts[3].split(', ')
            cur[1].append(('fn', parts[1], parts[2], params))
        elif parts[0] == 'data' and len(parts) == 3 and cur is not None:
            cur[1].append(('data', parts[1], parts[2], None))
        else:
            die('%s: malformed line' % where)
    if version is None or cur is not None:
        die('%s: truncated layout' % path)
    names = [s for s, _ in structs]
    for want, _ in STRUCTS:
        if want not in names:
            die('%s: struct %s missing' % (path, want))
    return version, structs


def declarator(t, name):
    return '%s%s%s' % (t, '' if t.endswith('*') else ' ', name)


def emit_header(version, structs, out):
    lines = ['/* Generated by src/driver/gen-libvirt-layout.py for libvirt %s. */' % version,
             '/* Do not edit. Only src/driver/ includes this. */',
             '#pragma once',
             '#include <stdbool.h>',
             '#include <stddef.h>',
             '#include <libvirt/libvirt.h>',
             '#include <libvirt/libvirt-qemu.h>',
             '',
             '#define XM_LIBVIRT_LAYOUT_VERSION "%s"' % version,
             '']
    for struct, fields in structs:
        cname = 'Xm' + struct[0].upper() + struct[1:]
        lines.append('typedef struct {')
        for kind, name, t, params in fields:
            if kind == 'fn':
                lines.append('    %s(*%s)(%s);' % (t if t.endswith('*') else t + ' ',
                                                   name, ', '.join(params) or 'void'))
            else:
                lines.append('    %s;' % declarator(t, name))
        lines.append('} %s;' % cname)
        lines.append('#define XM_%s_NFIELDS %d' % (struct.upper(), len(fields)))
        for kind, name, t, params in fields:
            lines.append('#define XM_HAVE_%s_%s 1' % (struct.upper(), name))
        lines.append('')
    write(out, '\n'.join(lines) + '\n')


def write(path, text):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument('--emit-layout', action='store_true')
    mode.add_argument('--emit-header', action='store_true')
    ap.add_argument('--libvirt-src', help='libvirt source tree (apt-get source libvirt)')
    ap.add_argument('--version', help='libvirt version of that tree, e.g. 9.0.0')
    ap.add_argument('--layout', help='layout data file to read')
    ap.add_argument('-o', '--output', required=True)
    a = ap.parse_args()
    if a.emit_layout:
        if not a.libvirt_src or not a.version:
            ap.error('--emit-layout needs --libvirt-src and --version')
        emit_layout(a.libvirt_src, a.version, a.output)
    elif a.layout:
        emit_header(*read_layout(a.layout), a.output)
    elif a.libvirt_src and a.version:
        tmp = a.output + '.layout'
        emit_layout(a.libvirt_src, a.version, tmp)
        emit_header(*read_layout(tmp), a.output)
        os.unlink(tmp)
    else:
        ap.error('--emit-header needs --layout, or --libvirt-src and --version')


if __name__ == '__main__':
    main()
