"""A simulated deployment of the training pipeline inside moto: what the tests and ``make demo-cloud`` run.

``build_pipeline`` takes the synthesized template of the TrainingWorkflow, creates every resource
its state machine refers to in the active moto backend (buckets, key, topic with an SQS
subscriber, Batch queue and the pipeline's job definition with the environment CDK gives it, one
Lambda function per handler), resolves the definition's tokens to those resources by construct
path, and wires the real handlers and the ``satrec`` CLI in-process (tests/cloudsim/moto_sfn.py).
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import boto3

from tests.cloudsim.moto_sfn import InProcess, run_cli, wait_for
from tests.cloudsim.pipeline_stack import resolve_definition

REGION = "us-east-1"
REPO = Path(__file__).resolve().parents[2]
HANDLERS = REPO / "lambdas" / "pipeline"
FUNCTION_HANDLERS = {"ValidateInput": "validate_input", "Plan": "plan_run", "ValidateDataset": "validate_dataset",
                     "Preflight": "preflight_training", "Report": "write_report",
                     "DescribeFailure": "notify_failure"}
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False},
               "batch": {"use_docker": False}}


def load_handler_dir(folder: Path, name: str) -> Any:
    """A handler module by file, under a unique module name (handler folders are not packages)."""
    spec = importlib.util.spec_from_file_location(f"satrec_handler_{folder.name}_{name}", folder / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_handler_module(name: str) -> Any:
    return load_handler_dir(HANDLERS, name)


@dataclass
class Cloud:
    s3: Any
    sfn: Any
    sqs: Any
    sagemaker: Any
    landing: str
    data: str
    artifacts: str
    state_machine_arn: str
    notices_url: str
    in_process: InProcess
    modules: dict[str, Any] = field(default_factory=dict)

    def start(self, name: str, payload: dict[str, Any], *, timeout: float = 120.0) -> dict[str, Any]:
        arn = self.sfn.start_execution(stateMachineArn=self.state_machine_arn, name=name,
                                       input=json.dumps(payload))["executionArn"]
        return wait_for(self.sfn, arn, timeout=timeout)

    def notices(self) -> list[dict[str, str]]:
        messages = self.sqs.receive_message(QueueUrl=self.notices_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]


def fargate_job_queue(client: Any, iam: Any, ec2: Any, *, name: str) -> tuple[str, str]:
    """A Fargate compute environment and job queue in moto; returns (queue ARN, a role ARN for job definitions)."""
    role = iam.create_role(RoleName="satrec-batch", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="tasks", Description="tasks", VpcId=vpc)["GroupId"]
    env = client.create_compute_environment(
        computeEnvironmentName="satrec-fargate", type="MANAGED", state="ENABLED", serviceRole=role,
        computeResources={"type": "FARGATE", "maxvCpus": 4, "subnets": [subnet], "securityGroupIds": [group]})
    order = [{"order": 1, "computeEnvironment": env["computeEnvironmentArn"]}]
    queue = client.create_job_queue(jobQueueName=name, state="ENABLED", priority=1, computeEnvironmentOrder=order)
    return str(queue["jobQueueArn"]), str(role)


def build_pipeline(template: Any, paths: dict[str, str], in_process: InProcess, *, region: str = REGION) -> Cloud:
    """Create what the definition refers to in the active moto backend, then the state machine itself."""

    s3 = boto3.client("s3", region_name=region)
    buckets = {name: f"satrec-{name.lower()}" for name in ("Landing", "Data", "Artifacts")}
    for bucket in buckets.values():
        s3.create_bucket(Bucket=bucket)
    key_arn = boto3.client("kms", region_name=region).create_key()["KeyMetadata"]["Arn"]
    sns = boto3.client("sns", region_name=region)
    sqs = boto3.client("sqs", region_name=region)
    topic = sns.create_topic(Name="satrec-notices")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="notices")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    iam = boto3.client("iam", region_name=region)
    batch = boto3.client("batch", region_name=region)
    queue_arn, _ = fargate_job_queue(batch, iam, boto3.client("ec2", region_name=region), name="satrec-pipeline")
    # The pipeline's own job definition, with the environment the CDK construct gives it.
    resources = template.to_json()["Resources"]
    (jobdef_id,) = [lid for lid, p in paths.items() if p.endswith("/Workflow/PipelineJobs/Resource")]
    env = resources[jobdef_id]["Properties"]["ContainerProperties"]["Environment"]
    definition = batch.register_job_definition(
        jobDefinitionName="satrec-pipeline", type="container", platformCapabilities=["FARGATE"],
        containerProperties={"image": "satrec-converter", "command": ["job", "--help"],
                             "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                      {"type": "MEMORY", "value": "2048"}],
                             "environment": [{"name": e["Name"], "value": e["Value"]} for e in env
                                             if isinstance(e["Value"], str)]})
    role = iam.create_role(RoleName="satrec-test", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam = boto3.client("lambda", region_name=region)
    functions: dict[str, str] = {}
    for lid, path in paths.items():
        parts = path.split("/")
        if len(parts) == 4 and parts[1] == "Workflow" and parts[3] == "Resource" and parts[2] in FUNCTION_HANDLERS:
            functions[lid] = lam.create_function(
                FunctionName=f"satrec-{parts[2]}", Runtime="python3.12", Role=role, Handler="x.handler",
                Code={"ZipFile": b"stand-in"})["FunctionArn"]
    values = {"Landing": buckets["Landing"], "Data": buckets["Data"], "Artifacts": buckets["Artifacts"]}

    def resolve(token: dict[str, Any]) -> str:
        if "Ref" in token:
            ref = token["Ref"]
            if ref == "AWS::Partition":
                return "aws"
            if ref == "AWS::Region":
                return region
            if ref == "AWS::URLSuffix":
                return "amazonaws.com"
            path = paths.get(ref, "")
            for name, value in values.items():
                if path == f"Bare/{name}/Resource":
                    return value
            if path.endswith("/Workflow/PipelineJobs/Resource"):
                return definition["jobDefinitionArn"]
            if path == "Bare/Topic/Resource":
                return topic
            if "/Vpc/" in path:
                return "subnet-0123456789abcdef0"
            raise KeyError(f"unresolved Ref {ref} ({path})")
        if "Fn::GetAtt" in token:
            lid, attr = token["Fn::GetAtt"]
            if lid in functions:
                return functions[lid]
            path = paths.get(lid, "")
            if path == "Bare/Queue/Resource":
                return queue_arn
            if path == "Bare/Key/Resource":
                return key_arn
            if path == "Bare/Sg/Resource":
                return "sg-0123456789abcdef0"
            if attr == "Arn" and "Role" in path:
                return role
            raise KeyError(f"unresolved GetAtt {lid}.{attr} ({path})")
        if "Fn::FindInMap" in token:
            from satrec.pipeline.image_uris import REGISTRY_ACCOUNTS

            return REGISTRY_ACCOUNTS[region]
        raise KeyError(f"unresolved token {token}")

    state_machine = resolve_definition(template, resolve)
    sfn = boto3.client("stepfunctions", region_name=region)
    arn = sfn.create_state_machine(name="satrec-pipeline", definition=json.dumps(state_machine),
                                   roleArn=role)["stateMachineArn"]

    modules = {fn: load_handler_module(module) for fn, module in FUNCTION_HANDLERS.items()}
    for fn, module in modules.items():
        lid = next(lid for lid, p in paths.items() if p == f"Bare/Workflow/{fn}/Resource")
        environment = {k: resolve(v) if isinstance(v, dict) else str(v)
                       for k, v in resources[lid]["Properties"]["Environment"]["Variables"].items()}
        in_process.handlers[f"satrec-{fn}"] = _with_environment(module, environment)
    in_process.container = run_cli
    return Cloud(s3=s3, sfn=sfn, sqs=sqs, sagemaker=boto3.client("sagemaker", region_name=region),
                 landing=buckets["Landing"], data=buckets["Data"], artifacts=buckets["Artifacts"],
                 state_machine_arn=arn, notices_url=queue_url, in_process=in_process, modules=modules)


def _with_environment(module: Any, environment: dict[str, str]) -> Any:
    def call(event: dict[str, Any], context: Any) -> Any:
        with mock.patch.dict(os.environ, environment):
            return module.handler(event, context)
    return call
