#!/bin/sh
# tests/backends/test_emit_c.sh: --emit-c on every shipped model (models/*.cnn, freshly
# initialised by parity_dump --init): the generated C compiles warning-free under gcc and
# clang (-std=c99 -Wall -Wextra -pedantic -Werror -O2); run on test images it gives the
# class of cnnc's runtime and its probabilities within 1e-5, and its preprocess function
# gives the runtime's eval-transform tensor (CenterCrop too, on images of other sizes);
# --weights-bin gives the same; so do builds with -fopenmp on 2 threads; builds under
# -fsanitize=address,undefined run clean; examples/embed builds and names --predict's class.
# Where the CPU has AVX2 and FMA, gcc builds each model a second time with them (the packed
# Conv2d's AVX2 path) to the same checks, and where it has AVX-512 a third time with that (the
# 16-lane paths of the packed Conv2d and of the Winograd products); tests/backends/emit_shapes.cnn holds the shapes the
# shipped models lack, tests/backends/emit_wino.cnn those of the Winograd kernels
# (which it must take: F(2x2, 3x3) for 3x3 stride-1 layers of 8 or more input channels,
# F(4x4, 3x3) for one of 64 on 15 x 19), built under the sanitizers too;
# tests/backends/emit_pool.cnn a 3x3 stride-2 MaxPool2d with padding 1 on odd sizes,
# tests/backends/emit_rows.cnn those of the few-tap kernel (k_conv2d_rows, which its four
# Conv2d layers must take), built under the sanitizers too.
. "$(dirname "$0")/../lib.sh"

stb=$(pkg-config --cflags stb 2>/dev/null || echo -I/usr/include/stb)
ref="$top_builddir/tests/backends/emit_ref"
strict="-std=c99 -Wall -Wextra -pedantic -Werror -O2"
sanitize="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all"
compilers=gcc
command -v clang >/dev/null && compilers="gcc clang"
wide=    # the build with the widest vectors this CPU runs (the sanitizer builds below take it too)
grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo && compilers="$compilers gcc-avx2" wide=gcc-avx2
grep -qw avx512f /proc/cpuinfo 2>/dev/null && compilers="$compilers gcc-avx512" wide=gcc-avx512

# pick BUILD: sets cc and flags for a name in $compilers (or asan, asan-wide)
pick() {
    cc=$1 flags=
    case $1 in
    gcc-avx2) cc=gcc flags="-mavx2 -mfma" ;;
    gcc-avx512) cc=gcc flags="-mavx512f -mavx2 -mfma" ;;
    asan) cc=gcc flags=$sanitize ;;
    asan-wide) pick "$wide"; flags="$sanitize $flags" ;;
    esac
}

# compare FILE_A FILE_B: the same class, probabilities within 1e-5, inputs within 1e-6
compare() {
    awk 'NR == FNR { a[FNR] = $0; next }
         { n = split(a[FNR], x, " "); m = split($0, y, " ")
           if (n != m) { print "line " FNR ": " n " fields against " m; bad = 1; exit }
           tol = x[1] == "input" ? 1e-6 : 1e-5
           if (x[1] != "input" && x[1] != y[1]) { print "line " FNR ": class " y[1] " against " x[1]; bad = 1; exit }
           for (i = 2; i <= n; i++) { d = x[i] - y[i]; if (d < 0) d = -d
               if (d > tol) { print "line " FNR " field " i ": " y[i] " against " x[i]; bad = 1; exit } } }
         END { if (FNR == 0) { print "no output"; bad = 1 } exit bad }' "$1" "$2"
}

# emit MODEL NAME UPPER [--weights-bin]: writes, builds and checks model NAME
check_model() {
    m=$1 prefix=$2 upper=$3 bin=${4:-}
    d="$tmp/$m" cnn="$top_srcdir/models/$m.cnn"
    [ -f "$cnn" ] || cnn="$top_srcdir/tests/backends/$m.cnn"
    mkdir -p "$d"
    "$top_builddir/tests/parity/parity_dump" --init "$cnn" "$d/w.st" >/dev/null ||
        { fail "$m: parity_dump --init"; return; }
    if [ -n "$bin" ]; then
        "$CNNC" "$cnn" --emit-c "$d/out.c" --weights "$d/w.st" --weights-bin "$d/w.bin" 2>"$d/err" ||
            { fail "$m: --emit-c --weights-bin: $(cat "$d/err")"; return; }
    else
        "$CNNC" "$cnn" --emit-c "$d/out.c" --weights "$d/w.st" 2>"$d/err" ||
            { fail "$m: --emit-c: $(cat "$d/err")"; return; }
    fi
    [ -s "$d/out.h" ] || fail "$m: no out.h beside out.c"
    ! grep -q 'malloc\|calloc\|cblas' "$d/out.c" || fail "$m: the generated code allocates or calls BLAS"
    imgs=
    for s in 1 2 3; do
        "$ref" --png "$cnn" "$d/img$s.png" $s || fail "$m: writing a test image"
        imgs="$imgs $d/img$s.png"
    done
    "$ref" "$cnn" "$d/w.st" $imgs >"$d/want" || { fail "$m: emit_ref"; return; }
    for build in $compilers; do
        pick "$build"
        # shellcheck disable=SC2086
        $cc $strict $flags -c "$d/out.c" -o "$d/out.o" 2>"$d/cc.err" || { fail "$m: $cc $flags: $(head -5 "$d/cc.err")"; continue; }
        $cc -O1 $stb -I"$d" -DPREFIX="$prefix" -DUPPER="$upper" -DHEADER='"out.h"' ${bin:+-DWEIGHTS_BIN} \
            "$top_srcdir/tests/backends/emit_main.c" "$d/out.o" -o "$d/run" -lm 2>"$d/cc.err" ||
            { fail "$m: $cc harness: $(head -5 "$d/cc.err")"; continue; }
        "$d/run" ${bin:+"$d/w.bin"} $imgs >"$d/got" || { fail "$m: $cc: the program failed"; continue; }
        why=$(compare "$d/want" "$d/got") || fail "$m ($cc $flags${bin:+, --weights-bin}): $why"
    done
}


