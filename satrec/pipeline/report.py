"""The run's report (success) and notice (failure): JSON in the artifacts bucket, text for SNS.

The success report names everything a user needs afterwards: the dataset URI and its counts per
split and class, rejects, the channel files, the training job, the model artifact, the final
validation accuracy and the timings that drive cost. A failure notice names the state that
failed and its cause, digging out what matters from the service's error: SageMaker's
``FailureReason``, Batch's ``statusReason``, a handler's error message.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from satrec import layout
from satrec.documents import DatasetDoc
from satrec.pipeline.preflight import dataset_json_key
from satrec.pipeline.s3io import get_bytes, put_json

REPORT_FORMAT = "satrec.report"
REPORT_VERSION = 1
SUBJECT_MAX = 100   # SNS subject limit


def _subject(text: str) -> str:
    ascii_text = text.encode("ascii", "replace").decode()
    return ascii_text if len(ascii_text) <= SUBJECT_MAX else ascii_text[:SUBJECT_MAX - 3] + "..."


def _metric(metrics: list[dict[str, Any]] | None, name: str) -> float | None:
    for metric in metrics or []:
        if metric.get("MetricName") == name:
            return float(metric["Value"])
    return None


def _seconds_between(start: Any, end: Any) -> float | None:
    def as_datetime(value: Any) -> datetime | None:
        if isinstance(value, int | float):   # Step Functions renders SageMaker timestamps as epoch milliseconds
            return datetime.fromtimestamp(value / 1000, tz=timezone.utc)
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return None
        return None
    a, b = as_datetime(start), as_datetime(end)
    return (b - a).total_seconds() if a and b else None


def training_summary(job: dict[str, Any] | None) -> dict[str, Any] | None:
    """The parts of a DescribeTrainingJob result (the .sync state's output) that the report keeps."""
    if not job:
        return None
    metrics = job.get("FinalMetricDataList")
    resources = job.get("ResourceConfig") or {}
    return {
        "job_name": job.get("TrainingJobName"),
        "status": job.get("TrainingJobStatus"),
        "instance_type": resources.get("InstanceType"),
        "instance_count": resources.get("InstanceCount"),
        "spot": bool(job.get("EnableManagedSpotTraining", False)),
        "model_artifact": (job.get("ModelArtifacts") or {}).get("S3ModelArtifacts"),
        "final_validation_accuracy": _metric(metrics, "validation:accuracy"),
        "final_train_accuracy": _metric(metrics, "train:accuracy"),
        "training_seconds": job.get("TrainingTimeInSeconds"),
        "billable_seconds": job.get("BillableTimeInSeconds"),
        "wall_seconds": _seconds_between(job.get("TrainingStartTime"), job.get("TrainingEndTime")),
        "hyperparameters": job.get("HyperParameters"),
    }


def success_report(s3: Any, *, data_bucket: str, artifacts_bucket: str, dataset: str, run_id: str,
                   execution: dict[str, Any], training: dict[str, Any] | None,
                   quota: dict[str, Any] | None = None) -> dict[str, Any]:
    doc = DatasetDoc.from_json(get_bytes(s3, data_bucket, dataset_json_key(dataset, run_id)).decode())
    root = f"s3://{data_bucket}/{layout.dataset_run_prefix(dataset, run_id)}"
    summary_training = training_summary(training)
    report = {
        "format": REPORT_FORMAT, "version": REPORT_VERSION, "status": "SUCCEEDED",
        "dataset": dataset, "run_id": run_id, "execution": execution,
        "dataset_uri": root, "dataset_json": root + layout.meta_path(layout.DATASET_JSON),
        "num_classes": doc.num_classes, "classes": doc.classes,
        "records": {split: info.records for split, info in doc.splits.items()},
        "per_class": {split: info.per_class for split, info in doc.splits.items()},
        "inputs": doc.inputs, "rejects_by_reason": doc.rejects_by_reason,
        "channels": {split: [root + shard.rec for shard in info.shards] for split, info in doc.splits.items()},
        "image": doc.image.to_dict() if doc.image else None,
        "plan": doc.extra.get("plan"),
        "training": summary_training,
        "quota": quota,
    }
    key = layout.report_key(dataset, run_id)
    put_json(s3, artifacts_bucket, key, report)
    report_uri = f"s3://{artifacts_bucket}/{key}"
    lines = [f"satrec run {run_id} of dataset {dataset} succeeded.",
             f"Dataset: {root} ({doc.records('train')} train / "
             f"{doc.records('validation')} validation records, {doc.num_classes} classes, "
             f"{doc.inputs.get('rejected', 0)} inputs rejected)."]
    if summary_training:
        accuracy = summary_training["final_validation_accuracy"]
        lines.append(f"Training job {summary_training['job_name']}: model {summary_training['model_artifact']}, "
                     f"final validation accuracy {'n/a' if accuracy is None else f'{accuracy:.4f}'}, "
                     f"billable seconds {summary_training['billable_seconds']}.")
    else:
        lines.append("Training was not requested (\"train\": false).")
    lines.append(f"Report: {report_uri}")
    return {"report_uri": report_uri, "subject": _subject(f"satrec: {dataset} run {run_id} succeeded"),
            "message": "\n".join(lines), "summary": report}


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


def failure_reason(error: str, cause: str) -> str:
    """The most useful sentence inside a Step Functions error cause."""
    parsed = _parse_json(cause)
    if isinstance(parsed, dict):
        if parsed.get("FailureReason"):            # SageMaker DescribeTrainingJob
            return f"SageMaker FailureReason: {parsed['FailureReason']}"
        if "errorMessage" in parsed:               # a Lambda handler's exception
            return f"{parsed.get('errorType', error)}: {parsed['errorMessage']}"
        job = {k[:1].lower() + k[1:]: v for k, v in parsed.items()}   # Step Functions capitalises Batch's keys
        if "jobName" in job and "status" in job:                      # a Batch job (DescribeJobs)
            return f"AWS Batch job {job['jobName']} {job['status']}: {_batch_reason(job)}"
    return f"{error}: {cause}" if cause else error


def _batch_reason(job: dict[str, Any]) -> str:
    if job.get("statusReason"):
        return str(job["statusReason"])
    array = job.get("arrayProperties") or {}
    summary = array.get("statusSummary") or array.get("StatusSummary") or {}
    failed = summary.get("FAILED")
    if failed:
        return (f"{failed} of {array.get('size') or array.get('Size')} array children failed; "
                "their CloudWatch logs (stream prefix 'pipeline') say why")
    return "no reason given; see the job's CloudWatch logs"


def failure_notice(s3: Any | None, *, artifacts_bucket: str | None, failed_state: str, error: dict[str, Any],
                   state: dict[str, Any], execution: dict[str, Any]) -> dict[str, Any]:
    """Message for SNS naming the state and cause; a JSON copy in the artifacts bucket when the run is known."""
    name = str(error.get("Error", "States.ALL"))
    cause = str(error.get("Cause", ""))
    reason = failure_reason(name, cause)
    found = state.get("run")
    run: dict[str, Any] = found if isinstance(found, dict) else {}
    payload = run.get("Payload", run)   # the validate-input Lambda's result, as the state machine keeps it
    run = payload if isinstance(payload, dict) else {}
    raw_input = state if not run else {}
    dataset = run.get("dataset") or (raw_input.get("dataset") if isinstance(raw_input.get("dataset"), str) else None)
    run_id = run.get("run_id")
    notice = {"format": REPORT_FORMAT, "version": REPORT_VERSION, "status": "FAILED", "dataset": dataset,
              "run_id": run_id, "failed_state": failed_state, "error": name, "reason": reason, "cause": cause,
              "execution": execution}
    report_uri = None
    if s3 is not None and artifacts_bucket and dataset and run_id:
        key = layout.report_key(dataset, run_id)
        put_json(s3, artifacts_bucket, key, notice)
        report_uri = f"s3://{artifacts_bucket}/{key}"
    what = f"dataset {dataset}" if dataset else "the pipeline"
    message = (f"satrec run {run_id or execution.get('name', '')} of {what} failed in state \"{failed_state}\".\n"
               f"Cause: {reason}\nError: {name}" + (f"\nReport: {report_uri}" if report_uri else ""))
    return {"subject": _subject(f"satrec: {what} failed in \"{failed_state}\""), "message": message,
            "failed_state": failed_state, "error": name, "reason": reason, "report_uri": report_uri}
