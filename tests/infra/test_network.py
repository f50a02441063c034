"""Network: isolated subnets reaching AWS through endpoints; or an existing VPC's subnets."""

from __future__ import annotations

import pytest

from tests.infra.conftest import Synthesized

pytestmark = [pytest.mark.cdk, pytest.mark.xdist_group("cdk-app")]


def test_new_vpc_has_only_isolated_subnets_and_no_nat_or_internet_gateway(synthesized: Synthesized) -> None:
    assert len(synthesized.resources("AWS::EC2::VPC")) == 1
    assert not synthesized.resources("AWS::EC2::NatGateway")
    assert not synthesized.resources("AWS::EC2::InternetGateway")
    subnets = synthesized.resources("AWS::EC2::Subnet").values()
    assert len(subnets) == 2
    assert all(s["Properties"]["MapPublicIpOnLaunch"] is False for s in subnets)


def test_endpoints_cover_s3_ecr_and_logs(synthesized: Synthesized) -> None:
    endpoints = synthesized.resources("AWS::EC2::VPCEndpoint").values()
    names = sorted(str(e["Properties"]["ServiceName"]) for e in endpoints)
    assert len(names) == 4
    for service in (".s3", ".ecr.api", ".ecr.dkr", ".logs"):
        assert any(service in n for n in names), (service, names)
    kinds = sorted(e["Properties"].get("VpcEndpointType", "Gateway") for e in endpoints)
    assert kinds == ["Gateway", "Interface", "Interface", "Interface"]


def test_flow_logs_record_rejected_traffic(synthesized: Synthesized) -> None:
    [flow] = synthesized.resources("AWS::EC2::FlowLog").values()
    assert flow["Properties"]["TrafficType"] == "REJECT"


def test_task_security_group_allows_https_out_and_nothing_in(synthesized: Synthesized) -> None:
    group = synthesized.by_path("AWS::EC2::SecurityGroup", "/Network/TaskSecurityGroup/")["Properties"]
    assert "SecurityGroupIngress" not in group
    assert [(e["IpProtocol"], e["FromPort"], e["ToPort"]) for e in group["SecurityGroupEgress"]] == [("tcp", 443, 443)]


def test_existing_vpc_uses_the_given_subnets_and_creates_no_network(synthesized_variant: Synthesized) -> None:
    assert not synthesized_variant.resources("AWS::EC2::VPC")
    assert not synthesized_variant.resources("AWS::EC2::VPCEndpoint")
    [env] = synthesized_variant.resources("AWS::Batch::ComputeEnvironment").values()
    assert env["Properties"]["ComputeResources"]["Subnets"] == ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
    group = synthesized_variant.by_path("AWS::EC2::SecurityGroup", "/Network/TaskSecurityGroup/")["Properties"]
    assert group["VpcId"] == "vpc-0123456789abcdef0"
