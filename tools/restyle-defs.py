#!/usr/bin/env python3
# Usage: python3 tools/restyle-defs.py FILE.c...  (rewrites the files in place; prints what it did)
"""Put a function definition's return type on its own line (core/ style):

    static int foo(int a,              static int
                   int b)       ->     foo(int a,
    {                                      int b)
                                       {

Only definitions whose name and '(' are on a column-0 line and whose body '{' is alone on a
column-0 line right after the closing ')'. Prototypes, one-line functions, tables and
already converted functions are left alone. Continuation lines of the parameter list that were
aligned to the '(' with spaces move with it; anything else about them is reported and left.
Proof of 'nothing else': the file with all whitespace removed is the same before and after.
"""
import re
import sys

HEAD = re.compile(r'^(?P<type>[A-Za-z_][A-Za-z0-9_ ]*?[ *]+)(?P<name>[A-Za-z_][A-Za-z0-9_]*)\((?P<rest>.*)$')
KEYWORDS = {'if', 'for', 'while', 'switch', 'return', 'sizeof', 'do', 'else'}


def convert(lines, path):
    out, i, n, changed, notes = [], 0, len(lines), 0, []
    while i < n:
        line = lines[i]
        m = HEAD.match(line)
        ok = (m and not line[0].isspace() and m.group('name') not in KEYWORDS
              and not any(k in m.group('type').split() for k in KEYWORDS | {'typedef'})
              and '=' not in line and ';' not in line and '{' not in line
              and m.group('type').strip() not in ('', 'struct', 'enum', 'union'))
        if ok:
            # the parameter list ends on the line j that ends with ')'; the body opens on j + 1
            j = i
            while j < n and not lines[j].rstrip().endswith(')') and j - i < 12:
                j += 1
            if j + 1 < n and lines[j + 1].rstrip() == '{' and all(';' not in lines[k] and '{' not in lines[k] for k in range(i, j + 1)):
                typ = m.group('type').rstrip(' ')
                col_old = len(m.group('type')) + len(m.group('name')) + 1
                col_new = len(m.group('name')) + 1
                out.append(typ)
                out.append(line[len(m.group('type')):])
                for k in range(i + 1, j + 1):
                    c = lines[k]
                    lead = len(c) - len(c.lstrip(' '))
                    if lead == col_old and not c[lead:].startswith('\t'):
                        out.append(' ' * col_new + c[lead:])
                    else:
                        notes.append('%s:%d: continuation not aligned to "(", left as is' % (path, k + 1))
                        out.append(c)
                changed += 1
                i = j + 1
                continue
        out.append(line)
        i += 1
    return out, changed, notes


def squash(text):
    return re.sub(r'\s+', '', text)


total = 0
for path in sys.argv[1:]:
    with open(path) as f:
        text = f.read()
    lines = text.split('\n')
    out, changed, notes = convert(lines, path)
    new = '\n'.join(out)
    if squash(new) != squash(text):
        sys.exit('%s: the conversion would change more than whitespace; nothing written' % path)
    for note in notes:
        print(note)
    if new != text:
        with open(path, 'w') as f:
            f.write(new)
    print('%s: %d definitions' % (path, changed))
    total += changed
print('total: %d definitions' % total)
