/* compiler/summary.c: the model summary (see summary.h). */
#include "summary.h"

#include <string.h>

long layer_params(const Layer *L)
{
    switch (L->kind) {
    case L_CONV2D: return (long)L->out_ch * L->in_ch * L->kernel * L->kernel + (L->bias ? L->out_ch : 0);
    case L_LINEAR: return (long)L->out_ch * L->in_ch + (L->bias ? L->out_ch : 0);
    default:       return 0;
    }
}

static void commas(long n, char *buf, size_t cap)
{
    char tmp[32];
    int len = snprintf(tmp, sizeof tmp, "%ld", n), o = 0;
    for (int i = 0; i < len && (size_t)o + 2 < cap; i++) {
        if (i && (len - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = 0;
}

static void shape_text(const int *s, int n, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%d", i ? " x " : "", s[i]);
}

void print_summary(FILE *f, const Program *p, const PlanStats *st, int batch)
{
    char shp[64], num[32];
    long total = 0, trainable = 0;
    shape_text(p->in_shape, 3, shp, sizeof shp);
    fprintf(f, "Model %s (%s), input %s\n", p->model_name, p->path, shp);
    fprintf(f, "%-32s %-20s %12s\n", "Layer (type)", "Output shape", "Param #");
    fprintf(f, "%.66s\n", "==================================================================");
    for (int i = 0; i < p->nlayers; i++) {
        const Layer *L = &p->layers[i];
        char name[128];
        long n = layer_params(L);
        snprintf(name, sizeof name, "%s (%s)", L->key, L->type_name);
        shape_text(L->out_shape, L->out_ndim, shp, sizeof shp);
        commas(n, num, sizeof num);
        fprintf(f, "%-32s %-20s %12s\n", name, shp, num);
        total += n;
        if (!L->frozen) trainable += n;
    }
    fprintf(f, "%.66s\n", "==================================================================");
    commas(total, num, sizeof num);
    fprintf(f, "Total params: %s (%.2f MiB as float32)\n", num, (double)total * 4 / (1024.0 * 1024.0));
    commas(trainable, num, sizeof num);
    fprintf(f, "Trainable params: %s\n", num);
    if (st)
        fprintf(f, "Training memory plan at batch %d: %.2f MiB (activations %.2f MiB, shared from %.2f MiB; "
                   "parameters %.2f MiB; gradients %.2f MiB; optimizer state %.2f MiB)\n",
                batch, (double)plan_total_bytes(st) / 1048576.0, (double)st->arena_bytes / 1048576.0,
                (double)st->unshared_bytes / 1048576.0, (double)st->param_bytes / 1048576.0,
                (double)st->grad_bytes / 1048576.0, (double)st->state_bytes / 1048576.0);
}
