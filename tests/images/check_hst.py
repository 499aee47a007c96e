"""HST import-level check, run INSIDE the hst image's Python environment.

Usage: <image venv>/bin/python check_hst.py

The environment must set CRDS_PATH (an empty temporary directory) and
CRDS_SERVER_URL=https://hst-crds.stsci.edu and send all traffic to a dead proxy.

The hstcal executables (calacs.e, calwf3.e, cs0.e = calstis) exist only on conda-forge,
which this machine cannot reach; images/hst/smoke.sh checks them inside the built
image. Here: the calibration packages import, their entry points are callable, the
wrappers drive the hstcal executables by the names the image puts on PATH, and CRDS
configures itself for HST offline from a cached server_config.

Prints one line ``RESULT {json}``. Any exception or SystemExit (CRDS exits from
``log.fatal_error_on_exception``) ends the script non-zero without a RESULT line.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
import traceback
from pathlib import Path

from offline_crds import write_offline_crds_config


def run() -> dict[str, object]:
    import acstools
    import calcos
    import costools
    import crds
    import drizzlepac
    import stistools
    import wfc3tools
    from acstools.calacs import calacs
    from calcos import calcos as calcos_main
    from costools import splittag, timefilter
    from drizzlepac import astrodrizzle, tweakreg
    from stistools.calstis import calstis
    from wfc3tools.calwf3 import calwf3

    entry_points = {
        "acstools.calacs": calacs,
        "wfc3tools.calwf3": calwf3,
        "stistools.calstis": calstis,
        "calcos.calcos": calcos_main,
        "costools.splittag": splittag.splittag,
        "costools.timefilter": timefilter.TimelineFilter,
        "drizzlepac.astrodrizzle.AstroDrizzle": astrodrizzle.AstroDrizzle,
        "drizzlepac.tweakreg.TweakReg": tweakreg.TweakReg,
    }
    not_callable = [name for name, func in entry_points.items() if not callable(func)]
    if not_callable:
        raise AssertionError(f"not callable: {not_callable}")

    # The wrappers run the hstcal executables by name from PATH.
    executables = {}
    for module_name, exe in (
        ("acstools.calacs", "calacs.e"),
        ("wfc3tools.calwf3", "calwf3.e"),
        ("stistools.calstis", "cs0.e"),
    ):
        source = inspect.getsource(sys.modules[module_name])
        if exe not in source:
            raise AssertionError(f"{module_name} does not call {exe}")
        executables[module_name] = exe

    write_offline_crds_config(Path(os.environ["CRDS_PATH"]), "hst")
    context = crds.get_context_name("hst")

    return {
        "versions": {
            m.__name__: getattr(m, "__version__", None)
            for m in (acstools, calcos, costools, crds, drizzlepac, stistools, wfc3tools)
        },
        "entry_points": sorted(entry_points),
        "executables": executables,
        "crds_context": context,
    }


def main() -> int:
    try:
        result = run()
    except BaseException:
        # SystemExit from CRDS must fail the check, not pass for success.
        traceback.print_exc()
        print("CHECK FAILED: exception or SystemExit above", file=sys.stderr)
        return 3
    print("RESULT " + json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
