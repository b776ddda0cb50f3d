"""``worker``: a Workers script on workers.dev (fills the ``web-services`` table)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import cloudflare

from docks.adapters.base import AlreadyExists, NotImportable, ReadBack, ResourceResult, SpecModel

from .context import Handler, api_dict
from .specs import DEFAULT_COMPATIBILITY_DATE, WorkerSpec

MAIN_MODULE = "worker.mjs"
MODULE_CONTENT_TYPE = "application/javascript+module"
#: what full_api_data keeps of a script's metadata (never the source itself)
_KEPT = (
    "id",
    "tag",
    "etag",
    "handlers",
    "compatibility_date",
    "compatibility_flags",
    "created_on",
    "modified_on",
    "has_modules",
    "usage_model",
    "entry_point",
)


def worker_url(name: str, subdomain: str | None) -> str | None:
    return f"https://{name}.{subdomain}.workers.dev" if subdomain else None


def worker_result(
    name: str, script: Any, url: str | None, *, size: int | None = None
) -> ResourceResult:
    data = {k: v for k, v in api_dict(script).items() if k in _KEPT}
    if size is not None:
        data["script_size"] = size
    return ResourceResult(
        provider_resource_id=name,
        outputs={"id": name, "name": name, "url": url},
        universal={
            "name": name,
            "status": "deployed",
            "region": None,
            "production_url": url,
            "environment": "production",
        },
        full_api_data=data,
    )


class WorkerHandler(Handler):
    def _upload(self, spec: WorkerSpec) -> ResourceResult:
        """PUT the module: creates the script, or replaces the one of that name."""
        source = spec.script.encode("utf-8")
        script = self.client.workers.scripts.update(
            spec.name,
            account_id=self.account_id,
            metadata={"main_module": MAIN_MODULE, "compatibility_date": spec.compatibility_date},
            files=[(MAIN_MODULE, source, MODULE_CONTENT_TYPE)],
        )
        subdomain = self.ctx.workers_subdomain()
        if subdomain:
            self.client.workers.scripts.subdomain.create(
                spec.name, account_id=self.account_id, enabled=True
            )
        return worker_result(spec.name, script, worker_url(spec.name, subdomain), size=len(source))

    def _script(self, name: str) -> Any | None:
        for script in self.client.workers.scripts.list(account_id=self.account_id):
            if script.id == name:
                return script
        return None

    def _result(self, name: str, script: Any) -> ResourceResult:
        return worker_result(name, script, worker_url(name, self.ctx.workers_subdomain()))

    def create(self, spec: WorkerSpec) -> ResourceResult:
        # Scripts have no client token and the upload is a PUT by name, which would
        # overwrite someone else's script: look first.
        if self._script(spec.name) is not None:
            raise AlreadyExists(f"Worker script {spec.name!r}")
        return self._upload(spec)

    def find(self, spec: WorkerSpec) -> ResourceResult | None:
        script = self._script(spec.name)
        return self._result(spec.name, script) if script is not None else None

    def read(self, provider_resource_id: str, spec: SpecModel | None) -> ResourceResult | None:
        script = self._script(provider_resource_id)
        return self._result(provider_resource_id, script) if script is not None else None

    def update(self, provider_resource_id: str, old: WorkerSpec, new: WorkerSpec) -> ResourceResult:
        return self._upload(new)

    def delete(self, provider_resource_id: str, spec: SpecModel | None) -> None:
        try:
            self.client.workers.scripts.delete(provider_resource_id, account_id=self.account_id)
        except cloudflare.NotFoundError:
            return

    def read_back(self, provider_resource_id: str) -> ReadBack | None:
        """The script's metadata and its main module's source (``content/v2``): a
        WorkerSpec is one ES module and a compatibility date, nothing more."""
        script = self._script(provider_resource_id)
        if script is None:
            return None
        what = f"Worker {provider_resource_id!r}"
        if script.has_modules is False:
            raise NotImportable(
                f"{what} is written in the service-worker format; StackDock manages "
                "ES module Workers only"
            )
        if script.compatibility_flags:
            raise NotImportable(
                f"{what} sets compatibility flags ({', '.join(script.compatibility_flags)}), "
                "which StackDock's Worker spec cannot hold: an update would drop them"
            )
        content = self.client.workers.scripts.content.get(
            provider_resource_id, account_id=self.account_id
        )
        kind = content.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind.startswith("multipart/"):
            raise NotImportable(
                f"{what} is made of several modules; StackDock manages one-module Workers only"
            )
        try:
            source = content.read().decode("utf-8")
        except UnicodeDecodeError:
            raise NotImportable(f"{what}'s main module is not UTF-8 text") from None
        notes = [
            "StackDock's Worker spec holds the script and its compatibility date only: "
            "an update uploads the script without bindings (variables, secrets, KV...)"
        ]
        date = script.compatibility_date
        if not date:
            date = DEFAULT_COMPATIBILITY_DATE
            notes.append(f"it reports no compatibility date: {date} assumed")
        return ReadBack(
            result=self._result(provider_resource_id, script),
            properties={"name": provider_resource_id, "script": source, "compatibility_date": date},
            notes=notes,
        )

    def sync(self) -> Iterator[ResourceResult]:
        subdomain = self.ctx.workers_subdomain()
        for script in self.client.workers.scripts.list(account_id=self.account_id):
            if script.id:
                yield worker_result(script.id, script, worker_url(script.id, subdomain))
