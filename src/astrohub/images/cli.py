"""python -m astrohub.images {lock,env,build,push,profiles,repositories}."""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import yaml

from astrohub.images.build import base_check_command, build_commands
from astrohub.images.dockerfile import common_base_image
from astrohub.images.ecr import (
    Runner,
    ecr_login,
    ecr_login_command,
    ecr_repository_names,
    run_command,
)
from astrohub.images.envs import ensure_env
from astrohub.images.lock import check_lock, compile_command, write_lock
from astrohub.images.spec import (
    DEFAULT_NAMESPACE,
    IMAGES_DIR,
    ImageEnvError,
    ImageSpec,
    ImageSpecError,
    env_root_dir,
    load_images,
)
from astrohub.images.values import singleuser_values


def _select(images: list[ImageSpec], names: Sequence[str] | None) -> list[ImageSpec]:
    if not names:
        return images
    by_name = {i.name: i for i in images}
    unknown = sorted(set(names) - set(by_name))
    if unknown:
        raise SystemExit(f"unknown image(s): {', '.join(unknown)}; known: {', '.join(by_name)}")
    return [by_name[n] for n in names]


def _show(argv: Sequence[str], note: str = "") -> None:
    print(shlex.join(argv) + (f"    # {note}" if note else ""), flush=True)


def _build_or_push(args: argparse.Namespace, images: list[ImageSpec], push: bool) -> int:
    registry: str = args.registry or ""
    if push and not registry:
        raise SystemExit("push needs --registry <account>.dkr.ecr.<region>.amazonaws.com")
    run: Runner = run_command
    if args.dry_run:

        def run(argv: Sequence[str], stdin: str | None = None) -> None:
            _show(argv, "password from ecr:GetAuthorizationToken on stdin" if stdin else "")

    if push:
        if args.dry_run:
            _show(ecr_login_command(registry), "password from ecr:GetAuthorizationToken on stdin")
        else:
            ecr_login(registry, run)
    run(base_check_command(common_base_image(load_images(args.images_dir))), None)
    for image in images:
        for argv in build_commands(image, registry, push=push, namespace=args.namespace):
            run(argv, None)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m astrohub.images", description=__doc__)
    parser.add_argument("--images-dir", type=Path, default=IMAGES_DIR)
    sub = parser.add_subparsers(dest="action", required=True)

    p_lock = sub.add_parser("lock", help="re-lock requirements.in into requirements.txt")
    p_lock.add_argument(
        "--check", action="store_true", help="only report whether locks are current"
    )
    p_env = sub.add_parser(
        "env", help="install each lock into $ASTROHUB_RUNTIME_DIR/image-envs (as the tests do)"
    )
    p_build = sub.add_parser("build", help="docker buildx build + smoke test (make images)")
    p_push = sub.add_parser("push", help="ECR login, build, smoke test, push (make images-push)")
    p_prof = sub.add_parser("profiles", help="print the helm values fragment (profileList)")
    p_repo = sub.add_parser("repositories", help="print the ECR repository names")
    for p in (p_lock, p_env, p_build, p_push):
        p.add_argument("--image", action="append", dest="names", metavar="NAME")
        p.add_argument("--dry-run", action="store_true", help="print the commands only")
    for p in (p_build, p_push, p_prof):
        p.add_argument("--registry", default=os.environ.get("ASTROHUB_ECR_REGISTRY", ""))
    for p in (p_build, p_push, p_prof, p_repo):
        p.add_argument("--namespace", default=DEFAULT_NAMESPACE)
    p_prof.add_argument("--crds-shared-cache", action="store_true")
    args = parser.parse_args(argv)

    try:
        if args.action == "repositories":
            print("\n".join(ecr_repository_names(args.images_dir, args.namespace)))
            return 0
        if args.action == "profiles":
            values = singleuser_values(
                args.images_dir,
                args.registry,
                args.namespace,
                crds_shared_cache=args.crds_shared_cache,
            )
            print(yaml.safe_dump(values, sort_keys=False), end="")
            return 0
        images = _select(
            load_images(args.images_dir, require_lock=args.action != "lock"), args.names
        )
        if args.action == "lock":
            status = 0
            for image in images:
                if args.dry_run:
                    _show(compile_command(image, image.requirements_txt), f"in {image.directory}")
                    continue
                started = time.monotonic()
                if args.check:
                    diff = check_lock(image)
                    diff += "\n" if diff else ""
                    state = "current" if not diff else "STALE: run `make images-lock`"
                    status |= 1 if diff else 0
                    sys.stdout.write(diff)
                else:
                    state = "re-locked" if write_lock(image) else "unchanged"
                print(f"{image.name}: {state} ({time.monotonic() - started:.1f} s)")
            return status
        if args.action == "env":
            for image in images:
                if args.dry_run:
                    print(f"{image.name}: {env_root_dir() / (image.name + '-' + image.lock_hash)}")
                    continue
                built = ensure_env(image)
                state = "installed" if built.created else "reused"
                print(f"{image.name}: {state} {built.path} ({built.seconds:.1f} s)")
            return 0
        return _build_or_push(args, images, push=args.action == "push")
    except (ImageSpecError, ImageEnvError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(f"error: {shlex.join(exc.cmd)} exited {exc.returncode}", file=sys.stderr)
        return exc.returncode or 1
