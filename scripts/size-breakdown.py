#!/usr/bin/env python3
"""Where the bytes of the app's wasm go, for scripts/bench ("Where the bytes go").

    size-breakdown.py NAMED.wasm > breakdown.json

NAMED.wasm is the app's wasm optimised exactly as the release build is (wasm-opt -Oz)
but with its name section kept (--debuginfo). Every function body and data segment is
put in one area of the code by its (demangled) name; each area's bytes are then
gzipped together, so the table says what each area costs on the wire, not only raw.
(twiggy gives the raw sizes too, but not per-area gzip; this reads the two wasm
sections it needs and nothing else.)
"""

import json
import re
import sys
import zlib

# First match wins. Generic code instantiated for the app's own types (Yew's component
# and reducer plumbing around `App`, serde's derived code for core's types) is counted
# with the app or the codec that asked for it, since that is what removing it would save.
AREAS = [
    ("web: views, state and forms (gicx-web)",
     r"gicx_web|CompStateInner<COMP>.*::view|use_reducer_base::HookProvider"),
    ("JSON: serde, serde_json, serde_path_to_error and the derived (de)serialisers",
     r"serde|Deserializ|Serializ|__FieldVisitor|zmij|ryu|itoa"),
    ("permalinks: codec, deflate, base64", r"gicx_core::permalink|miniz_oxide|base64"),
    # gicx-core by the module named first: `gicx_core::delivery::<impl gicx_core::vgic::Vgic>::f`
    # is delivery code (CORE_MODULES).
    ("model: delivery path and traces (gicx-core)", "core:delivery|trace"),
    ("model: migration, VMM recipes, matrix and audit (gicx-core)", "core:migrate|audit|vmm|guest"),
    ("model: scenario runner (gicx-core)", "core:scenario"),
    ("model: registers, vGIC, CPU interface, ITS, rules (gicx-core)", "core:.*"),
    ("Yew runtime (virtual DOM, scheduler, events)", r"yew|implicit_clone|gloo|indexmap"),
    ("wasm-bindgen, js-sys, web-sys glue", r"wasm_bindgen|js_sys|web_sys|__wbg|__wbindgen|externref"),
    ("Rust std: formatting, collections, allocator, panics (partly instantiated for the app's types)",
     r"^<?&?(mut )?(core|alloc|std|hashbrown|dlmalloc|__rustc)\b|core\[|alloc\[|std\[|fmt::|panic"),
]
DATA = "data: strings and constant tables (rodata)"
OTHER = "unnamed closures, shims and the function table"


def leb(b, i):
    r = s = 0
    while True:
        x = b[i]
        i += 1
        r |= (x & 0x7F) << s
        s += 7
        if x < 0x80:
            return r, i


def sections(b):
    if b[:4] != b"\0asm":
        sys.exit("size-breakdown: not a wasm module")
    i = 8
    while i < len(b):
        sid = b[i]
        size, i = leb(b, i + 1)
        yield sid, b[i:i + size]
        i += size


def name_at(b, i):
    n, i = leb(b, i)
    return b[i:i + n].decode("utf-8", "replace"), i + n


def main(path):
    b = open(path, "rb").read()
    imports = 0
    bodies = []
    data = b""
    names = {}
    for sid, p in sections(b):
        if sid == 2:  # imports: functions among them take the first indices
            n, i = leb(p, 0)
            for _ in range(n):
                for _ in range(2):
                    ln, i = leb(p, i)
                    i += ln
                kind = p[i]
                i += 1
                if kind == 0:
                    imports += 1
                    _, i = leb(p, i)
                elif kind == 1:  # table: reftype, limits
                    i += 1
                    flag, i = leb(p, i)
                    _, i = leb(p, i)
                    if flag & 1:
                        _, i = leb(p, i)
                elif kind == 2:  # memory: limits
                    flag, i = leb(p, i)
                    _, i = leb(p, i)
                    if flag & 1:
                        _, i = leb(p, i)
                elif kind == 3:  # global: valtype, mutability
                    i += 2
                elif kind == 4:  # tag (exception handling): attribute, type index
                    i += 1
                    _, i = leb(p, i)
                else:
                    sys.exit(f"size-breakdown: import kind {kind} not understood")
        elif sid == 10:  # code
            n, i = leb(p, 0)
            for _ in range(n):
                size, i = leb(p, i)
                bodies.append(p[i:i + size])
                i += size
        elif sid == 11:  # data
            data = p
        elif sid == 0:
            name, i = name_at(p, 0)
            if name != "name":
                continue
            while i < len(p):
                sub = p[i]
                size, i = leb(p, i + 1)
                if sub == 1:  # function names
                    n, j = leb(p, i)
                    for _ in range(n):
                        idx, j = leb(p, j)
                        names[idx], j = name_at(p, j)
                i += size
    compiled = [
        (a, "core", re.compile(rx[5:] + "$")) if rx.startswith("core:") else (a, "name", re.compile(rx))
        for a, rx in AREAS
    ]
    first_core_module = re.compile(r"gicx_core::(\w+)")
    parts = {a: [] for a, _ in AREAS}
    parts[DATA] = [data]
    parts[OTHER] = []
    for k, body in enumerate(bodies):
        name = names.get(imports + k, "")
        m = first_core_module.search(name)
        for area, kind, rx in compiled:
            hit = (m and rx.match(m.group(1))) if kind == "core" else (name and rx.search(name))
            if hit:
                parts[area].append(body)
                break
        else:
            parts[OTHER].append(body)
    rows = []
    for area, chunks in parts.items():
        blob = b"".join(chunks)
        rows.append({
            "area": area,
            "functions": len(chunks) if area != DATA else 0,
            "raw": len(blob),
            "gzip": len(zlib.compress(blob, 9)) if blob else 0,
        })
    rows.sort(key=lambda r: -r["gzip"])
    json.dump({"module": len(b), "gzip_whole": len(zlib.compress(b, 9)), "areas": rows}, sys.stdout)
    print()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: size-breakdown.py NAMED.wasm")
    main(sys.argv[1])
