"""``make demo-cloud``: the whole cloud data path on this machine, against an embedded moto server.

upload sample images to the landing bucket -> S3 "Object Created" -> EventBridge -> SQS -> the
upload-trigger Lambda -> a conversion Batch array job (the ``satrec`` CLI) -> the training
pipeline's state machine (the definition CDK synthesizes, run by moto's Step Functions
interpreter): reconcile -> plan -> pack (Batch array job) -> assemble -> validate -> preflight ->
training -> report. SageMaker is played by local MXNet training (``satrec.train_local``) on the
channels the pipeline wrote, with the hyperparameters the state machine sent. Prints the report.

What moto cannot run is patched in one module (tests/cloudsim/moto_sfn.py); see the README section
"The training pipeline (Step Functions)".
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import socket
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

REGION = "us-east-1"
DATASET = "eurosat-demo"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_moto() -> Any:
    """An embedded moto server; every boto3 client of this process (and the interpreter) talks to it."""
    import requests
    from moto.server import ThreadedMotoServer

    port = _free_port()
    # One line per request otherwise, and a traceback for each API moto lacks (Service Quotas lists):
    # the preflight records those as "not checked".
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.update({"AWS_ENDPOINT_URL": endpoint, "MOTO_PORT": str(port), "AWS_ACCESS_KEY_ID": "demo",
                       "AWS_SECRET_ACCESS_KEY": "demo", "AWS_DEFAULT_REGION": REGION})
    os.environ.pop("AWS_PROFILE", None)
    from tests.cloudsim.cloud_sim import MOTO_CONFIG

    requests.post(f"{endpoint}/moto-api/config", json=MOTO_CONFIG, timeout=10).raise_for_status()
    return server


def _wire_upload_trigger(cloud: Any, in_process: Any, data_settings: dict[str, Any]) -> None:
    """Landing bucket -> EventBridge -> SQS -> the upload-trigger handler -> convert-uploads Batch jobs."""
    import boto3

    from tests.cloudsim.cloud_sim import REPO, _with_environment

    events = boto3.client("events", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    lam = boto3.client("lambda", region_name=REGION)
    batch = boto3.client("batch", region_name=REGION)
    cloud.s3.put_bucket_notification_configuration(
        Bucket=cloud.landing, NotificationConfiguration={"EventBridgeConfiguration": {}})
    queue_url = sqs.create_queue(QueueName="satrec-uploads")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="satrec-uploads", EventPattern=json.dumps({
        "source": ["aws.s3"], "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [cloud.landing]}, "object": {"key": [{"prefix": "incoming/"}]}}}))
    events.put_targets(Rule="satrec-uploads", Targets=[{"Id": "queue", "Arn": queue_arn}])
    job_queue = batch.describe_job_queues()["jobQueues"][0]["jobQueueArn"]
    definition = batch.register_job_definition(
        jobDefinitionName="satrec-convert-uploads", type="container", platformCapabilities=["FARGATE"],
        containerProperties={"image": "satrec-converter",
                             "command": ["job", "convert-uploads", "--batch", "Ref::batch"],
                             "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                      {"type": "MEMORY", "value": "2048"}],
                             "environment": [{"name": "SATREC_DEFAULT_SETTINGS",
                                              "value": json.dumps(data_settings)}]})["jobDefinitionArn"]
    role = boto3.client("iam", region_name=REGION).get_role(RoleName="satrec-test")["Role"]["Arn"]
    lam.create_function(FunctionName="satrec-UploadTrigger", Runtime="python3.12", Role=role,
                        Handler="handler.handler", Code={"ZipFile": b"stand-in"})
    lam.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName="satrec-UploadTrigger", BatchSize=10)
    from tests.cloudsim.cloud_sim import load_handler_dir

    module = load_handler_dir(REPO / "lambdas" / "upload_trigger", "handler")
    in_process.handlers["satrec-UploadTrigger"] = _with_environment(module, {
        "DATA_BUCKET": cloud.data, "JOB_QUEUE": job_queue, "JOB_DEFINITION": definition, "KEYS_PER_CHILD": "50"})


def _local_trainer(cloud: Any, out: Path, log: Any) -> Any:
    """Plays SageMaker: train on the job's channels with its hyperparameters, then complete the moto job."""

    def train(params: dict[str, Any]) -> None:
        from moto.sagemaker.models import sagemaker_backends

        from satrec import train_local

        name = params["TrainingJobName"]
        channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in params["InputDataConfig"]}
        root = Path(tempfile.mkdtemp(prefix="satrec-demo-channels-"))
        _, _, train_prefix = channels["train"].partition(f"s3://{cloud.data}/")
        run_prefix = train_prefix[:-len("train/")]
        listing = cloud.s3.list_objects_v2(Bucket=cloud.data, Prefix=run_prefix)["Contents"]
        for obj in listing:
            target = root / obj["Key"][len(run_prefix):]
            target.parent.mkdir(parents=True, exist_ok=True)
            cloud.s3.download_file(cloud.data, obj["Key"], str(target))
        log(f"SageMaker stand-in: training {name} locally with MXNet on {len(listing)} downloaded objects")
        model_dir = out / "model" / name
        result = train_local.train(root, model_dir, overrides=params["HyperParameters"], seed=0,
                                   log=lambda line: log(f"  {line}"))
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for path in sorted(model_dir.iterdir()):
                if path.is_file():
                    tar.add(path, arcname=path.name)
        output = params["OutputDataConfig"]["S3OutputPath"]
        bucket, _, prefix = output[len("s3://"):].partition("/")
        cloud.s3.put_object(Bucket=bucket, Key=f"{prefix}{name}/output/model.tar.gz", Body=buffer.getvalue())
        job = sagemaker_backends["123456789012"][REGION].training_jobs[name]
        now = job.creation_time
        job.final_metric_data_list = [
            {"MetricName": "validation:accuracy", "Value": result.final_validation_accuracy, "Timestamp": now},
            {"MetricName": "train:accuracy", "Value": result.epochs[-1].train_accuracy if result.epochs else 0.0,
             "Timestamp": now}]
        job.training_time_in_seconds = job.billable_time_in_seconds = round(result.seconds)

    return train


