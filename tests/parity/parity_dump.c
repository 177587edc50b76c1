/* tests/parity/parity_dump.c: runs cnnc's graph for any .cnn model on fixed random batches
 * and writes everything PyTorch must reproduce to one safetensors file: for each of three
 * optimizer steps the state it starts from ("init." for the first, "weights.S." after: every
 * parameter and buffer, such as BatchNorm's running statistics, under its state_dict key),
 * the batch, the logits, the loss and the gradients ("grad.S."); and the state after the
 * three steps ("final."). test_parity.py and test_parity_zoo.py replay it in PyTorch.
 * Dropout is forced off. A scheduler the file declares is stepped after each step, each step
 * counting as an epoch for the per-epoch ones (test_schedule_steps_torch.py).
 * With --init it writes the model file cnnc would start training from (the freshly
 * initialised parameters and buffers, through model_save) and nothing else:
 * test_zoo_keys.py loads it into torchvision's modules.
 * usage: parity_dump MODEL.cnn OUT.safetensors | parity_dump --init MODEL.cnn OUT.safetensors */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/driver/schedule.h"
#include "compiler/frontend/check.h"
#include "compiler/passes/lower.h"
#include "compiler/passes/plan.h"
#include "runtime/exec.h"
#include "runtime/init.h"
#include "runtime/modelfile.h"
#include "runtime/safetensors.h"

#define STEPS 3
#define BATCH 4

typedef struct Out { StTensor *t; int n, cap; } Out;

/* a value a model file holds: a parameter, or a buffer (any persistent kind other than
 * gradients and optimizer state), so kinds added later are dumped without a change here */
static int saved(const Value *v)
{
    return v->kind != VK_INPUT && v->kind != VK_LABEL && v->kind != VK_GRAD && v->kind != VK_STATE &&
           v->kind != VK_ACT;
}

/* its dtype in the file: float32, int32, else the 8-byte integers of num_batches_tracked */
static StDType st_dtype(const Value *v)
{
    return v->dtype == DT_F32 ? ST_F32 : v->dtype == DT_I32 ? ST_I32 : ST_I64;
}

static void add(Out *o, const char *prefix, const char *name, StDType dt, const Value *v, const void *data, int batch)
{
    if (o->n == o->cap) o->t = xrealloc(o->t, (size_t)(o->cap = o->cap ? 2 * o->cap : 64) * sizeof *o->t);
    StTensor *t = &o->t[o->n++];
    char *full = xmalloc(strlen(prefix) + strlen(name) + 2);
    sprintf(full, "%s%s", prefix, name);
    t->name = full;
    t->dtype = dt;
    t->ndim = v->ndim;
    for (int d = 0; d < v->ndim; d++) t->shape[d] = v->shape[d];
    if (v->batched) t->shape[0] = batch;
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= (size_t)t->shape[d];
    size_t size = dt == ST_I64 ? 8 : 4;
    void *copy = xmalloc(n * size);
    memcpy(copy, data, n * size);
    t->data = copy;
}

/* --init: lower the forward graph unfused (as --train's graph is: no BatchNorm folded),
 * initialise with seed 1, write the model file */
