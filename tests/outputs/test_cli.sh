#!/bin/sh
# tests/outputs/test_cli.sh: the command line. Every long option in compiler/driver/main.c appears in
# `cnnc --help` and in the man page (doc/cnnc.1), both saying the same actions it goes with;
# every (option, action) pair outside this file's own table is refused naming both, and
# every pair inside it is not; options may come before the .cnn file; --predict takes
# folders and goes on past a bad image; --lr, --batch-size and --weight-decay change the run
# and are recorded in the model file and the history; no output replaces an input, another
# output or a file of another kind. --version prints configure's version. --apply on
# examples/sobel.cnn writes the 4-panel figure atomically and prints one line per panel; it
# refuses classifiers, needs -o, and names a missing image; a feature-map model cannot be
# trained, evaluated or used to predict.
. "$(dirname "$0")/../lib.sh"

# 1. every long option, documented twice
"$CNNC" --help >"$tmp/help" 2>&1 || fail "cnnc --help failed"
sed 's/\\-/-/g' "$top_srcdir/doc/cnnc.1" >"$tmp/man"      # troff's \- is a plain minus
opts=$(sed -n '/struct option opts\[\]/,/{ 0, 0, 0, 0 }/p' "$top_srcdir/compiler/driver/main.c" | grep -o '{ "[a-z-]*"' | sed 's/{ "//; s/"//')
[ "$(echo "$opts" | wc -w)" -ge 15 ] || fail "found only $(echo "$opts" | wc -w) long options in main.c"
for o in $opts; do
    grep -q -- "--$o\\b" "$tmp/help" || fail "--$o is not in cnnc --help"
    grep -q -- "--$o\\b" "$tmp/man" || fail "--$o is not in doc/cnnc.1"
done
grep -q '^\.TH CNNC 1' "$top_srcdir/doc/cnnc.1" || fail "doc/cnnc.1 has no .TH line"
# each option's actions: --help's "with" line and the man page's "Goes with" line agree
awk '/^  -/ { o = $1; sub(",", "", o); if (o == "-o") o = "--output" } /^ *with --/ { sub(/^ *with /, ""); print o ": " $0 }' \
    "$tmp/help" >"$tmp/help.with"
awk '/^\.B[IR]? / && prev == ".TP" { o = $2; gsub(/"/, "", o); if (o == "-o") o = "--output" }
     /^Goes with / { sub(/^Goes with /, ""); sub(/\.$/, ""); print o ": " $0 } { prev = $0 }' "$tmp/man" >"$tmp/man.with"
[ "$(wc -l <"$tmp/help.with")" -ge 18 ] || fail "--help has only $(wc -l <"$tmp/help.with") 'with' lines"
cmp -s "$tmp/help.with" "$tmp/man.with" || fail "--help and the man page disagree on the options' actions: $(diff "$tmp/help.with" "$tmp/man.with")"

