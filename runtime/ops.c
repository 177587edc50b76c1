/* runtime/ops.c: the operator table, one row per op listed in CN_OPS (ops.h). */
#include "ops.h"

#define CN_OP_ROW(name) &op_##name,
const OpDef *const op_table[OP_COUNT] = { CN_OPS(CN_OP_ROW) };
#undef CN_OP_ROW

int window_out_size(int n, int k, int s, int p)
{
    if (k <= 0 || s <= 0 || p < 0) return -1;
    if (n + 2 * p < k) return -1;
    return (n + 2 * p - k) / s + 1;
}

static int pick(int pair, int square) { return pair ? pair : square; }

/* The pair fields where set, else the square ones. Kernel, stride and dilation are never 0,
 * so a 0 in their pair means unset; padding may be 0 on one side (padding=(1, 0)): its pair
 * counts as set when either entry is. */
Window2d attrs_window(const Attrs *a)
{
    int pad_pair = a->padding_hw[0] || a->padding_hw[1];
    Window2d w = { pick(a->kernel_hw[0], a->kernel), pick(a->kernel_hw[1], a->kernel),
                   pick(a->stride_hw[0], a->stride), pick(a->stride_hw[1], a->stride),
                   pad_pair ? a->padding_hw[0] : a->padding, pad_pair ? a->padding_hw[1] : a->padding,
                   pick(a->dilation_hw[0], 1), pick(a->dilation_hw[1], 1) };
    return w;
}

int window_out_size_ex(int n, int k, int s, int p, int d, int ceil_mode)
{
    if (k <= 0 || s <= 0 || p < 0 || d <= 0) return -1;
    long span = (long)d * (k - 1) + 1, room = (long)n + 2L * p - span;
    if (room < 0) return -1;
    long out = (room + (ceil_mode ? s - 1 : 0)) / s + 1;
    if (ceil_mode && (out - 1) * s >= (long)n + p) out--;
    return out < 1 || out > 1 << 30 ? -1 : (int)out;
}

static int square(Window2d w) { return w.kh == w.kw && w.sh == w.sw && w.ph == w.pw; }

int conv2d_attrs_plain(const Attrs *a)
{
    Window2d w = attrs_window(a);
    return square(w) && w.dh == 1 && w.dw == 1 && a->groups <= 1 && a->padding_mode == PADDING_ZEROS;
}

int maxpool2d_attrs_plain(const Attrs *a)
{
    Window2d w = attrs_window(a);
    return square(w) && w.dh == 1 && w.dw == 1 && !a->ceil_mode;
}
