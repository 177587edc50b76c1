/* compiler/driver/summary.c: the model summary (see summary.h). */
#include "summary.h"

#include <string.h>

#include "../../runtime/data.h"
#include "../../runtime/json.h"

long layer_params(const Layer *L)
{
    switch (L->kind) {
    case L_CONV2D:
        return (long)L->out_ch * (L->in_ch / (L->groups ? L->groups : 1)) * L->kernel_hw[0] * L->kernel_hw[1] +
               (L->bias ? L->out_ch : 0);
    case L_LINEAR: return (long)L->out_ch * L->in_ch + (L->bias ? L->out_ch : 0);
    case L_BATCHNORM2D: case L_BATCHNORM1D: return L->affine ? 2L * L->in_ch : 0;
    default:       return 0;
    }
}

/* A row per module of a model with blocks (named_modules, like torchinfo with depth):
 * name indented by depth, type, a layer's output shape, parameters below it. */
static int has_blocks(const Program *p)
{
    for (int i = 0; i < p->nmods; i++)
        if (p->mods[i].layer < 0 && strcmp(p->mods[i].type_name, "Sequential")) return 1;
    return 0;
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

/* Where the plan's batch comes from when training runs at another: ", the test loader's
 * (training runs at batch 64)", else "" */
static void plan_batch_text(const Program *p, int batch, int training, char *buf, size_t cap)
{
    buf[0] = 0;
    /* a plan below the declared training batch is one capped by the data sets' sizes */
    if (!training || !p->train.present || p->train.batch_size >= batch) return;
    const char *which = p->test.present && p->test.batch_size == batch ? "test" : "validation";
    snprintf(buf, cap, ", the %s set's (training runs at batch %d)", which, p->train.batch_size);
}

/* "Scheduler: StepLR(step_size=5, gamma=0.1), stepped after each epoch", when there is one */
static void print_scheduler(FILE *f, const Program *p)
{
    char buf[1024];
    if (p->sched.top.kind == LRS_NONE) return;
    lr_scheduler_describe(&p->sched, buf, sizeof buf);
    fprintf(f, "Scheduler: %s\n", buf);
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
        if (L->functional) continue;
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
    print_scheduler(f, p);
    char why[96];
    plan_batch_text(p, batch, 1, why, sizeof why);
    if (st)
        fprintf(f, "Training memory plan at batch %d%s: %.2f MiB (activations %.2f MiB, shared from %.2f MiB; "
                   "parameters %.2f MiB; gradients %.2f MiB; optimizer state %.2f MiB)\n",
                batch, why, (double)plan_total_bytes(st) / 1048576.0, (double)st->arena_bytes / 1048576.0,
                (double)st->unshared_bytes / 1048576.0, (double)st->param_bytes / 1048576.0,
                (double)st->grad_bytes / 1048576.0, (double)st->state_bytes / 1048576.0);
}

/* ---- --summary ---- */

long long layer_macs(const Layer *L)
{
    switch (L->kind) {
    case L_CONV2D:
        return (long long)L->out_shape[0] * L->out_shape[1] * L->out_shape[2] * (L->in_ch / (L->groups ? L->groups : 1)) *
               L->kernel_hw[0] * L->kernel_hw[1];
    case L_LINEAR: return (long long)L->out_ch * L->in_ch;
    default:       return 0;
    }
}

long long model_file_bytes(const Program *p, const Graph *g, char *const *classes, int nclasses)
{
    /* the header model_save writes (runtime/modelfile.c, runtime/safetensors.c); the
     * summary test compares this with the size of a file --train wrote */
    JsonBuf cls = { 0 }, h = { 0 };
    json_buf_puts(&cls, "[");
    for (int i = 0; i < nclasses; i++) {
        if (i) json_buf_puts(&cls, ", ");
        json_buf_string(&cls, classes[i]);
    }
    json_buf_puts(&cls, "]");
    json_buf_puts(&h, "{\"__metadata__\":{\"format\":\"pt\",\"classes\":");
    json_buf_string(&h, cls.p);
    json_buf_puts(&h, ",\"cnnc_source\":");
    json_buf_string(&h, p->source ? p->source : "");
    if (p->overrides) {
        json_buf_puts(&h, ",\"cnnc_overrides\":");
        json_buf_string(&h, p->overrides);
    }
    json_buf_puts(&h, "}");
    long long offset = 0;
    for (int i = 0; i < g->nvals; i++) {
        const Value *v = &g->vals[i];
        if (v->kind != VK_PARAM && v->kind != VK_BUFFER) continue;
        long long nb = (long long)value_bytes(v);
        json_buf_puts(&h, ",");
        json_buf_string(&h, v->name);
        json_buf_printf(&h, ":{\"dtype\":\"%s\",\"shape\":[", v->dtype == DT_I64 ? "I64" : "F32");
        for (int d = 0; d < v->ndim; d++) json_buf_printf(&h, "%s%d", d ? "," : "", v->shape[d]);
        json_buf_printf(&h, "],\"data_offsets\":[%lld,%lld]}", offset, offset + nb);
        offset += nb;
    }
    json_buf_puts(&h, "}");
    long long header = (long long)(h.len + 7) / 8 * 8;
    json_buf_free(&cls);
    json_buf_free(&h);
    return 8 + header + offset;
}

static void mega(long long n, char *buf, size_t cap)
{
    if (n >= 1000000000LL) snprintf(buf, cap, "%.2f G", (double)n / 1e9);
    else if (n >= 1000000) snprintf(buf, cap, "%.2f M", (double)n / 1e6);
    else if (n >= 1000) snprintf(buf, cap, "%.2f k", (double)n / 1e3);
    else snprintf(buf, cap, "%lld", n);
}

void print_model_summary(FILE *f, const Program *p, const Graph *g, const PlanStats *st, int training)
{
    static const char rule[] = "============================================================================";
    char shp[64], num[32], macs[32], a[32];
    long total = 0, trainable = 0;
    long long total_macs = 0;
    int batch = g->max_batch;
    shape_text(p->in_shape, 3, shp, sizeof shp);
    fprintf(f, "Model %s (%s): input %s, batch %d\n", p->model_name, p->path, shp, batch);
    fprintf(f, "%-30s %-16s %12s %15s\n", "Layer (type)", "Output shape", "Param #", "Mult-adds");
    fprintf(f, "%s\n", rule);
    int tree = has_blocks(p);
    for (int i = 0; tree && i < p->nmods; i++) {     /* containers: their layers' totals */
        const ModuleEntry *me = &p->mods[i];
        char name[200];
        long n = 0;
        long long m = 0;
        for (int k = me->first; k < me->end; k++) {
            n += layer_params(&p->layers[k]);
            m += layer_macs(&p->layers[k]);
        }
        snprintf(name, sizeof name, "%*s%.96s (%.63s)", me->depth < 20 ? 2 * (me->depth - 1) : 38, "", me->name,
                 me->type_name);
        shp[0] = 0;
        if (me->layer >= 0) shape_text(p->layers[me->layer].out_shape, p->layers[me->layer].out_ndim, shp, sizeof shp);
        commas(n, num, sizeof num);
        commas((long)m, macs, sizeof macs);
        fprintf(f, "%-30s %-16s %12s %15s\n", name, shp, num, macs);
    }
    for (int i = 0; i < p->nlayers; i++) {
        const Layer *L = &p->layers[i];
        char name[160];
        long n = layer_params(L);
        long long m = layer_macs(L);
        if (L->functional && tree) continue;
        snprintf(name, sizeof name, "%s (%s%s)", L->key, L->type_name, L->frozen ? ", frozen" : "");
        shape_text(L->out_shape, L->out_ndim, shp, sizeof shp);
        commas(n, num, sizeof num);
        commas((long)m, macs, sizeof macs);
        if (!tree && !L->functional) fprintf(f, "%-30s %-16s %12s %15s\n", name, shp, num, macs);
        total += n;
        total_macs += m;
        if (!L->frozen) trainable += n;
    }
    fprintf(f, "%s\n", rule);
    commas(total, num, sizeof num);
    fprintf(f, "Total params: %s\n", num);
    commas(trainable, num, sizeof num);
    fprintf(f, "Trainable params: %s\n", num);
    commas(total - trainable, num, sizeof num);
    fprintf(f, "Non-trainable params: %s\n", num);
    commas((long)total_macs, macs, sizeof macs);
    mega(total_macs * batch, a, sizeof a);
    fprintf(f, "Mult-adds: %s per image, %s per batch of %d (forward pass)\n", macs, a, batch);
    print_scheduler(f, p);
    /* the class names the model file will hold: `classes`, torchvision's for (Fashion)MNIST,
     * else the folders' names, unknown here */
    const DatasetDecl *d = p->train.present ? &p->train : p->test.present ? &p->test : &p->validation;
    char *const *names = p->classes;
    int nnames = p->nclasses;
    const char *from = "";
    if (!nnames && d->present && d->kind != DS_IMAGEFOLDER) {
        names = mnist_class_names(d->kind == DS_FASHION_MNIST);
        nnames = 10;
        from = d->kind == DS_FASHION_MNIST ? ", with torchvision's FashionMNIST class names" : ", with torchvision's MNIST class names";
    } else if (!nnames && p->out_ndim == 1) {
        from = d->present ? ", plus the class names, which are the ImageFolder's folder names" : "";
    }
    long long fb = model_file_bytes(p, g, names, nnames);
    commas((long)fb, num, sizeof num);
    fprintf(f, "Model file: %s bytes (%.2f MiB)%s\n", num, (double)fb / 1048576.0, from);
    char why[96];
    plan_batch_text(p, batch, training, why, sizeof why);
    fprintf(f, "%s memory plan at batch %d%s: %.2f MiB\n", training ? "Training" : "Forward-pass", batch, why,
            (double)plan_total_bytes(st) / 1048576.0);
    fprintf(f, "  activations      %9.2f MiB (%.2f MiB without sharing buffers)\n",
            (double)st->arena_bytes / 1048576.0, (double)st->unshared_bytes / 1048576.0);
    fprintf(f, "  parameters       %9.2f MiB\n", (double)st->param_bytes / 1048576.0);
    if (training) {
        fprintf(f, "  gradients        %9.2f MiB\n", (double)st->grad_bytes / 1048576.0);
        fprintf(f, "  optimizer state  %9.2f MiB\n", (double)st->state_bytes / 1048576.0);
    }
}
