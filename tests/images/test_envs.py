"""Each image's environment, installed from its lock into a cached virtualenv, works:
pip check is clean, every requested package imports at its pinned version, the JWST
pipeline fits a synthetic ramp offline, and the HST packages import and find hstcal."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from image_support import HERE, IMAGE_NAMES, IMAGES_DIR, offline_env, run_result

from astrohub import images
from astrohub_local.runner import index_env

CHECK_ENV = IMAGES_DIR / "common" / "check_env.py"


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_env_is_installed_from_the_lock_under_build(
    name: str, image_env: Callable[[str], images.ImageEnv]
) -> None:
    env = image_env(name)
    assert env.path.parent == images.env_root_dir()
    assert env.path.name == f"{name}-{env.image.lock_hash}"
    assert (env.path / ".astrohub-env.json").is_file()
    # A second call reuses the environment instead of reinstalling it.
    again = images.ensure_env(env.image)
    assert again.path == env.path
    assert again.created is False
    assert again.seconds < 5


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_pip_check_is_clean(name: str, image_env: Callable[[str], images.ImageEnv]) -> None:
    env = image_env(name)
    proc = images.pip_check(env.python)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No broken requirements found" in proc.stdout
    assert proc.args[:4] == [sys.executable, "-m", "pip", "--python"]


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_requested_packages_import_at_their_pins(
    name: str, image_env: Callable[[str], images.ImageEnv], tmp_path: Path
) -> None:
    """images/common/check_env.py, the same script the image smoke test runs."""
    env = image_env(name)
    image = env.image
    result = run_result(
        [str(env.python), str(CHECK_ENV), str(image.requirements_in), str(image.requirements_txt)],
        offline_env(CRDS_PATH=str(tmp_path / "crds"), HOME=str(tmp_path)),
    )
    assert result["problems"] == []
    assert result["python"].startswith(image.lock.python_version + ".")
    assert result["locked"] == len(image.pins())
    pins = image.pins()
    for package, entry in result["requested"].items():
        assert entry["installed"] == pins[package], package
        assert any(key.startswith("import ") for key in entry), package
    assert result["requested"]["jupyterhub"]["installed"] == "5.5.0"


def test_jwst_offline_ramp_fit(image_env: Callable[[str], images.ImageEnv], tmp_path: Path) -> None:
    """Construct the stage 1-3 pipelines, then GroupScaleStep + RampFitStep on a synthetic
    ramp with override gain/read-noise references: the fitted rate equals the input rate
    to 0.1%. CRDS works offline from a minimal server_config (see check_jwst_ramp.py)."""
    env = image_env("jwst")
    crds_path = tmp_path / "crds_cache"
    crds_path.mkdir()
    result = run_result(
        [str(env.python), str(HERE / "check_jwst_ramp.py"), str(tmp_path / "work")],
        offline_env(
            CRDS_PATH=str(crds_path),
            CRDS_SERVER_URL="https://jwst-crds.stsci.edu",
            HOME=str(tmp_path),
        ),
    )
    assert result["jwst_version"] == env.image.pins()["jwst"]
    for pipeline, step in [
        ("Detector1Pipeline", "ramp_fit"),
        ("Detector1Pipeline", "group_scale"),
        ("Image2Pipeline", "flat_field"),
        ("Spec2Pipeline", "extract_1d"),
        ("Image3Pipeline", "resample"),
    ]:
        assert step in result["pipelines"][pipeline]
    assert result["group_scale"] == "COMPLETE"  # FRMDIVSR != NFRAMES: the data were rescaled
    assert result["ramp_fit"] == "COMPLETE"
    assert result["bunit"] == "DN/s"
    assert result["shape"] == [32, 32]
    assert result["finite_fraction"] == 1.0
    assert result["median_rate"] == pytest.approx(result["true_rate"], rel=1e-3)
    assert result["mean_rate"] == pytest.approx(result["true_rate"], rel=1e-3)
    # The context came from the offline server_config the check wrote, not the network.
    assert result["crds_context"] == "jwst_0000.pmap"
    assert Path(result["server_config"]).is_relative_to(crds_path)


def test_hst_imports_and_offline_crds(
    image_env: Callable[[str], images.ImageEnv], tmp_path: Path
) -> None:
    env = image_env("hst")
    crds_path = tmp_path / "crds_cache"
    crds_path.mkdir()
    result = run_result(
        [str(env.python), str(HERE / "check_hst.py")],
        offline_env(
            CRDS_PATH=str(crds_path),
            CRDS_SERVER_URL="https://hst-crds.stsci.edu",
            HOME=str(tmp_path),
        ),
    )
    pins = env.image.pins()
    for module in ("acstools", "calcos", "costools", "crds", "drizzlepac", "stistools"):
        assert result["versions"][module] == pins[module], module
    assert result["executables"] == {
        "acstools.calacs": "calacs.e",
        "stistools.calstis": "cs0.e",
        "wfc3tools.calwf3": "calwf3.e",
    }
    assert "calcos.calcos" in result["entry_points"]
    assert "drizzlepac.astrodrizzle.AstroDrizzle" in result["entry_points"]
    assert result["crds_context"] == "hst_0000.pmap"


def test_ensure_env_reuses_rebuilds_and_prunes(tmp_path: Path) -> None:
    """A tiny image (one small package) through ensure_env: installed once, reused, rebuilt
    when the install did not finish, and older locks of the same image removed."""
    image_dir = tmp_path / "images" / "tiny"
    shutil.copytree(IMAGES_DIR / "hst", image_dir)
    shutil.copytree(IMAGES_DIR / "common", image_dir.parent / "common")
    spec = yaml.safe_load((image_dir / "image.yml").read_text())
    spec.update(name="tiny", repository="tiny", display_name="Tiny")
    spec.pop("headline_package")
    (image_dir / "image.yml").write_text(yaml.safe_dump(spec))
    (image_dir / "requirements.in").write_text("six\n")
    image = images.load_image(image_dir, require_lock=False)
    images.write_lock(image, env=index_env(), offline_first=True)
    image = images.load_image(image_dir)

    env_root = tmp_path / "envs"
    stale = env_root / "tiny-0123456789ab"
    other = env_root / "tinyish-0123456789ab"
    stale.mkdir(parents=True)
    other.mkdir()

    first = images.ensure_env(image, env_root, env=index_env())
    assert first.created and first.path == env_root / f"tiny-{image.lock_hash}"
    assert not stale.exists(), "an older lock's environment of the same image is removed"
    assert other.exists(), "another image's environment is left alone"
    check = subprocess.run(
        [str(first.python), "-c", "import six; print(six.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert check.stdout.strip() == image.pins()["six"]
    installed = first.path / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert installed.read_text() == image.lab_overrides.read_text()

    again = images.ensure_env(image, env_root, env=index_env())
    assert not again.created

    (first.path / ".astrohub-env.json").unlink()  # as if the install had been interrupted
    rebuilt = images.ensure_env(image, env_root, env=index_env())
    assert rebuilt.created and (rebuilt.path / ".astrohub-env.json").is_file()