# 2. the option x action table, held here independently of main.c: each pair outside it is
# refused with status 2 naming the option and the action; each inside it is not refused so
# (the .cnn file does not exist: a valid command line stops there, with status 1)
cat >"$tmp/table" <<'TABLE'
--epochs 1|train
--lr 0.1|train
--batch-size 4|check summary dump-graph train
--weight-decay 0|train
--seed 1|train eval preview-augment
--data d|check train eval preview-augment
-o x|train apply preview-augment
--weights w|train eval predict export-onnx
--weights-partial w|train
--threads 1|train eval predict apply
--history h.csv|train
--report r.html|train
--workers 1|train eval
--cache-mb 1|train
--skip-bad-images|train eval predict preview-augment
--no-data|check
--checkpoint c|train
--checkpoint-every 1|train
--resume c|train
--save-best|train
--early-stop 2|train
TABLE
[ "$(wc -l <"$tmp/table")" = "$(wc -l <"$tmp/help.with")" ] || fail "the test's table has $(wc -l <"$tmp/table") options, --help $(wc -l <"$tmp/help.with")"
pairs=0
while IFS='|' read -r opt valid; do
    for action in check summary dump-graph train eval predict apply preview-augment export-onnx; do
        case $action in
            predict) args="--predict img.png" ;; apply) args="--apply img.png" ;;
            preview-augment) args="--preview-augment 1" ;; export-onnx) args="--export-onnx out.onnx" ;;
            *) args="--$action" ;;
        esac
        # companions an action needs, unless the option under test is one
        case "$action $opt" in eval\ --weights*|predict\ --weights*|export-onnx\ --weights*) ;;
            eval*|predict*|export-onnx*) args="$args --weights w" ;; esac
        case "$action $opt" in apply\ -o*|preview-augment\ -o*) ;; apply*|preview-augment*) args="$args -o out" ;; esac
        case $opt in --checkpoint-every*) [ $action = train ] && args="$args --checkpoint c" ;; esac
        # shellcheck disable=SC2086
        (cd "$tmp" && "$CNNC" none.cnn $args $opt >/dev/null 2>"$tmp/err")
        rc=$?
        name=${opt%% *}
        pairs=$((pairs + 1))
        case " $valid " in
            *" $action "*) grep -q 'goes with' "$tmp/err" && fail "$name with --$action is refused: $(cat "$tmp/err")"
                           # a build without ONNX refuses --export-onnx itself, after the pairs
                           [ $rc = 2 ] && grep -q 'built without ONNX' "$tmp/err" && continue
                           [ $rc = 1 ] || fail "$name with --$action: status $rc, expected 1 (no such .cnn file): $(cat "$tmp/err")" ;;
            *) [ $rc = 2 ] && grep -q -- "^cnnc: error: $name goes with .*, not with --$action" "$tmp/err" &&
                   [ "$(wc -l <"$tmp/err")" = 1 ] || fail "$name with --$action: status $rc, $(cat "$tmp/err")" ;;
        esac
    done
done <"$tmp/table"
[ $pairs = 189 ] || fail "tried $pairs pairs, expected 189"
# without an action, --check is meant
(cd "$tmp" && "$CNNC" none.cnn --epochs 3 >/dev/null 2>"$tmp/err")
[ $? = 2 ] && grep -q -- 'not with --check (the default action)' "$tmp/err" || fail "--epochs alone: $(cat "$tmp/err")"
version=$(sed -n 's/^AC_INIT(\[cnnc\], \[\([^]]*\)\].*/\1/p' "$top_srcdir/configure.ac")
[ "$("$CNNC" --version)" = "cnnc $version" ] || fail "--version says '$("$CNNC" --version)', configure.ac '$version'"

# 3. --apply: the Sobel figure
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

# 4. --apply's errors: one line each, with the status the README gives
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

# 5. a tiny model to run the rest with (tiny.cnn reads data/ beside it)
cp "$top_srcdir/tests/checkpoint/tiny.cnn" "$tmp/tiny.cnn"
run() { (cd "$tmp" && "$CNNC" "$@" >"$tmp/out" 2>"$tmp/err"); }
run tiny.cnn --train --epochs 1 --seed 1 --threads 1 -o m.st --history h.csv || fail "training tiny.cnn: $(cat "$tmp/err")"
grep -q '^Training Tiny on 175 images (5 classes), batch 16, 1 epoch, seed 1$' "$tmp/out" || fail "training line: $(head -1 "$tmp/out")"

# 6. options before the file; the value of an option is the next argument
run --predict data/validate/1/000.png --weights m.st tiny.cnn || fail "options before the file: $(cat "$tmp/err")"
grep -q '^data/validate/1/000.png: ' "$tmp/out" || fail "options before the file: $(cat "$tmp/out")"
cp "$tmp/out" "$tmp/one"

