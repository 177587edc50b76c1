#!/bin/sh
# tests/checkpoint/test_full_disk.sh: writes to a full disk (a 64 KiB tmpfs, filled) are
# errors naming the file, and a run that trained still leaves its model file:
#  1. --predict with stdout redirected to the full disk exits 1
#  2. --history on the full disk: exit 1 after training, the model file written (the
#     uninterrupted run's) and said so; an existing history there stays as it was
#  3. --report on the full disk: the same
#  4. --preview-augment into the full disk: exit 1, no "Wrote ..." line
#  5. -o on the full disk: exit 1 naming the file, no temporary file left; with --checkpoint
#     elsewhere the weights go there and --resume writes the uninterrupted run's model file
# Needs root to mount the tmpfs; skipped (77) where the mount fails.
. "$(dirname "$0")/../lib.sh"

full="$tmp/full"
mkdir "$full"
if ! mount -t tmpfs -o size=64k tmpfs "$full" 2>/dev/null; then
    echo "SKIP: cannot mount a tmpfs at $full (needs root): the full-disk cases did not run"
    exit 77
fi
trap 'umount "$full"; rm -rf "$tmp"' EXIT

"$top_builddir/examples/make_sea_data" "$tmp/data" >/dev/null || { echo "FAIL: make_sea_data" >&2; exit 1; }
cp "$top_srcdir/tests/checkpoint/tiny.cnn" "$tmp/tiny.cnn"
train() {
    "$CNNC" "$tmp/tiny.cnn" --train --seed 7 --threads 2 "$@"
}
train -o "$tmp/ref.st" >/dev/null 2>&1 || fail "reference run failed"
echo "epoch,kept" >"$full/old.csv"
mkdir "$full/aug"
dd if=/dev/zero of="$full/fill" bs=1k 2>/dev/null     # until the disk is full
[ "$(df -k "$full" | awk 'NR == 2 { print $4 }')" = 0 ] || fail "the tmpfs is not full: $(df -k "$full" | tail -1)"

# 1. --predict > full disk
img=$(ls "$tmp"/data/test/0/* | head -1)
"$CNNC" "$tmp/tiny.cnn" --predict --weights "$tmp/ref.st" "$img" >"$full/preds.txt" 2>"$tmp/p.err"
rc=$?
[ "$rc" = 1 ] && grep -q "^cnnc: error: cannot write the standard output: No space left on device" "$tmp/p.err" \
    || fail "--predict to a full disk: status $rc, '$(cat "$tmp/p.err")'"

# 2. --history on the full disk, a new file and an existing one
for h in new.csv old.csv; do
    rm -f "$tmp/h.st"
    train -o "$tmp/h.st" --history "$full/$h" >"$tmp/h.log" 2>"$tmp/h.err"
    rc=$?
    [ "$rc" = 1 ] && grep -q "^cnnc: error: cannot write $full/$h: No space left on device: .* (after training: the model was saved to $tmp/h.st)\$" \
        "$tmp/h.err" || fail "--history $h on a full disk: status $rc, '$(cat "$tmp/h.err")'"
    cmp -s "$tmp/ref.st" "$tmp/h.st" || fail "--history $h on a full disk: the model file is not the uninterrupted run's"
done
[ "$(cat "$full/old.csv")" = "epoch,kept" ] || fail "a failed history write changed the existing file to '$(cat "$full/old.csv")'"
[ -f "$full/new.csv" ] && fail "a failed history write left a file"

# 3. --report on the full disk
rm -f "$tmp/r.st"
train -o "$tmp/r.st" --report "$full/r.html" >/dev/null 2>"$tmp/r.err"
rc=$?
[ "$rc" = 1 ] && grep -q "^cnnc: error: cannot write $full/r.html: No space left on device: .* (after training: the model was saved to $tmp/r.st)\$" \
    "$tmp/r.err" || fail "--report on a full disk: status $rc, '$(cat "$tmp/r.err")'"
cmp -s "$tmp/ref.st" "$tmp/r.st" || fail "--report on a full disk: the model file is not the uninterrupted run's"

# 4. --preview-augment into the full disk
"$CNNC" "$tmp/tiny.cnn" --preview-augment 2 -o "$full/aug" --seed 1 >"$tmp/a.log" 2>"$tmp/a.err"
rc=$?
[ "$rc" = 1 ] && grep -q "^cnnc: error: cannot write $full/aug/.*\.png: No space left on device" "$tmp/a.err" \
    || fail "--preview-augment to a full disk: status $rc, '$(cat "$tmp/a.err")'"
grep -q "^Wrote" "$tmp/a.log" && fail "--preview-augment to a full disk said '$(cat "$tmp/a.log")'"

# 5. -o on the full disk
train -o "$full/m.st" >/dev/null 2>"$tmp/o.err"
rc=$?
[ "$rc" = 1 ] && grep -q "^cnnc: error: cannot write $full/m.st: No space left on device" "$tmp/o.err" \
    || fail "-o on a full disk: status $rc, '$(cat "$tmp/o.err")'"
train -o "$full/m.st" --checkpoint "$tmp/ck.ckpt" >/dev/null 2>"$tmp/o.err"
rc=$?
[ "$rc" = 1 ] && grep -q "^cnnc: error: cannot write $full/m.st: No space left on device: .*; the trained weights are in the checkpoint $tmp/ck.ckpt: make room and write the model file with --resume $tmp/ck.ckpt\$" \
    "$tmp/o.err" || fail "-o on a full disk with --checkpoint: status $rc, '$(cat "$tmp/o.err")'"
train -o "$tmp/m2.st" --resume "$tmp/ck.ckpt" >/dev/null 2>"$tmp/o.err" || fail "--resume after the model file write failed: $(cat "$tmp/o.err")"
cmp -s "$tmp/ref.st" "$tmp/m2.st" || fail "the model file written from the checkpoint is not the uninterrupted run's"
ls -a "$full" "$full/aug" | grep -q '\.tmp\.' && fail "a temporary file was left on the full disk"

echo "test_full_disk: $fails failed"
[ $fails = 0 ]
