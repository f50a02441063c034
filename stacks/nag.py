"""cdk-nag acknowledgements, each on one construct with its reason (cdk-nag 3: ``Validations``).

cdk-nag names wildcard findings by the resource text, which holds CloudFormation logical ids
(``Resource::<StorageData6BB23F4E.Arn>/ledger/*``): ``object_arn_finding`` builds that text from
the bucket itself so that the acknowledgement follows renames.
"""

from __future__ import annotations

from typing import cast

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))


def object_arn_finding(bucket: s3.IBucket, prefix: str) -> str:
    """``AwsSolutions-IAM5[Resource::<Logical.Arn>/prefix*]`` for ``bucket.arn_for_objects(prefix + "*")``."""
    stack = cdk.Stack.of(bucket)
    resource = bucket.node.default_child
    if resource is None:   # an imported bucket: cdk-nag shows the ARN with the partition as a token
        return f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{bucket.bucket_name}/{prefix}*]"
    logical_id = stack.resolve(stack.get_logical_id(cast(cdk.CfnElement, resource)))
    return f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/{prefix}*]"
