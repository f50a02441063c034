"""Run every benchmark of issue 2 and write bench/RESULTS.md: ``make bench`` or ``python -m bench.run_all``.

satrec convert and im2rec.py run side by side on the same corpora in the same run, with the same output
contract (shorter side 224, JPEG quality 95, one train .rec) and 2 workers each, after a warm-up read of
the corpus and one untimed warm-up run of each tool (libraries in the page cache). Repetitions alternate
the tools' order; the median wall time is reported. Timed runs are not sampled (walking /proc takes CPU
from the command on a 2-core machine, more for a tree of several processes); one more run of each tool
samples its process tree for memory. satrec's modules are byte-compiled first, as ``pip install`` does.

``--quick`` uses tenfold smaller corpora and writes bench/out/RESULTS-quick.md (a smoke run for the
harness); the full run writes bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import compileall
import json
import shutil
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench import corpora, machine, report
from bench.proctree import run_tree
from bench.quality import evaluate
from bench.tools import Baseline, Im2rec, Satrec, Tool, record_count

OUT = Path(__file__).resolve().parent / "out"
REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Scenario:
    mode: str  # "resize" or "pass-through"
    corpus: str  # key of corpora.FULL / corpora.QUICK
    tools: tuple[str, ...]
    judged: bool = True

    @property
    def key(self) -> str:
        return f"{self.mode}-{self.corpus}"


SCENARIOS = (
    Scenario("resize", "jpeg512", ("im2rec", "satrec")),
    Scenario("resize", "jpeg2048", ("im2rec", "satrec")),
    # satrec-1worker is informational: for tiny chips a worker pool may cost more than it gains.
    Scenario("pass-through", "chips64", ("im2rec", "satrec", "baseline", "satrec-1worker")),
    # Not judged: 64 px chips upscaled to 224 (EuroSAT-style data for pretrained networks).
    Scenario("resize", "chips64", ("im2rec", "satrec"), judged=False),
)


@dataclass
class Measured:
    scenario: str
    corpus: str
    images: int
    corpus_bytes: int
    tool: str
    command: str
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)  # CPU seconds of the whole tree, per repetition
    step_walls: list[list[float]] = field(default_factory=list)  # per repetition, per command (im2rec: list, pack)
    step_cpus: list[list[float]] = field(default_factory=list)
    peak_process_rss: int = 0
    peak_process_cmd: str = ""
    peak_tree_rss: int = 0
    peak_tree_pss: int = 0
    sum_process_peaks: int = 0
    max_processes: int = 0
    records: int = -1
    returncodes: list[int] = field(default_factory=list)
    error: str = ""
    psnr_mean: float | None = None
    psnr_min: float | None = None
    psnr_images: int = 0
    stored_size: str = ""
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def median(self) -> float:
        return statistics.median(self.walls) if self.walls else float("nan")

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpus) if self.cpus else float("nan")


def warm_read(folder: Path) -> int:
    """Read every file once so all runs start with the corpus in the page cache."""
    total = 0
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            total += len(path.read_bytes())
    return total


def run_once(tool: Tool, src: Path, work: Path, *, pass_through: bool, into: Measured, sample: bool = False) -> bool:
    """One run of all the tool's steps: timed together (a repetition), or (``sample``) with its process
    tree sampled for memory, the max over the steps, and not timed: sampling takes CPU from the command."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    logs = work.parent / f"{work.name}-logs"
    wall = cpu = 0.0
    step_walls: list[float] = []
    step_cpus: list[float] = []
    for n, argv in enumerate(tool.steps(src, work, pass_through=pass_through)):
        # Untimed, the sampled run can afford a fine interval: short-lived peaks are not missed.
        res = run_tree(argv, cwd=REPO, log_dir=logs / f"step{n}", sample=sample, interval=0.01)
        wall += res.wall_s
        cpu += res.cpu_s
        step_walls.append(res.wall_s)
        step_cpus.append(res.cpu_s)
        into.returncodes.append(res.returncode)
        if sample:
            if res.peak_process_rss > into.peak_process_rss:
                into.peak_process_rss, into.peak_process_cmd = res.peak_process_rss, res.peak_process_cmd
            into.peak_tree_rss = max(into.peak_tree_rss, res.peak_tree_rss)
            into.peak_tree_pss = max(into.peak_tree_pss, res.peak_tree_pss)
            # Steps run one after another: the largest step's sum.
            into.sum_process_peaks = max(into.sum_process_peaks, res.sum_process_peaks)
            into.max_processes = max(into.max_processes, res.max_processes)
        if res.returncode not in (0, 2):  # satrec: 2 = finished with rejects, still a complete run
            into.error = f"exit {res.returncode}: {(res.stderr_tail or res.stdout_tail).strip()[-300:]}"
            return False
    if not sample:
        into.walls.append(wall)
        into.cpus.append(cpu)
        into.step_walls.append(step_walls)
        into.step_cpus.append(step_cpus)
    return True


