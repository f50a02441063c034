"""``satrec train-local``: train on CPU with MXNet 1.9.1 under the SageMaker algorithm's data contract.

The same ``Hyperparameters`` document the cloud pipeline sends to CreateTrainingJob drives this
trainer, and the data reaches the network the way the built-in algorithm reads it: one ``.rec`` per
channel (shards are concatenated, as the pipeline does with S3 multipart copy) through
``mx.io.ImageRecordIter`` with ``data_shape`` = ``image_shape``, ``label_width``, shuffling, random
crop + mirror / colour / affine jitter per ``augmentation_type``, and ImageNet mean/std
normalisation; a ResNet of depth ``num_layers``; SGD/NAG/Adam/RMSProp with the multi-step schedule
(``lr_scheduler_step``, ``lr_scheduler_factor``); early stopping and checkpoints as documented.

MXNet is imported only inside ``train`` (the ``train`` extra), after the thread settings are fixed.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from satrec import __version__, layout
from satrec.documents import DatasetDoc
from satrec.errors import SatrecError, SourceError, UsageError
from satrec.hyperparams import Hyperparameters

MODEL_PREFIX = "image-classification"   # the names SageMaker's model.tar.gz uses
METRICS_JSON = "metrics.json"
CURVE_PNG = "training-curve.png"
HYPERPARAMETERS_JSON = "hyperparameters.json"
METRICS_FORMAT = "satrec.train-local"
METRICS_VERSION = 1

# ImageNet statistics, the normalisation MXNet's image-classification recipes apply.
MEAN_RGB = (123.68, 116.779, 103.939)
STD_RGB = (58.393, 57.12, 57.375)
# augmentation_type -> ImageRecordIter options (the ranges the algorithm documents).
AUGMENTATION: dict[str | None, dict[str, Any]] = {
    None: {},
    "crop": {"rand_crop": True, "rand_mirror": True},
    "crop_color": {"rand_crop": True, "rand_mirror": True, "random_h": 36, "random_s": 50, "random_l": 50},
    "crop_color_transform": {"rand_crop": True, "rand_mirror": True, "random_h": 36, "random_s": 50,
                             "random_l": 50, "max_rotate_angle": 10, "max_shear_ratio": 0.1,
                             "max_aspect_ratio": 0.25},
}


@dataclass
class EpochResult:
    epoch: int
    train_loss: float
    train_accuracy: float
    validation_accuracy: float
    validation_top_k: float | None
    learning_rate: float
    images_per_second: float
    seconds: float
    train_records_seen: int       # records counted once per epoch (padding excluded)
    validation_records_seen: int

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


@dataclass
class TrainResult:
    out: Path
    hyperparameters: Hyperparameters
    epochs: list[EpochResult] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    seconds: float = 0.0
    model_files: list[str] = field(default_factory=list)

    @property
    def final_validation_accuracy(self) -> float:
        return self.epochs[-1].validation_accuracy if self.epochs else 0.0

    @property
    def best_validation_accuracy(self) -> float:
        return max((e.validation_accuracy for e in self.epochs), default=0.0)


# ---------------------------------------------------------------------- inputs


def load_dataset(path: str | Path) -> tuple[Path, DatasetDoc]:
    """A dataset root (or its meta/dataset.json) -> (root, document)."""
    given = Path(path)
    candidates = [given] if given.name == layout.DATASET_JSON else [given / layout.META_DIR / layout.DATASET_JSON]
    doc_path = candidates[0]
    if not doc_path.is_file():
        raise SourceError(f"no {layout.meta_path(layout.DATASET_JSON)} under {given}: give the folder "
                          "`satrec convert` wrote (its dataset.json is written last, so a missing one means "
                          "the conversion did not finish)")
    root = doc_path.parent.parent
    return root, DatasetDoc.from_json(doc_path.read_text(encoding="utf-8"))


def channel_file(root: Path, doc: DatasetDoc, split: str, workdir: Path) -> Path:
    """The one ``.rec`` of a channel: the shard itself, or the shards concatenated (RecordIO concatenates)."""
    info = doc.splits.get(split)
    if info is None or not info.shards:
        raise SourceError(f"the dataset has no {split} split; convert with a non-zero "
                          f"{'--val-ratio' if split == 'validation' else 'train share'}")
    paths = [root / s.rec for s in info.shards]
    for p in paths:
        if not p.is_file():
            raise SourceError(f"{p} is listed in dataset.json but missing; run `satrec verify {root}`")
    if len(paths) == 1:
        return paths[0]
    joined = workdir / f"{split}.rec"
    with open(joined, "wb") as out:
        for p in paths:
            with open(p, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
    return joined


def configure_threads(threads: int | None) -> dict[str, str]:
    """Fix MXNet's thread pools before it is imported (it reads them once, at load).

    Measured on 2 cores: OMP threads = cores with one engine worker was fastest; the reverse
    roughly halved the speed. Values the user already exported win.
    """
    cores = threads or os.cpu_count() or 1
    os.environ.setdefault("OMP_NUM_THREADS", str(cores))
    os.environ.setdefault("MXNET_CPU_WORKER_NTHREADS", "1")
    return {k: os.environ[k] for k in ("OMP_NUM_THREADS", "MXNET_CPU_WORKER_NTHREADS")}


# ---------------------------------------------------------------------- training


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Hide MXNet's C++ INFO lines ("ImageRecordIOParser2: ... use 1 threads") printed per iterator.

    Python-level errors still surface: MXNet raises them as exceptions carrying the message.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _record_iter(mx: Any, rec: Path, hp: Hyperparameters, label_width: int, *, train: bool, seed: int) -> Any:
    options: dict[str, Any] = {
        "path_imgrec": str(rec),
        "data_shape": tuple(hp.image_shape),
        "label_width": label_width,
        "batch_size": hp.mini_batch_size,
        "shuffle": train,
        "seed": seed,
        "shuffle_chunk_seed": seed,
        "preprocess_threads": 1,     # 64 px JPEGs decode far faster than the network trains
        "mean_r": MEAN_RGB[0], "mean_g": MEAN_RGB[1], "mean_b": MEAN_RGB[2],
        "std_r": STD_RGB[0], "std_g": STD_RGB[1], "std_b": STD_RGB[2],
        # round_batch (the default) fills the last batch with records from the start and reports how
        # many through batch.pad; a fresh iterator per pass keeps every pass starting at record 0.
        "round_batch": True,
    }
    if hp.resize is not None:
        options["resize"] = hp.resize
    if train:
        options.update(AUGMENTATION[hp.augmentation_type])
    with _native_stderr_silenced():
        return mx.io.ImageRecordIter(**options)


def _optimizer(mx: Any, hp: Hyperparameters, batches_per_epoch: int) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {"learning_rate": hp.learning_rate, "wd": hp.weight_decay}
    if hp.lr_scheduler_step:
        params["lr_scheduler"] = mx.lr_scheduler.MultiFactorScheduler(
            step=[s * batches_per_epoch for s in hp.lr_scheduler_step], factor=hp.lr_scheduler_factor,
            base_lr=hp.learning_rate)
    if hp.optimizer in ("sgd", "nag"):
        params["momentum"] = hp.momentum
    elif hp.optimizer == "adam":
        params.update(beta1=hp.beta_1, beta2=hp.beta_2, epsilon=hp.eps)
    elif hp.optimizer == "rmsprop":
        params.update(gamma1=hp.gamma, epsilon=hp.eps)
    return hp.optimizer, params


def _improved(accuracy: float, best: float, tolerance: float) -> bool:
    """The algorithm's early-stopping test: relative improvement over the best so far above the tolerance."""
    if best <= 0:
        return accuracy > best
    return (accuracy - best) / best > tolerance


