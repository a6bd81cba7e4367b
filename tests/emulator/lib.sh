# Shell helpers shared by tests/run and tests/demo (sourced, not executed).
#
# DRCTL_VENV: where the emulator's Python venv lives (default
# tests/emulator/.venv). It is (re)created when missing or when
# requirements.txt changed since it was built.

DRCTL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export DRCTL_VENV="${DRCTL_VENV:-$DRCTL_ROOT/tests/emulator/.venv}"

ensure_venv() {
    local req="$DRCTL_ROOT/tests/emulator/requirements.txt"
    local stamp="$DRCTL_VENV/.drctl-requirements"
    if [[ -x "$DRCTL_VENV/bin/python" ]] && cmp -s "$req" "$stamp"; then
        return 0
    fi
    echo "==> creating the emulator venv in $DRCTL_VENV (moto, pinned)"
    rm -rf "$DRCTL_VENV"
    python3 -m venv "$DRCTL_VENV"
    "$DRCTL_VENV/bin/pip" install --quiet --disable-pip-version-check -r "$req"
    cp "$req" "$stamp"
}

# Starts moto on a free loopback port; sets EMULATOR_PID and
# EMULATOR_ENDPOINT. The launcher reads a FIFO whose only writer is this
# shell, so it exits by itself if the shell dies; stop_emulator stops it by
# its pid.
start_emulator() {
    local dir
    dir="$(mktemp -d)"
    mkfifo "$dir/stdin"
    "$DRCTL_VENV/bin/python" "$DRCTL_ROOT/tests/emulator/launch.py" <"$dir/stdin" >"$dir/stdout" 2>"$dir/stderr" &
    EMULATOR_PID=$!
    exec {EMULATOR_FD}>"$dir/stdin"
    local i
    for i in $(seq 1 300); do
        if grep -q '^PORT ' "$dir/stdout" 2>/dev/null; then
            EMULATOR_ENDPOINT="http://127.0.0.1:$(awk '/^PORT /{print $2}' "$dir/stdout")"
            export EMULATOR_ENDPOINT
            return 0
        fi
        if ! kill -0 "$EMULATOR_PID" 2>/dev/null; then
            cat "$dir/stderr" >&2
            echo "error: the emulator exited before it was ready" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "error: the emulator did not start within 30 s" >&2
    return 1
}

stop_emulator() {
    if [[ -n "${EMULATOR_PID:-}" ]]; then
        kill "$EMULATOR_PID" 2>/dev/null || true
        wait "$EMULATOR_PID" 2>/dev/null || true
        exec {EMULATOR_FD}>&- 2>/dev/null || true
        EMULATOR_PID=""
    fi
}