def make_tools(names: tuple[str, ...], satrec_extra: list[str]) -> dict[str, Tool]:
    table: dict[str, Tool] = {"im2rec": Im2rec("im2rec"), "satrec": Satrec("satrec", satrec_extra),
                              "baseline": Baseline("baseline"),
                              "satrec-1worker": Satrec("satrec-1worker", satrec_extra, workers=1)}
    return {name: table[name] for name in names}


def measure(scenario: Scenario, folder: Path, tools: dict[str, Tool], *, reps: int, psnr_sample: int,
            work_root: Path, log) -> list[Measured]:
    pass_through = scenario.mode == "pass-through"
    images = sum(1 for _ in folder.rglob("*.jpg"))
    results = {name: Measured(scenario.key, folder.name, images, corpora.corpus_bytes(folder), name,
                              tool.describe(pass_through=pass_through)) for name, tool in tools.items()}
    warm_read(folder)
    for m in results.values():
        m.load_before = machine.loadavg()
    order = list(tools)
    for rep in range(reps):
        rotated = order[rep % len(order):] + order[:rep % len(order)]
        for name in rotated:
            m = results[name]
            if m.error:
                continue
            ok = run_once(tools[name], folder, work_root / scenario.key / name, pass_through=pass_through, into=m)
            log(f"  {scenario.key} {name} rep {rep + 1}/{reps}: "
                + (f"{m.walls[-1]:.2f} s" if ok else f"FAILED ({m.error})"))
    for name, m in results.items():
        if not m.error:   # memory: one more run, sampled and not timed
            run_once(tools[name], folder, work_root / scenario.key / name, pass_through=pass_through, into=m,
                     sample=True)
    for name, m in results.items():
        m.load_after = machine.loadavg()
        if m.error:
            continue
        outputs = tools[name].outputs(folder, work_root / scenario.key / name)
        if name != "baseline":
            m.records = record_count(outputs)
        if not pass_through and outputs and psnr_sample > 0:
            q = evaluate(outputs, sample=psnr_sample)
            m.psnr_mean, m.psnr_min, m.psnr_images, m.stored_size = q.mean_psnr, q.min_psnr, q.images, q.stored_size
    return list(results.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tenfold smaller corpora, fewer repetitions")
    parser.add_argument("--reps", type=int, help="repetitions per tool (default 5, quick 2)")
    parser.add_argument("--only", nargs="+", metavar="SCENARIO",
                        help="run only these scenarios, e.g. resize-jpeg512 pass-through-chips64")
    parser.add_argument("--tools", nargs="+", choices=("im2rec", "satrec", "baseline", "satrec-1worker"),
                        help="run only these tools (default: every tool of each scenario)")
    parser.add_argument("--psnr-sample", type=int, help="records decoded for PSNR per run (default 60, quick 10)")
    parser.add_argument("--satrec-arg", action="append", default=[], metavar="ARG",
                        help="extra argument for satrec convert (repeatable), e.g. --satrec-arg=--train-ratio=1")
    parser.add_argument("--results", type=Path, help="Markdown output (default bench/RESULTS.md, quick: "
                        "bench/out/RESULTS-quick.md)")
    parser.add_argument("--note", default="", help="a line to put above the tables (e.g. 'machine shared')")
    args = parser.parse_args(argv)

    table = corpora.QUICK if args.quick else corpora.FULL
    reps = args.reps or (2 if args.quick else 5)
    psnr_sample = args.psnr_sample or (10 if args.quick else 60)
    results_md = args.results or (OUT / "RESULTS-quick.md" if args.quick else Path(__file__).parent / "RESULTS.md")
    results_json = results_md.with_suffix(".json") if args.results else OUT / (
        "results-quick.json" if args.quick else "results.json")
    work_root = OUT / ("work-quick" if args.quick else "work")
    satrec_extra = ["--train-ratio", "1", *args.satrec_arg]

    def log(msg: str) -> None:
        print(msg, flush=True)

    # An editable install in a shell with PYTHONDONTWRITEBYTECODE=1 would recompile edited modules in
    # every timed run (~6 ms for convert.py); an installed package has its .pyc files.
    compileall.compile_dir(REPO / "satrec", quiet=1)
    available, why = Satrec("satrec").available()
    if not available:
        log(f"satrec convert is not available ({why}): measuring the other tools only")
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    info = machine.describe()
    rows: list[Measured] = []
    growth: list[dict] = []
    scenarios = [s for s in SCENARIOS if not args.only or s.key in args.only]
    for scenario in scenarios:
        names = tuple(t for t in scenario.tools if (not args.tools or t in args.tools)
                      and (not t.startswith("satrec") or available))
        folder = corpora.ensure(table[scenario.corpus], OUT / "corpora", log=log)
        tools = make_tools(names, satrec_extra)
        # One untimed run of each tool on a few images: loads its libraries into the page cache.
        spec = table[scenario.corpus]
        tiny = corpora.subset(folder, spec, 10, OUT / "corpora" / f"{spec.name}-warmup")
        for name, tool in tools.items():
            run_once(tool, tiny, work_root / "warmup" / name, pass_through=scenario.mode == "pass-through",
                     into=Measured("warmup", tiny.name, 10, 0, name, ""))
        log(f"{scenario.key}: {', '.join(names)} x {reps} on {folder}")
        measured = measure(scenario, folder, tools, reps=reps, psnr_sample=psnr_sample, work_root=work_root,
                           log=log)
        rows.extend(measured)
        if scenario.corpus == "jpeg2048" and scenario.mode == "resize":
            # Memory growth: the same tools on a tenth of the images, compared with the full corpus.
            small = corpora.subset(folder, spec, max(1, spec.count // 10),
                                   OUT / "corpora" / f"{spec.name}-tenth")
            small_scn = Scenario(scenario.mode, scenario.corpus + "-tenth", names, judged=False)
            small_rows = measure(small_scn, small, tools, reps=1, psnr_sample=0, work_root=work_root, log=log)
            for big, little in zip(measured, small_rows, strict=True):
                growth.append({"tool": big.tool, "small_images": little.images, "large_images": big.images,
                               "small_tree_rss": little.peak_tree_rss, "large_tree_rss": big.peak_tree_rss,
                               "small_tree_pss": little.peak_tree_pss, "large_tree_pss": big.peak_tree_pss,
                               "small_sum_peaks": little.sum_process_peaks,
                               "large_sum_peaks": big.sum_process_peaks,
                               "small_process_rss": little.peak_process_rss,
                               "large_process_rss": big.peak_process_rss})
    finished = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    payload = {"started": started, "finished": finished, "quick": args.quick, "reps": reps, "machine": info,
               "note": args.note, "satrec_available": available, "satrec_unavailable_reason": why,
               "rows": [asdict(r) | {"median": r.median, "median_cpu": r.median_cpu} for r in rows], "growth": growth}
    results_json.parent.mkdir(parents=True, exist_ok=True)
    results_json.write_text(json.dumps(payload, indent=2))
    report.write(results_md, payload)
    log(f"wrote {results_md} and {results_json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
