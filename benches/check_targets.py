"""Reads divan's table from a log and checks medians against targets given on stdin.

Each target line: `<bench name> <max median in seconds> <description>`. Exits 1 if any bench
misses its target or is missing from the log.
"""
import re
import sys

UNITS = {"ps": 1e-12, "ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def medians(text):
    found = {}
    for line in text.splitlines():
        match = re.match(r"^[\s│├╰─]*([\w:]+)\s+(.*)$", line)
        if not match or "│" not in match.group(2):
            continue
        columns = [column.strip() for column in match.group(2).split("│")]
        if len(columns) < 3:
            continue
        value = re.match(r"^([\d.]+)\s*(ps|ns|µs|us|ms|s)$", columns[2])
        if value:
            found[match.group(1)] = float(value.group(1)) * UNITS[value.group(2)]
    return found


def main():
    found = medians(open(sys.argv[1], encoding="utf-8").read())
    failed = False
    print()
    print(f"{'benchmark':32} {'median':>12} {'target':>12}  result")
    for line in sys.stdin:
        if not line.strip():
            continue
        name, target, description = line.split(maxsplit=2)
        target = float(target)
        median = found.get(name)
        if median is None:
            print(f"{name:32} {'missing':>12} {target * 1e6:>10.1f}µs  FAIL ({description.strip()})")
            failed = True
            continue
        ok = median <= target
        failed |= not ok
        print(f"{name:32} {median * 1e6:>10.2f}µs {target * 1e6:>10.1f}µs  {'ok' if ok else 'FAIL'} ({description.strip()})")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
