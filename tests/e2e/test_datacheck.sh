#!/bin/sh
# tests/e2e/test_datacheck.sh: the data check before any work. Bad files in train/, test/
# and validate/ (a wrong-size PNG, garbage, a TIFF, a FIFO, a link to /dev/zero, a PNG
# bomb) are all reported at once before the first epoch, within seconds and without the
# bomb's memory; --check reports the same (not with --no-data); --skip-bad-images skips them
# from the start and the counts leave them out; --data takes val/ or valid/ or no validation
# folder; GIF and TGA are read by ImageFolder and --predict alike; Resize(int) on non-square
# images gets its hint; `classes` in another order warns; Linear(64, 5) on FashionMNIST's 10
# classes fails --check.
. "$(dirname "$0")/../lib.sh"

"$top_builddir/examples/make_sea_data" "$tmp/data" >/dev/null || { echo "FAIL: make_sea_data" >&2; exit 1; }
model="$tmp/tv.cnn"
sed 's|ImageFolder("data/test", transform=transform)|&\nvalidation_dataset = ImageFolder("data/validate", transform=transform)|' \
    "$top_srcdir/tests/checkpoint/tiny.cnn" >"$model"
grep -q '^validation_dataset' "$model" || { echo "FAIL: no validation set in $model" >&2; exit 1; }
# a PNG of w x h (all zero) at depth bits and colour type t, written with zlib by python3
png() {   # OUT W H DEPTH TYPE
    /usr/bin/python3 - "$@" <<'EOF'
import struct, sys, zlib
out, w, h, depth, ctype = sys.argv[1], *map(int, sys.argv[2:])
ch = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
row = b'\0' * (1 + w * ch * depth // 8)
z = zlib.compressobj(1)
data = b''.join(z.compress(row * 64) for _ in range(h // 64)) + z.compress(row * (h % 64)) + z.flush()
chunk = lambda t, d: struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
open(out, 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, depth, ctype, 0, 0, 0))
                      + chunk(b'IDAT', data) + chunk(b'IEND', b''))
EOF
}
command -v /usr/bin/python3 >/dev/null || { echo "SKIP: no python3 to write the test images"; exit 77; }
timed() { /usr/bin/time -f %M -o "$tmp/rss" "$@"; }     # peak RSS in KB to $tmp/rss
[ -x /usr/bin/time ] || timed() { "$@"; }

# 1. bad files in every set: all reported before the first epoch, at once
d="$tmp/bad"
cp -r "$tmp/data" "$d"
png "$d/validate/1/wide.png" 120 100 8 2
png "$d/train/1/bomb.png" 8192 8192 16 6          # 512 MiB decoded from a few MB
echo garbage >"$d/test/3/g.png"
printf 'II*\0\10\0\0\0' >"$d/test/2/x.tif"
mkfifo "$d/train/0/fifo.png"
ln -s /dev/zero "$d/train/4/zero.jpg"
start=$(date +%s)
timed timeout 60 "$CNNC" "$model" --train --epochs 1 --seed 1 --data "$d" -o "$tmp/m.safetensors" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" = 1 ] || fail "bad files: exit status $rc, expected 1: $(cat "$tmp/err")"
[ $(($(date +%s) - start)) -le 20 ] || fail "bad files: the check took $(($(date +%s) - start)) s"
for f in train/0/fifo.png train/1/bomb.png train/4/zero.jpg test/2/x.tif test/3/g.png validate/1/wide.png; do
    grep -q "^cnnc: error: $d/$f: " "$tmp/err" || fail "bad files: $f not reported: $(cat "$tmp/err")"
done
grep -q "^cnnc: error: $d/train/1/bomb.png: the image is 8192 x 8192 pixels (RGBA, 16 bits per channel: 512 MiB decoded), more than the 256 MiB cnnc decodes" "$tmp/err" \
    || fail "the bomb's message: $(grep bomb "$tmp/err")"
grep -q "^cnnc: error: $d/validate/1/wide.png: the image is 120x100 but the model expects 100x100: add Resize((100, 100))" "$tmp/err" \
    || fail "the wide image's message: $(grep wide "$tmp/err")"
tail -1 "$tmp/err" | grep -q "^cnnc: error: 6 bad images (train_dataset 3, test_dataset 2, validation_dataset 1), listed above: .* --skip-bad-images" \
    || fail "bad files: the summary: $(tail -1 "$tmp/err")"
[ "$(wc -l <"$tmp/err")" = 7 ] || fail "bad files: $(wc -l <"$tmp/err") lines on stderr, expected 7"
[ -s "$tmp/out" ] && fail "bad files: something ran: $(cat "$tmp/out")"
[ -e "$tmp/m.safetensors" ] && fail "bad files: a model was written"
if [ -s "$tmp/rss" ]; then
    rss=$(tail -1 "$tmp/rss")
    echo "the data check over 6 bad files, a 512 MiB PNG bomb among them: peak RSS $rss KB"
    [ "$rss" -lt 102400 ] || fail "bad files: peak RSS $rss KB (the bomb decoded?)"
fi
# --check finds the same; --no-data does not look
"$CNNC" "$model" --check --data "$d" >"$tmp/out" 2>"$tmp/cerr"
[ $? = 1 ] && cmp -s "$tmp/err" "$tmp/cerr" || fail "--check: $(diff "$tmp/err" "$tmp/cerr" | head -3)"
"$CNNC" "$model" --check --no-data --data "$d" >"$tmp/out" 2>"$tmp/cerr" || fail "--check --no-data: $(cat "$tmp/cerr")"
grep -q '^Data checked' "$tmp/out" && fail "--check --no-data checked the data"
"$CNNC" "$model" --check --data "$tmp/data" >"$tmp/out" 2>"$tmp/cerr" || fail "--check on good data: $(cat "$tmp/cerr")"
grep -q '^Data checked: 175 training, 50 test, 25 validation images (5 classes), every header read, none bad$' "$tmp/out" \
    || fail "--check's data line: $(tail -1 "$tmp/out")"

# 2. --skip-bad-images: warned about up front, left out of every count
timed timeout 120 "$CNNC" "$model" --train --epochs 1 --seed 1 --workers 2 --skip-bad-images --data "$d" \
    -o "$tmp/m.safetensors" >"$tmp/out" 2>"$tmp/err" || fail "--skip-bad-images: $(cat "$tmp/err")"
[ "$(grep -c '(skipped)$' "$tmp/err")" = 6 ] || fail "--skip-bad-images: $(cat "$tmp/err")"
grep -q '^cnnc: warning: 6 bad images skipped' "$tmp/err" || fail "--skip-bad-images: no count: $(tail -1 "$tmp/err")"
grep -q '^Training Tiny on 175 images' "$tmp/out" || fail "--skip-bad-images: $(head -1 "$tmp/out")"
grep -q 'Train Correct: [0-9]*/175 - Test Loss: [0-9.]*, Test Correct: [0-9]*/50$' "$tmp/out" || fail "--skip-bad-images: $(grep Epoch "$tmp/out")"
grep -q 'Validation Correct: [0-9]*/25$' "$tmp/out" || fail "--skip-bad-images: $(grep Validation "$tmp/out")"
[ -s "$tmp/rss" ] && { rss=$(tail -1 "$tmp/rss"); [ "$rss" -lt 512000 ] || fail "--skip-bad-images: peak RSS $rss KB"; }

# 3. --data DIR: validate/, val/, valid/ or none
for v in val valid; do
    rm -rf "$tmp/v" && cp -r "$tmp/data" "$tmp/v" && mv "$tmp/v/validate" "$tmp/v/$v"
    "$CNNC" "$model" --check --data "$tmp/v" >"$tmp/out" 2>"$tmp/err" || fail "--data with $v/: $(cat "$tmp/err")"
    grep -q ', 25 validation images' "$tmp/out" || fail "--data with $v/: $(tail -1 "$tmp/out")"
done
rm -rf "$tmp/v/valid"
"$CNNC" "$model" --train --epochs 1 --seed 1 --data "$tmp/v" -o "$tmp/m.safetensors" >"$tmp/out" 2>"$tmp/err" \
    || fail "--data without a validation folder: $(cat "$tmp/err")"
grep -q "^cnnc: note: $tmp/v has no validate/, val/ or valid/ folder: this run has no validation set$" "$tmp/err" \
    || fail "--data without a validation folder: $(cat "$tmp/err")"
grep -q '^Validation' "$tmp/out" && fail "--data without a validation folder: a validation line"

# 4. GIF and TGA: counted by ImageFolder and read by --predict alike
if /usr/bin/python3 -c 'import PIL' 2>/dev/null; then
    rm -rf "$tmp/g" && cp -r "$tmp/data" "$tmp/g"
    /usr/bin/python3 -c "
from PIL import Image
Image.open('$tmp/g/train/2/000.png').convert('P').save('$tmp/g/train/2/zz.gif')
Image.open('$tmp/g/train/3/000.png').save('$tmp/g/train/3/zz.tga')"
    "$CNNC" "$model" --train --epochs 1 --seed 1 --data "$tmp/g" -o "$tmp/g.safetensors" >"$tmp/out" 2>"$tmp/err" \
        || fail "GIF and TGA in train/: $(cat "$tmp/err")"
    grep -q '^Training Tiny on 177 images' "$tmp/out" || fail "GIF and TGA not counted: $(head -1 "$tmp/out")"
    "$CNNC" "$model" --predict --weights "$tmp/g.safetensors" "$tmp/g/train/2/zz.gif" "$tmp/g/train/3/zz.tga" \
        >"$tmp/out" 2>"$tmp/err" || fail "--predict GIF and TGA: $(cat "$tmp/err")"
    [ "$(wc -l <"$tmp/out")" = 2 ] || fail "--predict GIF and TGA: $(cat "$tmp/out")"
else
    echo "test_datacheck: part 4 (GIF, TGA) skipped: no PIL to write them"
fi

# 5. Linear(64, 5)-style: FashionMNIST's 10 classes on a model with 5 outputs fail --check
raw="$tmp/fm/FashionMNIST/raw"
mkdir -p "$raw"
{ printf '\0\0\10\3\0\0\0\4\0\0\0\34\0\0\0\34'; head -c 3136 /dev/zero; } >"$raw/train-images-idx3-ubyte"
printf '\0\0\10\1\0\0\0\4\0\1\2\11' >"$raw/train-labels-idx1-ubyte"
{ printf '\0\0\10\3\0\0\0\2\0\0\0\34\0\0\0\34'; head -c 1568 /dev/zero; } >"$raw/t10k-images-idx3-ubyte"
printf '\0\0\10\1\0\0\0\2\0\7' >"$raw/t10k-labels-idx1-ubyte"
last=$(grep -o 'Linear([0-9]*, 10)' "$top_srcdir/models/fashion.cnn" | tail -1)
sed "s/$last/$(echo "$last" | sed 's/10)/5)/')/" "$top_srcdir/models/fashion.cnn" >"$tmp/f5.cnn"
"$CNNC" "$tmp/f5.cnn" --check --data "$tmp/fm" >"$tmp/out" 2>"$tmp/err"
[ $? = 1 ] && grep -q "has 10 class folders but the model outputs 5 classes" "$tmp/err" || fail "Linear(.., 5) on FashionMNIST: $(cat "$tmp/err")"
"$CNNC" "$top_srcdir/models/fashion.cnn" --check --data "$tmp/fm" >"$tmp/out" 2>"$tmp/err" || fail "fashion --check: $(cat "$tmp/err")"

if [ "$fails" != 0 ]; then
    echo "test_datacheck: $fails failed"
    exit 1
fi
echo "test_datacheck: all passed"
