#!/bin/bash
# `make run` builds what it serves with (daemon, CLI, shipped plugins) and no
# test suite: every build step it would run names its targets, and none of
# them is a test. Read from `make -n` (prints the recipes, runs nothing).
# usage: make_run_test.sh SOURCE_DIR
set -euo pipefail
src=$1
plan=$(make -n -C "$src" run BUILD=/nonexistent-exed-build JOBS=1 2>&1)
builds=$(echo "$plan" | grep -E '^cmake --build' || true)
[ -n "$builds" ] || { echo "$plan"; echo "FAIL: make run builds nothing?"; exit 1; }
while read -r line; do
    case "$line" in
        *--target*) ;;
        *) echo "FAIL: make run builds everything: $line"; exit 1 ;;
    esac
    for t in exed exectl exed_ansible exed_common; do
        echo " $line " | grep -q " $t " || { echo "FAIL: make run does not build $t: $line"; exit 1; }
    done
    if echo "$line" | grep -qE '_tests|test_plugins|fuzz'; then
        echo "FAIL: make run builds tests: $line"; exit 1
    fi
done <<<"$builds"
echo "$plan" | grep -q 'core/exed -c etc/exe.conf' || { echo "FAIL: make run does not serve"; exit 1; }
echo "ok: $builds"
