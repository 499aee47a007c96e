"""The smallest CRDS cache that lets CRDS configure itself with no server (standard library
only: imported by the checks that run inside the image environments, and by the host tests).

Even with every reference file overridden, stpipe records the CRDS context in its output
(crds.get_context_name). CRDS first asks the server (unreachable in the tests: the proxy is
dead), then falls back to the cached copy of the server's answer in
$CRDS_PATH/config/<observatory>/server_config; with no cached copy it reports "CRDS server
connection and cache load FAILED" and calls sys.exit(). This writes that cached answer, reduced
to the keys CRDS reads for context selection, as ~/crds_cache holds once a user has run a step
or the shared cache is mounted. No reference or mapping is ever looked up through it.
"""

from __future__ import annotations

from pathlib import Path

SERVERS = {"jwst": "https://jwst-crds.stsci.edu", "hst": "https://hst-crds.stsci.edu"}


def write_offline_crds_config(crds_path: Path, observatory: str) -> Path:
    """Write $CRDS_PATH/config/<observatory>/server_config; its path."""
    config_dir = crds_path / "config" / observatory
    config_dir.mkdir(parents=True, exist_ok=True)
    context = f"{observatory}_0000.pmap"
    server = SERVERS[observatory]
    info = {
        "observatory": observatory,
        "operational_context": context,
        "latest_context": context,
        "edit_context": context,
        "crds_version": {"str": "offline"},
        "force_remote_mode": False,
        "bad_files": "",
        "bad_files_list": [],
        "mappings": [],
        "reference_url": {
            "checked": {observatory: f"{server}/unchecked_get/references/{observatory}/"}
        },
        "mapping_url": {
            "checked": {observatory: f"{server}/unchecked_get/mappings/{observatory}/"}
        },
        "last_synced": "offline test",
    }
    path = config_dir / "server_config"
    path.write_text(repr(info))
    return path
