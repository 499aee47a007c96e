#!/usr/bin/env bash
# What every image's smoke.sh checks first, sourced by it inside the built image:
# jovyan's uid/gid, the locked environment on PATH, the CRDS settings, the start hooks and
# getting-started notebooks, and
# that the environment is exactly the lock. tests/images only lints this file.

fail() {
    echo "SMOKE FAIL: $*" >&2
    exit 1
}

# smoke_common_checks <the image's CRDS server URL>
smoke_common_checks() {
    local expected_server="$1"
    [[ "$(id -u)" == "1000" ]] || fail "running as uid $(id -u), expected 1000 (jovyan)"
    [[ "$(id -g)" == "100" ]] || fail "running as gid $(id -g), expected 100 (users)"
    [[ "$(command -v python)" == "/opt/astrohub/venv/bin/python" ]] || fail "python is $(command -v python)"
    [[ "$(command -v jupyterhub-singleuser)" == "/opt/astrohub/venv/bin/jupyterhub-singleuser" ]] \
        || fail "jupyterhub-singleuser is not the locked one"
    [[ "${CRDS_SERVER_URL}" == "${expected_server}" ]] || fail "CRDS_SERVER_URL=${CRDS_SERVER_URL}"
    [[ "${CRDS_PATH}" == "${HOME}/crds_cache" ]] || fail "CRDS_PATH=${CRDS_PATH}"
    [[ -r /usr/local/bin/start-notebook.d/10-crds-shared-cache.sh ]] || fail "CRDS shared-cache start hook missing"
    [[ -r /usr/local/bin/start-notebook.d/20-getting-started.sh ]] || fail "getting-started start hook missing"
    compgen -G "${ASTROHUB_GETTING_STARTED:-/nowhere}/*.ipynb" >/dev/null \
        || fail "no getting-started notebooks in ASTROHUB_GETTING_STARTED=${ASTROHUB_GETTING_STARTED:-}"

    # The environment is exactly the lock, every requested package imports at its pin.
    python -m pip check
    python /opt/astrohub/check_env.py /opt/astrohub/requirements.in /opt/astrohub/requirements.txt
}
