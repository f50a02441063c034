"""``make demo``: the whole job on one machine, with no AWS account.

    python -m satrec.demo --out DIR [--data CLASS_PER_FOLDER_DIR]

sample data (unless --data) -> ``satrec convert`` with the cloud pipeline's settings, sized for
64 px chips -> ``satrec verify`` -> ``satrec inspect --sheet`` -> ``satrec train-local`` -> a summary
of where everything is, with the final validation accuracy printed last. Every step is the real
CLI command (``satrec.cli.main``), printed before it runs so it can be repeated by hand.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from satrec import layout
from satrec.cli import EXIT_OK, EXIT_REJECTS
from satrec.cli import main as satrec_main

SAMPLE_PER_CLASS = 200      # 2,000 chips: 1,600 train / 400 validation records
SAMPLE_SEED = 0
IMAGE_SIDE = 64             # EuroSAT chips; the network input is 3,64,64 (ResNet-18, see hyperparams)
# The cloud pipeline's conversion settings (stack context `dataset_defaults`, execution input
# `validation_fraction`: resize + min-size + JPEG 95, a stratified 20 % validation split), with the
# 224 px of pretrained networks replaced by the 64 px this demo trains at on a CPU.
CONVERT_OPTIONS = ("--val-ratio", "0.2", "--stratify", "--resize", str(IMAGE_SIDE), "--min-size", str(IMAGE_SIDE),
                   "--quality", "95", "--encoding", "jpg", "--seed", "0")
# Hyperparameter overrides on top of Hyperparameters.from_dataset (which derives num_classes,
# num_training_samples, image_shape 3,64,64 and num_layers 18 from dataset.json).
TRAIN_OVERRIDES = ("epochs=12", "augmentation_type=crop")
TRAIN_SEED = 0


class DemoFailed(Exception):
    pass


def _step(number: int, total: int, title: str, argv: Sequence[str], *, ok: Sequence[int] = (EXIT_OK,)) -> int:
    print(f"\n==> [{number}/{total}] {title}\n    $ satrec {shlex.join(argv)}", flush=True)
    code = satrec_main(list(argv))
    sys.stdout.flush()
    if code not in ok:
        raise DemoFailed(f"step {number} ({title}) failed with exit code {code}; see the message above")
    return code


def run(out: Path, data: Path | None, *, sample_count: int = SAMPLE_PER_CLASS,
        overrides: Sequence[str] = TRAIN_OVERRIDES) -> float:
    """Run the demo into ``out``; return the final validation accuracy."""
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    dataset = out / "dataset"
    model = out / "model"
    sheet = out / "contact-sheet.png"
    # The demo owns these paths: a rerun starts from scratch.
    for path in (dataset, model):
        shutil.rmtree(path, ignore_errors=True)
    sheet.unlink(missing_ok=True)
    total = 5 if data is None else 4
    n = 0
    if data is None:
        data = out / "sample"
        n += 1
        _step(n, total, "synthetic EuroSAT-like sample data",
              ["sample-data", str(data), "--count", str(sample_count), "--seed", str(SAMPLE_SEED), "--overwrite"])
    elif not data.is_dir():
        raise DemoFailed(f"--data {data}: not a folder; give a class-per-folder tree such as EuroSAT's 2750/")
    n += 1
    code = _step(n, total, "convert to RecordIO (the cloud pipeline's settings, 64 px)",
                 ["convert", str(data), str(dataset), *CONVERT_OPTIONS, "--name", "demo"], ok=(EXIT_OK, EXIT_REJECTS))
    if code == EXIT_REJECTS:
        print(f"    (some inputs were rejected; reasons in {dataset / layout.meta_path(layout.REJECTS_JSONL)})")
    n += 1
    _step(n, total, "verify every record (MXNet framing, index, labels, decoding, min size)",
          ["verify", str(dataset), "--min-size", str(IMAGE_SIDE)])
    doc = json.loads((dataset / layout.meta_path(layout.DATASET_JSON)).read_text())
    train_rec = dataset / doc["splits"]["train"]["shards"][0]["rec"]
    n += 1
    _step(n, total, "look inside the train RecordIO and draw a contact sheet",
          ["inspect", str(train_rec), "--limit", "5", "--sheet", str(sheet)])
    n += 1
    hp_args = [arg for item in overrides for arg in ("--hp", item)]
    _step(n, total, "train on CPU with MXNet, as the SageMaker algorithm would",
          ["train-local", str(dataset), "--out", str(model), *hp_args, "--seed", str(TRAIN_SEED)])
    metrics = json.loads((model / "metrics.json").read_text())
    accuracy = float(metrics["final_validation_accuracy"])
    elapsed = time.perf_counter() - started
    rows = [
        ("images", f"{data}/ ({doc['inputs'].get('total', '?')} inputs, {len(doc['classes'])} classes)"),
        ("RecordIO dataset", f"{dataset}/ (train {doc['splits']['train']['records']} / validation "
                             f"{doc['splits']['validation']['records']} records; meta/dataset.json)"),
        ("contact sheet", str(sheet)),
        ("model", f"{model}/{', '.join(metrics['model_files'])}"),
        ("metrics, curve", f"{model}/metrics.json, {model}/training-curve.png"),
        ("SageMaker hyperparameters", f"{model}/hyperparameters.json"),
    ]
    print(f"\n==> done in {elapsed / 60:.1f} min (training {metrics['training_seconds']:.0f} s)")
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"    {key:<{width}}  {value}")
    print(f"final validation accuracy: {accuracy:.4f}", flush=True)
    return accuracy


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m satrec.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="folder for everything the demo writes")
    parser.add_argument("--data", type=Path, help="a class-per-folder image tree to use instead of sample data")
    parser.add_argument("--sample-count", type=int, default=SAMPLE_PER_CLASS,
                        help=f"sample images per class (default {SAMPLE_PER_CLASS}; fewer for a quick try)")
    parser.add_argument("--hp", action="append", default=[], metavar="NAME=VALUE",
                        help=f"hyperparameter overrides for train-local, after the demo's own "
                             f"({' '.join(TRAIN_OVERRIDES)})")
    args = parser.parse_args(argv)
    try:
        run(args.out, args.data, sample_count=args.sample_count, overrides=(*TRAIN_OVERRIDES, *args.hp))
    except DemoFailed as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
