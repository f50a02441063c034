"""Where the built-in SageMaker Image Classification (MXNet) image lives, per region.

The table is vendored from the SageMaker Python SDK's ``image-classification.json`` (version
"1"), so the CDK app needs no SDK at synth time; tests/unit/pipeline compares it with the copy
``sagemaker-core`` ships, so an SDK update that adds or moves a region fails a test here.
"""

from __future__ import annotations

from satrec.errors import ConfigError

REPOSITORY = "image-classification"
TAG = "1"

REGISTRY_ACCOUNTS: dict[str, str] = {
    "af-south-1": "455444449433",
    "ap-east-1": "286214385809",
    "ap-northeast-1": "501404015308",
    "ap-northeast-2": "306986355934",
    "ap-northeast-3": "867004704886",
    "ap-south-1": "991648021394",
    "ap-south-2": "628508329040",
    "ap-southeast-1": "475088953585",
    "ap-southeast-2": "544295431143",
    "ap-southeast-3": "951798379941",
    "ap-southeast-4": "106583098589",
    "ca-central-1": "469771592824",
    "ca-west-1": "190319476487",
    "cn-north-1": "390948362332",
    "cn-northwest-1": "387376663083",
    "eu-central-1": "813361260812",
    "eu-central-2": "680994064768",
    "eu-north-1": "669576153137",
    "eu-south-1": "257386234256",
    "eu-south-2": "104374241257",
    "eu-west-1": "685385470294",
    "eu-west-2": "644912444149",
    "eu-west-3": "749696950732",
    "il-central-1": "898809789911",
    "me-central-1": "272398656194",
    "me-south-1": "249704162688",
    "sa-east-1": "855470959533",
    "us-east-1": "811284229777",
    "us-east-2": "825641698319",
    "us-gov-east-1": "237065988967",
    "us-gov-west-1": "226302683700",
    "us-iso-east-1": "490574956308",
    "us-isob-east-1": "765400339828",
    "us-isof-east-1": "108575199400",
    "us-isof-south-1": "124985052026",
    "us-west-1": "632365934929",
    "us-west-2": "433757028032",
}

# ECR's DNS suffix by partition; everything else is in the aws partition.
_DOMAINS = (
    ("cn-", "amazonaws.com.cn"),
    ("us-isob-", "sc2s.sgov.gov"),
    ("us-isof-", "csp.hci.ic.gov"),
    ("us-iso-", "c2s.ic.gov"),
)


def ecr_domain(region: str) -> str:
    for prefix, domain in _DOMAINS:
        if region.startswith(prefix):
            return domain
    return "amazonaws.com"


def image_uri(region: str) -> str:
    """``<account>.dkr.ecr.<region>.<domain>/image-classification:1`` for a concrete region."""
    account = REGISTRY_ACCOUNTS.get(region)
    if account is None:
        raise ConfigError(f"the built-in image-classification algorithm is not published in region {region!r}; "
                          f"deploy to one of: {', '.join(sorted(REGISTRY_ACCOUNTS))}")
    return f"{account}.dkr.ecr.{region}.{ecr_domain(region)}/{REPOSITORY}:{TAG}"
