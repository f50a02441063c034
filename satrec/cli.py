"""The ``satrec`` command line: one sub-command per module in ``satrec.commands``.

Each command module defines ``register(subparsers)``, which adds its parser and sets
``run=<function(args) -> int>``. Modules must import nothing heavy at module level, so that
``satrec --help`` stays fast and works without the optional extras.

Exit codes: 0 success; 2 finished but some inputs were rejected (or verification found problems);
1 a fatal error (bad option, unreadable source, unwritable destination), printed as one line.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from satrec import __version__, commands
from satrec.errors import SatrecError

EXIT_OK = 0
EXIT_FATAL = 1
EXIT_REJECTS = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse's own exit code 2 would collide with "some inputs rejected".
        self.print_usage(sys.stderr)
        self.exit(EXIT_FATAL, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="satrec",
        description="Turn satellite image collections into MXNet RecordIO datasets and train on them.",
        epilog="Exit codes: 0 ok; 2 finished with rejected inputs or failed checks; 1 fatal error.",
    )
    parser.add_argument("--version", action="version", version=f"satrec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help(sys.stderr)
        return EXIT_FATAL
    try:
        return int(args.run(args))
    except SatrecError as exc:
        print(f"satrec {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"satrec {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
