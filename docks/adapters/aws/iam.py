"""The least-privilege IAM policy for a dock: exactly the actions the adapter calls.

``docs/PROVIDERS.md`` shows ``policy()``; a test runs the whole adapter
against moto as an IAM user holding only these actions.
"""

from __future__ import annotations

from typing import Any

from .resources.base import TOKEN_TAG

#: Read-only calls: credential check needs none (sts:GetCallerIdentity is always allowed).
READ = (
    "ec2:DescribeRegions",
    "ec2:DescribeInstances",
    "rds:DescribeDBInstances",
    "route53:GetChange",
    "route53:GetHostedZone",
    "route53:ListHostedZones",
    "route53:ListHostedZonesByName",
    "route53:ListResourceRecordSets",
    "s3:GetBucketLocation",
    "s3:GetBucketTagging",
    "s3:GetBucketVersioning",
    "s3:ListAllMyBuckets",
)
#: S3 writes (DeleteBucketTagging is authorized as s3:PutBucketTagging).
S3_WRITE = ("s3:CreateBucket", "s3:DeleteBucket", "s3:PutBucketTagging", "s3:PutBucketVersioning")
#: Launching instances (tags are applied at launch).
EC2_LAUNCH = ("ec2:RunInstances",)
#: Changing instances StackDock launched (they carry the stackdock:token tag).
EC2_MANAGE = (
    "ec2:CreateTags",
    "ec2:DeleteTags",
    "ec2:ModifyInstanceAttribute",
    "ec2:StartInstances",
    "ec2:StopInstances",
    "ec2:TerminateInstances",
)
RDS_WRITE = (
    "rds:AddTagsToResource",
    "rds:CreateDBInstance",
    "rds:DeleteDBInstance",
    "rds:ModifyDBInstance",
)
#: ManageMasterUserPassword: RDS creates the master password secret as the caller.
RDS_SECRET = ("secretsmanager:CreateSecret", "secretsmanager:TagResource")
ROUTE53_CREATE = ("route53:CreateHostedZone",)
ROUTE53_WRITE = ("route53:ChangeResourceRecordSets", "route53:DeleteHostedZone")


def all_actions() -> list[str]:
    """Every action the adapter may call, sorted."""
    groups = (READ, S3_WRITE, EC2_LAUNCH, EC2_MANAGE, RDS_WRITE, RDS_SECRET)
    return sorted({a for g in (*groups, ROUTE53_CREATE, ROUTE53_WRITE) for a in g})


def _statement(sid: str, actions: tuple[str, ...], resource: str, **extra: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resource, **extra}


def policy(partition: str = "aws") -> dict[str, Any]:
    """The least-privilege policy document, with resource scopes and tag conditions."""
    arn = f"arn:{partition}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            _statement("Read", READ, "*"),
            _statement("S3Buckets", S3_WRITE, f"{arn}:s3:::*"),
            _statement("Ec2Launch", EC2_LAUNCH, "*"),
            _statement(
                "Ec2TagAtLaunch",
                ("ec2:CreateTags",),
                f"{arn}:ec2:*:*:instance/*",
                Condition={"StringEquals": {"ec2:CreateAction": "RunInstances"}},
            ),
            _statement(
                "Ec2ManageOwnInstances",
                EC2_MANAGE,
                f"{arn}:ec2:*:*:instance/*",
                Condition={"Null": {f"aws:ResourceTag/{TOKEN_TAG}": "false"}},
            ),
            _statement("Rds", RDS_WRITE, "*"),
            _statement("RdsManagedPassword", RDS_SECRET, f"{arn}:secretsmanager:*:*:secret:rds!*"),
            _statement("Route53CreateZone", ROUTE53_CREATE, "*"),
            _statement("Route53Write", ROUTE53_WRITE, f"{arn}:route53:::hostedzone/*"),
        ],
    }
