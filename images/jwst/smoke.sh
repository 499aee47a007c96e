#!/usr/bin/env bash
# Smoke test of the built jwst image. `make images` runs it inside the image before
# anything is tagged for push:
#   docker run --rm --platform linux/amd64 <image> bash /opt/astrohub/smoke.sh
# tests/images only lints it (bash -n, shellcheck): Docker does not run there.
set -euo pipefail

fail() {
    echo "SMOKE FAIL: $*" >&2
    exit 1
}

[[ "$(id -u)" == "1000" ]] || fail "running as uid $(id -u), expected 1000 (jovyan)"
[[ "$(id -g)" == "100" ]] || fail "running as gid $(id -g), expected 100 (users)"
[[ "$(command -v python)" == "/opt/astrohub/venv/bin/python" ]] || fail "python is $(command -v python)"
[[ "$(command -v jupyterhub-singleuser)" == "/opt/astrohub/venv/bin/jupyterhub-singleuser" ]] \
    || fail "jupyterhub-singleuser is not the locked one"
[[ "${CRDS_SERVER_URL}" == "https://jwst-crds.stsci.edu" ]] || fail "CRDS_SERVER_URL=${CRDS_SERVER_URL}"
[[ "${CRDS_PATH}" == "${HOME}/crds_cache" ]] || fail "CRDS_PATH=${CRDS_PATH}"
[[ -r /usr/local/bin/start-notebook.d/10-crds-shared-cache.sh ]] || fail "CRDS shared-cache start hook missing"

# The environment is exactly the lock, every requested package imports at its pin.
python -m pip check
python /opt/astrohub/check_env.py /opt/astrohub/requirements.in /opt/astrohub/requirements.txt

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
