"""One synthesized TrainingWorkflow per session, on a bare stack with stand-ins for what it is given."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns

from stacks.training_workflow import TrainingWorkflow, WorkflowSettings


def bare_workflow(settings: WorkflowSettings | None = None) -> tuple[cdk.Stack, TrainingWorkflow]:
    app = cdk.App()
    stack = cdk.Stack(app, "Bare")
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    buckets = {name: s3.Bucket(stack, name, encryption_key=key, enforce_ssl=True)
               for name in ("Landing", "Data", "Artifacts")}
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=0, subnet_configuration=[
        ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)])
    sg = ec2.SecurityGroup(stack, "Sg", vpc=vpc)
    env = batch.FargateComputeEnvironment(stack, "Env", vpc=vpc, vpc_subnets=ec2.SubnetSelection(
        subnet_type=ec2.SubnetType.PRIVATE_ISOLATED))
    queue = batch.JobQueue(stack, "Queue", compute_environments=[
        batch.OrderedComputeEnvironment(compute_environment=env, order=1)])
    workflow = TrainingWorkflow(
        stack, "Workflow", landing=buckets["Landing"], data=buckets["Data"], artifacts=buckets["Artifacts"], key=key,
        job_queue=queue, image=ecs.ContainerImage.from_registry("example/converter:1"),
        job_log_group=logs.LogGroup(stack, "JobLogs"), vpc=vpc,
        subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED), security_group=sg,
        topic=sns.Topic(stack, "Topic"), settings=settings)
    return stack, workflow


def definition_of(template: assertions.Template) -> dict[str, Any]:
    """The state machine definition with CloudFormation tokens replaced by readable placeholders."""
    machines = template.find_resources("AWS::StepFunctions::StateMachine")
    (machine,) = machines.values()
    body = machine["Properties"]["DefinitionString"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    text = "".join(p if isinstance(p, str) else _placeholder(p) for p in parts)
    return json.loads(text)


def _placeholder(token: dict[str, Any]) -> str:
    if "Ref" in token:
        return f"<Ref:{token['Ref']}>"
    if "Fn::GetAtt" in token:
        return f"<GetAtt:{'.'.join(token['Fn::GetAtt'])}>"
    if "Fn::FindInMap" in token:
        return "<ImageAccount>"
    return "<Token>"


@pytest.fixture(scope="session")
def synthesized() -> tuple[cdk.Stack, TrainingWorkflow, assertions.Template]:
    stack, workflow = bare_workflow(WorkflowSettings(auto_start_on_ready=True))
    return stack, workflow, assertions.Template.from_stack(stack)


@pytest.fixture(scope="session")
def template(synthesized: Any) -> assertions.Template:
    return synthesized[2]


@pytest.fixture(scope="session")
def definition(template: assertions.Template) -> dict[str, Any]:
    return definition_of(template)
