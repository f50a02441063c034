"""The deployment as a wiring diagram: storage, network, converter, upload trigger, monitoring and
the training workflow.

Each attribute is a construct exposing what it created; later constructs take those as typed
keyword arguments (``TrainingWorkflow(..., data=self.storage.data, job_queue=self.converter.job_queue)``).
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.config import SatrecConfig
from stacks.converter import Converter
from stacks.monitoring import Monitoring
from stacks.network import Network
from stacks.storage import Storage
from stacks.training_workflow import TrainingWorkflow, WorkflowSettings
from stacks.upload_trigger import UploadTrigger


class SatrecStack(cdk.Stack):
    def __init__(self, scope: Construct, id_: str, *, config: SatrecConfig, **kwargs: Any) -> None:
        description = f"satrec ({config.environment}): uploads -> RecordIO datasets -> SageMaker training"
        super().__init__(scope, id_, description=description, **kwargs)
        self.config = config
        self.log_retention = getattr(logs.RetentionDays, _retention_name(config.log_retention_days))
        self.storage = Storage(self, "Storage", config=config)
        self.network = Network(self, "Network", config=config, log_retention=self.log_retention)
        self.converter = Converter(
            self, "Converter", config=config, vpc=self.network.vpc, subnets=self.network.subnets,
            security_group=self.network.task_security_group, key=self.storage.key,
            landing=self.storage.landing, data=self.storage.data, log_retention=self.log_retention)
        self.upload_trigger = UploadTrigger(
            self, "UploadTrigger", config=config, landing=self.storage.landing, data=self.storage.data,
            key=self.storage.key, job_queue=self.converter.job_queue, job_definition=self.converter.job_definition,
            log_retention=self.log_retention)
        self.monitoring = Monitoring(
            self, "Monitoring", key=self.storage.key, dead_letter_queue=self.upload_trigger.dead_letter_queue,
            function=self.upload_trigger.function, job_queue=self.converter.job_queue,
            job_log_group=self.converter.log_group, notification_email=config.notification_email)
        self.training = TrainingWorkflow(
            self, "Training", landing=self.storage.landing, data=self.storage.data, artifacts=self.storage.artifacts,
            key=self.storage.key, job_queue=self.converter.job_queue, image=self.converter.image,
            job_log_group=self.converter.log_group, vpc=self.network.vpc, subnets=self.network.subnets,
            security_group=self.network.task_security_group, topic=self.monitoring.topic,
            settings=WorkflowSettings(dataset_defaults=dict(config.dataset_defaults), job_vcpus=config.job_vcpus,
                                      job_memory_mib=config.job_memory_mib, log_retention=self.log_retention,
                                      auto_start_on_ready=config.pipeline_auto_start))

        for name, value in {"LandingBucket": self.storage.landing.bucket_name,
                            "DataBucket": self.storage.data.bucket_name,
                            "ArtifactsBucket": self.storage.artifacts.bucket_name,
                            "ConversionJobQueue": self.converter.job_queue.job_queue_arn,
                            "NotificationTopic": self.monitoring.topic.topic_arn,
                            "TrainingPipeline": self.training.state_machine.state_machine_arn}.items():
            cdk.CfnOutput(self, name, value=value)


_RETENTION_NAMES = {
    1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS", 30: "ONE_MONTH", 60: "TWO_MONTHS",
    90: "THREE_MONTHS", 120: "FOUR_MONTHS", 150: "FIVE_MONTHS", 180: "SIX_MONTHS", 365: "ONE_YEAR",
    400: "THIRTEEN_MONTHS", 545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS", 1096: "THREE_YEARS", 1827: "FIVE_YEARS",
    2192: "SIX_YEARS", 2557: "SEVEN_YEARS", 2922: "EIGHT_YEARS", 3288: "NINE_YEARS", 3653: "TEN_YEARS",
}


def _retention_name(days: int) -> str:
    """CloudWatch Logs' retention periods (validated in config) as CDK's enum member names."""
    return _RETENTION_NAMES[days]
