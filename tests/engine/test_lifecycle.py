from __future__ import annotations

import random

import pytest

from docks.adapters.base import AlreadyExists, ProviderError
from docks.adapters.sandbox import InMemorySandboxBackend, SandboxAdapter, SandboxRecord
from provisioning.engine import ResourceManager, RetryPolicy, StepError, diff
from provisioning.engine.lifecycle import classify


class Flaky(SandboxAdapter):
    """Raises the queued exceptions from create, then behaves."""

    def __init__(self, errors: list[Exception], **kw) -> None:
        super().__init__(backend=InMemorySandboxBackend(), **kw)
        self.errors = errors
        self.calls = 0

    def create(self, resource_type, spec, *, token):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return super().create(resource_type, spec, token=token)


def manager(adapter, sleeps: list[float] | None = None, notices=None, attempts: int = 5):
    policy = RetryPolicy(
        max_attempts=attempts,
        backoff_base=0.5,
        sleep=(sleeps.append if sleeps is not None else lambda s: None),
        rng=random.Random(1),
    )
    on_retry = (lambda *args: notices.append(args)) if notices is not None else None
    return ResourceManager(
        adapter, adapter.resource_types["bucket"], retry=policy, on_retry=on_retry
    )


def spec(name: str = "b"):
    return SandboxAdapter.resource_types["bucket"].spec_model(name=name)


def test_diff_create_update_replace_and_no_op() -> None:
    assert diff(None, {"name": "a", "size": None}, {"name"}).action == "create"
    assert diff({"name": "a"}, {"name": "a"}, {"name"}).action == "no-op"
    update = diff({"name": "a", "size": "s"}, {"name": "a", "size": "m"}, {"name"})
    assert (update.action, update.changes) == ("update", {"size": ("s", "m")})
    replace = diff({"name": "a", "size": "s"}, {"name": "b", "size": "m"}, {"name"})
    assert replace.action == "replace"
    assert replace.changes == {"name": ("a", "b"), "size": ("s", "m")}


def test_diff_treats_a_missing_field_like_none() -> None:
    assert diff({"name": "a"}, {"name": "a", "size": None}, set()).action == "no-op"
    assert diff({"name": "a", "size": None}, {"name": "a"}, set()).action == "no-op"
    assert diff({"name": "a", "size": "s"}, {"name": "a"}, set()).changes == {"size": ("s", None)}


def test_transient_error_is_retried_with_backoff_then_succeeds() -> None:
    adapter = Flaky([ProviderError("throttled", permanent=False)] * 2)
    sleeps: list[float] = []
    notices: list[tuple] = []
    result = manager(adapter, sleeps, notices).create(spec(), token="t1")
    assert result.outputs["name"] == "b"
    assert adapter.calls == 3
    assert len(sleeps) == 2
    assert 0.25 <= sleeps[0] <= 0.5 and 0.5 <= sleeps[1] <= 1.0  # exponential, jittered
    assert [(n[0], n[1], n[2]) for n in notices] == [(1, 5, "throttled"), (2, 5, "throttled")]


def test_retry_after_from_the_provider_is_honoured() -> None:
    adapter = Flaky([ProviderError("slow down", permanent=False, retry_after=7)])
    sleeps: list[float] = []
    manager(adapter, sleeps).create(spec(), token="t1")
    assert sleeps == [7.0]


def test_permanent_error_fails_at_once_without_retry() -> None:
    adapter = Flaky([ProviderError("bad name", permanent=True)])
    sleeps: list[float] = []
    with pytest.raises(StepError) as info:
        manager(adapter, sleeps).create(spec(), token="t1")
    assert info.value.permanent and info.value.message == "bad name"
    assert adapter.calls == 1 and sleeps == []


def test_exhausted_transient_create_that_did_not_happen_is_a_certain_failure() -> None:
    adapter = Flaky([ConnectionError("reset")] * 3)
    with pytest.raises(StepError) as info:
        manager(adapter, attempts=3).create(spec(), token="t1")
    assert not info.value.permanent and not info.value.uncertain
    assert "gave up after 3 attempts" in info.value.message
    assert adapter.calls == 3


