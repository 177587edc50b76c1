#!/bin/sh
# tests/outputs/test_report.sh: --report FILE.html after a short training run. The page is
# self-contained (no scripts, no external URLs) and written atomically; its figures agree
# with the log. Headless Chromium then renders it: each plot has one polyline per series
# with one point per epoch, drawn across the plot; all 25 validation images decode at 100 x
# 100 and the wrong ones are as many as the log's validation line says; the screenshot shows
# the plot colors and the error marks. Skipped (77) without chromium.
. "$(dirname "$0")/../lib.sh"

"$top_builddir/examples/make_sea_data" "$tmp/data" >/dev/null || { echo "FAIL: make_sea_data" >&2; exit 1; }
"$CNNC" "$top_srcdir/models/sea_nodropout.cnn" --train --epochs 3 --seed 2 --data "$tmp/data" -o "$tmp/m.safetensors" \
    --report "$tmp/report.html" >"$tmp/log" 2>"$tmp/err" || { cat "$tmp/err" >&2; echo "FAIL: training" >&2; exit 1; }
r=$tmp/report.html
[ -s "$r" ] || fail "no report written"
grep -q "^Wrote report to $r\$" "$tmp/log" || fail "the log does not say where the report is"
ls "$tmp" | grep -q '\.tmp' && fail "a temporary file was left behind"
grep -qi '<script\|<link\|<iframe\|src="http\|href="http\|url(' "$r" && fail "the report loads something from outside"
[ "$(grep -o '<polyline' "$r" | wc -l)" = 4 ] || fail "expected 4 polylines (train/test loss and accuracy)"
[ "$(grep -o 'src="data:image/png;base64,' "$r" | wc -l)" = 25 ] || fail "expected 25 embedded validation images"
for n in 1 2 3; do
    line=$(grep "^Epoch $n/3" "$tmp/log")
    tl=$(echo "$line" | sed -n 's/.*Train Loss: \([0-9.]*\).*/\1/p')
    tc=$(echo "$line" | sed -n 's/.*Train Correct: \([0-9]*\/[0-9]*\).*/\1/p')
    grep -q "<tr><td>$n</td><td>$tl</td><td>$tc</td>" "$r" || fail "epoch $n's row does not match the log ($tl, $tc)"
done
val=$(sed -n 's/^Validation Loss: .*Validation Correct: \([0-9]*\)\/25$/\1/p' "$tmp/log")
grep -q "Validation: $val/25 correct" "$r" || fail "the report's validation count is not the log's ($val/25)"
grep -q 'Adam(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0, amsgrad=False)' "$r" || fail "the optimizer's settings are missing"
grep -q 'Total params: 2,565,861' "$r" || fail "the model summary is missing"

# --report belongs to --train
"$CNNC" "$top_srcdir/models/sea.cnn" --report "$tmp/x.html" >/dev/null 2>"$tmp/err2"
[ $? = 2 ] && grep -q -- "--report goes with --train" "$tmp/err2" || fail "--report without --train is not a usage error"

# --skip-bad-images with --report: the report leaves out the validation images the data check
# found bad (a file that is no image) and the one that failed to decode during the run (a PNG
# cut short after its header), and shows the others with their own files' names
cp -r "$tmp/data" "$tmp/bad"
echo "no image" >"$tmp/bad/validate/2/zz_not_an_image.png"
head -c 200 "$tmp/data/validate/1/000.png" >"$tmp/bad/validate/1/000.png"
"$CNNC" "$top_srcdir/models/sea_nodropout.cnn" --train --epochs 1 --seed 2 --data "$tmp/bad" -o "$tmp/mb.safetensors" \
    --skip-bad-images --report "$tmp/bad.html" >"$tmp/logb" 2>"$tmp/errb" || fail "--skip-bad-images --report failed: $(cat "$tmp/errb")"
[ "$(grep -o 'src="data:image/png;base64,' "$tmp/bad.html" | wc -l)" = 24 ] ||
    fail "expected 24 validation images in the report with one bad one left out"
[ "$(grep -o 'alt="000.png"' "$tmp/bad.html" | wc -l)" = 4 ] ||
    fail "expected 000.png of the 4 classes whose 000.png is good (the images shown are not their own files)"
grep -q 'zz_not_an_image' "$tmp/bad.html" && fail "the bad validation image is in the report"
vb=$(sed -n 's/^Validation Loss: .*Validation Correct: \([0-9]*\/[0-9]*\)$/\1/p' "$tmp/logb")
grep -q "Validation: $vb correct" "$tmp/bad.html" || fail "the report's validation count is not the log's ($vb)"

# the accuracy plot's legend stays off the series when it reaches the top right (100%):
# ten images learnt by heart; the command line's --lr is listed among the settings
for set in train test; do for c in 0 1 2 3 4; do
    mkdir -p "$tmp/small/$set/$c" && cp "$tmp/data/train/$c/000.png" "$tmp/data/train/$c/001.png" "$tmp/small/$set/$c/"
done; done
"$CNNC" "$top_srcdir/tests/checkpoint/tiny.cnn" --train --epochs 12 --seed 1 --lr 0.02 --threads 1 --data "$tmp/small" \
    -o "$tmp/s.safetensors" --report "$tmp/small.html" >"$tmp/slog" 2>"$tmp/err" || fail "small training: $(cat "$tmp/err")"
grep -q '<tr><th>command line</th><td>{&quot;lr&quot;: 0.02} (--lr, --batch-size' "$tmp/small.html" || fail "the report does not list --lr"
grep -q '<tr><th>command line</th>' "$r" && fail "the report lists overrides no one gave"
for p in python3 /usr/bin/python3; do command -v "$p" >/dev/null 2>&1 && py=$p && break; done
if [ -n "${py:-}" ]; then
    "$py" - "$tmp/small.html" <<'PY' || fail "a legend covers the series"
import re, sys
s = open(sys.argv[1]).read()
for svg in re.findall(r'<svg class="plot".*?</svg>', s, re.S):
    leg = re.search(r'<g class="legend">(.*?)</g>', svg, re.S).group(1)
    ys = [float(y) for y in re.findall(r'<line x1="[0-9.]+" x2="[0-9.]+" y1="([0-9.]+)"', leg)]
    x = float(re.search(r'<line x1="([0-9.]+)"', leg).group(1))
    box = (x - 6, min(ys) - 12, 600, max(ys) + 8)       # the legend's lines and labels
    for line in re.findall(r'<polyline[^>]*points="([^"]*)"', svg):
        pts = [tuple(map(float, p.split(','))) for p in line.split()]
        for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
            for k in range(33):
                t = k / 32
                px, py = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
                assert not (box[0] <= px <= box[2] and box[1] <= py <= box[3]), (px, py, box)
acc = re.findall(r'Test Correct: (\d+)/10', open(sys.argv[1].replace('small.html', 'slog')).read())
assert '10' in acc, 'the run never reached 100%: the check proves nothing'
PY
fi

browser=
for b in chromium chromium-browser google-chrome; do command -v "$b" >/dev/null 2>&1 && browser=$b && break; done
if [ -z "$browser" ]; then
    echo "test_report: no chromium: the rendering checks are skipped"
    [ "$fails" = 0 ] && exit 77
    exit 1
fi
headless() { timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$tmp/profile" "$@" 2>/dev/null; }
cp "$r" "$tmp/check.html"
{ echo '<script>'; cat "$top_srcdir/tests/outputs/report_check.js"; echo '</script>'; } >>"$tmp/check.html"
headless --virtual-time-budget=10000 --dump-dom "file://$tmp/check.html" >"$tmp/dom"
sed -n '/id="cnnc-check"/,/<\/pre>/p' "$tmp/dom" >"$tmp/drawn"
[ -s "$tmp/drawn" ] || fail "chromium did not run the check script: $(head -c 300 "$tmp/dom")"
for plot in 0 1; do
    for s in train test; do
        set -- $(grep "^polyline $plot $s " "$tmp/drawn")
        [ "${4:-0}" = 3 ] || fail "plot $plot, $s: ${4:-no} points drawn, expected 3"
        [ "${5:-0}" -gt 400 ] || fail "plot $plot, $s: the line spans ${5:-0} px, expected most of the plot"
    done
done
grep -q '^images 25 decoded 25$' "$tmp/drawn" || fail "not every image decoded: $(grep '^images' "$tmp/drawn")"
[ "$(grep -c '^img 100x100 100 ' "$tmp/drawn")" = 25 ] || fail "images are not 100 x 100 as drawn"
wrong=$(grep -c '^img .* wrong$' "$tmp/drawn")
[ "$wrong" = $((25 - val)) ] || fail "$wrong images marked wrong, the log says $((25 - val))"
grep -q '^confusion 2$' "$tmp/drawn" || fail "expected two confusion matrices"

headless --window-size=1200,2400 --screenshot="$tmp/shot.png" "file://$r" >/dev/null
set -- $("$top_builddir/tests/outputs/png_stats" "$tmp/shot.png" 1f77b4 ff7f0e d62728)
[ "${1:-0}" = 1200 ] && [ "${2:-0}" = 2400 ] || fail "screenshot is ${1:-?} x ${2:-?}"
[ "${3:-0}" -gt 2000 ] || fail "the screenshot has only ${3:-0} colors: images not drawn?"
[ "${5:-0}" -gt 300 ] || fail "little of the training curve's blue in the screenshot (${5:-0} px)"
[ "${6:-0}" -gt 300 ] || fail "little of the test curve's orange in the screenshot (${6:-0} px)"
[ "$wrong" = 0 ] || [ "${7:-0}" -gt 100 ] || fail "the wrong predictions' red marks are not drawn (${7:-0} px)"
[ -n "${KEEP_SCREENSHOT:-}" ] && cp "$tmp/shot.png" "$KEEP_SCREENSHOT"

echo "test_report: $fails failed"
[ "$fails" = 0 ]
