#!/usr/bin/env bash
# Times the README's two "Start here" commands as a new user runs them: a fresh clone of this repository's HEAD in a
# temporary folder, fresh venvs. Prints each step's seconds, the venvs' sizes and whether pip ever backtracked.
# Usage: bash benchmarks/front_door.sh [--no-tests]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git clone -q "$repo" "$work/gptnet"
cd "$work/gptnet"
# the commands exactly as README.md gives them (its first two ```sh blocks)
mapfile -t commands < <(awk '/^```sh$/{block=1; next} /^```$/{block=0} block' README.md | head -2)
step() {  # step LOG LABEL COMMAND: run it in bash, its output to LOG, and print its time
    local start=$SECONDS
    if ! bash -c "$3" >"$work/$1.log" 2>&1; then tail -20 "$work/$1.log"; echo "$2: failed"; exit 1; fi
    echo "$2: $((SECONDS - start)) s"
}
step cmd1 "command 1 (venv, install, gptnet design)" "${commands[0]}"
echo "  .venv: $(du -sh .venv | cut -f1)"
install="${commands[1]% && python -m pytest -q}"
step cmd2-install "command 2's installs" "$install"
echo "  .venv: $(du -sh .venv | cut -f1); .venv-litert: $(du -sh .venv-litert | cut -f1)"
if grep -l "looking at multiple versions" "$work"/*.log; then echo "pip backtracked (see above)"; exit 1; fi
echo "pip never backtracked"
if [[ "${1:-}" != "--no-tests" ]]; then
    step cmd2-tests "command 2's tests" ". .venv/bin/activate && python -m pytest -q"
    tail -1 "$work/cmd2-tests.log"
fi
