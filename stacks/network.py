"""Network: where conversion tasks run. By default a new VPC with private isolated subnets only
and VPC endpoints for what the tasks reach (S3, ECR, CloudWatch Logs): no NAT, no internet.
With ``vpc_id`` + ``private_subnet_ids``, an existing VPC's subnets instead (their routing to
S3/ECR/Logs is then the owner's business)."""

from __future__ import annotations

from typing import cast

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

from stacks.config import SatrecConfig
from stacks.nag import acknowledge

INTERFACE_ENDPOINTS = {
    "EcrApi": ec2.InterfaceVpcEndpointAwsService.ECR,
    "EcrDocker": ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
    "Logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
}


class Network(Construct):
    """Exposes ``vpc``, ``subnets`` (the selection tasks use) and ``task_security_group``."""

    def __init__(self, scope: Construct, id_: str, *, config: SatrecConfig, log_retention: logs.RetentionDays) -> None:
        super().__init__(scope, id_)
        if config.vpc_id:
            self.vpc: ec2.IVpc = ec2.Vpc.from_vpc_attributes(
                self, "Vpc", vpc_id=config.vpc_id,
                availability_zones=[f"az-of-{s}" for s in config.private_subnet_ids],  # not used: subnets are explicit
                isolated_subnet_ids=list(config.private_subnet_ids))
            self.subnets = ec2.SubnetSelection(subnets=[
                ec2.Subnet.from_subnet_id(self, f"Subnet{i}", s) for i, s in enumerate(config.private_subnet_ids)])
        else:
            flow_logs = logs.LogGroup(self, "FlowLogs", retention=log_retention,
                                      removal_policy=cdk.RemovalPolicy.DESTROY)
            self.vpc = ec2.Vpc(
                self, "Vpc", max_azs=config.vpc_max_azs, nat_gateways=0,
                subnet_configuration=[ec2.SubnetConfiguration(name="tasks", cidr_mask=20,
                                                              subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
                flow_logs={"all": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
                    traffic_type=ec2.FlowLogTrafficType.REJECT)},
                restrict_default_security_group=False)
            self.subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
            self.vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[self.subnets])
            for name, service in INTERFACE_ENDPOINTS.items():
                endpoint = self.vpc.add_interface_endpoint(name, service=service, subnets=self.subnets,
                                                           private_dns_enabled=True)
                # cdk-nag cannot evaluate the VPC CIDR token and reports an error instead of a result.
                group = cast(IConstruct, endpoint.node.find_child("SecurityGroup").node.default_child)
                acknowledge(group, "AwsSolutions-EC23",
                            "Ingress is HTTPS from this VPC's own CIDR only (CDK's endpoint default), not 0.0.0.0/0.")

        self.task_security_group = ec2.SecurityGroup(
            self, "TaskSecurityGroup", vpc=self.vpc, allow_all_outbound=False,
            description="satrec conversion tasks: HTTPS out to AWS endpoints, nothing in")
        self.task_security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443),
            "HTTPS to S3, ECR and Logs endpoints (the isolated subnets have no route to the internet)")
