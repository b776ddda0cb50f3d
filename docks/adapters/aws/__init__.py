"""The AWS provider: S3, EC2, RDS and Route 53 through boto3."""

from __future__ import annotations

from .adapter import AwsAdapter
from .credentials import AwsCredentials

__all__ = ["AwsAdapter", "AwsCredentials"]
