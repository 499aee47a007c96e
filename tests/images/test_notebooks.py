"""The getting-started notebooks run headless in each image's environment (nbclient, its own
kernel) against a bucket laid out like s3://stpubdata on the emulator: the notebooks' code is
the code users run; only the S3 endpoint (AWS_ENDPOINT_URL) points at the emulator. Cells
that need the MAST web service are the only ones left out, and each says so."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from image_support import HERE, IMAGE_NAMES, offline_env, run_result
from offline_crds import SERVERS, write_offline_crds_config

from astrohub import images
from astrohub_local.emulator import Emulator

MAST_TAG = "needs-mast-web-service"
MAST_NOTE = "Needs the MAST web service"


@pytest.fixture(scope="module")
def stpubdata(
    aws_emulator: Emulator,
    image_env: Callable[[str], images.ImageEnv],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    """The bucket on the emulator, with the files make_stpubdata.py writes; what they hold."""
    files = tmp_path_factory.mktemp("stpubdata")
    truth = run_result(
        [str(image_env("hst").python), str(HERE / "make_stpubdata.py"), str(files)],
        offline_env(),
    )
    s3 = boto3.client("s3", endpoint_url=aws_emulator.url, region_name="us-east-1")
    s3.create_bucket(Bucket="stpubdata")
    for path in sorted(p for p in files.rglob("*") if p.is_file()):
        # Anyone may read stpubdata without signing a request (there, by bucket policy;
        # the emulator honours object ACLs for unsigned reads).
        key = str(path.relative_to(files))
        s3.upload_file(str(path), "stpubdata", key, ExtraArgs={"ACL": "public-read"})
    return truth


def cell_text(cell: dict[str, Any]) -> str:
    """What a code cell printed or displayed, as text."""
    parts: list[str] = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            text = output["text"]
        else:
            text = output.get("data", {}).get("text/plain", "")
        parts += text if isinstance(text, list) else [text]  # nbformat may split lines
    return "".join(parts)


def run_notebook(
    image: str,
    notebook: Path,
    image_env: Callable[[str], images.ImageEnv],
    emulator: Emulator,
    tmp_path: Path,
) -> list[dict[str, Any]]:
    """Execute the notebook as a user of ``image`` would; return its executed code cells."""
    home = tmp_path / "home"
    crds_path = home / "crds_cache"
    write_offline_crds_config(crds_path, image)
    executed = home / "getting-started" / notebook.name
    executed.parent.mkdir(parents=True)
    env = offline_env(
        HOME=str(home),
        CRDS_PATH=str(crds_path),
        CRDS_SERVER_URL=SERVERS[image],
        AWS_ENDPOINT_URL=emulator.url,
        MPLBACKEND="Agg",
    )
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        env.pop(name, None)  # users have no AWS credentials: the archive is read anonymously
    proc = subprocess.run(
        [str(image_env(image).python), str(HERE / "run_notebook.py"), str(notebook), str(executed)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, f"{notebook.name} failed in {image}:\n{proc.stderr[-8000:]}"
    cells = json.loads(executed.read_text())["cells"]
    return [cell for cell in cells if cell["cell_type"] == "code"]


def shipped(image: str) -> list[Path]:
    spec = next(i for i in images.load_images(images.IMAGES_DIR) if i.name == image)
    return spec.getting_started


def test_only_cells_that_need_mast_are_marked_and_each_says_so() -> None:
    for image in IMAGE_NAMES:
        for notebook in shipped(image):
            cells = json.loads(notebook.read_text())["cells"]
            for cell in cells:
                tags = cell.get("metadata", {}).get("tags", [])
                says = MAST_NOTE in "".join(cell["source"]).splitlines()[0]
                assert (MAST_TAG in tags) == (cell["cell_type"] == "code" and says), (
                    f"{notebook.name}: a cell tagged {MAST_TAG} must say '{MAST_NOTE}' first, "
                    "and only such cells are tagged"
                )
                assert not cell.get("outputs"), f"{notebook.name}: shipped with outputs"


@pytest.mark.parametrize("image", IMAGE_NAMES)
def test_find_data_in_the_cloud(
    image: str,
    stpubdata: dict[str, Any],
    image_env: Callable[[str], images.ImageEnv],
    aws_emulator: Emulator,
    tmp_path: Path,
) -> None:
    notebook = next(p for p in shipped(image) if p.name.startswith("01-find-data"))
    cells = run_notebook(image, notebook, image_env, aws_emulator, tmp_path)
    listing = cell_text(cells[-1])
    size_mb = f"{stpubdata['size'] / 1e6:.1f} MB"
    assert f"stpubdata/{stpubdata['key']}  {size_mb}" in listing


@pytest.mark.parametrize("image", IMAGE_NAMES)
def test_stream_fits_from_s3(
    image: str,
    stpubdata: dict[str, Any],
    image_env: Callable[[str], images.ImageEnv],
    aws_emulator: Emulator,
    tmp_path: Path,
) -> None:
    notebook = next(p for p in shipped(image) if p.name.startswith("02-stream"))
    output = "".join(
        cell_text(c) for c in run_notebook(image, notebook, image_env, aws_emulator, tmp_path)
    )
    x, y = stpubdata["star_pixel"]
    assert f"brightest at pixel ({x}, {y})" in output
    assert f"sky position: {stpubdata['star_sky']}" in output
    assert f"HST WFC3 F160W {stpubdata['target']}" in output
    assert not (tmp_path / "home" / "getting-started" / "ib6wd4lrq_drz.fits").exists()


def test_jwst_detector1(
    image_env: Callable[[str], images.ImageEnv], aws_emulator: Emulator, tmp_path: Path
) -> None:
    notebook = next(p for p in shipped("jwst") if p.name.startswith("03-jwst"))
    output = "".join(
        cell_text(c) for c in run_notebook("jwst", notebook, image_env, aws_emulator, tmp_path)
    )
    assert "group_scale: COMPLETE | ramp_fit: COMPLETE" in output
    assert "CRDS context recorded in the output: jwst_0000.pmap" in output
    fitted = re.search(r"median fitted rate ([0-9.]+) DN/s \(true ([0-9.]+)\)", output)
    assert fitted, output
    assert float(fitted[1]) == pytest.approx(float(fitted[2]), rel=1e-3)


def test_hst_drizzle_conserves_flux_and_position(
    image_env: Callable[[str], images.ImageEnv], aws_emulator: Emulator, tmp_path: Path
) -> None:
    """Independent expectations: drizzle distributes each input pixel's flux over the output
    pixels it overlaps and the output is the exposures' weighted mean, so a star's total is
    its total in one exposure; its centroid maps through the output WCS to its sky position."""
    notebook = next(p for p in shipped("hst") if p.name.startswith("03-hst"))
    output = "".join(
        cell_text(c) for c in run_notebook("hst", notebook, image_env, aws_emulator, tmp_path)
    )
    assert output.count("total 1000.00 counts/s") == 4, output
    ratio = re.search(r"flux ratio \(drizzled / exposure\): ([0-9.]+)", output)
    offset = re.search(r"star measured ([0-9.]+) mas from its true position", output)
    assert ratio and offset, output
    assert float(ratio[1]) == pytest.approx(1.0, abs=1e-3)
    assert float(offset[1]) < 5.0
    assert "drizzled: 128x128 pixels of 0.050 arcsec" in output
