#!/usr/bin/env bash
# tests/run.sh: the test command. Builds cnnc (if needed), runs `make check`, then runs the
# whole suite again in a copy built with AddressSanitizer and UndefinedBehaviorSanitizer
# (skip with CNNC_SANITIZE=0), and ends with the line "N passed, N failed".
# CNNC_FUZZ_SECONDS=N adds `make fuzz` (each harness N seconds from seed CNNC_FUZZ_SEED,
# 0 = random, CI uses 1; each harness counts as a test) and CNNC_VALGRIND=1 adds `make
# check-valgrind-quick` (the C test programs and the shell tests that train small models,
# under valgrind; its tests count too), as CI does;
# CNNC_VALGRIND=full runs the whole suite under valgrind instead (hours).
set -u
cd "$(dirname "$0")/.."
top=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)
passed=0
failed=0

count() {   # adds up the :test-result: lines of one build's test logs
    local dir=$1 p f
    p=$(cat "$dir"/tests/*/*.trs 2>/dev/null | grep -c '^:test-result: PASS')
    f=$(cat "$dir"/tests/*/*.trs 2>/dev/null | grep -cE '^:test-result: (FAIL|ERROR|XPASS)')
    passed=$((passed + p))
    failed=$((failed + f))
}

build_and_check() {   # dir, CFLAGS
    local dir=$1 cflags=$2
    (
        cd "$dir" || exit 1
        [ -x configure ] || autoreconf -fi >/dev/null 2>&1 || autoreconf -fi || exit 1
        [ -f Makefile ] || ./configure -q CFLAGS="$cflags" || exit 1
        make -j"$jobs" >/dev/null || make || exit 1
        rm -f tests/*/*.trs
        make -j"$jobs" check
    )
    local rc=$?
    count "$dir"
    return $rc
}

rc=0
echo "== make check"
build_and_check "$top" "${CFLAGS:--O2 -g}" || rc=1
if [ "${CNNC_SANITIZE:-1}" != 0 ]; then
    echo "== make check under AddressSanitizer and UndefinedBehaviorSanitizer"
    san="$top/build-san"
    rm -rf "$san"
    mkdir -p "$san"
    # a clean copy of the sources (tracked and untracked, not ignored), configured in place
    git ls-files -co --exclude-standard -z | (cd "$top" && xargs -0 cp --parents -t "$san") || rc=1
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    build_and_check "$san" "-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" || rc=1
fi
if [ -n "${CNNC_FUZZ_SECONDS:-}" ]; then
    echo "== make fuzz, each harness $CNNC_FUZZ_SECONDS s"
    for h in cnn model image idx; do
        if make -s fuzz FUZZ_SECONDS="$CNNC_FUZZ_SECONDS" FUZZ_SEED="${CNNC_FUZZ_SEED:-0}" FUZZ_HARNESSES=$h; then passed=$((passed + 1))
        else failed=$((failed + 1)); rc=1; fi
    done
fi
if [ "${CNNC_VALGRIND:-0}" != 0 ]; then
    target=check-valgrind-quick
    [ "$CNNC_VALGRIND" = full ] && target=check-valgrind
    echo "== make $target"
    rm -f tests/*/*.trs
    make -j"$jobs" $target >/dev/null 2>&1 || rc=1
    grep -l -E '^:test-result: (FAIL|ERROR)' tests/*/*.trs 2>/dev/null | sed 's/^/failed under valgrind: /'
    count "$top"
fi
[ "$rc" = 0 ] || [ "$failed" -gt 0 ] || failed=1   # a build failure counts
echo "$passed passed, $failed failed"
exit $rc
