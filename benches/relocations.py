"""Where a binary's relative relocations point: the dynamic loader writes each one at start, and
each 4 KiB page of `.data.rel.ro` it writes costs a copy-on-write page fault.

Usage: python3 benches/relocations.py BINARY [BINARY...]   (needs binutils' readelf)

Works on stripped release builds: a relocation that points at a source-file path (a panic
location or a tracing callsite) names its crate through that path; the others are counted by
what they point at (code: vtables and function pointers; other strings; other relocated data).
"""
import re
import subprocess
import sys
from collections import Counter

PRINTABLE = re.compile(rb"[\x20-\x7e]{4,}")
REGISTRY_CRATE = re.compile(r"/src/index[^/]*/([A-Za-z_\-0-9]+?)-\d+\.\d+")


def sections(binary):
    found = {}
    out = subprocess.run(["readelf", "-SW", binary], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        match = re.search(r"\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)", line)
        if match:
            found[match.group(1)] = tuple(int(match.group(i), 16) for i in (2, 3, 4))
    return found


def relative_relocations(binary):
    out = subprocess.run(["readelf", "-rW", binary], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[2] == "R_X86_64_RELATIVE":
            yield int(fields[0], 16), int(fields[3], 16)


def section_of(address, table):
    for name, (start, offset, size) in table.items():
        if start <= address < start + size:
            return name, address - start + offset
    return None, None


def crate_of_path(text):
    match = REGISTRY_CRATE.search(text)
    if match:
        return match.group(1)
    if "/rustc/" in text or "/rust/deps/" in text:
        return "std"
    return "this workspace" if ".rs" in text else None


def report(binary):
    data = open(binary, "rb").read()
    table = sections(binary)
    kinds, crates, pages = Counter(), Counter(), set()
    for location, target in relative_relocations(binary):
        pages.add(location >> 12)
        name, offset = section_of(target, table)
        if name == ".text":
            kinds["code (vtables, function pointers)"] += 1
        elif name == ".rodata":
            match = PRINTABLE.match(data[offset : offset + 400])
            text = match.group(0).decode() if match else ""
            crate = crate_of_path(text)
            if crate:
                kinds["source paths (panic locations, tracing callsites)"] += 1
                crates[crate] += 1
            else:
                kinds["other strings and constants"] += 1
        else:
            kinds[f"relocated data ({name})"] += 1
    total = sum(kinds.values())
    print(f"{binary}: {total:,} relative relocations on {len(pages)} pages")
    for kind, count in kinds.most_common():
        print(f"  {count:6,}  {kind}")
    print("  source paths by crate:", ", ".join(f"{crate} {count:,}" for crate, count in crates.most_common(12)))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for path in sys.argv[1:]:
        report(path)
