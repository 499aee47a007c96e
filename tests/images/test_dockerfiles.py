"""Static checks of the image sources: Dockerfiles, smoke tests, start hook (no Docker)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from image_support import IMAGE_NAMES, IMAGES_DIR, hub_jupyterhub_version

from astrohub import images

BASE_REPOSITORY = "quay.io/jupyter/minimal-notebook"
# docker-stacks switched its images from Python 3.11 to 3.12 on 2024-10-23
# (jupyter/docker-stacks#2072, CHANGELOG "2024-10-23"); date tags before that are 3.11.
PYTHON_312_FROM = "2024-10-23"
CRDS_SERVERS = {"jwst": "https://jwst-crds.stsci.edu", "hst": "https://hst-crds.stsci.edu"}
HST_REFERENCE_DIRS = {
    "iref": "wfc3",
    "jref": "acs",
    "oref": "stis",
    "lref": "cos",
    "nref": "nicmos",
    "uref": "wfpc2",
}
SECRET_PATTERNS = [
    re.compile(r"AKIA[0-9A-Z]{16}"),
    re.compile(r"ASIA[0-9A-Z]{16}"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"aws_secret_access_key", re.IGNORECASE),
    re.compile(r"ghp_[A-Za-z0-9]{30,}"),
    re.compile(r"\b(?:ENV|ARG)\s+[^\n]*(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|CREDENTIAL)", re.I),
]


def instructions(name: str) -> list[tuple[str, str]]:
    return images.dockerfile_instructions(IMAGES_DIR / name / "Dockerfile")


def env_settings(name: str) -> dict[str, str]:
    """Every ENV key=value in the Dockerfile, in order (later ones win)."""
    settings: dict[str, str] = {}
    for keyword, rest in instructions(name):
        if keyword == "ENV":
            for token in shlex.split(rest):
                key, _, value = token.partition("=")
                settings[key] = value
    return settings


def run_commands(name: str) -> list[str]:
    """The shell commands of every RUN, split on &&."""
    commands: list[str] = []
    for keyword, rest in instructions(name):
        if keyword == "RUN":
            commands += [part.strip() for part in rest.split("&&") if part.strip()]
    return commands


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_base_is_a_pinned_minimal_notebook_date_tag(
    name: str, image_by_name: dict[str, images.ImageSpec]
) -> None:
    froms = [rest for keyword, rest in instructions(name) if keyword == "FROM"]
    assert len(froms) == 1, "one stage only"
    base = images.base_image(IMAGES_DIR / name / "Dockerfile")
    repository, _, tag = base.rpartition(":")
    assert repository == BASE_REPOSITORY
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", tag), f"{base}: pin a date tag, never latest"
    assert "@" not in base
    # The lock targets the image's Python; the date tag must carry that Python.
    assert image_by_name[name].lock.python_version == "3.11"
    assert tag < PYTHON_312_FROM, f"{tag} is a Python 3.12 build; the lock is for 3.11"
    labels = dict(
        token.split("=", 1)
        for keyword, rest in instructions(name)
        if keyword == "LABEL"
        for token in shlex.split(rest)
    )
    assert labels["org.opencontainers.image.base.name"] == base


def test_all_images_share_the_base_of_the_minimal_profile(
    all_images: list[images.ImageSpec],
) -> None:
    assert images.common_base_image(all_images).startswith(BASE_REPOSITORY + ":")


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_runs_as_jovyan_with_the_stacks_entrypoint(name: str) -> None:
    steps = instructions(name)
    users = [rest for keyword, rest in steps if keyword == "USER"]
    assert users[-1] == "1000", "the final USER must be 1000 (jovyan)"
    last_user = max(i for i, (keyword, _) in enumerate(steps) if keyword == "USER")
    assert not [k for k, _ in steps[last_user:] if k in {"RUN", "COPY", "ADD"}]
    cmds = [rest for keyword, rest in steps if keyword == "CMD"]
    assert cmds[-1] == '["start-notebook.py"]'
    assert not [k for k, _ in steps if k == "ENTRYPOINT"], "keep the stacks' tini entrypoint"
    # Everything installed under /opt/astrohub is made group-writable the stacks' way.
    assert any(c.startswith("fix-permissions /opt/astrohub") for c in run_commands(name))


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_os_packages_are_updated_at_build_time(name: str) -> None:
    """The base's date tag fixes its OS packages on that date; the build takes later fixes."""
    commands = run_commands(name)
    upgrade = commands.index("apt-get upgrade --yes --no-install-recommends")
    assert commands[upgrade - 1] == "apt-get update --yes"
    assert commands[upgrade + 1 : upgrade + 3] == ["apt-get clean", "rm -rf /var/lib/apt/lists/*"]


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_crds_settings(name: str) -> None:
    settings = env_settings(name)
    assert settings["CRDS_PATH"] == "${HOME}/crds_cache"
    assert settings["CRDS_SERVER_URL"] == CRDS_SERVERS[name]
    assert settings["CRDS_SERVER_URL"].startswith("https://")
    assert "CRDS_SHARED_CACHE" not in settings, "the platform sets it, only when mounted"
    path_entries = settings["PATH"].split(":")
    assert path_entries[0] == "/opt/astrohub/venv/bin"
    assert path_entries[-1] == "${PATH}"
    if name == "hst":
        for variable, directory in HST_REFERENCE_DIRS.items():
            assert settings[variable] == f"${{CRDS_PATH}}/references/hst/{directory}/"
        assert "/opt/astrohub/hstcal/bin" in path_entries


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_no_secrets_in_the_image_sources(name: str) -> None:
    for path in sorted((IMAGES_DIR / name).iterdir()) + sorted((IMAGES_DIR / "common").rglob("*")):
        if not path.is_file() or path.name == "requirements.txt":
            continue
        text = path.read_text()
        for pattern in SECRET_PATTERNS:
            assert not pattern.search(text), f"{path}: matches {pattern.pattern}"
    # Build arguments are recorded in the image history: only the two harmless ones.
    args = [rest.split("=")[0] for keyword, rest in instructions(name) if keyword == "ARG"]
    assert set(args) <= {"ASTROHUB_IMAGE_VERSION", "ASTROHUB_LOCK_HASH", "HSTCAL_VERSION"}
    assert not [rest for keyword, rest in instructions(name) if "--mount=type=secret" in rest]


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_python_packages_come_only_from_the_lock(name: str) -> None:
    commands = run_commands(name)
    installs = [c for c in commands if re.search(r"\bpip3?\b.*\binstall\b", c)]
    assert len(installs) == 1, installs
    argv = shlex.split(installs[0])
    assert argv[:4] == ["/opt/astrohub/venv/bin/python", "-m", "pip", "install"]
    options = argv[4:]
    for required in ("--require-hashes", "--no-deps", "--only-binary=:all:"):
        assert required in options
    requirement_files = [options[i + 1] for i, o in enumerate(options) if o == "-r"]
    assert requirement_files == ["/opt/astrohub/requirements.txt"]
    positional = [
        o for i, o in enumerate(options) if not o.startswith("-") and options[i - 1] != "-r"
    ]
    assert positional == [], f"packages installed outside the lock: {positional}"
    copies = [rest for keyword, rest in instructions(name) if keyword == "COPY"]
    assert any(f"{name}/requirements.txt" in c.split() for c in copies)
    # No other installer touches Python packages.
    for command in commands:
        assert not re.search(r"\buv\b|\bpipx\b|easy_install|setup\.py", command), command
        assert "apt-get install" not in command, command
    conda = [
        c for c in commands if re.search(r"\b(mamba|conda|micromamba)\b.*\b(install|create)\b", c)
    ]
    if name == "jwst":
        assert conda == []
    else:
        (create,) = conda
        words = shlex.split(create)
        assert words[:2] == ["mamba", "create"]
        assert "--override-channels" in words
        assert words[words.index("--channel") + 1] == "conda-forge"
        assert '"hstcal==${HSTCAL_VERSION}"' in create
        hstcal_args = [rest for keyword, rest in instructions(name) if keyword == "ARG"]
        assert "HSTCAL_VERSION=3.1.0" in hstcal_args


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_singleuser_major_equals_the_hub(
    name: str, image_by_name: dict[str, images.ImageSpec]
) -> None:
    hub = hub_jupyterhub_version()
    hub_major = int(hub.split(".")[0])
    assert hub_major == images.HUB_JUPYTERHUB_MAJOR
    singleuser = image_by_name[name].pins()["jupyterhub"]
    assert int(singleuser.split(".")[0]) == hub_major, (singleuser, hub)
    assert singleuser == hub, "pinned to the hub's exact version"


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_copied_sources_exist(name: str) -> None:
    for keyword, rest in instructions(name):
        if keyword != "COPY":
            continue
        words = [w for w in shlex.split(rest) if not w.startswith("--")]
        for source in words[:-1]:
            path = IMAGES_DIR / source
            exists = path.is_dir() if source.endswith("/") else path.is_file()
            assert exists, f"COPY {source}: not in the build context"


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_start_hooks_and_getting_started_notebooks_are_shipped(
    name: str, image_by_name: dict[str, images.ImageSpec]
) -> None:
    """Every start hook goes where start.sh sources it; the notebooks go where the
    environment keeps them (ensure_env's copy has the same layout) and the hook finds them."""
    copies = [
        [token for token in shlex.split(rest) if not token.startswith("--")]
        for keyword, rest in instructions(name)
        if keyword == "COPY"
    ]
    hooks = sorted((IMAGES_DIR / "common" / "start-notebook.d").glob("*.sh"))
    hook_copy = next(c for c in copies if c[-1] == "/usr/local/bin/start-notebook.d/")
    assert hook_copy[:-1] == [f"common/start-notebook.d/{hook.name}" for hook in hooks]
    shipped = env_settings(name)["ASTROHUB_GETTING_STARTED"]
    assert shipped == f"/opt/astrohub/venv/{images.GETTING_STARTED}"
    notebook_copy = next(c for c in copies if c[-1] == f"{shipped}/")
    assert notebook_copy[:-1] == ["common/getting-started/", f"{name}/getting-started/"]
    notebooks = [path.name for path in image_by_name[name].getting_started]
    assert len(notebooks) >= 3 and any(n.startswith(f"03-{name}-") for n in notebooks)