# 7. --predict: folders, recursively and sorted; a bad file is said and the rest go on
mkdir -p "$tmp/p/b" "$tmp/p/a"
cp "$tmp/data/validate/2/000.png" "$tmp/p/b/x.png"
cp "$tmp/data/validate/1/000.png" "$tmp/p/a/y.png"
cp "$tmp/data/validate/3/000.png" "$tmp/p/z.png"
echo 'not a png' >"$tmp/p/a/bad.png"
echo 'notes' >"$tmp/p/notes.txt"
run tiny.cnn --predict p --weights m.st
[ $? = 1 ] || fail "--predict with a bad image: status $?, expected 1"
[ "$(cut -d: -f1 "$tmp/out" | tr '\n' ' ')" = "p/a/y.png p/b/x.png p/z.png " ] || fail "--predict p: $(cat "$tmp/out")"
[ "$(wc -l <"$tmp/err")" = 1 ] && grep -q '^cnnc: error: p/a/bad.png: ' "$tmp/err" || fail "--predict's bad image: $(cat "$tmp/err")"
[ "$(grep '^p/a/y.png: ' "$tmp/out" | cut -d: -f2-)" = "$(cut -d: -f2- "$tmp/one")" ] || fail "a folder's image predicted otherwise than alone"
run tiny.cnn --predict p --weights m.st --skip-bad-images || fail "--predict --skip-bad-images: status $?"
[ "$(wc -l <"$tmp/out")" = 3 ] && [ "$(cat "$tmp/err")" = "cnnc: warning: 1 bad image skipped (--skip-bad-images)" ] ||
    fail "--predict --skip-bad-images: $(cat "$tmp/err")"
mkdir "$tmp/empty"
run tiny.cnn --predict empty p/z.png --weights m.st
[ $? = 1 ] && [ "$(wc -l <"$tmp/out")" = 1 ] && grep -q '^cnnc: error: the folder empty holds no image files' "$tmp/err" ||
    fail "--predict on an empty folder: $(cat "$tmp/err")"

# 8. --lr, --batch-size, --weight-decay: they change the run and are recorded
run tiny.cnn --train --epochs 1 --seed 1 --threads 1 -o o.st --history o.csv --lr 0.002 --batch-size 8 --weight-decay 0.001 ||
    fail "training with overrides: $(cat "$tmp/err")"
grep -q '^Training Tiny on 175 images (5 classes), batch 8, 1 epoch, seed 1$' "$tmp/out" || fail "--batch-size 8: $(head -1 "$tmp/out")"
grep -q '"cnnc_overrides":"{\\"lr\\": 0.002, \\"batch_size\\": 8, \\"weight_decay\\": 0.001}"' "$tmp/o.st" ||
    fail "the model file does not record the overrides: $(head -c 300 "$tmp/o.st" | tr -d '\0' | cut -c 1-300)"
[ "$(sed -n 2p "$tmp/o.csv" | cut -d, -f8-)" = "0.002,8,0.001" ] || fail "history with overrides: $(sed -n 2p "$tmp/o.csv")"
[ "$(sed -n 2p "$tmp/h.csv" | cut -d, -f8-)" = "0.01,16,0" ] || fail "history without overrides: $(sed -n 2p "$tmp/h.csv")"
grep -q 'cnnc_overrides' "$tmp/m.st" && fail "a model file without overrides records some"
cmp -s "$tmp/m.st" "$tmp/o.st" && fail "the overrides changed nothing"
# the same run as a file that says so itself
sed 's/batch_size=16/batch_size=8/; s/lr=0.01/lr=0.002, weight_decay=0.001/' "$tmp/tiny.cnn" >"$tmp/tiny8.cnn"
run tiny8.cnn --train --epochs 1 --seed 1 --threads 1 -o o8.st || fail "training tiny8.cnn: $(cat "$tmp/err")"
grep '^Epoch' "$tmp/out" >"$tmp/e8"
run tiny.cnn --train --epochs 1 --seed 1 --threads 1 -o o.st --lr 0.002 --batch-size 8 --weight-decay 0.001
grep '^Epoch' "$tmp/out" | cmp -s - "$tmp/e8" || fail "--lr/--batch-size/--weight-decay differ from the same values in the file"
run tiny.cnn --train --epochs 1 --seed 1 --threads 1 -o b8.st --batch-size 8 || fail "--batch-size 8: $(cat "$tmp/err")"
# (tiny.cnn's class names come from the folders, which --summary does not read: compare
# the growth the override brings)
size() { sed -n 's/^Model file: \([0-9,]*\) bytes.*/\1/p' "$tmp/out" | tr -d ,; }
run tiny.cnn --summary && s0=$(size)
run tiny.cnn --summary --batch-size 8 && s8=$(size)
[ -n "$s0" ] && [ $((s8 - s0)) = $(($(stat -c %s "$tmp/b8.st") - $(stat -c %s "$tmp/m.st"))) ] ||
    fail "--summary --batch-size 8 does not account for the override the model file records ($s0, $s8)"
