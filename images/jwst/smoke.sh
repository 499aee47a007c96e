#!/usr/bin/env bash
# Smoke test of the built jwst image. `make images` runs it inside the image before
# anything is tagged for push:
#   docker run --rm --platform linux/amd64 <image> bash /opt/astrohub/smoke.sh
# tests/images only lints it (bash -n, shellcheck): Docker does not run there.
set -euo pipefail

# shellcheck source=../common/smoke_common.sh
source /opt/astrohub/smoke_common.sh
smoke_common_checks "https://jwst-crds.stsci.edu"


# Science entry points and the hub-facing server.
python - <<'PY'
import jupyterhub
from jwst.pipeline import Detector1Pipeline, Image2Pipeline, Image3Pipeline, Spec2Pipeline

for cls in (Detector1Pipeline, Image2Pipeline, Spec2Pipeline, Image3Pipeline):
    cls()
major = jupyterhub.__version__.split(".")[0]
assert major == "5", f"jupyterhub {jupyterhub.__version__}: the hub (chart 4.4.0) runs 5.x"
print("jwst pipelines construct; jupyterhub", jupyterhub.__version__)
PY
jupyter lab --version >/dev/null

echo "SMOKE OK: jwst image"
