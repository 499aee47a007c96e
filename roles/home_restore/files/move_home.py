"""Move an AWS Backup item-level restore of one home into place (runs in the restore Job).

    python3 move_home.py <file system root> <home directory name> <stamp>

EFS restores /home/<name> into /aws-backup-restore_<time>/home/<name> at the file system's
root. This moves the newest such copy to /home/<name>, after moving the current home (the
damaged one) aside to /home/<name>.before-restore-<stamp>, gives the restored files to the
servers' user (1000:100) and removes the emptied restore directories. Prints one JSON line.
Run again after it succeeded, it finds no copy left and changes nothing. Standard library
only: it runs in whatever image has python3.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

OWNER = (1000, 100)


def restored_copy(root: Path, name: str) -> Path | None:
    """The newest restored copy of the home (restore directories are named by time)."""
    copies = sorted(root.glob(f"aws-backup-restore_*/home/{name}"), key=lambda p: p.parts[-3])
    return copies[-1] if copies else None


def give_to_owner(top: Path) -> None:
    os.lchown(top, *OWNER)
    for parent, dirs, files in os.walk(top):
        for entry in dirs + files:
            os.lchown(os.path.join(parent, entry), *OWNER)


def move_home(root: Path, name: str, stamp: str) -> dict[str, object]:
    if not name or "/" in name or name in (".", ".."):
        raise ValueError(f"not a home directory name: {name!r}")
    copy = restored_copy(root, name)
    home = root / "home" / name
    if copy is None:
        if home.is_dir():
            return {"changed": False, "home": str(home)}
        raise FileNotFoundError(
            f"no restored copy of {name} under {root}/aws-backup-restore_*/home/"
        )
    aside = None
    if home.exists():
        aside = home.with_name(f"{name}.before-restore-{stamp}")
        if aside.exists():
            raise FileExistsError(f"{aside} is there already; choose another stamp")
        home.rename(aside)
    copy.rename(home)
    give_to_owner(home)
    for emptied in (copy.parent, copy.parent.parent):
        try:
            emptied.rmdir()
        except OSError:
            break  # other items restored beside it: leave them
    return {
        "changed": True,
        "home": str(home),
        "restored_from": str(copy),
        "kept_aside": str(aside) if aside else None,
    }


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        print(json.dumps(move_home(Path(argv[1]), argv[2], argv[3])))
    except (OSError, ValueError) as error:
        print(json.dumps({"failed": True, "msg": str(error)}))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
