"""Monitoring: topic, alarms, failed-job notifications, per-dataset counts."""

from __future__ import annotations

import json

import pytest

from tests.infra.conftest import Synthesized

pytestmark = [pytest.mark.cdk, pytest.mark.xdist_group("cdk-app")]


def test_topic_is_encrypted_tls_only_and_email_is_optional(synthesized: Synthesized,
                                                            synthesized_variant: Synthesized) -> None:
    [topic] = synthesized.resources("AWS::SNS::Topic").values()
    assert "KmsMasterKeyId" in topic["Properties"]
    [policy] = synthesized.resources("AWS::SNS::TopicPolicy").values()
    assert any(s["Effect"] == "Deny" for s in policy["Properties"]["PolicyDocument"]["Statement"])
    assert not synthesized.resources("AWS::SNS::Subscription")
    [subscription] = synthesized_variant.resources("AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == "ops@example.com"


def test_alarms_watch_the_dlq_and_lambda_errors_and_notify_the_topic(synthesized: Synthesized) -> None:
    alarms = synthesized.resources("AWS::CloudWatch::Alarm").values()
    metrics = sorted((a["Properties"]["Namespace"], a["Properties"]["MetricName"]) for a in alarms)
    assert ("AWS/Lambda", "Errors") in metrics and ("AWS/SQS", "ApproximateNumberOfMessagesVisible") in metrics
    [topic_id] = synthesized.resources("AWS::SNS::Topic")
    notifying = [a for a in alarms if a["Properties"]["Namespace"] != "AWS/Events"]
    assert len(notifying) == 2
    assert all(a["Properties"]["AlarmActions"] == [{"Ref": topic_id}] for a in notifying)


def test_failed_conversion_jobs_of_this_queue_are_announced(synthesized: Synthesized) -> None:
    rule = synthesized.by_path("AWS::Events::Rule", "/Monitoring/FailedJobs/")["Properties"]
    assert rule["EventPattern"]["detail-type"] == ["Batch Job State Change"]
    assert rule["EventPattern"]["detail"]["status"] == ["FAILED"]
    [queue_id] = synthesized.resources("AWS::Batch::JobQueue")
    assert rule["EventPattern"]["detail"]["jobQueue"] == [{"Fn::GetAtt": [queue_id, "JobQueueArn"]}]
    [topic_id] = synthesized.resources("AWS::SNS::Topic")
    assert rule["Targets"][0]["Arn"] == {"Ref": topic_id}
    assert "$.detail.statusReason" in json.dumps(rule["Targets"][0]["InputTransformer"])
    [alarm] = [a for a in synthesized.resources("AWS::CloudWatch::Alarm").values()
               if a["Properties"]["Namespace"] == "AWS/Events"]
    assert alarm["Properties"]["MetricName"] == "TriggeredRules"
    [rule_id] = [k for k, r in synthesized.resources("AWS::Events::Rule").items()
                 if "/Monitoring/FailedJobs/" in r["Metadata"]["aws:cdk:path"]]
    assert alarm["Properties"]["Dimensions"] == [{"Name": "RuleName", "Value": {"Ref": rule_id}}]


def test_converted_and_rejected_are_counted_per_dataset_from_the_job_logs(synthesized: Synthesized) -> None:
    filters = synthesized.resources("AWS::Logs::MetricFilter").values()
    seen = {}
    for f in filters:
        [transformation] = f["Properties"]["MetricTransformations"]
        seen[transformation["MetricName"]] = (f["Properties"]["FilterPattern"], transformation["Dimensions"])
    assert seen["Converted"][0] == '{ $.event = "converted" }'
    assert seen["Rejected"][0] == '{ $.event = "rejected" }'
    assert seen["Converted"][1] == [{"Key": "Dataset", "Value": "$.dataset"}]
    [dashboard] = synthesized.resources("AWS::CloudWatch::Dashboard").values()
    assert "Satrec/Conversion" in str(dashboard["Properties"]["DashboardBody"])
