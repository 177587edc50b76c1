#!/bin/sh
# tests/backends/test_emit_c_int8.sh: --emit-c --quantize int8 --calibrate N on a model
# trained on the synthetic data (tests/checkpoint/tiny.cnn): the int8 code compiles
# warning-free under gcc and clang (-std=c99 -Wall -Wextra -pedantic -Werror); every Conv2d
# and Linear weight is an int8 array; its test-set accuracy is within 1 point of the float
# code's, and its probabilities stay near the float ones (within 0.05). On the Conv2d shapes
# of tests/backends/emit_shapes.cnn the int8 code gives the same output built plain, with
# AVX2 and with AVX-512 VNNI (where the CPU has them; the packed kernel's vector paths) and under
# -fsanitize=address,undefined (a clean run), near the float code's; with --weights-bin (the
# int8 weights and their factors in the file) the same output as with const arrays.
. "$(dirname "$0")/../lib.sh"

stb=$(pkg-config --cflags stb 2>/dev/null || echo -I/usr/include/stb)
compilers=gcc
command -v clang >/dev/null && compilers="gcc clang"
"$top_builddir/examples/make_sea_data" "$tmp/data" >/dev/null || { echo "FAIL: make_sea_data" >&2; exit 1; }
cp "$top_srcdir/tests/checkpoint/tiny.cnn" "$tmp/tiny.cnn"
cd "$tmp" || exit 1
"$CNNC" tiny.cnn --train --epochs 3 --seed 1 --threads 1 -o tiny.st >/dev/null || { echo "FAIL: training" >&2; exit 1; }
"$CNNC" tiny.cnn --emit-c f.c --weights tiny.st 2>err || fail "float --emit-c: $(cat err)"
"$CNNC" tiny.cnn --emit-c q.c --weights tiny.st --quantize int8 --calibrate 64 2>err || fail "--quantize int8: $(cat err)"
nw=$(grep -c '^/\* .*\.weight \[' f.c)
nq=$(grep -c '^/\* .*\.weight \[.*\], int8\(, packed\|, blocks of 64 outputs by input\)\? \*/$' q.c)
[ "$nw" -gt 0 ] && [ "$nq" = "$nw" ] || fail "$nq of the $nw weights are int8"
imgs=$(find data/test -name '*.png' | sort)
total=$(echo "$imgs" | wc -l)
for cc in $compilers; do
    for v in f q; do
        $cc -std=c99 -Wall -Wextra -pedantic -Werror -O2 -c $v.c -o $v.o 2>cc.err || fail "$cc $v.c: $(head -5 cc.err)"
        $cc -O1 $stb -I. -DPREFIX=tiny -DUPPER=TINY -DHEADER="\"$v.h\"" "$top_srcdir/tests/backends/emit_main.c" $v.o \
            -o run_$v -lm 2>cc.err || fail "$cc harness: $(head -5 cc.err)"
        # shellcheck disable=SC2086
        ./run_$v $imgs | grep -v '^input' >$v.out || fail "$cc: run_$v failed"
    done
    # the true class: the index of the image's folder among the sorted class folders
    echo "$imgs" | awk -F/ '{ print $(NF - 1) }' >truth
    ls data/test | sort | awk '{ print $0 " " NR - 1 }' >index
    awk 'NR == FNR { idx[$1] = NR - 1; next } { print idx[$0] }' index truth >truth.idx
    fc=$(paste -d' ' truth.idx f.out | awk '$1 == $2 { n++ } END { print n + 0 }')
    qc=$(paste -d' ' truth.idx q.out | awk '$1 == $2 { n++ } END { print n + 0 }')
    awk -v f="$fc" -v q="$qc" -v t="$total" 'BEGIN { exit !(t > 0 && (f - q) * 100 <= t) }' ||
        fail "$cc: int8 gets $qc/$total right, float $fc/$total: more than a point lower"
    far=$(paste -d' ' f.out q.out | awk '{ n = NF / 2; for (i = 2; i <= n; i++) { d = $i - $(i + n); if (d < 0) d = -d
                                                   if (d > 0.05) { print NR ": " $0; exit } } }')
    [ -z "$far" ] || fail "$cc: int8 probabilities far from the float ones: $far"
done

# the packed kernels' shapes (freshly initialised weights): plain, AVX2 and sanitized builds agree
cp "$top_srcdir/tests/backends/emit_shapes.cnn" shapes.cnn
"$top_builddir/tests/parity/parity_dump" --init shapes.cnn shapes.st >/dev/null || fail "shapes: parity_dump --init"
"$CNNC" shapes.cnn --emit-c sf.c --weights shapes.st 2>err || fail "shapes: float --emit-c: $(cat err)"
"$CNNC" shapes.cnn --emit-c sq.c --weights shapes.st --quantize int8 --calibrate 32 2>err ||
    fail "shapes: --quantize int8: $(cat err)"
