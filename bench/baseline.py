"""The floor for pass-through: read every input file and write one file holding the same bytes.

No framing, no index, no decode check: what any packer must at least do. ``satrec convert
--pass-through`` is judged against it (at least a third of its speed).

Usage: ``python -m bench.baseline SRC OUT``.
"""

from __future__ import annotations

import os
import sys


def concatenate(src: str, out: str) -> tuple[int, int]:
    """Append every file under ``src`` (walked in sorted order) to ``out``; return (files, bytes)."""
    files = written = 0
    with open(out, "wb") as sink:
        for folder, dirs, names in os.walk(src):
            dirs.sort()
            for name in sorted(names):
                if name.startswith("."):
                    continue  # the corpus marker, not an input
                with open(os.path.join(folder, name), "rb") as fh:
                    written += sink.write(fh.read())
                files += 1
    return files, written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m bench.baseline SRC OUT", file=sys.stderr)
        return 1
    files, written = concatenate(args[0], args[1])
    print(f"{files} files, {written} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
