#!/usr/bin/env bash
# shellcheck shell=bash
#
# Copy the image's getting-started notebooks into the user's home.
#
# Installed in /usr/local/bin/start-notebook.d/ of the astrohub science images: the
# docker-stacks start.sh *sources* every *.sh file there before the server starts (the
# local hub does the same), so this file must not call `exit`, must not leave
# `set -e`/`set -u` behind and must not fail the start. It can also be executed directly.
#
# Environment:
#   ASTROHUB_GETTING_STARTED  the image's notebooks (set in the image). Unset: do nothing.
#
# Each notebook is copied into ~/getting-started/ once: a file the user already has is
# never replaced, and one the user deleted does not come back (the names already offered
# are listed in ~/.astrohub/getting-started-offered). Notebooks new in a later image are
# offered on the next start.

_astrohub_getting_started_log() {
    echo "getting-started: $*"
}

_astrohub_getting_started_main() {
    local source="${ASTROHUB_GETTING_STARTED:-}"
    local target="${HOME}/getting-started"
    local offered="${HOME}/.astrohub/getting-started-offered"
    local path name copied=0
    if [ -z "${source}" ] || [ ! -d "${source}" ]; then
        return 0
    fi
    if [ "$(id -u)" = "0" ]; then
        # Files copied now would belong to root inside the user's home.
        _astrohub_getting_started_log "WARNING: running as root; not copying"
        return 0
    fi
    if ! mkdir -p "${target}" "${offered%/*}" || ! touch "${offered}"; then
        _astrohub_getting_started_log "WARNING: cannot write to ${HOME}; not copying"
        return 0
    fi
    for path in "${source}"/*; do
        [ -e "${path}" ] || continue
        name="${path##*/}"
        if grep -qxF -- "${name}" "${offered}"; then
            continue
        fi
        if [ ! -e "${target}/${name}" ]; then
            cp -R -- "${path}" "${target}/${name}" || continue
            # cp keeps the image's read-only modes: the copy is the user's to edit.
            chmod -R u+w -- "${target}/${name}"
            copied=$((copied + 1))
        fi
        printf '%s\n' "${name}" >>"${offered}"
    done
    _astrohub_getting_started_log "${copied} new in ${target}"
    return 0
}

_astrohub_getting_started_main
unset -f _astrohub_getting_started_main _astrohub_getting_started_log