def _shellcheck() -> str:
    found = shutil.which("shellcheck")
    if not found:
        pytest.fail("shellcheck is not installed: apt-get install -y shellcheck (make setup)")
    return found


SHELL_SCRIPTS = [
    IMAGES_DIR / "jwst" / "smoke.sh",
    IMAGES_DIR / "hst" / "smoke.sh",
    IMAGES_DIR / "common" / "smoke_common.sh",
    *sorted((IMAGES_DIR / "common" / "start-notebook.d").glob("*.sh")),
]


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shell_scripts_lint(script: Path) -> None:
    syntax = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    lint = subprocess.run(
        # -x with SCRIPTDIR: the smoke tests' `source` of common/smoke_common.sh is followed.
        [
            _shellcheck(),
            "--shell=bash",
            "--severity=style",
            "-x",
            "--source-path=SCRIPTDIR",
            str(script),
        ],
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_smoke_scripts_check_what_docker_must(name: str) -> None:
    own = (IMAGES_DIR / name / "smoke.sh").read_text()
    assert "source /opt/astrohub/smoke_common.sh" in own
    assert f'smoke_common_checks "https://{name}-crds.stsci.edu"' in own
    assert "common/smoke_common.sh" in (IMAGES_DIR / name / "Dockerfile").read_text()
    text = own + (IMAGES_DIR / "common" / "smoke_common.sh").read_text()
    assert "set -euo pipefail" in own
    assert "check_env.py /opt/astrohub/requirements.in /opt/astrohub/requirements.txt" in text
    assert "python -m pip check" in text
    assert 'id -u)" == "1000"' in text
    if name == "hst":
        for executable in ("calacs.e", "calwf3.e", "cs0.e"):
            assert executable in text
        assert '"${exe}" --version' in text
        assert "HSTCAL_VERSION" in text


def test_the_base_image_takes_the_global_arg_defaults(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "# a comment\nARG BASE=quay.io/jupyter/minimal-notebook\nARG TAG=2024-10-14\n"
        "FROM ${BASE}:$TAG AS build\nRUN echo \\\n  continued\n"
    )
    assert images.base_image(dockerfile) == "quay.io/jupyter/minimal-notebook:2024-10-14"
    assert ("RUN", "echo   continued") in images.dockerfile_instructions(dockerfile)
    dockerfile.write_text("RUN true\n")
    with pytest.raises(images.ImageSpecError, match="no FROM instruction"):
        images.base_image(dockerfile)
