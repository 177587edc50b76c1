#!/bin/sh
# tests/ops/test_conv2d_paths.sh: Conv2d's ways of computing a stride-1 convolution, the
# direct kernels (conv2d_direct.c), Winograd for 3x3 (conv2d_winograd4.c's F(4x4),
# conv2d_winograd.c's F(2x2)) and im2col +
# sgemm, each checked by the convolution tests whatever this CPU and the cost rule would
# choose (runtime/ops/conv2d.c picks the direct kernels only with AVX-512, where they pay):
# CNNC_CONV_DIRECT=1, CNNC_CONV_DIRECT=0 with CNNC_CONV_WINOGRAD=1 and CNNC_CONV_WINOGRAD4=1
# or 0, and both 0 force each.
# (The fused and sparse paths' own tests force the direct kernels they test;
# test_conv2d_winograd runs the fused forward on Winograd.)
. "$(dirname "$0")/../lib.sh"
for v in "1 - -" "0 1 1" "0 1 0" "0 0 -"; do
    set -- $v
    for t in test_conv2d; do
        if [ "$2" = - ]; then
            CNNC_CONV_DIRECT=$1 "$top_builddir/tests/ops/$t" >"$tmp/out" 2>&1
        else
            CNNC_CONV_DIRECT=$1 CNNC_CONV_WINOGRAD=$2 CNNC_CONV_WINOGRAD4=$3 "$top_builddir/tests/ops/$t" >"$tmp/out" 2>&1
        fi || fail "$t with CNNC_CONV_DIRECT=$1 CNNC_CONV_WINOGRAD=$2 CNNC_CONV_WINOGRAD4=$3: $(tail -3 "$tmp/out")"
    done
done
exit $((fails > 0))
