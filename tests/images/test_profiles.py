"""The spawn page: image.yml files are the single source of singleuser.profileList."""

from __future__ import annotations

import base64
import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import helm_python as helm
import jsonschema
import moto
import pytest
import yaml
from image_support import IMAGES_DIR, REPO_ROOT
from jupyterhub.traitlets import ByteSpecification

from astrohub import images
from pinned import CHART as CHART_DIR

REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
BASE = "quay.io/jupyter/minimal-notebook:2024-10-14"


def copy_images(tmp_path: Path) -> Path:
    target = tmp_path / "images"
    shutil.copytree(IMAGES_DIR, target)
    return target


def add_image(images_dir: Path, dirname: str = "roman", **overrides: Any) -> Path:
    """A third image, cloned from hst (Dockerfile, lock, smoke test), with its own image.yml."""
    directory = images_dir / dirname
    shutil.copytree(images_dir / "hst", directory)
    spec = yaml.safe_load((directory / "image.yml").read_text())
    spec.update(
        name=dirname,
        display_name="Roman preview",
        description="A third image added by the test.",
        repository=dirname,
        version="2026.12.0",
        default=False,
        mem_guarantee="1G",
        mem_limit="3G",
    )
    spec.pop("headline_package")
    spec.update(overrides)
    (directory / "image.yml").write_text(yaml.safe_dump(spec))
    return directory


def test_load_images(all_images: list[images.ImageSpec]) -> None:
    assert [i.name for i in all_images] == ["jwst", "hst"]  # default first
    jwst, hst = all_images
    assert jwst.default and not hst.default
    assert jwst.repository == "jwst" and hst.repository == "hst"
    assert "3.0.0" in jwst.display_name and jwst.display_name.startswith("JWST calibration")
    assert hst.display_name.startswith("HST calibration")
    for image in all_images:
        assert image.lock.python_version == "3.11"
        assert image.cpu_guarantee <= image.cpu_limit


def test_profile_list(all_images: list[images.ImageSpec]) -> None:
    profiles = images.profile_list(IMAGES_DIR, REGISTRY)
    assert [p["slug"] for p in profiles] == ["jwst", "hst", "minimal"]
    assert [p["default"] for p in profiles] == [True, False, False]
    by_slug = {p["slug"]: p for p in profiles}
    for image in all_images:
        profile = by_slug[image.name]
        assert profile["display_name"] == image.display_name
        assert profile["description"] == image.description
        override = profile["kubespawner_override"]
        assert override == {
            "image": f"{REGISTRY}/astrohub/{image.repository}:{image.version}-{image.lock_hash}",
            "cmd": ["start-notebook.py"],
            "cpu_guarantee": image.cpu_guarantee,
            "cpu_limit": image.cpu_limit,
            "mem_guarantee": image.mem_guarantee,
            "mem_limit": image.mem_limit,
        }
    minimal = by_slug["minimal"]
    assert minimal["display_name"] == "Minimal notebook"
    assert minimal["kubespawner_override"]["image"] == BASE
    assert minimal["kubespawner_override"]["cmd"] == ["start-notebook.py"]


def test_a_third_image_yml_adds_a_third_image_profile(tmp_path: Path) -> None:
    images_dir = copy_images(tmp_path)
    before = images.profile_list(images_dir, REGISTRY)
    roman = add_image(images_dir)
    after = images.profile_list(images_dir, REGISTRY)
    assert len(after) == len(before) + 1 == 4
    assert [p["slug"] for p in after] == ["jwst", "hst", "roman", "minimal"]
    profile = after[2]
    assert profile["display_name"] == "Roman preview"
    assert profile["default"] is False
    assert profile["kubespawner_override"]["image"] == (
        f"{REGISTRY}/astrohub/roman:2026.12.0-{images.lock_hash(roman)}"
    )
    assert profile["kubespawner_override"]["mem_limit"] == "3G"
    assert images.ecr_repository_names(images_dir) == [
        "astrohub/hst",
        "astrohub/jwst",
        "astrohub/roman",
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "other"}, "but the directory is 'roman'"),
        ({"cpu_guarantee": 8}, "cpu_guarantee is above cpu_limit"),
        ({"mem_guarantee": "8G"}, "mem_guarantee is above mem_limit"),
        ({"mem_limit": "3Gi"}, "mem_limit"),
        ({"version": "latest-1"}, "version"),
        ({"repository": "Bad/Repo"}, "repository"),
        ({"gpu": 1}, "Additional properties are not allowed"),
        ({"default": True}, "more than one default image"),
        ({"repository": "hst"}, "share the repository"),
        ({"headline_package": "drizzlepac"}, "does not name the locked drizzlepac"),
        ({"crds_observatory": "roman"}, "crds_observatory"),
        (
            {"lock": {"python_version": "3.11", "python_platform": "x86_64-manylinux_2_28"}},
            "exclude_newer",
        ),
    ],
)
def test_invalid_image_yml_is_rejected(
    tmp_path: Path, overrides: dict[str, Any], message: str
) -> None:
    images_dir = copy_images(tmp_path)
    add_image(images_dir, **overrides)
    with pytest.raises(images.ImageSpecError, match=message.replace("(", r"\(")):
        images.profile_list(images_dir, REGISTRY)


def test_missing_lock_is_reported(tmp_path: Path) -> None:
    images_dir = copy_images(tmp_path)
    (add_image(images_dir) / "requirements.txt").unlink()
    with pytest.raises(images.ImageSpecError, match=r"requirements\.txt is missing"):
        images.load_images(images_dir)
    # ... but the images can still be loaded for locking.
    assert len(images.load_images(images_dir, require_lock=False)) == 3