def train(dataset: str | Path, out: str | Path, *, overrides: Mapping[str, Any] | None = None, seed: int = 0,
          threads: int | None = None, log: Callable[[str], None] = print) -> TrainResult:
    """Validate the hyperparameters against the dataset, train, and write the model, metrics and curve."""
    root, doc = load_dataset(dataset)
    hp = Hyperparameters.from_dataset(doc, overrides).validate(doc)
    if hp.use_pretrained_model:
        raise UsageError("use_pretrained_model=1: train-local trains from scratch (pretrained weights need a "
                         "download); set use_pretrained_model=0 here, or train on SageMaker")
    out = Path(out)
    if out.resolve() == root.resolve() or root.resolve() in out.resolve().parents:
        raise UsageError(f"--out {out} is inside the dataset; a channel prefix must hold only RecordIO, "
                         "so write the model elsewhere")
    out.mkdir(parents=True, exist_ok=True)
    (out / HYPERPARAMETERS_JSON).write_text(json.dumps(hp.to_sagemaker(), indent=2) + "\n")
    env = configure_threads(threads)
    work = out / ".work"
    work.mkdir(exist_ok=True)
    try:
        train_rec = channel_file(root, doc, "train", work)
        val_rec = channel_file(root, doc, "validation", work)
        result = _fit(hp, doc, train_rec, val_rec, out, seed=seed, log=log, env=env)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _write_metrics(result, doc, env, seed)
    _plot(result, out / CURVE_PNG, title=f"{doc.name}: ResNet-{hp.num_layers} at {hp.height}x{hp.width}")
    return result


