"""The demo wires the real commands together, on user data too, and prints the accuracy last. Tiny, one epoch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from satrec.sample_data import generate

pytest.importorskip("mxnet")
pytestmark = [pytest.mark.mxnet, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def _demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "satrec.demo", *args, "--hp", "epochs=1", "--hp", "mini_batch_size=8"],
                          cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_demo_on_a_class_per_folder_tree_runs_every_step_and_ends_with_the_accuracy(tmp_path):
    data = tmp_path / "eurosat"
    generate(data, count=5, size=64, seed=11)     # stands in for a user's real folder (make demo DATA=...)
    out = tmp_path / "out"
    done = _demo("--out", str(out), "--data", str(data))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[-1].startswith("final validation accuracy: ")
    for command in ("satrec convert", "satrec verify", "satrec inspect", "satrec train-local"):
        assert f"$ {command} " in done.stdout
    assert "satrec sample-data" not in done.stdout          # user data replaces the sample step
    assert (out / "contact-sheet.png").is_file()
    dataset = json.loads((out / "dataset" / "meta" / "dataset.json").read_text())
    assert dataset["splits"]["train"]["records"] + dataset["splits"]["validation"]["records"] == 50
    metrics = json.loads((out / "model" / "metrics.json").read_text())
    assert metrics["hyperparameters"]["image_shape"] == "3,64,64"
    assert metrics["hyperparameters"]["num_training_samples"] == str(dataset["splits"]["train"]["records"])
    assert lines[-1] == f"final validation accuracy: {metrics['final_validation_accuracy']:.4f}"


def test_demo_generates_sample_data_when_no_folder_is_given_and_reruns_cleanly(tmp_path):
    out = tmp_path / "out"
    for _ in range(2):                                      # a second run replaces the first one's outputs
        done = _demo("--out", str(out), "--sample-count", "5")
        assert done.returncode == 0, done.stderr
    assert "$ satrec sample-data " in done.stdout
    assert len(list((out / "sample").rglob("*.jpg"))) == 50


def test_demo_names_a_missing_data_folder(tmp_path):
    done = _demo("--out", str(tmp_path / "out"), "--data", str(tmp_path / "missing"))
    assert done.returncode == 1 and "not a folder" in done.stderr
