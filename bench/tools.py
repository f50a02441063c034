"""The contenders, each as the commands a user types and the packed files those commands leave.

- ``im2rec``: MXNet's own tools/im2rec.py from the installed wheel, run as its users run it: a
  ``--list --recursive`` run, then the pack run with ``--num-thread 2``. Both runs are timed: a user
  cannot pack without the list.
- ``satrec``: one ``satrec convert SRC DST`` with the same output contract and 2 workers.
- ``baseline`` (pass-through only): read every input, write one file of the same bytes.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench.quality import Packed

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
RESIZE = 224
QUALITY = 95
WORKERS = 2


def im2rec_script() -> Path:
    """The im2rec.py shipped inside the installed MXNet wheel (found without importing MXNet)."""
    import importlib.util

    spec = importlib.util.find_spec("mxnet")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("MXNet is not installed: pip install -e '.[train]'")
    return Path(next(iter(spec.submodule_search_locations))) / "tools" / "im2rec.py"


@dataclass
class Tool:
    name: str
    extra: list[str] = field(default_factory=list)  # appended to the main command (satrec only)
    workers: int = WORKERS

    def steps(self, src: Path, work: Path, *, pass_through: bool) -> list[list[str]]:
        raise NotImplementedError

    def outputs(self, src: Path, work: Path) -> list[Packed]:
        raise NotImplementedError

    def describe(self, *, pass_through: bool) -> str:
        src, work = Path("SRC"), Path("WORK")
        return " && ".join(shlex.join(_short(step)) for step in self.steps(src, work, pass_through=pass_through))


def _short(argv: list[str]) -> list[str]:
    """Readable command lines for the report: no absolute venv or site-packages paths."""
    out = []
    for arg in argv:
        if arg == sys.executable:
            out.append("python")
        elif arg.endswith("im2rec.py"):
            out.append("im2rec.py")
        elif arg.startswith(str(VENV_BIN)):
            out.append(Path(arg).name)
        else:
            out.append(arg)
    return out


class Im2rec(Tool):
    def steps(self, src: Path, work: Path, *, pass_through: bool) -> list[list[str]]:
        script = str(im2rec_script())
        prefix = str(work / "data")
        pack = ["--pass-through"] if pass_through else ["--resize", str(RESIZE), "--quality", str(QUALITY)]
        return [
            [sys.executable, script, prefix, str(src), "--list", "--recursive"],
            [sys.executable, script, prefix, str(src), *pack, "--num-thread", str(self.workers)],
        ]

    def outputs(self, src: Path, work: Path) -> list[Packed]:
        return [Packed(work / "data.rec", work / "data.idx", work / "data.lst", src)]


class Satrec(Tool):
    def steps(self, src: Path, work: Path, *, pass_through: bool) -> list[list[str]]:
        mode = ["--pass-through"] if pass_through else ["--resize", str(RESIZE), "--quality", str(QUALITY)]
        exe = str(VENV_BIN / "satrec")
        return [[exe, "convert", str(src), str(work / "out"), *mode, "--num-workers", str(self.workers), *self.extra]]

    def outputs(self, src: Path, work: Path) -> list[Packed]:
        out = work / "out"
        packed = []
        for rec in sorted(out.glob("*/*.rec")):
            meta = out / "meta"
            packed.append(Packed(rec, meta / f"{rec.stem}.idx", meta / f"{rec.stem}.lst", src))
        return packed

    def available(self) -> tuple[bool, str]:
        exe = VENV_BIN / "satrec"
        try:
            done = subprocess.run([str(exe), "convert", "--help"], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, str(exc)
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines()
            return False, lines[-1] if lines else f"exit {done.returncode}"
        return True, ""


class Baseline(Tool):
    def steps(self, src: Path, work: Path, *, pass_through: bool) -> list[list[str]]:
        return [[sys.executable, "-m", "bench.baseline", str(src), str(work / "concat.bin")]]

    def outputs(self, src: Path, work: Path) -> list[Packed]:
        return []


def record_count(outputs: list[Packed]) -> int:
    """Records written, from the .idx files (one line per record)."""
    return sum(sum(1 for line in p.idx.read_text().splitlines() if line.strip()) for p in outputs if p.idx.exists())
