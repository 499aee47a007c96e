"""Archive homes, then delete them (runs in the archive Job, or here for a local directory).

    python3 archive_homes.py <homes> <stamp> <directory>...

Each named home under <homes> is written to <homes>/.archived-homes/<directory>.<stamp>.tar.gz
(no user's home has that name: KubeSpawner escapes every dot), read back whole and compared
with what was on disk, and only then deleted. A home that cannot be read in full is left as it
was. A home no longer there is skipped, so a re-run after success changes nothing. Prints one
JSON line. Standard library only: it runs in whatever image has python3.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import tarfile
from pathlib import Path

ARCHIVE_DIR = ".archived-homes"


def _on_disk(home: Path) -> dict[str, int]:
    """Size by archive member name of every regular file under the home."""
    sizes = {}
    for parent, _dirs, files in os.walk(home):
        for name in files:
            path = Path(parent, name)
            status = path.lstat()
            if stat.S_ISREG(status.st_mode):
                sizes[str(path.relative_to(home.parent))] = status.st_size
    return sizes


def _in_archive(archive: Path) -> dict[str, int]:
    """Size by member name of every regular file, each read to its end (a truncated or
    corrupt archive raises)."""
    sizes = {}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            if member.isfile():
                extracted = tar.extractfile(member)
                assert extracted is not None
                read = 0
                while chunk := extracted.read(1 << 20):
                    read += len(chunk)
                sizes[member.name] = read
    return sizes


def archive_home(homes: Path, name: str, stamp: str) -> dict[str, object] | None:
    """Archive one home and delete it; None when it is not there (archived already)."""
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"not a home directory name: {name!r}")
    home = homes / name
    if not home.is_dir():
        return None
    store = homes / ARCHIVE_DIR
    store.mkdir(mode=0o700, exist_ok=True)
    archive = store / f"{name}.{stamp}.tar.gz"
    partial = archive.with_name(archive.name + ".partial")
    try:
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(home, arcname=name)
        written, expected = _in_archive(partial), _on_disk(home)
        if written != expected:
            missing = sorted(set(expected) - set(written))[:5]
            raise OSError(f"the archive of {name} does not hold what is on disk: {missing}")
        partial.rename(archive)
    finally:
        partial.unlink(missing_ok=True)
    shutil.rmtree(home)
    return {"directory": name, "archive": str(archive), "bytes": sum(written.values())}


def main(argv: list[str]) -> int:
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    homes, stamp, names = Path(argv[1]), argv[2], argv[3:]
    archived: list[dict[str, object]] = []
    try:
        for name in names:
            done = archive_home(homes, name, stamp)
            if done:
                archived.append(done)
    except (OSError, ValueError, tarfile.TarError) as error:
        print(json.dumps({"failed": True, "msg": str(error), "archived": archived}))
        return 1
    print(json.dumps({"changed": bool(archived), "archived": archived}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
