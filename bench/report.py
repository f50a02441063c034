"""Turn a run_all result (a dict, also saved as JSON) into the Markdown tables of bench/RESULTS.md.

Everything above ``NOTES_MARKER`` is regenerated on every run; everything below it (analysis,
profiles written by people) is kept.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

NOTES_MARKER = "<!-- Everything below this line is kept when run_all rewrites the file. -->"
MIB = 1024 * 1024

# Targets from issue 2 ("How it is judged").
SPEEDUP_TARGET = {"resize-jpeg512": 3.0, "resize-jpeg2048": 3.0, "pass-through-chips64": 5.0}
BASELINE_FRACTION_TARGET = 1 / 3
PROCESS_RSS_TARGET = 128 * MIB
GROWTH_TARGET = 0.20


def _mib(n: int) -> str:
    return f"{n / MIB:.0f}" if n else "-"


def _ok(flag: bool | None) -> str:
    return "-" if flag is None else ("yes" if flag else "**no**")


def _pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:+.0%}"


def _growth(small: int, large: int) -> float:
    return large / small - 1 if small else math.nan


def _records(r: dict) -> str:
    """Records written; flagged when a tool dropped or duplicated inputs (the corpus has no bad files)."""
    if r["records"] < 0:
        return "-"
    return str(r["records"]) if r["records"] == r["images"] else f"**{r['records']} of {r['images']}**"


def _cpu(r: dict) -> str:
    cpu = r.get("median_cpu")
    return "-" if cpu is None or math.isnan(cpu) else f"{cpu:.2f}"


def _cpu_ratio(r: dict, im: dict | None) -> str:
    if not im or r["tool"] == "im2rec" or not r.get("cpus") or not im.get("cpus"):
        return "-"
    return f"{im['median_cpu'] / r['median_cpu']:.2f}x"


def _rows_by(payload: dict) -> dict[tuple[str, str], dict]:
    return {(r["scenario"], r["tool"]): r for r in payload["rows"]}


def render(payload: dict) -> str:
    rows = payload["rows"]
    by = _rows_by(payload)
    m = payload["machine"]
    lines = [
        "# Benchmarks: satrec convert vs MXNet im2rec.py",
        "",
        f"Run {payload['started']} to {payload['finished']}"
        + (" (**quick** smoke run: tenfold smaller corpora)" if payload["quick"] else "")
        + f"; {payload['reps']} repetitions per tool, median wall time; reproduce with `make bench`.",
    ]
    if payload.get("note"):
        lines += ["", f"> {payload['note']}"]
    if not payload.get("satrec_available", True):
        lines += ["", f"> satrec convert was not available: {payload.get('satrec_unavailable_reason', '')}"]
    lines += ["", "## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in m.items()]

    lines += ["", "## Speed", "",
              "Wall time of everything a user runs (im2rec: its `--list` run plus its pack run), "
              "median of the repetitions; ratio = im2rec time / satrec time. CPU s: user + system seconds "
              "of the whole process tree (median); its ratio is the fairer comparison when the machine is "
              "shared, because other work inflates wall time but hardly CPU time.", "",
              "| scenario | images | corpus MB | tool | median s | all runs s | images/s | speed-up vs im2rec "
              "| target | met | CPU s (tree) | CPU-time ratio | records | load avg (1 min) before/after |",
              "|---|---:|---:|---|---:|---|---:|---:|---:|---|---:|---:|---:|---|"]
    for r in rows:
        if r["scenario"].endswith("-tenth"):
            continue
        im = by.get((r["scenario"], "im2rec"))
        ratio = im["median"] / r["median"] if im and r["tool"] != "im2rec" and r["walls"] and im["walls"] else None
        target = SPEEDUP_TARGET.get(r["scenario"]) if r["tool"] == "satrec" else None
        met = None if target is None or ratio is None else ratio >= target
        walls = ", ".join(f"{w:.2f}" for w in r["walls"]) or r["error"][:80]
        ips = r["images"] / r["median"] if r["walls"] else math.nan
        lines.append(
            f"| {r['scenario']} | {r['images']} | {r['corpus_bytes'] / 1e6:.1f} | {r['tool']} | "
            f"{r['median']:.2f} | {walls} | {ips:.0f} | {'-' if ratio is None else f'{ratio:.2f}x'} | "
            f"{'-' if target is None else f'{target:.0f}x'} | {_ok(met)} | {_cpu(r)} | {_cpu_ratio(r, im)} | "
            f"{_records(r)} "
            f"| {r['load_before'][0]:.2f} / {r['load_after'][0]:.2f} |")
    base = by.get(("pass-through-chips64", "baseline"))
    sat = by.get(("pass-through-chips64", "satrec"))
    if sat and base and sat["walls"] and base["walls"]:
        frac = base["median"] / sat["median"]
        lines += ["", f"Pass-through speed as a fraction of the read-and-concatenate baseline: **{frac:.2f}** "
                      f"(target >= {BASELINE_FRACTION_TARGET:.2f}: {_ok(frac >= BASELINE_FRACTION_TARGET)})."]
        one = by.get(("pass-through-chips64", "satrec-1worker"))
        if one and one["walls"]:
            lines.append(f"With `--num-workers 1` (not judged): {base['median'] / one['median']:.2f}.")

    lines += ["", "## Memory", "",
              "Sampled from /proc every 10 ms over the whole process tree, in one extra run of each tool "
              "(timed runs are not sampled). Largest process: the kernel's "
              "peak RSS (VmHWM) of the biggest single process. Tree RSS double-counts pages that forked "
              "workers share; tree PSS splits them.", "",
              "| scenario | tool | largest process MiB | which | tree RSS peak MiB | tree PSS peak MiB | processes |",
              "|---|---|---:|---|---:|---:|---:|"]
    for r in rows:
        which = r["peak_process_cmd"].replace("|", "/")
        which = ("..." + which[-60:]) if len(which) > 60 else which
        lines.append(f"| {r['scenario']} | {r['tool']} | {_mib(r['peak_process_rss'])} | `{which}` | "
                     f"{_mib(r['peak_tree_rss'])} | {_mib(r['peak_tree_pss'])} | {r['max_processes']} |")
    sat2k = by.get(("resize-jpeg2048", "satrec"))
    if sat2k and sat2k["peak_process_rss"]:
        ok = sat2k["peak_process_rss"] <= PROCESS_RSS_TARGET
        lines += ["", f"satrec's largest process on 2048 px inputs: **{_mib(sat2k['peak_process_rss'])} MiB** "
                      f"(target <= 128 MiB: {_ok(ok)})."]
    if payload.get("growth"):
        lines += ["", "### Growth of the process tree when the number of images grows 10x (2048 px)", "",
                  "Tree RSS is sampled; the sum of every process's own peak (VmHWM) is exact and cannot miss "
                  "a peak between two samples of a short run. Judged on both RSS figures; PSS for information.",
                  "",
                  "| tool | images | tree RSS MiB (sampled) | sum of process peaks MiB | tree PSS MiB "
                  "| largest process MiB | RSS growth | peaks growth | PSS growth | target | met |",
                  "|---|---|---|---|---|---|---:|---:|---:|---:|---|"]
        for g in payload["growth"]:
            rss = _growth(g["small_tree_rss"], g["large_tree_rss"])
            peaks = _growth(g.get("small_sum_peaks", 0), g.get("large_sum_peaks", 0))
            pss = _growth(g["small_tree_pss"], g["large_tree_pss"])
            met = None
            if g["tool"] == "satrec":
                met = rss < GROWTH_TARGET and (math.isnan(peaks) or peaks < GROWTH_TARGET)
            lines.append(
                f"| {g['tool']} | {g['small_images']} -> {g['large_images']} | {_mib(g['small_tree_rss'])} -> "
                f"{_mib(g['large_tree_rss'])} | {_mib(g.get('small_sum_peaks', 0))} -> "
                f"{_mib(g.get('large_sum_peaks', 0))} | {_mib(g['small_tree_pss'])} -> {_mib(g['large_tree_pss'])} | "
                f"{_mib(g['small_process_rss'])} -> {_mib(g['large_process_rss'])} | {_pct(rss)} | {_pct(peaks)} | "
                f"{_pct(pss)} | {'< 20%' if g['tool'] == 'satrec' else '-'} | {_ok(met)} |")

    lines += ["", "## Output quality", "",
              "PSNR of the stored image against Pillow's Lanczos downscale of the original to the same size "
              "(an even sample of records, decoded from each tool's .rec).", "",
              "| scenario | tool | stored size | images | mean PSNR dB | min PSNR dB | at least im2rec's |",
              "|---|---|---|---:|---:|---:|---|"]
    for r in rows:
        if r["psnr_mean"] is None or r["scenario"].endswith("-tenth"):
            continue
        im = by.get((r["scenario"], "im2rec"))
        better = None
        if r["tool"] == "satrec" and im and im["psnr_mean"] is not None:
            better = r["psnr_mean"] >= im["psnr_mean"]
        lines.append(f"| {r['scenario']} | {r['tool']} | {r['stored_size']} | {r['psnr_images']} | "
                     f"{r['psnr_mean']:.2f} | {r['psnr_min']:.2f} | {_ok(better)} |")

    split = [r for r in rows if r["tool"] == "im2rec" and len((r.get("step_walls") or [[]])[0]) > 1
             and not r["scenario"].endswith("-tenth")]
    if split:
        lines += ["", "### im2rec's two runs", "",
                  "Median wall / CPU seconds of its `--list` run and of its pack run (each imports MXNet).", "",
                  "| scenario | --list run s | pack run s |", "|---|---|---|"]
        for r in split:
            cells = []
            for i in range(2):
                wall = statistics.median(step[i] for step in r["step_walls"])
                cpu = statistics.median(step[i] for step in r["step_cpus"])
                cells.append(f"{wall:.2f} / {cpu:.2f}")
            lines.append(f"| {r['scenario']} | {cells[0]} | {cells[1]} |")

    lines += ["", "## Commands", ""]
    seen = set()
    for r in rows:
        mode = "pass-through" if r["scenario"].startswith("pass-through") else "resize"
        key = (mode, r["tool"])
        if key not in seen and r["command"]:
            seen.add(key)
            lines.append(f"- {r['tool']} ({key[0]}): `{r['command']}`")
    return "\n".join(lines) + "\n"


def write(path: Path, payload: dict) -> None:
    """Write the tables, keeping the hand-written notes below ``NOTES_MARKER`` if the file has them."""
    kept = ""
    if path.exists():
        text = path.read_text(encoding="utf-8")
        if NOTES_MARKER in text:
            kept = text.split(NOTES_MARKER, 1)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(payload) + "\n" + NOTES_MARKER + (kept or "\n"), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Re-render a saved result: ``python -m bench.report bench/out/results.json bench/RESULTS.md``."""
    import json
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m bench.report RESULTS.json RESULTS.md", file=sys.stderr)
        return 1
    write(Path(args[1]), json.loads(Path(args[0]).read_text()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