def _wait_for_conversion(cloud: Any, expected: int, timeout: float = 600) -> int:
    from satrec import layout

    deadline = time.monotonic() + timeout
    while True:
        listed = cloud.s3.list_objects_v2(Bucket=cloud.data, Prefix=layout.ledger_prefix(DATASET)).get("KeyCount", 0)
        if listed >= expected or time.monotonic() > deadline:
            return int(listed)
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.cloudsim.demo_cloud", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="demo-cloud-out", help="where the model, channels and report go")
    parser.add_argument("--per-class", type=int, default=150, help="sample images per class (default 150)")
    parser.add_argument("--classes", type=int, default=4, help="how many of the ten sample classes (default 4)")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch", type=int, default=24,
                        help="mini_batch_size; keep it at most the validation records (MXNet's iterator needs that)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    console = sys.stdout
    logs = out / "logs.txt"   # the handlers' and containers' JSON lines (what CloudWatch would hold)

    def log(line: str) -> None:
        print(line, file=console, flush=True)

    server = _start_moto()
    try:
        import boto3

        from satrec import sample_data
        from tests.cloudsim.cloud_sim import build_pipeline
        from tests.cloudsim.moto_sfn import InProcess, patched_moto
        from tests.cloudsim.pipeline_stack import DEMO_DATASET_DEFAULTS, cdk_paths, demo_synthesized

        log("synthesizing the CDK definition of the training pipeline ...")
        stack, _, template = demo_synthesized()
        in_process = InProcess()
        with patched_moto(in_process):
            cloud = build_pipeline(template, cdk_paths(stack), in_process, region=REGION)
            _wire_upload_trigger(cloud, in_process, DEMO_DATASET_DEFAULTS)
            in_process.trainer = _local_trainer(cloud, out, log)
            samples = Path(tempfile.mkdtemp(prefix="satrec-demo-samples-"))
            sample_data.generate(samples, count=args.per_class, size=64, seed=0)
            chosen = set(sample_data.CLASSES[:args.classes])
            files = sorted(p for p in samples.rglob("*.jpg") if p.parent.name in chosen)
            log(f"uploading {len(files)} sample images to s3://{cloud.landing}/incoming/{DATASET}/ "
                "(each upload: EventBridge -> SQS -> trigger Lambda -> conversion Batch job) ...")
            s3 = boto3.client("s3", region_name=REGION)
            with open(logs, "w", encoding="utf-8") as log_file, contextlib.redirect_stdout(log_file), \
                    contextlib.redirect_stderr(log_file):
                for path in files:
                    s3.upload_file(str(path), cloud.landing,
                                   f"incoming/{DATASET}/{path.relative_to(samples).as_posix()}")
                converted = _wait_for_conversion(cloud, len(files))
            log(f"conversion ledger: {converted} of {len(files)} uploads accounted for")
            log("starting the pipeline execution ...")
            started = time.monotonic()
            with open(logs, "a", encoding="utf-8") as log_file, contextlib.redirect_stdout(log_file), \
                    contextlib.redirect_stderr(log_file):
                execution = cloud.start("demo-run-1", {"dataset": DATASET, "hyperparameters": {
                    "epochs": args.epochs, "learning_rate": 0.05, "mini_batch_size": args.batch}}, timeout=3600)
            log(f"execution {execution['status']} in {time.monotonic() - started:.1f} s (handler and job logs: {logs})")
            if execution["status"] != "SUCCEEDED":
                log(json.dumps(cloud.notices(), indent=2))
                return 1
            report = json.loads(execution["output"])
            (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
            for notice in cloud.notices():
                log("SNS: " + notice["Subject"] + "\n" + notice["Message"])
            log(json.dumps({k: report[k] for k in ("dataset_uri", "records", "inputs", "training")}, indent=2))
            return 0
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
