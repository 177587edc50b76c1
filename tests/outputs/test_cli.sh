#!/bin/sh
# tests/outputs/test_cli.sh: the command line's documentation and --apply. Every long option
# in compiler/main.c appears in `cnnc --help` and in the man page (doc/cnnc.1); --version
# prints configure's version. --apply on examples/sobel.cnn writes the 4-panel figure
# atomically and prints one line per panel; it refuses classifiers, needs -o, and names a
# missing image; a feature-map model cannot be trained, evaluated or used to predict.
. "$(dirname "$0")/../lib.sh"

# 1. every long option, documented twice
"$CNNC" --help >"$tmp/help" 2>&1 || fail "cnnc --help failed"
sed 's/\\-/-/g' "$top_srcdir/doc/cnnc.1" >"$tmp/man"      # troff's \- is a plain minus
opts=$(sed -n '/struct option opts\[\]/,/{ 0, 0, 0, 0 }/p' "$top_srcdir/compiler/main.c" | grep -o '{ "[a-z-]*"' | sed 's/{ "//; s/"//')
[ "$(echo "$opts" | wc -w)" -ge 15 ] || fail "found only $(echo "$opts" | wc -w) long options in main.c"
for o in $opts; do
    grep -q -- "--$o\\b" "$tmp/help" || fail "--$o is not in cnnc --help"
    grep -q -- "--$o\\b" "$tmp/man" || fail "--$o is not in doc/cnnc.1"
done
grep -q '^\.TH CNNC 1' "$top_srcdir/doc/cnnc.1" || fail "doc/cnnc.1 has no .TH line"
version=$(sed -n 's/^AC_INIT(\[cnnc\], \[\([^]]*\)\].*/\1/p' "$top_srcdir/configure.ac")
[ "$("$CNNC" --version)" = "cnnc $version" ] || fail "--version says '$("$CNNC" --version)', configure.ac '$version'"

# 2. --apply: the Sobel figure
"$top_builddir/examples/make_sea_data" "$tmp/data" >/dev/null || { echo "FAIL: make_sea_data" >&2; exit 1; }
img=$tmp/data/validate/1/000.png
"$CNNC" "$top_srcdir/examples/sobel.cnn" --apply "$img" -o "$tmp/edges.png" >"$tmp/out" 2>"$tmp/err" ||
    fail "--apply failed: $(cat "$tmp/err")"
[ -s "$tmp/err" ] && fail "--apply wrote to stderr: $(cat "$tmp/err")"
[ "$(grep -c '^panel [1-4]: ' "$tmp/out")" = 4 ] || fail "expected 4 panel lines: $(cat "$tmp/out")"
grep -q '^panel 3: magnitude' "$tmp/out" || fail "no magnitude panel"
grep -q "^Wrote $tmp/edges.png (418 x 100, 4 panels)\$" "$tmp/out" || fail "no 'Wrote' line: $(tail -1 "$tmp/out")"
set -- $("$top_builddir/tests/outputs/png_stats" "$tmp/edges.png")
[ "${1:-0}" = 418 ] && [ "${2:-0}" = 100 ] || fail "the figure is ${1:-?} x ${2:-?}, expected 418 x 100"
[ "${3:-0}" -gt 100 ] || fail "the figure has only ${3:-0} gray levels"
ls "$tmp" | grep -q '\.tmp' && fail "--apply left a temporary file"

# 3. --apply's errors: one line each, with the status the README gives
"$CNNC" "$top_srcdir/examples/sobel.cnn" --apply "$img" >/dev/null 2>"$tmp/err"
[ $? = 2 ] && grep -q -- '--apply needs -o' "$tmp/err" || fail "--apply without -o: $(cat "$tmp/err")"
"$CNNC" "$top_srcdir/examples/sobel.cnn" --apply "$tmp/none.png" -o "$tmp/x.png" >/dev/null 2>"$tmp/err"
[ $? = 1 ] && grep -q "none.png" "$tmp/err" && [ "$(wc -l <"$tmp/err")" = 1 ] || fail "missing image: $(cat "$tmp/err")"
[ -e "$tmp/x.png" ] && fail "an output was written for a missing image"
"$CNNC" "$top_srcdir/models/sea.cnn" --apply "$img" -o "$tmp/x.png" >/dev/null 2>"$tmp/err"
[ $? = 1 ] && grep -q 'use --predict' "$tmp/err" || fail "--apply on a classifier: $(cat "$tmp/err")"
for action in --train "--eval --weights $tmp/m.safetensors" "--predict --weights $tmp/m.safetensors $img"; do
    # shellcheck disable=SC2086
    "$CNNC" "$top_srcdir/examples/sobel.cnn" $action >/dev/null 2>"$tmp/err"
    rc=$?
    [ $rc = 1 ] && grep -q 'sobel.cnn:[0-9]*:[0-9]*: error: ' "$tmp/err" || fail "$action on sobel.cnn: status $rc, $(head -1 "$tmp/err")"
done

echo "test_cli: $fails failed"
[ "$fails" = 0 ]
