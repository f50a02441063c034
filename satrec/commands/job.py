"""``satrec job <name> ...``: the container entry points AWS Batch runs (one module per job in satrec.jobs)."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from typing import Any


def _discover(sub: Any) -> None:
    from satrec import jobs

    for info in sorted(pkgutil.iter_modules(jobs.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{jobs.__name__}.{info.name}").register(sub)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "job", help="run a container job (what AWS Batch runs)",
        description="Container jobs run by AWS Batch. Each reads its inputs from S3 (or a moto server via "
                    "AWS_ENDPOINT_URL) and exits 0 once every input is accounted for.")
    jobs = parser.add_subparsers(dest="job", metavar="JOB", parser_class=type(parser))
    _discover(jobs)
    parser.set_defaults(run=_no_job(parser))


def _no_job(parser: argparse.ArgumentParser) -> Any:
    def run(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 1
    return run
