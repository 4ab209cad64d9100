#!/usr/bin/env python3
"""Lists Rust functions longer than a limit (default 120 lines) and source files over 600
lines under each crate's src/. A rough scanner: a function runs from its `fn` line to the
closing brace at the same indentation. Used by the style check in scripts/test.sh."""
import re
import sys
from pathlib import Path

FN_LIMIT = int(sys.argv[1]) if len(sys.argv) > 1 else 120
FILE_LIMIT = 600
root = Path(__file__).resolve().parent.parent
bad = []
for path in sorted(root.glob("*/src/**/*.rs")):
    if "target" in path.parts:
        continue
    lines = path.read_text().split("\n")
    if len(lines) > FILE_LIMIT:
        bad.append(f"{path.relative_to(root)}: {len(lines)} lines (limit {FILE_LIMIT})")
    in_tests = False
    for i, line in enumerate(lines):
        if re.match(r"\s*mod tests\b", line):
            in_tests = True
        m = re.match(r"^(\s*)(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)", line)
        if not m or line.rstrip().endswith(";") or in_tests:
            continue
        indent = m.group(1)
        for j in range(i, len(lines)):
            if lines[j] == indent + "}":
                n = j - i + 1
                if n > FN_LIMIT:
                    bad.append(f"{path.relative_to(root)}:{i + 1}: fn {m.group(7)} is {n} lines (limit {FN_LIMIT})")
                break
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