def test_singleuser_values_with_the_shared_crds_cache() -> None:
    values = images.singleuser_values(IMAGES_DIR, REGISTRY, crds_shared_cache=True)
    assert values["prePuller"] == {"pullProfileListImages": True}
    singleuser = values["singleuser"]
    assert singleuser["profileList"] == images.profile_list(IMAGES_DIR, REGISTRY)
    assert singleuser["extraEnv"] == {"CRDS_SHARED_CACHE": "/srv/crds-shared-cache"}
    (volume,) = singleuser["storage"]["extraVolumes"]
    (mount,) = singleuser["storage"]["extraVolumeMounts"]
    assert volume["persistentVolumeClaim"] == {"claimName": "crds-shared-cache", "readOnly": True}
    assert mount == {
        "name": volume["name"],
        "mountPath": "/srv/crds-shared-cache",
        "readOnly": True,
    }
    plain = images.singleuser_values(IMAGES_DIR, REGISTRY)
    assert set(plain["singleuser"]) == {"profileList"}


def _chart_schema() -> dict[str, Any]:
    schema: dict[str, Any] = yaml.safe_load((CHART_DIR / "values.schema.yaml").read_text())
    return schema


def _render(values: dict[str, Any]) -> list[dict[str, Any]]:
    if not CHART_DIR.is_dir():
        pytest.fail(f"{CHART_DIR} is missing: ASTROHUB_FIXTURES names the offline chart copy")
    chart = helm.Chart.load(str(CHART_DIR))
    manifests = chart.render(values, name="astrohub", namespace="jhub", is_install=True)
    docs = []
    for path, text in manifests.items():
        if path.endswith((".yaml", ".yml")):
            docs += [d for d in yaml.safe_load_all(text) if d]
    return docs


def test_rendered_chart_offers_and_prepulls_the_profiles(tmp_path: Path) -> None:
    """The chart 4.4.0 with the fragment: the values pass the chart's schema, the hub
    gets the profileList, and both image pullers pull every profile's image."""
    images_dir = copy_images(tmp_path)
    add_image(images_dir)
    values = images.singleuser_values(images_dir, REGISTRY, crds_shared_cache=True)
    merged = helm.Chart.load(str(CHART_DIR)).merge_values(values)
    jsonschema.validate(merged, _chart_schema())

    docs = _render(values)
    wanted = {p["kubespawner_override"]["image"] for p in values["singleuser"]["profileList"]}
    assert len(wanted) == 4
    for puller in ("continuous-image-puller", "hook-image-puller"):
        (daemonset,) = [
            d for d in docs if d["kind"] == "DaemonSet" and d["metadata"]["name"] == puller
        ]
        pulled = {c["image"] for c in daemonset["spec"]["template"]["spec"]["initContainers"]}
        assert wanted <= pulled, (puller, wanted - pulled)

    (secret,) = [d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == "hub"]
    hub_values = yaml.safe_load(base64.b64decode(secret["data"]["values.yaml"]))
    assert hub_values["singleuser"]["profileList"] == values["singleuser"]["profileList"]
    assert hub_values["singleuser"]["extraEnv"] == {"CRDS_SHARED_CACHE": "/srv/crds-shared-cache"}


def test_crds_sync_jobs_follow_the_images_crds_observatory(tmp_path: Path) -> None:
    jobs = images.crds_sync_jobs(IMAGES_DIR, REGISTRY)
    assert [(j["name"], j["observatory"]) for j in jobs] == [("jwst", "jwst"), ("hst", "hst")]
    profiles = {
        p["slug"]: p["kubespawner_override"]["image"]
        for p in images.profile_list(IMAGES_DIR, REGISTRY)
    }
    assert all(job["image"] == profiles[job["name"]] for job in jobs)
    # An image without a crds_observatory gets no sync job.
    images_dir = copy_images(tmp_path)
    spec = add_image(images_dir) / "image.yml"
    raw = yaml.safe_load(spec.read_text())
    del raw["crds_observatory"]
    spec.write_text(yaml.safe_dump(raw))
    assert [j["name"] for j in images.crds_sync_jobs(images_dir, REGISTRY)] == ["jwst", "hst"]


# What a user node keeps for itself: the kubelet's eviction reserve, the system's processes and
# the node's DaemonSets (cilium, the EFS CSI node plugin, the image puller).
NODE_OVERHEAD_BYTES = 2 * 1024**3


def test_every_profile_fits_the_default_user_node(all_images: list[images.ImageSpec]) -> None:
    """A memory limit above what the user node can give is a server the kernel kills at an
    arbitrary point. The node's memory comes from EC2's instance type data as moto ships it."""
    settings = yaml.safe_load((REPO_ROOT / "group_vars" / "all" / "main.yml").read_text())
    instance_type = settings["kops_cluster_users_instance_type"]
    data = Path(moto.__file__).parent / "ec2" / "resources" / "instance_types.json.gz"
    node_bytes = (
        json.loads(gzip.decompress(data.read_bytes()))[instance_type]["MemoryInfo"]["SizeInMiB"]
        * 1024**2
    )
    for image in all_images:
        limit = ByteSpecification().validate(None, image.mem_limit)
        assert limit <= node_bytes - NODE_OVERHEAD_BYTES, (
            f"{image.name}: mem_limit {image.mem_limit} does not fit a {instance_type} user node"
        )
