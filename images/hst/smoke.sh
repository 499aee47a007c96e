#!/usr/bin/env bash
# Smoke test of the built hst image. `make images` runs it inside the image before
# anything is tagged for push:
#   docker run --rm --platform linux/amd64 <image> bash /opt/astrohub/smoke.sh
# It is the only check of the hstcal executables (they come from conda-forge, which
# the test machine cannot reach); tests/images only lints this file.
set -euo pipefail

# shellcheck source=../common/smoke_common.sh
source /opt/astrohub/smoke_common.sh
smoke_common_checks "https://hst-crds.stsci.edu"

# Instrument reference directories in the CRDS cache, with hstcal's trailing slash.
declare -A refdir=([iref]=wfc3 [jref]=acs [oref]=stis [lref]=cos [nref]=nicmos [uref]=wfpc2)
for var in "${!refdir[@]}"; do
    want="${CRDS_PATH}/references/hst/${refdir[${var}]}/"
    [[ "${!var:-}" == "${want}" ]] || fail "${var}=${!var:-} (expected ${want})"
done

# hstcal executables from conda-forge, at the pinned version. STIS's calstis is
# cs0.e in hstcal (there is no calstis.e): that is what stistools.calstis runs.
for exe in calacs.e calwf3.e cs0.e; do
    path="$(command -v "${exe}")" || fail "${exe} not on PATH"
    [[ "${path}" == /opt/astrohub/hstcal/bin/* ]] || fail "${exe} is ${path}, not from /opt/astrohub/hstcal"
    version="$("${exe}" --version)" || fail "${exe} --version failed"
    echo "${exe}: ${version}"
done
[[ -n "${HSTCAL_VERSION:-}" ]] || fail "HSTCAL_VERSION is not set in the image"
conda list --prefix /opt/astrohub/hstcal '^hstcal$' | grep -Eq "^hstcal[[:space:]]+${HSTCAL_VERSION}[[:space:]]" \
    || fail "hstcal is not ${HSTCAL_VERSION}"

# The Python wrappers find the executables they drive.
python - <<'PY'
import shutil

import jupyterhub
from acstools.calacs import calacs
from calcos import calcos
from drizzlepac import astrodrizzle, tweakreg
from stistools.calstis import calstis
from wfc3tools.calwf3 import calwf3

for func in (calacs, calwf3, calstis, calcos, astrodrizzle.AstroDrizzle, tweakreg.TweakReg):
    assert callable(func), func
for exe in ("calacs.e", "calwf3.e", "cs0.e"):
    assert shutil.which(exe), exe
major = jupyterhub.__version__.split(".")[0]
assert major == "5", f"jupyterhub {jupyterhub.__version__}: the hub (chart 4.4.0) runs 5.x"
print("hst wrappers import and find hstcal; jupyterhub", jupyterhub.__version__)
PY
jupyter lab --version >/dev/null

echo "SMOKE OK: hst image"
