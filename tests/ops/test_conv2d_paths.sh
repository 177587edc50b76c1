#!/bin/sh
# tests/ops/test_conv2d_paths.sh: Conv2d's two ways of computing a stride-1 convolution, the
# direct kernels (conv2d_direct.c) and im2col + sgemm, each checked by the convolution tests
# whatever this CPU would choose (runtime/ops/conv2d.c picks the direct kernels only with
# AVX-512): CNNC_CONV_DIRECT=1 and =0 force each. (The fused and sparse paths' own tests
# force the direct kernels they test.)
. "$(dirname "$0")/../lib.sh"
for v in 1 0; do
    for t in test_conv2d; do
        CNNC_CONV_DIRECT=$v "$top_builddir/tests/ops/$t" >"$tmp/out" 2>&1 || fail "$t with CNNC_CONV_DIRECT=$v: $(tail -3 "$tmp/out")"
    done
done
exit $((fails > 0))
