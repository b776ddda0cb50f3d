"""The credentials a dock stores for an AWS account."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, SecretStr, field_validator, model_validator

from docks.adapters.base import CredentialsModel

from .regions import check_region

Region = Annotated[str, AfterValidator(check_region)]


class AwsCredentials(CredentialsModel):
    """An access key pair (long-lived ``AKIA...`` or temporary ``ASIA...``) and a region.

    ``region`` is the dock's default region: resources whose spec names no
    region go there. Sync scans every region enabled in the account, unless
    ``sync_regions`` limits it (to those plus the default region); a limited
    dock then refuses to create regional resources elsewhere, since sync
    would not see them.
    """

    access_key_id: str = Field(
        min_length=16,
        max_length=128,
        pattern=r"^A[KS]IA[A-Z0-9]{12,124}$",
        description="Access key id: AKIA... (IAM user) or ASIA... (temporary).",
    )
    secret_access_key: SecretStr = Field(
        min_length=1,  # real keys are 40 characters; emulators accept anything
        max_length=128,
        description="Secret access key.",
        json_schema_extra={"secret": True},
    )
    session_token: SecretStr | None = Field(
        default=None,
        max_length=4096,
        description="Session token; required with temporary (ASIA...) keys.",
        json_schema_extra={"secret": True},
    )
    region: Region = Field(default="us-east-1", description="Default region, e.g. us-east-1.")
    sync_regions: list[Region] = Field(
        default_factory=list,
        max_length=40,
        description=(
            "Limit sync (and regional creates) to these regions plus the default one; "
            "empty: every region enabled in the account."
        ),
    )

    @field_validator("session_token", mode="before")
    @classmethod
    def _blank_token_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _temporary_keys_need_a_token(self) -> AwsCredentials:
        if self.access_key_id.startswith("ASIA") and not self.session_token:
            raise ValueError("temporary (ASIA...) access keys need a session_token")
        return self

    def limited_regions(self) -> list[str] | None:
        """The regions sync is limited to (default region first), or None for all."""
        if not self.sync_regions:
            return None
        return list(dict.fromkeys([self.region, *self.sync_regions]))
