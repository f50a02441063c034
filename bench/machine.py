"""A description of the machine a benchmark ran on: numbers mean nothing without it."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return float("nan")


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def loadavg() -> tuple[float, float, float]:
    try:
        one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
        return float(one), float(five), float(fifteen)
    except (OSError, ValueError):
        return (float("nan"),) * 3


def satrec_revision() -> str:
    """The commit benchmarked, and whether satrec/ had uncommitted changes (then the numbers are for those)."""
    import subprocess

    repo = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "satrec"], cwd=repo, capture_output=True,
                               text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head or 'unknown'}{' + uncommitted changes in satrec/' if dirty else ''}"


def describe() -> dict[str, str]:
    from PIL import Image, features

    return {
        "nproc": str(os.cpu_count()),
        "usable cores (affinity)": str(len(os.sched_getaffinity(0))),
        "CPU": _cpu_model(),
        "RAM": f"{_mem_total_gib():.1f} GiB",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": sys.version.split()[0],
        "Pillow": Image.__version__,
        "libjpeg-turbo (Pillow)": str(features.version("libjpeg_turbo")),
        "numpy": _version("numpy"),
        "MXNet (im2rec)": _version("mxnet"),
        "OpenCV (im2rec)": _version("opencv-python-headless"),
        "satrec": f"{_version('satrec')} (git {satrec_revision()})",
    }