check_model sea classificationcnn CLASSIFICATIONCNN --weights-bin
check_model fashion fashioncnn FASHIONCNN
check_model lenet5 lenet5 LENET5
check_model fashion_resnet fashionresnet FASHIONRESNET
check_model mobilenet_v2 mobilenetv2 MOBILENETV2 --weights-bin
check_model resnet18 resnet18 RESNET18 --weights-bin
check_model emit_shapes emitshapes EMITSHAPES --weights-bin
check_model emit_shapes emitshapes EMITSHAPES   # last: the -fopenmp and sanitizer builds take its const arrays
check_model emit_pool emitpool EMITPOOL
check_model emit_rows emitrows EMITROWS --weights-bin
check_model emit_rows emitrows EMITROWS     # last: the sanitizer build below takes its const arrays
n=$(grep -c '^ *k_conv2d_rows(' "$tmp/emit_rows/out.c")
[ "$n" = 4 ] || fail "emit_rows: $n of its 4 few-tap Conv2d layers call k_conv2d_rows"

# the kernels on their own (tests/backends/emit_kernels.c, with emit_rows' generated file
# included): each compiler, and under ASan + UBSan plain and with the widest vectors (their
# buffers sized exactly, so a load past a padded row or a Linear's weights is caught)
d="$tmp/emit_rows"
for build in $compilers asan ${wide:+asan-wide}; do
    pick "$build"
    # shellcheck disable=SC2086
    $cc -std=c99 -Wall -Wextra -Werror -O2 $flags -I"$d" -DGENERATED='"out.c"' \
        "$top_srcdir/tests/backends/emit_kernels.c" -o "$d/kernels" -lm 2>"$d/cc.err" ||
        { fail "emit_kernels ($cc $flags): $(head -5 "$d/cc.err")"; continue; }
    "$d/kernels" >"$d/kernels.out" 2>&1 || fail "emit_kernels ($cc $flags): $(head -5 "$d/kernels.out")"
done
check_model emit_wino emitwino EMITWINO --weights-bin
check_model emit_wino emitwino EMITWINO     # last: the sanitizer build below takes its const arrays
n=$(grep -c '^ *k_conv2d_wino(' "$tmp/emit_wino/out.c")
[ "$n" = 5 ] || fail "emit_wino: $n of its 5 F(2x2, 3x3)-shaped Conv2d layers call k_conv2d_wino"
n=$(grep -c "^ *k_conv2d_wino4(" "$tmp/emit_wino/out.c")
[ "$n" = 1 ] || fail "emit_wino: $n of its 1 F(4x4, 3x3)-shaped Conv2d layers call k_conv2d_wino4"

# CenterCrop in the eval transform: images larger, smaller and odd-sized against the runtime
d="$tmp/crop"
mkdir -p "$d"
sed 's/transform = Compose(ToTensor(),/transform = Compose(CenterCrop(100), ToTensor(),/' \
    "$top_srcdir/tests/checkpoint/tiny.cnn" >"$d/crop.cnn"
