"""The Terraform half of the engine benchmark: the same workloads as ``terraform_data``.

``terraform_data`` is built into Terraform 1.4+, so ``terraform init`` needs
no provider download. Latency is a ``local-exec`` provisioner running
``sleep``. Only ``terraform apply`` (and the no-op ``terraform plan``) are
timed; ``init`` is not. Terraform runs in a temporary directory with
``TF_IN_AUTOMATION=1``, an empty CLI configuration and the update checkpoint
disabled (no network).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

from .common import which

DEFAULT_PATH = "/usr/local/bin/terraform"


def find_terraform() -> str | None:
    """The terraform executable, or None when it is not installed here."""
    return which("terraform", DEFAULT_PATH)


def independent_config(n: int, *, latency_ms: int = 0) -> str:
    """``n`` unrelated ``terraform_data`` resources.

    Written with ``count``: on this machine Terraform needs about half the CPU
    time it needs for ``n`` separate blocks, so the comparison is the
    conservative one (Terraform at its fastest).
    """
    return _resource("r", '"r${count.index}"', latency_ms, count=n)


def chain_config(n: int, *, latency_ms: int) -> str:
    """``n`` resources, each taking its input from the previous one's output."""
    blocks = [_resource("c0", '"c0"', latency_ms)]
    blocks += [
        _resource(f"c{i}", f"terraform_data.c{i - 1}.output", latency_ms) for i in range(1, n)
    ]
    return "\n".join(blocks)


def _resource(name: str, input_expr: str, latency_ms: int, *, count: int | None = None) -> str:
    lines = [f'resource "terraform_data" "{name}" {{']
    if count is not None:
        lines.append(f"  count = {count}")
    lines.append(f"  input = {input_expr}")
    if latency_ms:
        seconds = latency_ms / 1000
        lines += [f'  provisioner "local-exec" {{ command = "sleep {seconds:g}" }}']
    lines.append("}")
    return "\n".join(lines) + "\n"


class TerraformError(RuntimeError):
    """terraform exited with an error (its last lines of stderr are the message)."""


class Workspace:
    """A temporary Terraform working directory holding one configuration."""

    def __init__(self, terraform: str, config: str) -> None:
        self.terraform = terraform
        self._tmp = tempfile.TemporaryDirectory(prefix="stackdock-bench-tf-")
        self.dir = Path(self._tmp.name)
        (self.dir / "main.tf").write_text(config)
        rc = self.dir / "terraformrc"
        rc.write_text("")
        self.env = {
            **os.environ,
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
            "TF_CLI_CONFIG_FILE": str(rc),
        }

    def __enter__(self) -> Workspace:
        self.run("init", "-input=false", "-no-color")
        return self

    def __exit__(self, *exc: object) -> None:
        self._tmp.cleanup()

    def run(self, *args: str, ok_codes: tuple[int, ...] = (0,)) -> float:
        """Run ``terraform <args>`` here; return the wall time in seconds."""
        started = time.perf_counter()
        proc = subprocess.run(
            [self.terraform, *args],
            cwd=self.dir,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        elapsed = time.perf_counter() - started
        if proc.returncode not in ok_codes:
            tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
            raise TerraformError(f"terraform {args[0]} exited {proc.returncode}: {tail}")
        return elapsed

    def apply(self, parallelism: int = 10) -> float:
        return self.run(
            "apply", "-auto-approve", "-input=false", "-no-color", f"-parallelism={parallelism}"
        )

    def noop_plan(self, parallelism: int = 10) -> float:
        """``terraform plan -refresh=false -detailed-exitcode``: 0 means no changes."""
        return self.run(
            "plan",
            "-refresh=false",
            "-detailed-exitcode",
            "-input=false",
            "-no-color",
            f"-parallelism={parallelism}",
        )


def measure(
    terraform: str,
    *,
    sizes: list[int],
    chain: int,
    chain_latency_ms: int,
    parallel: int,
    parallel_latency_ms: int,
    parallelism: int,
) -> dict[str, object]:
    """Every Terraform figure the engine benchmark compares with, in seconds."""
    out: dict[str, object] = {"apply": {}, "noop_plan": None}
    for n in sizes:
        with Workspace(terraform, independent_config(n)) as ws:
            out["apply"][n] = ws.apply(parallelism)  # type: ignore[index]
            if n == max(sizes):
                out["noop_plan"] = ws.noop_plan(parallelism)
    with Workspace(terraform, chain_config(chain, latency_ms=chain_latency_ms)) as ws:
        out["chain"] = ws.apply(parallelism)
    with Workspace(terraform, independent_config(parallel, latency_ms=parallel_latency_ms)) as ws:
        out["parallel"] = ws.apply(parallelism)
    return out
