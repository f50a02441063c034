"""UploadTrigger: rule -> queue (+ DLQ) -> function -> Batch job, and the function's bundle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from satrec import layout
from tests.infra.conftest import Synthesized

pytestmark = [pytest.mark.cdk, pytest.mark.xdist_group("cdk-app")]


def logical_id(s: Synthesized, type_: str, fragment: str) -> str:
    [found] = [k for k, r in s.resources(type_).items() if fragment in r["Metadata"]["aws:cdk:path"]]
    return found


def test_rule_matches_object_created_under_incoming_of_the_landing_bucket_only(synthesized: Synthesized) -> None:
    rule = synthesized.by_path("AWS::Events::Rule", "/UploadTrigger/ObjectCreated/")["Properties"]
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.s3"] and pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["object"]["key"] == [{"prefix": layout.INCOMING_PREFIX}]
    assert pattern["detail"]["bucket"]["name"] == [{"Ref": logical_id(synthesized, "AWS::S3::Bucket", "/Landing/")}]
    [target] = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [logical_id(synthesized, "AWS::SQS::Queue", "/Uploads/"), "Arn"]}
    assert target["DeadLetterConfig"]["Arn"] == {
        "Fn::GetAtt": [logical_id(synthesized, "AWS::SQS::Queue", "/DeadLetters/"), "Arn"]}


def test_queues_are_encrypted_and_the_upload_queue_has_a_dead_letter_queue(synthesized: Synthesized) -> None:
    uploads = synthesized.by_path("AWS::SQS::Queue", "/UploadTrigger/Uploads/")["Properties"]
    dlq = synthesized.by_path("AWS::SQS::Queue", "/UploadTrigger/DeadLetters/")["Properties"]
    assert uploads["SqsManagedSseEnabled"] is True and dlq["SqsManagedSseEnabled"] is True
    assert uploads["RedrivePolicy"]["maxReceiveCount"] == 5
    assert uploads["VisibilityTimeout"] >= 6 * 60
    for policy in synthesized.resources("AWS::SQS::QueuePolicy").values():
        assert any(s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
                   for s in policy["Properties"]["PolicyDocument"]["Statement"])


def test_function_consumes_batches_with_partial_failure_reporting(synthesized: Synthesized) -> None:
    [mapping] = synthesized.resources("AWS::Lambda::EventSourceMapping").values()
    props = mapping["Properties"]
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BatchSize"] == 1000 and props["MaximumBatchingWindowInSeconds"] == 30
    assert props["EventSourceArn"] == {"Fn::GetAtt": [logical_id(synthesized, "AWS::SQS::Queue", "/Uploads/"), "Arn"]}
    assert props["FunctionName"] == {"Ref": logical_id(synthesized, "AWS::Lambda::Function", "/UploadTrigger/")}


def test_function_is_told_the_job_queue_definition_and_data_bucket(synthesized: Synthesized) -> None:
    function = synthesized.by_path("AWS::Lambda::Function", "/UploadTrigger/Function/")["Properties"]
    env = function["Environment"]["Variables"]
    assert env["JOB_QUEUE"] == {"Fn::GetAtt": [logical_id(synthesized, "AWS::Batch::JobQueue", "/Converter/"),
                                               "JobQueueArn"]}
    assert env["JOB_DEFINITION"] == {"Ref": logical_id(synthesized, "AWS::Batch::JobDefinition", "/Converter/")}
    assert env["DATA_BUCKET"] == {"Ref": logical_id(synthesized, "AWS::S3::Bucket", "/Data/")}
    assert function["Handler"] == "handler.handler" and function["Runtime"].startswith("python3.")


def test_function_may_only_write_batch_documents_and_submit_to_this_queue_and_definition(
        synthesized: Synthesized) -> None:
    policy = synthesized.by_path("AWS::IAM::Policy", "/UploadTrigger/Role/DefaultPolicy/")["Properties"]
    statements = {s.get("Sid"): s for s in policy["PolicyDocument"]["Statement"]}
    assert statements["SubmitConversionJobs"]["Action"] == "batch:SubmitJob"
    assert sorted(json.dumps(r) for r in statements["SubmitConversionJobs"]["Resource"]) == sorted([
        json.dumps({"Fn::GetAtt": [logical_id(synthesized, "AWS::Batch::JobQueue", "/Converter/"), "JobQueueArn"]}),
        json.dumps({"Ref": logical_id(synthesized, "AWS::Batch::JobDefinition", "/Converter/")})])
    assert f"/{layout.BATCHES_PREFIX}*" in json.dumps(statements["WriteBatchDocuments"]["Resource"])
    assert '"*"' not in json.dumps(policy)
    # No AWS managed policies: logs go to the function's own group only.
    role = synthesized.by_path("AWS::IAM::Role", "/UploadTrigger/Role/")["Properties"]
    assert "ManagedPolicyArns" not in role


def test_function_bundle_holds_handler_satrec_and_powertools_but_no_image_libraries(synthesized: Synthesized) -> None:
    function = synthesized.by_path("AWS::Lambda::Function", "/UploadTrigger/Function/")
    asset = synthesized.outdir / function["Metadata"]["aws:asset:path"]
    names = {p.name for p in Path(asset).iterdir()}
    assert {"handler.py", "satrec", "aws_lambda_powertools", "jmespath", "typing_extensions.py"} <= names
    assert not {"PIL", "numpy", "mxnet", "boto3"} & names          # boto3 comes with the runtime
    assert not list(Path(asset).rglob("__pycache__"))


def test_bundled_handler_imports_from_the_bundle_without_image_libraries(synthesized: Synthesized) -> None:
    import subprocess
    import sys

    function = synthesized.by_path("AWS::Lambda::Function", "/UploadTrigger/Function/")
    asset = synthesized.outdir / function["Metadata"]["aws:asset:path"]
    probe = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'PIL', 'numpy', 'mxnet', 'rasterio', 'cv2', 'aws_cdk'}:\n"
        "            raise ImportError(f'{name} must not be imported by the trigger')\n"
        "sys.meta_path.insert(0, Block())\n"
        f"sys.path.insert(0, {str(asset)!r})\n"
        "import handler, satrec, aws_lambda_powertools\n"
        f"assert handler.__file__.startswith({str(asset)!r}) and satrec.__file__.startswith({str(asset)!r})\n"
        f"assert aws_lambda_powertools.__file__.startswith({str(asset)!r})\n"
        "import satrec.cloud.dispatch, satrec.cloud.uploads\n"
        "print('ok')\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False,
                            cwd=synthesized.outdir)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
