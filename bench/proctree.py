"""Run a command and measure its wall time and the memory of its whole process tree, from /proc.

``resource.getrusage(RUSAGE_CHILDREN)`` reports only the largest child's peak RSS, so it cannot see a tree of
workers. Here a thread samples /proc: every tick it finds the descendants of the command (by parent
pid, transitively), reads each one's ``VmRSS`` (summed: the tree) and ``VmHWM`` (the kernel's exact
per-process peak, so the largest process's peak is never missed between ticks), and PSS from
``smaps_rollup`` (RSS counts pages a forked worker shares with its parent once per process; PSS
splits them, so the PSS sum is the tree's real footprint).
"""

from __future__ import annotations

import os
import resource
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")


@dataclass
class TreeRun:
    argv: list[str]
    returncode: int
    wall_s: float
    cpu_s: float = 0.0  # user + system CPU seconds of the whole tree (every reaped descendant)
    peak_process_rss: int = 0  # bytes: max VmHWM over every process of the tree
    peak_process_cmd: str = ""
    peak_tree_rss: int = 0  # bytes: max over ticks of the summed VmRSS
    peak_tree_pss: int = 0  # bytes: max over ticks of the summed Pss
    sum_process_peaks: int = 0  # bytes: sum of every process's VmHWM, an exact upper bound of the tree's RSS
    max_processes: int = 0
    samples: int = 0
    stderr_tail: str = ""
    stdout_tail: str = ""
    pids_seen: set[int] = field(default_factory=set)


def _ppid(pid: int) -> int | None:
    try:
        stat = (PROC / str(pid) / "stat").read_bytes()
    except OSError:
        return None
    # The command name may contain spaces and parentheses: the fields start after the last ')'.
    rest = stat[stat.rfind(b")") + 2:].split()
    return int(rest[1])


def descendants(root: int) -> list[int]:
    """``root`` and every live process below it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir(PROC):
        if entry.isdigit():
            pid = int(entry)
            parent = _ppid(pid)
            if parent is not None:
                children.setdefault(parent, []).append(pid)
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, ()))
    return found


def _status_kb(pid: int, keys: tuple[bytes, ...]) -> dict[bytes, int]:
    out: dict[bytes, int] = {}
    try:
        text = (PROC / str(pid) / "status").read_bytes()
    except OSError:
        return out
    for line in text.splitlines():
        key, _, value = line.partition(b":")
        if key in keys:
            out[key] = int(value.split()[0])
    return out


def _pss_kb(pid: int) -> int:
    try:
        text = (PROC / str(pid) / "smaps_rollup").read_bytes()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(b"Pss:"):
            return int(line.split()[1])
    return 0


def _cmdline(pid: int) -> str:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


class _Sampler(threading.Thread):
    def __init__(self, root: int, result: TreeRun, interval: float) -> None:
        super().__init__(daemon=True)
        self.root, self.result, self.interval = root, result, interval
        self.stop = threading.Event()
        self.hwm: dict[int, int] = {}
        self.cmd: dict[int, str] = {}  # last command line seen: a process may be gone when its peak is read

    def tick(self) -> None:
        res = self.result
        pids = descendants(self.root)
        rss_sum = pss_sum = 0
        live = 0
        for pid in pids:
            kb = _status_kb(pid, (b"VmRSS", b"VmHWM"))
            if not kb:
                continue  # exited, or a zombie
            live += 1
            cmd = _cmdline(pid)
            if cmd:
                self.cmd[pid] = cmd[:200]
            rss_sum += kb.get(b"VmRSS", 0)
            pss_sum += _pss_kb(pid)
            hwm = kb.get(b"VmHWM", 0)
            if hwm > self.hwm.get(pid, 0):
                self.hwm[pid] = hwm
                if hwm * 1024 > res.peak_process_rss:
                    res.peak_process_rss = hwm * 1024
                    res.peak_process_cmd = self.cmd.get(pid, "")
            res.pids_seen.add(pid)
        res.peak_tree_rss = max(res.peak_tree_rss, rss_sum * 1024)
        res.peak_tree_pss = max(res.peak_tree_pss, pss_sum * 1024)
        res.max_processes = max(res.max_processes, live)
        res.samples += 1

    def run(self) -> None:
        while not self.stop.is_set():
            self.tick()
            self.stop.wait(self.interval)


def run_tree(argv: list[str], *, cwd: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None,
             interval: float = 0.05, log_dir: Path | None = None, sample: bool = True) -> TreeRun:
    """Run ``argv`` to completion (no shell), sampling its process tree every ``interval`` seconds.

    ``sample=False`` measures time only: each tick walks /proc and reads every process's smaps, CPU
    taken from the command on a small machine (more for a tree of several processes), so timed
    runs go unsampled and memory comes from a separate run."""
    result = TreeRun(argv=list(argv), returncode=-1, wall_s=0.0)
    log_dir = log_dir or Path(os.environ.get("TMPDIR", "/tmp"))
    log_dir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = log_dir / "stdout.log", log_dir / "stderr.log"
    # RUSAGE_CHILDREN sums the CPU time of every child reaped so far, and of their reaped children:
    # the delta around one command is the whole tree's CPU time. Unlike wall time it barely moves
    # when other work shares the machine, so it is the number to compare on a busy machine.
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        sampler = _Sampler(proc.pid, result, interval)
        if sample:
            sampler.start()
        # Not wait4's ru_maxrss: it keeps the high-water mark from before exec, i.e. this (larger)
        # benchmark process's pages, so a tiny command would look as big as its launcher.
        result.returncode = proc.wait()
        result.wall_s = time.perf_counter() - start
        sampler.stop.set()
        if sample:
            sampler.join()
    # Unlike the sampled sum, this cannot miss a short-lived peak between two ticks.
    result.sum_process_peaks = sum(sampler.hwm.values()) * 1024
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result.cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result.stdout_tail = out_path.read_text(errors="replace")[-2000:]
    result.stderr_tail = err_path.read_text(errors="replace")[-2000:]
    return result
