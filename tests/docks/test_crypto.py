"""Credential encryption: round trip, tamper, wrong associated data, keyring, rotation."""

from __future__ import annotations

import base64
import os
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.models import AuditEvent
from docks.crypto import DecryptionError, Keyring, KeyringError, envelope_key_id
from docks.models import Dock
from docks.services import dock_create, dock_credentials
from stackdock.permissions import Actor

K1 = "k1:" + base64.b64encode(b"\x01" * 32).decode()
K2 = "k2:" + base64.b64encode(b"\x02" * 32).decode()
AAD = "stackdock:docks.dock:1:api_credentials"


def test_round_trip():
    ring = Keyring.from_string(K1)
    env = ring.encrypt_json({"api_token": "s3cr3t"}, AAD)
    assert env.startswith("sd1.k1.")
    assert "s3cr3t" not in env
    assert ring.decrypt_json(env, AAD) == {"api_token": "s3cr3t"}


def test_each_encryption_uses_a_fresh_nonce():
    ring = Keyring.from_string(K1)
    assert ring.encrypt(b"same", AAD) != ring.encrypt(b"same", AAD)


def test_tampered_ciphertext_fails_loudly():
    ring = Keyring.from_string(K1)
    version, kid, body = ring.encrypt(b"payload", AAD).split(".")
    raw = bytearray(base64.urlsafe_b64decode(body))
    raw[-1] ^= 0x01
    tampered = f"{version}.{kid}.{base64.urlsafe_b64encode(bytes(raw)).decode()}"
    with pytest.raises(DecryptionError, match="failed authentication"):
        ring.decrypt(tampered, AAD)


def test_ciphertext_moved_to_another_row_or_field_fails():
    ring = Keyring.from_string(K1)
    env = ring.encrypt(b"payload", AAD)
    with pytest.raises(DecryptionError):
        ring.decrypt(env, "stackdock:docks.dock:2:api_credentials")
    with pytest.raises(DecryptionError):
        ring.decrypt(env, "stackdock:docks.dock:1:provisioning_credentials")


def test_unknown_key_id_is_named():
    env = Keyring.from_string(K2).encrypt(b"x", AAD)
    with pytest.raises(DecryptionError, match="unknown encryption key id 'k2'"):
        Keyring.from_string(K1).decrypt(env, AAD)


def test_wrong_key_under_the_same_id_fails():
    env = Keyring.from_string(K1).encrypt(b"x", AAD)
    impostor = Keyring.from_string("k1:" + base64.b64encode(b"\x09" * 32).decode())
    with pytest.raises(DecryptionError):
        impostor.decrypt(env, AAD)


def test_first_key_encrypts_all_decrypt():
    old = Keyring.from_string(K1).encrypt(b"old", AAD)
    ring = Keyring.from_string(f"{K2},{K1}")
    assert ring.decrypt(old, AAD) == b"old"
    assert envelope_key_id(ring.encrypt(b"new", AAD)) == "k2"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty"),
        ("nokey", "expected id:base64key"),
        ("k1:!!!", "not valid base64"),
        ("k1:" + base64.b64encode(b"short").decode(), "must be 32 bytes"),
        (f"{K1},{K1}", "appears twice"),
    ],
)
def test_bad_keyring_is_a_clear_error(spec, message):
    with pytest.raises(KeyringError, match=message):
        Keyring.from_string(spec)


def test_keyring_repr_never_shows_key_bytes():
    ring = Keyring.from_string(K1)
    assert base64.b64encode(b"\x01" * 32).decode() not in repr(ring)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_random_input_never_decrypts_and_raises_only_the_documented_error(garbage):
    ring = Keyring.from_string(K1)
    with pytest.raises(DecryptionError):
        ring.decrypt(garbage, AAD)


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=0, max_size=120))
def test_random_bodies_in_a_valid_envelope_never_decrypt(body):
    ring = Keyring.from_string(K1)
    env = "sd1.k1." + base64.urlsafe_b64encode(body).decode()
    with pytest.raises(DecryptionError):
        ring.decrypt(env, AAD)


# --- through the models and services ----------------------------------------


@pytest.fixture
def keys(settings):
    settings.STACKDOCK_ENCRYPTION_KEYS = K1
    return settings


