"""`make images` / `make images-push`: the exact commands, tested without Docker."""

from __future__ import annotations

import base64
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import boto3
import pytest
from image_support import IMAGES_DIR, REPO_ROOT
from moto import mock_aws

from astrohub import images

REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"


def test_build_commands_for_make_images(image_by_name: dict[str, images.ImageSpec]) -> None:
    jwst = image_by_name["jwst"]
    full = f"{REGISTRY}/astrohub/jwst:{jwst.version}-{jwst.lock_hash}"
    plain = f"{REGISTRY}/astrohub/jwst:{jwst.version}"
    assert images.build_commands(jwst, REGISTRY, push=False) == [
        [
            "docker",
            "buildx",
            "build",
            "--platform",
            "linux/amd64",
            "--file",
            str(IMAGES_DIR / "jwst" / "Dockerfile"),
            "--build-arg",
            f"ASTROHUB_IMAGE_VERSION={jwst.version}",
            "--build-arg",
            f"ASTROHUB_LOCK_HASH={jwst.lock_hash}",
            "--build-arg",
            f"SOURCE_DATE_EPOCH={jwst.lock.exclude_newer_epoch}",
            "--tag",
            full,
            "--tag",
            plain,
            "--load",
            str(IMAGES_DIR),
        ],
        [
            "docker",
            "run",
            "--rm",
            "--platform",
            "linux/amd64",
            full,
            "bash",
            "/opt/astrohub/smoke.sh",
        ],
    ]
    assert jwst.lock.exclude_newer_epoch == 1795132800  # 2026-11-20T00:00:00Z


def test_push_commands_push_the_lock_tag_after_the_smoke_test(
    image_by_name: dict[str, images.ImageSpec],
) -> None:
    hst = image_by_name["hst"]
    commands = images.build_commands(hst, REGISTRY, push=True)
    assert commands[:2] == images.build_commands(hst, REGISTRY, push=False)
    assert commands[2:] == [
        # The repositories' tags are immutable: the moving <version> tag is never pushed.
        ["docker", "push", f"{REGISTRY}/astrohub/hst:{hst.version}-{hst.lock_hash}"],
    ]
    with pytest.raises(ValueError, match="registry"):
        images.build_commands(hst, "", push=True)


def test_local_build_without_registry(image_by_name: dict[str, images.ImageSpec]) -> None:
    jwst = image_by_name["jwst"]
    build = images.build_commands(jwst)[0]
    tags = [build[i + 1] for i, word in enumerate(build) if word == "--tag"]
    assert tags == [
        f"astrohub/jwst:{jwst.version}-{jwst.lock_hash}",
        f"astrohub/jwst:{jwst.version}",
    ]


def test_base_check_command_checks_the_hub_major() -> None:
    argv = images.base_check_command("quay.io/jupyter/minimal-notebook:2024-10-14")
    assert argv[:6] == ["docker", "run", "--rm", "--platform", "linux/amd64", argv[5]]
    assert argv[5] == "quay.io/jupyter/minimal-notebook:2024-10-14"
    assert argv[6:8] == ["python", "-c"]
    assert "== '5'" in argv[8]
    compile(argv[8], "<base check>", "exec")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "astrohub.images", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
    )


def test_cli_build_dry_run_prints_every_command(all_images: list[images.ImageSpec]) -> None:
    proc = cli("build", "--dry-run", "--registry", REGISTRY)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    expected = [shlex.join(images.base_check_command(images.common_base_image(all_images)))]
    for image in all_images:
        expected += [shlex.join(argv) for argv in images.build_commands(image, REGISTRY)]
    assert lines == expected


def test_cli_push_dry_run_logs_in_without_a_shell_pipeline(
    all_images: list[images.ImageSpec],
) -> None:
    proc = cli("push", "--dry-run", "--registry", REGISTRY, "--image", "hst")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(
        f"docker login --username AWS --password-stdin https://{REGISTRY}    # password from"
    )
    hst = next(i for i in all_images if i.name == "hst")
    assert lines[2:] == [shlex.join(a) for a in images.build_commands(hst, REGISTRY, push=True)]
    assert "|" not in proc.stdout.split("#")[0]


def test_cli_push_needs_a_registry() -> None:
    proc = cli("push", "--dry-run")
    assert proc.returncode != 0
    assert "push needs --registry" in proc.stderr


def test_cli_lock_dry_run_and_unknown_image() -> None:
    proc = cli("lock", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("pip compile requirements.in") == 2
    bad = cli("lock", "--dry-run", "--image", "nope")
    assert bad.returncode != 0
    assert "unknown image(s): nope" in bad.stderr


def test_cli_profiles_and_repositories() -> None:
    proc = cli("profiles", "--registry", REGISTRY)
    assert proc.returncode == 0, proc.stderr
    assert f"image: {REGISTRY}/astrohub/jwst:" in proc.stdout
    assert "display_name: Minimal notebook" in proc.stdout
    repos = cli("repositories")
    assert repos.stdout.split() == ["astrohub/hst", "astrohub/jwst"]
    assert images.ecr_repository_names(IMAGES_DIR) == ["astrohub/hst", "astrohub/jwst"]
    assert images.ecr_repository_names(IMAGES_DIR, "science") == ["science/hst", "science/jwst"]


def test_ecr_registry_name() -> None:
    assert images.ecr_registry("123456789012", "us-east-1") == REGISTRY
    with pytest.raises(ValueError, match="not an ECR registry"):
        images.ecr_registry("1234", "us-east-1")


def test_ecr_login_passes_the_token_on_stdin(offline_aws_env: None) -> None:
    calls: list[tuple[list[str], str | None]] = []

    def runner(argv: Sequence[str], stdin: str | None) -> None:
        calls.append((list(argv), stdin))

    with mock_aws():
        client = boto3.client("ecr", region_name="us-east-1")
        token = client.get_authorization_token()["authorizationData"][0]["authorizationToken"]
        password = base64.b64decode(token).decode().partition(":")[2]
        images.ecr_login(REGISTRY, runner, ecr_client=client)
    assert calls == [
        (
            ["docker", "login", "--username", "AWS", "--password-stdin", f"https://{REGISTRY}"],
            password,
        )
    ]
    assert password and password not in " ".join(calls[0][0])


def test_ecr_login_rejects_a_non_ecr_registry() -> None:
    with pytest.raises(ValueError, match="not an ECR registry"):
        images.ecr_login("docker.io", lambda argv, stdin: None)


def test_runner_runs_without_a_shell(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    images.run_command(["tee", str(target)], "secret-on-stdin")
    assert target.read_text() == "secret-on-stdin"
    with pytest.raises(subprocess.CalledProcessError):
        images.run_command(["false"])