"$top_builddir/tests/parity/parity_dump" --init "$d/crop.cnn" "$d/w.st" >/dev/null || fail "crop: parity_dump --init"
if "$CNNC" "$d/crop.cnn" --emit-c "$d/out.c" --weights "$d/w.st" 2>"$d/err"; then
    "$ref" --png "$d/crop.cnn" "$d/a.png" 1 120 90 && "$ref" --png "$d/crop.cnn" "$d/b.png" 2 101 131 &&
        "$ref" --png "$d/crop.cnn" "$d/c.png" 3 77 100 || fail "crop: writing the test images"
    "$ref" "$d/crop.cnn" "$d/w.st" "$d/a.png" "$d/b.png" "$d/c.png" >"$d/want" || fail "crop: emit_ref"
    gcc $strict -c "$d/out.c" -o "$d/out.o" 2>"$d/cc.err" || fail "crop: gcc: $(head -5 "$d/cc.err")"
    gcc -O1 $stb -I"$d" -DPREFIX=tiny -DUPPER=TINY -DHEADER='"out.h"' "$top_srcdir/tests/backends/emit_main.c" \
        "$d/out.o" -o "$d/run" -lm && "$d/run" "$d/a.png" "$d/b.png" "$d/c.png" >"$d/got" || fail "crop: the program failed"
    why=$(compare "$d/want" "$d/got") || fail "crop: $why"
else
    fail "crop: --emit-c: $(cat "$d/err")"
fi

# examples/embed: built by its Makefile for sea.cnn; it names --predict's class
d="$tmp/sea"
cp -r "$top_srcdir/examples/embed" "$tmp/embed"
if make -s -C "$tmp/embed" CNNC="$CNNC" MODEL="$top_srcdir/models/sea.cnn" WEIGHTS="$d/w.st" >"$tmp/embed/out" 2>&1; then
    "$tmp/embed/classify" "$tmp/embed/model.bin" "$d/img2.png" >"$tmp/embed/got" || fail "examples/embed: classify failed"
    "$CNNC" "$top_srcdir/models/sea.cnn" --predict "$d/img2.png" --weights "$d/w.st" >"$tmp/embed/want"
    [ "$(sed 's/ (.*//' "$tmp/embed/got")" = "$(sed 's/ (.*//' "$tmp/embed/want")" ] ||
        fail "examples/embed says '$(cat "$tmp/embed/got")', --predict '$(cat "$tmp/embed/want")'"
else
    fail "examples/embed: make: $(tail -5 "$tmp/embed/out")"
fi

# OpenMP: the optional pragmas, built with -fopenmp (where the compiler has it) and run on 2
# threads, give the same classes and probabilities as the runtime
for m in fashion_resnet:fashionresnet emit_shapes:emitshapes emit_wino:emitwino emit_rows:emitrows; do
    d="$tmp/${m%:*}" prefix=${m#*:}
    upper=$(echo "$prefix" | tr 'a-z' 'A-Z')
    [ -s "$d/out.c" ] || continue
    echo 'int main(void) { return 0; }' >"$tmp/omp.c"
    gcc -fopenmp "$tmp/omp.c" -o "$tmp/omp" 2>/dev/null || break
    gcc $strict -fopenmp $stb -I"$d" -DPREFIX="$prefix" -DUPPER="$upper" -DHEADER='"out.h"' "$d/out.c" \
        "$top_srcdir/tests/backends/emit_main.c" -o "$d/omp" -lm 2>"$d/cc.err" ||
        { fail "${m%:*}: gcc -fopenmp: $(head -5 "$d/cc.err")"; continue; }
    OMP_NUM_THREADS=2 "$d/omp" $(for s in 1 2 3; do echo "$d/img$s.png"; done) >"$d/got.omp" ||
        { fail "${m%:*}: the -fopenmp program failed"; continue; }
    why=$(compare "$d/want" "$d/got.omp") || fail "${m%:*} (gcc -fopenmp, 2 threads): $why"
done

# ASan + UBSan: the fashion_resnet build (conv groups, BatchNorm folded, adds, pools), the
# packed kernels' shapes, the Winograd shapes and the few-tap ones run clean, built plain and
# with the widest vectors the CPU has (their loads are the ones that could reach past a row)
for m in fashion_resnet:fashionresnet emit_shapes:emitshapes emit_wino:emitwino emit_rows:emitrows; do
    d="$tmp/${m%:*}" prefix=${m#*:}
    upper=$(echo "$prefix" | tr 'a-z' 'A-Z')
    [ -s "$d/out.c" ] || continue
    for build in gcc $wide; do
        pick "$build"
        # shellcheck disable=SC2086
        gcc -std=c99 $sanitize $flags $stb -I"$d" \
            -DPREFIX="$prefix" -DUPPER="$upper" -DHEADER='"out.h"' "$d/out.c" "$top_srcdir/tests/backends/emit_main.c" \
            -o "$d/asan" -lm 2>"$d/cc.err" || { fail "${m%:*}: sanitizer build $flags: $(head -5 "$d/cc.err")"; continue; }
        "$d/asan" "$d/img1.png" >"$d/got.asan" 2>"$d/asan.err" ||
            fail "${m%:*}: sanitizer run $flags: $(head -5 "$d/asan.err")"
        [ -s "$d/asan.err" ] && fail "${m%:*}: sanitizer run $flags said: $(head -5 "$d/asan.err")"
    done
done
exit $((fails > 0))
