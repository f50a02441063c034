"""``satrec train-local DATASET``: CPU training with MXNet under the SageMaker algorithm's data contract."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "train-local",
        help="train a ResNet on a converted dataset with MXNet on CPU (needs the train extra)",
        description="Build the SageMaker image-classification hyperparameters from DATASET/meta/dataset.json "
                    "plus --hp overrides, validate them with the algorithm's rules, and train on CPU reading "
                    "the RecordIO as the algorithm does. Writes the model (symbol + params), metrics.json, "
                    "hyperparameters.json and training-curve.png to --out.",
    )
    p.add_argument("dataset", metavar="DATASET", help="the folder `satrec convert` wrote")
    p.add_argument("--out", help="output folder (default: DATASET-model next to the dataset)")
    p.add_argument("--hp", action="append", default=[], metavar="NAME=VALUE",
                   help="override a hyperparameter, SageMaker names, repeatable (e.g. --hp epochs=8)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--threads", type=int, default=None,
                   help="OMP threads for MXNet (default: all cores; OMP_NUM_THREADS wins when set)")
    p.add_argument("--print-hyperparameters", action="store_true",
                   help="validate and print the hyperparameters as SageMaker receives them, then exit")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from satrec.hyperparams import Hyperparameters, parse_assignments
    from satrec.train_local import load_dataset, train

    overrides = parse_assignments(args.hp)
    if args.print_hyperparameters:
        _, doc = load_dataset(args.dataset)
        hp = Hyperparameters.from_dataset(doc, overrides).validate(doc)
        print(json.dumps(hp.to_sagemaker(), indent=2))
        return 0
    out = Path(args.out) if args.out else Path(str(Path(args.dataset).resolve()) + "-model")
    result = train(args.dataset, out, overrides=overrides, seed=args.seed, threads=args.threads)
    print(f"model, metrics.json and training-curve.png in {out}")
    print(f"final validation accuracy {result.final_validation_accuracy:.4f} "
          f"(best {result.best_validation_accuracy:.4f} at epoch {result.best_epoch}) "
          f"after {len(result.epochs)} epochs in {result.seconds:.0f} s")
    return 0
