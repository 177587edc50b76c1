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
