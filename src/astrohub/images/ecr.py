"""The images' ECR registry and repositories, and docker login to it."""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from astrohub.images.spec import _ECR_REGISTRY, DEFAULT_NAMESPACE, IMAGES_DIR, load_images


def ecr_registry(account_id: str, region: str) -> str:
    """``<account>.dkr.ecr.<region>.amazonaws.com``."""
    registry = f"{account_id}.dkr.ecr.{region}.amazonaws.com"
    if not _ECR_REGISTRY.match(registry):
        raise ValueError(f"not an ECR registry: {registry!r}")
    return registry


def ecr_repository_names(
    images_dir: Path = IMAGES_DIR, namespace: str = DEFAULT_NAMESPACE
) -> list[str]:
    """The ECR repositories the AWS foundation creates: ``<namespace>/<repository>``."""
    return sorted(f"{namespace}/{image.repository}" for image in load_images(images_dir))


Runner = Callable[[Sequence[str], str | None], None]


def run_command(argv: Sequence[str], stdin: str | None = None) -> None:
    """Run one command (no shell), failing loudly; ``stdin`` is passed on standard input."""
    subprocess.run(list(argv), input=stdin, text=True, check=True)


def ecr_login_command(registry: str) -> list[str]:
    return ["docker", "login", "--username", "AWS", "--password-stdin", f"https://{registry}"]


class EcrClient(Protocol):
    """The one ECR call :func:`ecr_login` makes (a boto3 ``ecr`` client has it)."""

    def get_authorization_token(self, *, registryIds: list[str]) -> Mapping[str, Any]: ...


def ecr_login(
    registry: str, runner: Runner = run_command, ecr_client: EcrClient | None = None
) -> None:
    """``docker login`` to ECR with a token from ``ecr:GetAuthorizationToken``.

    The same as ``aws ecr get-login-password | docker login --password-stdin``, without
    a shell: boto3 fetches the token and the password goes to docker on standard input,
    never on a command line or to disk (beyond docker's own credential store).
    """
    match = _ECR_REGISTRY.match(registry)
    if not match:
        raise ValueError(f"not an ECR registry: {registry!r}")
    account_id, region = match.groups()
    if ecr_client is None:
        import boto3

        ecr_client = boto3.client("ecr", region_name=region)
    response = ecr_client.get_authorization_token(registryIds=[account_id])
    token = response["authorizationData"][0]["authorizationToken"]
    user, _, password = base64.b64decode(token).decode("utf-8").partition(":")
    if user != "AWS" or not password:
        raise RuntimeError("unexpected ECR authorization token format")
    runner(ecr_login_command(registry), password)