static int write_init(const char *model, const char *out)
{
    Program p;
    if (check_file(model, NULL, &p, stderr) < 0) return 1;
    LowerOptions lo = { .batch = 1, .training = 0, .no_fuse = 1 };
    Error e;
    Graph *g = lower_program(&p, &lo, &e);
    if (!g) {
        fprintf(stderr, "%s\n", e.msg);
        program_free(&p);
        return 1;
    }
    PlanStats st;
    plan_memory(g, &st);
    graph_bind(g);
    init_parameters(g, 1);
    int rc = model_save(g, out, p.classes, p.nclasses, p.source, &e);
    if (rc < 0) fprintf(stderr, "%s\n", e.msg);
    graph_free(g);
    program_free(&p);
    return rc < 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--init") == 0) return write_init(argv[2], argv[3]);
    if (argc != 3) {
        fprintf(stderr, "usage: parity_dump MODEL.cnn OUT.safetensors | parity_dump --init MODEL.cnn OUT.safetensors\n");
        return 2;
    }
    Program p;
    CheckOptions co = { .require_training = 1 };
    if (check_file(argv[1], &co, &p, stderr) < 0) return 1;
    for (int i = 0; i < p.nlayers; i++)
        if (p.layers[i].kind == L_DROPOUT) p.layers[i].p = 0;
    LowerOptions lo = { .batch = BATCH, .training = 1 };
    Error e;
    Graph *g = lower_program(&p, &lo, &e);
    if (!g) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    PlanStats st;
    plan_memory(g, &st);
    graph_bind(g);
    init_parameters(g, 1);
    exec_set_threads(g, 0);
    RunSchedule rs;
    if (schedule_begin(&rs, &p, g, 1, STEPS, 0, NULL, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    Out o = { 0 };
    for (int i = 0; i < g->nvals; i++)
        if (saved(&g->vals[i])) add(&o, "init.", g->vals[i].name, st_dtype(&g->vals[i]), &g->vals[i], g->vals[i].data, BATCH);
    Rng r;
    rng_seed(&r, 2024);
    int nclasses = g->vals[g->logits].shape[1];
    for (int s = 0; s < STEPS; s++) {
        char name[32];
        float *x = vf32(g, g->input);
        for (size_t i = 0; i < value_numel(&g->vals[g->input]); i++) x[i] = 2 * rng_uniform(&r) - 1;
        for (int i = 0; i < BATCH; i++) vi32(g, g->label)[i] = (int32_t)rng_below(&r, (uint32_t)nclasses);
        snprintf(name, sizeof name, "input.%d", s);
        add(&o, "", name, ST_F32, &g->vals[g->input], x, BATCH);
        snprintf(name, sizeof name, "target.%d", s);
        add(&o, "", name, ST_I32, &g->vals[g->label], vi32(g, g->label), BATCH);
        graph_set_batch(g, BATCH);
        g->training = 1;
        g->step++;
        exec_run(g, PHASE_FORWARD | PHASE_BACKWARD);
        snprintf(name, sizeof name, "logits.%d", s);
        add(&o, "", name, ST_F32, &g->vals[g->logits], vf32(g, g->logits), BATCH);
        snprintf(name, sizeof name, "loss.%d", s);
        add(&o, "", name, ST_F32, &g->vals[g->loss], vf32(g, g->loss), BATCH);
        snprintf(name, sizeof name, "grad.%d.", s);
        for (int i = 0; i < g->nvals; i++)
            if (g->vals[i].kind == VK_PARAM && g->vals[i].grad >= 0)
                add(&o, name, g->vals[i].name, ST_F32, &g->vals[i], g->vals[g->vals[i].grad].data, BATCH);
        exec_run(g, PHASE_UPDATE);
        schedule_after_batch(&rs, g);
        schedule_after_epoch(&rs, g, vf32(g, g->loss)[0]);
        snprintf(name, sizeof name, "weights.%d.", s + 1);
        for (int i = 0; i < g->nvals && s + 1 < STEPS; i++)
            if (saved(&g->vals[i])) add(&o, name, g->vals[i].name, st_dtype(&g->vals[i]), &g->vals[i], g->vals[i].data, BATCH);
    }
    for (int i = 0; i < g->nvals; i++)
        if (saved(&g->vals[i])) add(&o, "final.", g->vals[i].name, st_dtype(&g->vals[i]), &g->vals[i], g->vals[i].data, BATCH);
    int rc = safetensors_write(argv[2], o.t, o.n, NULL, 0, &e);
    if (rc < 0) fprintf(stderr, "%s\n", e.msg);
    for (int i = 0; i < o.n; i++) {
        free((void *)o.t[i].name);
        free((void *)o.t[i].data);
    }
    free(o.t);
    graph_free(g);
    program_free(&p);
    return rc < 0;
}