def _fit(hp: Hyperparameters, doc: DatasetDoc, train_rec: Path, val_rec: Path, out: Path, *, seed: int,
         log: Callable[[str], None], env: dict[str, str]) -> TrainResult:
    import mxnet as mx

    try:
        return _train_loop(hp, doc, train_rec, val_rec, out, seed=seed, log=log, env=env)
    except mx.base.MXNetError as exc:
        # MXNet's message is a C++ traceback; its last "Check failed"/error line says what went wrong.
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        reason = next((line for line in reversed(lines) if "Check failed" in line or "Error" in line),
                      lines[-1] if lines else "unknown error")
        raise SatrecError(f"MXNet stopped training: {reason} (`satrec verify` finds damaged records)") from None


def _train_loop(hp: Hyperparameters, doc: DatasetDoc, train_rec: Path, val_rec: Path, out: Path, *, seed: int,
                log: Callable[[str], None], env: dict[str, str]) -> TrainResult:
    import random

    import mxnet as mx
    import numpy as np
    from mxnet import autograd, gluon

    from satrec.resnet import ResNet

    random.seed(seed)
    np.random.seed(seed)
    mx.random.seed(seed)
    ctx = mx.cpu()
    net = ResNet(hp.num_layers, hp.num_classes)
    net.initialize(mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2), ctx=ctx)
    net.hybridize(static_alloc=True, static_shape=True)
    if hp.multi_label:
        loss_fn: Any = gluon.loss.SigmoidBinaryCrossEntropyLoss()
    else:
        loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    batches_per_epoch = math.ceil(hp.num_training_samples / hp.mini_batch_size)
    name, params = _optimizer(mx, hp, batches_per_epoch)
    trainer = gluon.Trainer(net.collect_params(), name, params)
    top_k = hp.top_k if hp.top_k < hp.num_classes and not hp.multi_label else None
    notes = []
    if hp.precision_dtype == "float16":
        notes.append("precision_dtype=float16 applies on SageMaker GPUs; train-local computes in float32")
    if hp.kv_store:
        notes.append(f"kv_store={hp.kv_store} applies to multi-machine training; ignored on one CPU")
    for note in notes:
        log(f"note: {note}")
    log(f"train-local: {doc.name}: {hp.num_training_samples} train / {doc.records('validation')} validation "
        f"records, {hp.num_classes} classes, ResNet-{hp.num_layers} at {','.join(map(str, hp.image_shape))}, "
        f"batch {hp.mini_batch_size}, {hp.epochs} epochs, {hp.optimizer} lr {hp.learning_rate:g}, "
        f"augmentation {hp.augmentation_type or 'none'} "
        f"(OMP_NUM_THREADS={env['OMP_NUM_THREADS']}, MXNET_CPU_WORKER_NTHREADS={env['MXNET_CPU_WORKER_NTHREADS']})")

    result = TrainResult(out=out, hyperparameters=hp)
    started = time.perf_counter()
    best = -1.0
    since_best = 0
    label_width = hp.num_classes if hp.multi_label else 1
    for epoch in range(1, hp.epochs + 1):
        t0 = time.perf_counter()
        loss_sum, correct, seen, images = 0.0, 0.0, 0, 0
        for batch in _record_iter(mx, train_rec, hp, label_width, train=True, seed=seed + epoch):
            data, label = batch.data[0].as_in_context(ctx), batch.label[0].as_in_context(ctx)
            with autograd.record():
                output = net(data)
                loss = loss_fn(output, label)
            loss.backward()
            trainer.step(data.shape[0])
            keep = data.shape[0] - batch.pad   # padding repeats records from the start: count them once
            images += data.shape[0]
            loss_sum += float(loss[:keep].sum().asscalar())
            correct += _correct(output[:keep], label[:keep], hp.multi_label)
            seen += keep
        train_seconds = time.perf_counter() - t0
        val_acc, val_top, val_seen = _evaluate(mx, net, val_rec, hp, label_width, top_k, ctx)
        lr = trainer.learning_rate
        row = EpochResult(epoch=epoch, train_loss=loss_sum / max(seen, 1), train_accuracy=correct / max(seen, 1),
                          validation_accuracy=val_acc, validation_top_k=val_top, learning_rate=float(lr),
                          images_per_second=images / train_seconds, seconds=time.perf_counter() - t0,
                          train_records_seen=seen, validation_records_seen=val_seen)
        result.epochs.append(row)
        top_text = f"  top-{top_k} {val_top:.3f}" if val_top is not None else ""
        log(f"epoch {epoch:>3}/{hp.epochs}  loss {row.train_loss:.3f}  train-acc {row.train_accuracy:.3f}  "
            f"val-acc {val_acc:.3f}{top_text}  lr {lr:.4g}  {row.images_per_second:.0f} img/s  {row.seconds:.1f} s")
        if hp.checkpoint_frequency and (epoch % hp.checkpoint_frequency == 0 or epoch == hp.epochs):
            result.model_files = _export(net, out, epoch, keep_previous=True)
        if _improved(val_acc, best, hp.early_stopping_tolerance):
            best, since_best, result.best_epoch = val_acc, 0, epoch
            if not hp.checkpoint_frequency:   # the algorithm's default: keep the best validation epoch
                result.model_files = _export(net, out, epoch, keep_previous=False)
        else:
            since_best += 1
        if hp.early_stopping and epoch >= hp.early_stopping_min_epochs and since_best >= hp.early_stopping_patience:
            log(f"early stopping: no validation improvement above {hp.early_stopping_tolerance:g} "
                f"for {since_best} epochs")
            result.stopped_early = True
            break
    result.seconds = time.perf_counter() - started
    (out / "model-shapes.json").write_text(json.dumps(
        [{"shape": [hp.mini_batch_size, *hp.image_shape], "name": "data"}]) + "\n")
    return result