def test_exhausted_transient_create_that_did_happen_is_adopted_through_find() -> None:
    adapter = Flaky([])
    # the provider made it, but every answer got lost
    adapter.backend.insert(SandboxRecord(id="bkt-1", token="t1", resource_type="bucket", name="b"))
    adapter.errors = [TimeoutError()] * 2
    result = manager(adapter, attempts=2).create(spec(), token="t1")
    assert result.provider_resource_id == "bkt-1"


def test_programming_errors_are_permanent_and_hide_their_text() -> None:
    permanent, message = classify(KeyError("secret-token-abc"), provider="sandbox")
    assert permanent and "secret-token-abc" not in message and "KeyError" in message
    permanent, message = classify(OSError("network down"), provider="sandbox")
    assert not permanent and "network down" not in message


def test_process_death_is_not_caught() -> None:
    class Dying(SandboxAdapter):
        def create(self, resource_type, spec, *, token):
            raise KeyboardInterrupt

    adapter = Dying(backend=InMemorySandboxBackend())
    with pytest.raises(KeyboardInterrupt):
        manager(adapter).create(spec(), token="t")


# --- no silent adoption: only a create's own earlier attempt is taken over -------------


class NameKeyed(SandboxAdapter):
    """Like S3 or Cloudflare: no client token, a second create of a name says it exists.
    ``lose_answers`` first creates reach the provider but their answer is lost."""

    def __init__(self, lose_answers: int = 0, before_retry=None) -> None:
        super().__init__(backend=InMemorySandboxBackend())
        self.lose_answers = lose_answers
        self.before_retry = before_retry
        self.calls = 0
        self.finds = 0

    def create(self, resource_type, spec, *, token):
        self.calls += 1
        if self.calls > 1 and self.before_retry is not None:
            self.before_retry(self)
        if any(r.name == spec.name for r in self._records()):
            raise AlreadyExists(f"bucket {spec.name!r}")
        result = super().create(resource_type, spec, token=token)
        if self.lose_answers:
            self.lose_answers -= 1
            raise ConnectionError("reset after the request was sent")
        return result

    def find(self, resource_type, spec, *, token):
        self.finds += 1
        return super().find(resource_type, spec, token=token)

    def _records(self):
        return list(self.backend._by_id.values())  # noqa: SLF001 - test double


def _someone_else_makes(name: str):
    def make(adapter: NameKeyed) -> None:
        adapter.backend.insert(
            SandboxRecord(id="bkt-theirs", token="not-ours", resource_type="bucket", name=name)
        )

    return make


def test_a_create_that_finds_the_name_taken_fails_permanently_without_adopting() -> None:
    adapter = NameKeyed()
    _someone_else_makes("b")(adapter)
    with pytest.raises(StepError) as info:
        manager(adapter).create(spec("b"), token="t1")
    assert info.value.permanent
    assert "already exists" in info.value.message and "import" in info.value.message
    assert (adapter.calls, adapter.finds) == (1, 0)


def test_a_retry_that_meets_its_own_earlier_attempt_takes_it_over() -> None:
    adapter = NameKeyed(lose_answers=1)
    result = manager(adapter).create(spec("b"), token="t1")
    assert adapter.backend.get_by_token("t1").id == result.provider_resource_id
    assert adapter.calls == 2


def test_a_retry_that_meets_someone_elses_resource_does_not_take_it_over() -> None:
    adapter = NameKeyed(before_retry=_someone_else_makes("b"))
    adapter.lose_answers = 0

    def first_attempt_fails(resource_type, spec, *, token, _create=adapter.create):
        if adapter.calls == 0:
            adapter.calls += 1
            raise ConnectionError("reset before the request was sent")
        return _create(resource_type, spec, token=token)

    adapter.create = first_attempt_fails  # type: ignore[method-assign]
    with pytest.raises(StepError) as info:
        manager(adapter).create(spec("b"), token="t1")
    assert info.value.permanent and "already exists" in info.value.message
    assert adapter.backend.get_by_token("t1") is None