run tiny.cnn --check --batch-size 100
grep -q '^Training memory plan at batch 100: ' "$tmp/out" || fail "--check --batch-size 100: $(tail -1 "$tmp/out")"

# 9. no output over an input, another output, a data folder or a file of another kind;
# nothing is written, the input is intact (the messages: tests/errors/output_*)
cp "$tmp/tiny.cnn" "$tmp/keep.cnn"
echo 'notes' >"$tmp/notes.txt"
for args in "-o tiny.cnn" "--report tiny.cnn" "--history tiny.cnn" "--checkpoint tiny.cnn" "-o ./tiny.cnn" \
            "-o m2.st --report m2.st" "-o m2.st --history m2.st" "--history x.csv --report x.csv" "-o data/train/m.st" \
            "-o notes.txt" "--report notes.txt" "--history notes.txt" "--checkpoint notes.txt" "-o m2.st --weights m2.st"; do
    # shellcheck disable=SC2086
    run tiny.cnn --train --epochs 1 $args
    rc=$?
    [ $rc = 1 ] && [ "$(wc -l <"$tmp/err")" = 1 ] && [ ! -s "$tmp/out" ] || fail "$args: status $rc, $(cat "$tmp/err")"
    cmp -s "$tmp/tiny.cnn" "$tmp/keep.cnn" || fail "$args replaced tiny.cnn"
    [ "$(cat "$tmp/notes.txt")" = notes ] || fail "$args replaced notes.txt"
    [ -e "$tmp/m2.st" ] || [ -e "$tmp/x.csv" ] || [ -e "$tmp/data/train/m.st" ] && fail "$args wrote an output"
done
ln -s tiny.cnn "$tmp/link.st"
run tiny.cnn --train --epochs 1 -o link.st
[ $? = 1 ] && grep -q 'is the .cnn file' "$tmp/err" || fail "-o through a symbolic link to the .cnn file: $(cat "$tmp/err")"
run "$top_srcdir/examples/sobel.cnn" --apply data/validate/1/000.png -o data/validate/1/000.png
[ $? = 1 ] && grep -q 'is --apply.s image' "$tmp/err" || fail "--apply over its image: $(cat "$tmp/err")"
# a checkpoint may replace the --resume file it continues from, and a model file its own kind
run tiny.cnn --train --epochs 1 --seed 1 --threads 1 -o m.st --checkpoint c.st || fail "checkpoint: $(cat "$tmp/err")"
run tiny.cnn --train --epochs 2 --threads 1 -o m.st --checkpoint c.st --resume c.st || fail "resume over itself: $(cat "$tmp/err")"

# 10. --preview-augment with a bad image: an error naming it, or skipped with a count
cp -r "$tmp/data" "$tmp/baddata"
echo 'not a png' >"$tmp/baddata/train/0/000.png"
run tiny.cnn --preview-augment 1 --data baddata -o prev
[ $? = 1 ] && grep -q 'baddata/train/0/000.png' "$tmp/err" || fail "--preview-augment on a bad image: $(cat "$tmp/err")"
run tiny.cnn --preview-augment 1 --data baddata -o prev2 --skip-bad-images || fail "--preview-augment --skip-bad-images: $(cat "$tmp/err")"
[ "$(ls "$tmp/prev2" | wc -l)" = 5 ] || fail "--preview-augment --skip-bad-images wrote $(ls "$tmp/prev2" | wc -l) images, expected 5"
[ "$(tail -1 "$tmp/err")" = "cnnc: warning: 1 bad image skipped (--skip-bad-images)" ] || fail "preview's count: $(cat "$tmp/err")"

echo "test_cli: $fails failed"
[ "$fails" = 0 ]