@pytest.mark.django_db
def test_dock_credentials_are_stored_encrypted_and_decrypt_is_audited(keys, org, owner):
    actor = Actor.for_membership(owner)
    dock = dock_create(
        actor=actor,
        org=org,
        name="aws",
        provider="aws",
        credentials={"secret_access_key": "CANARY-123"},
    )
    row = Dock.objects.values().get(pk=dock.pk)
    assert all("CANARY-123" not in str(v) for v in row.values())
    assert dock_credentials(dock=dock, actor=actor, purpose="sync") == {
        "secret_access_key": "CANARY-123"
    }
    event = AuditEvent.objects.get(operation="credential.decrypt")
    assert event.metadata == {"purpose": "sync", "field": "api_credentials"}
    assert "CANARY-123" not in str(AuditEvent.objects.values_list("metadata", flat=True))


@pytest.mark.django_db
def test_copied_ciphertext_to_another_dock_fails(keys, org, owner):
    actor = Actor.for_membership(owner)
    a = dock_create(actor=actor, org=org, name="a", provider="aws", credentials={"k": "v"})
    b = dock_create(actor=actor, org=org, name="b", provider="aws", credentials={"k": "w"})
    Dock.objects.filter(pk=b.pk).update(api_credentials=a.api_credentials)
    b.refresh_from_db()
    with pytest.raises(DecryptionError):
        dock_credentials(dock=b, actor=actor, purpose="sync")


@pytest.mark.django_db
def test_rotate_encryption_key_reencrypts_everything_and_is_rerunnable(keys, org, owner):
    actor = Actor.for_membership(owner)
    docks = [
        dock_create(
            actor=actor,
            org=org,
            name=f"d{i}",
            provider="aws",
            credentials={"secret": f"value-{i}"},
            provisioning_credentials={"p": str(i)},
        )
        for i in range(7)
    ]
    keys.STACKDOCK_ENCRYPTION_KEYS = f"{K2},{K1}"
    call_command("rotate_encryption_key", "--batch-size", "3")
    for i, dock in enumerate(docks):
        dock.refresh_from_db()
        assert envelope_key_id(dock.api_credentials) == "k2"
        assert envelope_key_id(dock.provisioning_credentials) == "k2"
        assert dock_credentials(dock=dock, actor=actor, purpose="sync", which="api") == {
            "secret": f"value-{i}"
        }
    # the old key can go now
    keys.STACKDOCK_ENCRYPTION_KEYS = K2
    assert dock_credentials(dock=docks[0], actor=actor, purpose="sync", which="api") == {
        "secret": "value-0"
    }
    call_command("rotate_encryption_key")  # nothing left: a no-op, not an error


@pytest.mark.django_db(transaction=True)
def test_app_keeps_reading_during_key_rotation(keys, org, owner):
    actor = Actor.for_membership(owner)
    docks = [
        dock_create(
            actor=actor, org=org, name=f"r{i}", provider="aws", credentials={"secret": f"v{i}"}
        )
        for i in range(20)
    ]
    keys.STACKDOCK_ENCRYPTION_KEYS = f"{K2},{K1}"
    errors: list[BaseException] = []
    done = threading.Event()

    def reader():
        from django.db import connection

        try:
            while not done.is_set():
                for i, d in enumerate(docks):
                    fresh = Dock.objects.get(pk=d.pk)
                    assert dock_credentials(dock=fresh, actor=actor, purpose="sync") == {
                        "secret": f"v{i}"
                    }
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        call_command("rotate_encryption_key", "--batch-size", "4")
    finally:
        done.set()
        thread.join(timeout=60)
    assert errors == []
    assert {envelope_key_id(d.api_credentials) for d in Dock.objects.all()} == {"k2"}


@pytest.mark.django_db
def test_rotation_with_an_unknown_old_key_stops_with_a_message(keys, org, owner):
    actor = Actor.for_membership(owner)
    dock_create(actor=actor, org=org, name="x", provider="aws", credentials={"a": "b"})
    keys.STACKDOCK_ENCRYPTION_KEYS = K2  # k1 dropped too early
    with pytest.raises(CommandError, match="unknown encryption key id 'k1'"):
        call_command("rotate_encryption_key")


def test_stolen_dump_is_useless_without_the_key():
    env = Keyring.from_string(K1).encrypt_json({"secret_access_key": "CANARY"}, AAD)
    assert b"CANARY" not in base64.urlsafe_b64decode(env.split(".")[2])
    for _ in range(5):
        guess = "k1:" + base64.b64encode(os.urandom(32)).decode()
        with pytest.raises(DecryptionError):
            Keyring.from_string(guess).decrypt(env, AAD)
