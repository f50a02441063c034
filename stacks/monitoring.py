"""Monitoring: an SNS topic (optional e-mail), alarms on the DLQ, Lambda errors and failed Batch
jobs, and a dashboard counting converted / rejected inputs per dataset from the job logs."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_batch as batch
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from satrec.cloud.ledger import CONVERTED, REJECTED

METRIC_NAMESPACE = "Satrec/Conversion"
# The converter prints one JSON line per input: {"event": "converted"|"rejected", "dataset": ...}.
COUNTED_EVENTS = {"Converted": CONVERTED, "Rejected": REJECTED}


def failed_jobs_pattern(job_queue_arn: str) -> events.EventPattern:
    return events.EventPattern(source=["aws.batch"], detail_type=["Batch Job State Change"],
                               detail={"status": ["FAILED"], "jobQueue": [job_queue_arn]})


class Monitoring(Construct):
    """Exposes ``topic``, ``alarms``, ``failed_jobs`` (rule), ``dashboard``. More alarms: ``alarm_to_topic(alarm)``."""

    def __init__(self, scope: Construct, id_: str, *, key: kms.Key, dead_letter_queue: sqs.IQueue,
                 function: lambda_.IFunction, job_queue: batch.IJobQueue, job_log_group: logs.ILogGroup,
                 notification_email: str | None) -> None:
        super().__init__(scope, id_)
        self.topic = sns.Topic(self, "Notifications", master_key=key, enforce_ssl=True,
                               display_name="satrec notifications")
        # CloudWatch alarms and EventBridge publish to the encrypted topic through the key.
        for service in ("cloudwatch.amazonaws.com", "events.amazonaws.com"):
            key.add_to_resource_policy(iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=["*"],
                principals=[iam.ServicePrincipal(service)],
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}}))
        if notification_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(notification_email))

        self.alarms: list[cloudwatch.Alarm] = []
        self.alarm_to_topic(cloudwatch.Alarm(
            self, "DeadLetters", alarm_description="Upload events could not be processed and wait in the DLQ",
            metric=dead_letter_queue.metric_approximate_number_of_messages_visible(period=cdk.Duration.minutes(5)),
            threshold=0, comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1, treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING))
        self.alarm_to_topic(cloudwatch.Alarm(
            self, "TriggerErrors", alarm_description="The upload trigger Lambda failed",
            metric=function.metric_errors(period=cdk.Duration.minutes(5)), threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING))

        self.failed_jobs = events.Rule(self, "FailedJobs", event_pattern=failed_jobs_pattern(job_queue.job_queue_arn),
                                       description="satrec: a conversion job failed")
        self.failed_jobs.add_target(targets.SnsTopic(self.topic, message=events.RuleTargetInput.from_text(
            f"satrec conversion job {events.EventField.from_path('$.detail.jobName')} "
            f"({events.EventField.from_path('$.detail.jobId')}) FAILED: "
            f"{events.EventField.from_path('$.detail.statusReason')}")))

        # An alarm too, so a failure shows as a state on the dashboard; the rule's message above is
        # the notification (it carries the job's status reason, an alarm cannot).
        self.failed_jobs_alarm = cloudwatch.Alarm(
            self, "FailedJobsAlarm", alarm_description="A conversion job failed (see the notification for its cause)",
            metric=cloudwatch.Metric(namespace="AWS/Events", metric_name="TriggeredRules",
                                     dimensions_map={"RuleName": self.failed_jobs.rule_name}, statistic="Sum",
                                     period=cdk.Duration.minutes(5)),
            threshold=0, comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1, treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING)
        self.alarms.append(self.failed_jobs_alarm)

        graphs = []
        for metric_name, event in COUNTED_EVENTS.items():
            logs.MetricFilter(self, f"{metric_name}Filter", log_group=job_log_group,
                              metric_namespace=METRIC_NAMESPACE, metric_name=metric_name, metric_value="1",
                              filter_pattern=logs.FilterPattern.string_value("$.event", "=", event),
                              dimensions={"Dataset": "$.dataset"}, unit=cloudwatch.Unit.COUNT)
            graphs.append(cloudwatch.GraphWidget(
                title=f"{metric_name} inputs per dataset", width=12, left=[cloudwatch.MathExpression(
                    expression=f"SEARCH('{{{METRIC_NAMESPACE},Dataset}} MetricName=\"{metric_name}\"', 'Sum', 300)",
                    label=metric_name, period=cdk.Duration.minutes(5), using_metrics={})]))
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", widgets=[
            graphs,
            [cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=24)],
        ])

    def alarm_to_topic(self, alarm: cloudwatch.Alarm) -> cloudwatch.Alarm:
        alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
        self.alarms.append(alarm)
        return alarm
