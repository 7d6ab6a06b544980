#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Check mm's call layers (mm/internal.h): a file calls only the internal
functions (prefix__name) of the layers below it, so no mm files call each
other in a cycle. Usage: check-layers.py MM_SOURCE_DIR"""
import os
import re
import sys

# file -> internal prefixes it may call besides its own
MAY_CALL = {
    "uffd.c": set(),
    "pool.c": set(),
    "map.c": {"pool", "uffd"},
    "snapshot.c": {"map", "pool"},
    "compact.c": {"snapshot", "map", "pool"},
    "fault.c": {"compact", "snapshot", "map", "pool", "uffd"},
    "space.c": {"fault", "compact", "snapshot", "map", "pool", "uffd"},
    "clone.c": {"space", "compact", "map", "pool", "uffd"},
    "pin.c": {"compact", "snapshot", "map", "pool"},
    "mm.c": {"fault", "map", "pool", "uffd"},
}
OWN = {f: f[:-2] for f in MAY_CALL}

src = sys.argv[1]
bad = []
for name in sorted(os.listdir(src)):
    if not name.endswith(".c"):
        continue
    if name not in MAY_CALL:
        bad.append(f"{name}: not placed in a layer (add it to check-layers.py and internal.h)")
        continue
    text = open(os.path.join(src, name)).read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    # STAT_INC/STAT_ADD expand to pool__stat_add: a pool call.
    for m in re.finditer(r"\b([a-z]+)__[a-z_]+\b", text):
        prefix = m.group(1)
        if prefix == OWN[name] or prefix in MAY_CALL[name]:
            continue
        if prefix not in OWN.values():
            continue
        bad.append(f"{name}: calls {m.group(0)} ({prefix}.c is not below it)")
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