grep -q 'k_conv2d_pk_i8(' sq.c && grep -q 'k_conv2d_i8(' sq.c || fail "shapes: not both the packed and the depthwise int8 Conv2d"
# --weights-bin: the int8 bytes and their factors in the file, the same code otherwise
"$CNNC" shapes.cnn --emit-c sb.c --weights shapes.st --quantize int8 --calibrate 32 --weights-bin sb.bin 2>err ||
    fail "shapes: --quantize int8 --weights-bin: $(cat err)"
! grep -q 'signed char w[0-9]' sb.c || fail "shapes: --weights-bin left int8 arrays in the C file"
# every column and channel of the packed int8 kernel reaching the logits: the same output
# from each build (a wrong sum anywhere shows)
cp "$top_srcdir/tests/backends/emit_int8_wide.cnn" wide.cnn
"$top_builddir/tests/parity/parity_dump" --init wide.cnn wide.st >/dev/null || fail "wide: parity_dump --init"
"$CNNC" wide.cnn --emit-c wq.c --weights wide.st --quantize int8 --calibrate 32 2>err || fail "wide: --quantize int8: $(cat err)"
[ "$(grep -c 'k_conv2d_pk_i8(' wq.c)" -ge 4 ] || fail "wide: its three Conv2d do not all run the packed int8 kernel"
some=$(find data/test -name '*.png' | sort | head -12)
builds="plain"
grep -qw avx2 /proc/cpuinfo 2>/dev/null && builds="plain avx2"
grep -qw avx512_vnni /proc/cpuinfo 2>/dev/null && grep -qw avx512bw /proc/cpuinfo && builds="$builds vnni"
for b in $builds asan; do
    case $b in
        plain) flags="-std=c99 -Wall -Wextra -pedantic -Werror -O2" link=-O1 ;;
        avx2) flags="-std=c99 -Wall -Wextra -pedantic -Werror -O2 -mavx2 -mfma" link=-O1 ;;
        vnni) flags="-std=c99 -Wall -Wextra -pedantic -Werror -O2 -mavx2 -mfma -mavx512f -mavx512bw -mavx512vnni" link=-O1 ;;
        asan) flags="-std=c99 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all" link=$flags ;;
    esac
    for v in sf sq sb; do
        bin=
        [ $v = sb ] && bin=sb.bin
        # shellcheck disable=SC2086
        { gcc $flags -c $v.c -o $v.o && gcc $link $stb -I. -DPREFIX=emitshapes -DUPPER=EMITSHAPES -DHEADER="\"$v.h\"" \
            ${bin:+-DWEIGHTS_BIN} "$top_srcdir/tests/backends/emit_main.c" $v.o -o run_$v -lm; } 2>cc.err ||
            fail "shapes $b: $v.c: $(head -5 cc.err)"
        # shellcheck disable=SC2086
        ./run_$v $bin $some 2>run.err | grep -v '^input' >$v.$b || fail "shapes $b: run_$v failed: $(head -3 run.err)"
        [ -s run.err ] && fail "shapes $b: run_$v said: $(head -3 run.err)"
    done
    [ -s sq.$b ] && cmp -s sq.plain sq.$b || fail "shapes: the int8 code built $b gives other results than built plain"
    cmp -s sq.$b sb.$b || fail "shapes $b: the int8 code with --weights-bin gives other results than with const arrays"
    far=$(paste -d' ' sf.$b sq.$b | awk '{ n = NF / 2; for (i = 2; i <= n; i++) { d = $i - $(i + n); if (d < 0) d = -d
                                                   if (d > 0.05) { print NR ": " $0; exit } } }')
    [ -z "$far" ] || fail "shapes $b: int8 probabilities far from the float ones: $far"
    # shellcheck disable=SC2086
    { gcc $flags -c wq.c -o wq.o && gcc $link $stb -I. -DPREFIX=emitint8wide -DUPPER=EMITINT8WIDE -DHEADER='"wq.h"' \
        "$top_srcdir/tests/backends/emit_main.c" wq.o -o run_wq -lm; } 2>cc.err || fail "wide $b: $(head -5 cc.err)"
    # shellcheck disable=SC2086
    ./run_wq $some 2>run.err | grep -v '^input' >wq.$b || fail "wide $b: run_wq failed: $(head -3 run.err)"
    [ -s run.err ] && fail "wide $b: run_wq said: $(head -3 run.err)"
    [ -s wq.$b ] && cmp -s wq.plain wq.$b || fail "wide: the int8 code built $b gives other results than built plain"
done

exit $((fails > 0))
