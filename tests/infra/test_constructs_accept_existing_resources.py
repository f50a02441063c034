"""Constructs take interfaces, so they also work with imported buckets, keys, VPCs and queues
(a bare stack, no cdk-nag: this is about the construct APIs, the app tests cover the guardrails)."""

from __future__ import annotations

import json

import pytest

from tests.infra.conftest import node_first_on_path

pytestmark = [pytest.mark.cdk, pytest.mark.xdist_group("cdk-app")]


def test_converter_and_trigger_wire_up_imported_resources() -> None:
    node_first_on_path()
    import aws_cdk as cdk
    from aws_cdk import assertions
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_logs as logs
    from aws_cdk import aws_s3 as s3

    from stacks.config import SatrecConfig
    from stacks.converter import Converter
    from stacks.upload_trigger import UploadTrigger

    app = cdk.App()
    stack = cdk.Stack(app, "Bare")
    landing = s3.Bucket.from_bucket_name(stack, "Landing", "existing-landing")
    data = s3.Bucket.from_bucket_name(stack, "Data", "existing-data")
    key = kms.Key.from_key_arn(stack, "Key",
                               "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    vpc = ec2.Vpc.from_vpc_attributes(stack, "Vpc", vpc_id="vpc-0123456789abcdef0", availability_zones=["eu-west-1a"],
                                      isolated_subnet_ids=["subnet-0123456789abcdef0"])
    group = ec2.SecurityGroup.from_security_group_id(stack, "Group", "sg-0123456789abcdef0")
    config = SatrecConfig()
    converter = Converter(stack, "Converter", config=config, vpc=vpc,
                          subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
                          security_group=group, key=key, landing=landing, data=data,
                          log_retention=logs.RetentionDays.ONE_WEEK)
    UploadTrigger(stack, "Trigger", config=config, landing=landing, data=data, key=key,
                  job_queue=converter.job_queue, job_definition=converter.job_definition,
                  log_retention=logs.RetentionDays.ONE_WEEK)
    template = assertions.Template.from_stack(stack)

    text = json.dumps(template.to_json())
    assert "arn:aws:s3:::existing-landing/incoming/*" in text.replace('", {"Ref": "AWS::Partition"}, "', "aws")
    assert "1234abcd-12ab-34cd-56ef-1234567890ab" in text
    rule = next(iter(template.find_resources("AWS::Events::Rule").values()))
    assert rule["Properties"]["EventPattern"]["detail"]["bucket"]["name"] == ["existing-landing"]
    [env] = template.find_resources("AWS::Batch::ComputeEnvironment", {"Properties": {
        "ComputeResources": {"Type": "FARGATE_SPOT"}}}).values()
    assert env["Properties"]["ComputeResources"]["SecurityGroupIds"] == ["sg-0123456789abcdef0"]
    assert env["Properties"]["ComputeResources"]["Subnets"] == ["subnet-0123456789abcdef0"]