def _correct(output: Any, label: Any, multi_label: bool) -> float:
    if multi_label:
        predicted = output > 0
        return float((predicted == label).mean(axis=1).sum().asscalar())
    return float((output.argmax(axis=1) == label).sum().asscalar())


def _evaluate(mx: Any, net: Any, rec: Path, hp: Hyperparameters, label_width: int,
              top_k: int | None, ctx: Any) -> tuple[float, float | None, int]:
    correct, top_hits, seen = 0.0, 0.0, 0
    for batch in _record_iter(mx, rec, hp, label_width, train=False, seed=0):
        keep = batch.data[0].shape[0] - batch.pad
        output = net(batch.data[0].as_in_context(ctx))[:keep]
        label = batch.label[0].as_in_context(ctx)[:keep]
        correct += _correct(output, label, hp.multi_label)
        if top_k:
            best_k = mx.nd.topk(output, k=top_k, axis=1)
            top_hits += float((best_k == label.reshape((-1, 1))).sum().asscalar())
        seen += keep
    if seen == 0:
        return 0.0, None, 0
    return correct / seen, (top_hits / seen if top_k else None), seen


def _export(net: Any, out: Path, epoch: int, *, keep_previous: bool) -> list[str]:
    if not keep_previous:
        for old in out.glob(f"{MODEL_PREFIX}-[0-9][0-9][0-9][0-9].params"):
            old.unlink()
    net.export(str(out / MODEL_PREFIX), epoch=epoch)
    return sorted(p.name for p in out.glob(f"{MODEL_PREFIX}-*"))


def _write_metrics(result: TrainResult, doc: DatasetDoc, env: dict[str, str], seed: int) -> None:
    hp = result.hyperparameters
    document = {
        "format": METRICS_FORMAT,
        "version": METRICS_VERSION,
        "satrec_version": __version__,
        "dataset": doc.name,
        "classes": doc.classes,
        "train_records": doc.records("train"),
        "validation_records": doc.records("validation"),
        "hyperparameters": hp.to_sagemaker(),
        "seed": seed,
        "threads": env,
        "epochs": [e.to_dict() for e in result.epochs],
        "final_validation_accuracy": round(result.final_validation_accuracy, 6),
        "best_validation_accuracy": round(result.best_validation_accuracy, 6),
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
        "training_seconds": round(result.seconds, 2),
        "model_files": result.model_files,
    }
    (result.out / METRICS_JSON).write_text(json.dumps(document, indent=2) + "\n")


def _plot(result: TrainResult, path: Path, *, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")   # no display, no GUI toolkit
    import matplotlib.pyplot as plt

    epochs = [e.epoch for e in result.epochs]
    fig, (acc_ax, loss_ax) = plt.subplots(1, 2, figsize=(9, 3.6))
    acc_ax.plot(epochs, [e.train_accuracy for e in result.epochs], "o-", label="train")
    acc_ax.plot(epochs, [e.validation_accuracy for e in result.epochs], "s-", label="validation")
    acc_ax.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02), title="accuracy")
    acc_ax.grid(alpha=0.3)
    acc_ax.legend(loc="lower right")
    loss_ax.plot(epochs, [e.train_loss for e in result.epochs], "o-", color="tab:red")
    loss_ax.set(xlabel="epoch", ylabel="loss", title="training loss")
    loss_ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
