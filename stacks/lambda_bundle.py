"""Lambda code assets built by copying files, so synth needs no Docker.

The bundle is the handler's folder, the ``satrec`` package (pure Python; its heavy imports are
lazy, so Pillow is not needed) and the pure-Python packages the handler imports, copied from
the environment that runs synth (pinned in constraints.txt). See docs/decisions/0041.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Sequence
from pathlib import Path

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

REPO_ROOT = Path(__file__).resolve().parent.parent
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyi", "py.typed")


def _package_path(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"{name} is not installed in the environment running synth: pip install -e '.[lambda]'")
    origin = Path(spec.origin)
    return origin.parent if origin.name == "__init__.py" else origin


@jsii.implements(cdk.ILocalBundling)
class _CopyBundler:
    def __init__(self, handler_dir: Path, packages: Sequence[str]) -> None:
        self._handler_dir = handler_dir
        self._packages = tuple(packages)

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_options: object) -> bool:
        out = Path(output_dir)
        shutil.copytree(self._handler_dir, out, dirs_exist_ok=True, ignore=_IGNORE)
        shutil.copytree(REPO_ROOT / "satrec", out / "satrec", dirs_exist_ok=True, ignore=_IGNORE)
        for name in self._packages:
            source = _package_path(name)
            if source.is_dir():
                shutil.copytree(source, out / source.name, dirs_exist_ok=True, ignore=_IGNORE)
            else:
                shutil.copy2(source, out / source.name)
        return True


def copied_code(handler_dir: Path, *, packages: Sequence[str] = ()) -> lambda_.Code:
    """Code for a handler folder plus satrec plus ``packages`` (import names), without Docker."""
    return lambda_.Code.from_asset(
        str(handler_dir),
        bundling=cdk.BundlingOptions(
            # Never pulled: local bundling always succeeds. An image is a required argument.
            image=cdk.DockerImage.from_registry("public.ecr.aws/sam/build-python3.12"),
            local=_CopyBundler(handler_dir, packages)))
