#!/usr/bin/env bash
# shellcheck shell=bash
#
# Link a shared, read-only CRDS cache into the user's writable CRDS cache.
#
# Installed as /usr/local/bin/start-notebook.d/10-crds-shared-cache.sh in the
# astrohub science images. The docker-stacks start.sh *sources* every *.sh file
# in that directory before it starts the notebook server, so this file must not
# call `exit`, must not leave `set -e`/`set -u` behind and must not fail the
# start: everything lives in functions, and problems are reported, not fatal.
# It can also be executed directly (the tests do).
#
# Environment:
#   CRDS_PATH                     the user's writable cache (set in the image:
#                                 $HOME/crds_cache); created if missing
#   CRDS_SHARED_CACHE             mount point of the shared read-only cache (an EFS
#                                 volume mounted read-only when the platform sets
#                                 crds_shared_cache: true). Unset or empty: do nothing.
#   CRDS_SHARED_CACHE_FOREGROUND  "1": link before the server starts. Otherwise the
#                                 linking runs in the background (a large cache on
#                                 EFS can take tens of seconds) and logs to
#                                 $CRDS_PATH/.astrohub-shared-cache.log; until it
#                                 finishes CRDS simply downloads what it needs.
#
# What it does: every file under $CRDS_SHARED_CACHE/{references,mappings} gets a
# symbolic link at the same relative path under $CRDS_PATH, in real (writable)
# directories, so CRDS finds shared files without downloading them and still
# writes new downloads into the user's own cache. Files the user already has are
# never replaced. Links that point into the shared cache but whose target has
# gone (a reference retired from the shared cache) are removed. Only the user's
# cache is ever written; the shared cache is only read.

_astrohub_crds_log() {
    echo "crds-shared-cache: $*"
}

_astrohub_crds_link_tree() {
    # $1: shared cache root, $2: user cache root
    local shared="$1" user_cache="$2" sub
    local -a keep_existing
    # GNU cp >= 9.3 spells "skip existing files" --update=none (and warns about -n).
    if cp --help 2>/dev/null | grep -q -- '--update\[='; then
        keep_existing=(--update=none)
    else
        keep_existing=(--no-clobber)
    fi
    for sub in references mappings; do
        [ -d "${shared}/${sub}" ] || continue
        # -r: recreate the directory tree as real directories; -s: make symlinks
        # (to absolute source paths) instead of copying files.
        if ! cp -r -s "${keep_existing[@]}" "${shared}/${sub}" "${user_cache}/"; then
            _astrohub_crds_log "WARNING: linking ${shared}/${sub} was incomplete"
        fi
        # cp copies the directories' modes from the read-only source: make the
        # user's directories writable again so CRDS can download into them.
        find "${user_cache}/${sub}" -type d ! -perm -u+w -exec chmod u+w {} + 2>/dev/null || true
        # Drop dangling links into the shared cache (target retired upstream).
        find "${user_cache}/${sub}" -xtype l -lname "${shared}/*" -delete 2>/dev/null || true
    done
    _astrohub_crds_log "linked ${shared} into ${user_cache}"
}

_astrohub_crds_shared_cache_main() {
    local shared="${CRDS_SHARED_CACHE:-}"
    local user_cache="${CRDS_PATH:-}"
    if [ -z "${shared}" ]; then
        return 0
    fi
    if [ ! -d "${shared}" ]; then
        _astrohub_crds_log "WARNING: CRDS_SHARED_CACHE=${shared} is not a directory; not linking"
        return 0
    fi
    if [ -z "${user_cache}" ]; then
        _astrohub_crds_log "WARNING: CRDS_PATH is not set; not linking"
        return 0
    fi
    if [ "$(id -u)" = "0" ]; then
        # start.sh runs the hooks as root only when the container starts as root;
        # links made now would belong to root inside the user's home.
        _astrohub_crds_log "WARNING: running as root; not linking (start the container as the notebook user)"
        return 0
    fi
    # Absolute paths: cp -s needs them, and the links must not depend on the cwd.
    shared="$(cd "${shared}" && pwd -P)"
    if ! mkdir -p "${user_cache}"; then
        _astrohub_crds_log "WARNING: cannot create CRDS_PATH=${user_cache}; not linking"
        return 0
    fi
    user_cache="$(cd "${user_cache}" && pwd -P)"
    case "${user_cache}/" in
        "${shared}/"*)
            _astrohub_crds_log "WARNING: CRDS_PATH is inside CRDS_SHARED_CACHE; not linking"
            return 0
            ;;
    esac

    if [ "${CRDS_SHARED_CACHE_FOREGROUND:-0}" = "1" ]; then
        _astrohub_crds_link_tree "${shared}" "${user_cache}"
    else
        local log="${user_cache}/.astrohub-shared-cache.log"
        _astrohub_crds_log "linking ${shared} in the background (log: ${log})"
        (
            # One linker at a time per user cache (two servers may share a home).
            if command -v flock >/dev/null 2>&1; then
                exec 9>"${user_cache}/.astrohub-shared-cache.lock"
                flock -n 9 || exit 0
            fi
            _astrohub_crds_link_tree "${shared}" "${user_cache}"
        ) >>"${log}" 2>&1 &
    fi
    return 0
}

_astrohub_crds_shared_cache_main
unset -f _astrohub_crds_shared_cache_main _astrohub_crds_link_tree _astrohub_crds_log
