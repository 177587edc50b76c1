/* tests/checkpoint/test_modelfile.c: what loading a model file refuses (runtime/modelfile.c)
 * and how its class names are checked against the .cnn (model_file_classes in
 * compiler/driver/train.c): non-finite values named by tensor and element, a checkpoint given as
 * a model file, class names that disagree with the outputs or the .cnn's `classes`, names
 * that are not a JSON list, and the warning where the .cnn has none and the folders differ. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/driver/checkpoint.h"
#include "compiler/driver/train.h"
#include "runtime/modelfile.h"
#include "tests/data/datatest.h"
#include "tests/graph/sea_program.h"
#include "tests/test.h"

static char *names5[] = { "a", "b", "c", "d", "e" }, *reversed5[] = { "e", "d", "c", "b", "a" };

static Value *param(Graph *g, const char *name)
{
    for (int i = 0; i < g->nvals; i++)
        if (g->vals[i].kind == VK_PARAM && strcmp(g->vals[i].name, name) == 0) return &g->vals[i];
    return NULL;
}

static void test_nonfinite(Graph *g)
{
    Error e = { "" };
    CHECK(model_save(g, tp("ok.st"), names5, 5, "src", &e) == 0, "save: %s", e.msg);
    CHECK(model_load(g, tp("ok.st"), NULL, &e) == 0, "a finite model file was refused: %s", e.msg);
    Value *b = param(g, "fc_layers.3.bias");
    CHECK(b != NULL, "no fc_layers.3.bias");
    if (!b) return;
    float *x = (float *)b->data, keep = x[3];
    const float bad[3] = { NAN, INFINITY, -INFINITY };
    const char *word[3] = { "NaN", "+Inf", "-Inf" };
    for (int i = 0; i < 3; i++) {
        x[3] = bad[i];
        CHECK(model_save(g, tp("bad.st"), names5, 5, "src", &e) == 0, "save: %s", e.msg);
        x[3] = keep;
        char want[200];
        snprintf(want, sizeof want, "tensor 'fc_layers.3.bias' holds %s at element 3", word[i]);
        CHECK(model_load(g, tp("bad.st"), NULL, &e) == -1 && strstr(e.msg, tp("bad.st")) && strstr(e.msg, want),
              "a model file with %s: '%s'", word[i], e.msg);
        CHECK(x[3] == keep, "a refused file changed the parameters");
    }
}

static void test_checkpoint_as_model(Graph *g)
{
    Error e = { "" };
    TrainState ts = { 1, 0, 0, 0, 0, 7, 1, NULL, 1 };
    CHECK(checkpoint_save(tp("c.ckpt"), g, "src", &ts, &e) == 0, "save: %s", e.msg);
    char want[600];
    snprintf(want, sizeof want, "%s: this is a checkpoint, not a model file: use --resume %s with --train", tp("c.ckpt"),
             tp("c.ckpt"));
    CHECK(model_load(g, tp("c.ckpt"), NULL, &e) == -1 && strstr(e.msg, want), "a checkpoint as a model file: '%s'", e.msg);
}

/* model_file_classes on a file whose metadata "classes" is json (NULL: none) */
static int classes_of(Program *p, const char *json, const Sets *s, FILE *warn, char ***names, int *n, Error *e)
{
    float w = 1;
    StTensor t = { "w", ST_F32, 1, { 1 }, &w };
    StMeta meta = { "classes", json };
    if (safetensors_write(tp("cls.st"), &t, 1, &meta, json ? 1 : 0, e) < 0) return -2;
    StFile f;
    if (safetensors_read(&f, tp("cls.st"), e) < 0) return -2;
    int rc = model_file_classes(p, &f, tp("cls.st"), s, warn, names, n, e);
    safetensors_free(&f);
    return rc;
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

static void test_classes(Program *p)
{
    char **names;
    int n;
    Error e = { "" };
    const char *abcde = "[\"a\", \"b\", \"c\", \"d\", \"e\"]";
    p->classes = NULL, p->nclasses = 0;
    CHECK(classes_of(p, abcde, NULL, stderr, &names, &n, &e) == 0 && n == 5 && strcmp(names[4], "e") == 0,
          "the model file's names, the .cnn naming none: %s", e.msg);
    free_names(names, n);
    CHECK(classes_of(p, NULL, NULL, stderr, &names, &n, &e) == 0 && n == 0, "no names anywhere: %s", e.msg);
    free_names(names, n);
    CHECK(classes_of(p, "[\"a\", \"b\"]", NULL, stderr, &names, &n, &e) == -1 &&
              strstr(e.msg, "the model file names 2 classes but the model outputs 5"),
          "2 names for 5 outputs: '%s'", e.msg);
    CHECK(classes_of(p, "not json", NULL, stderr, &names, &n, &e) == -1 &&
              strstr(e.msg, "its metadata \"classes\" is not a JSON list of strings") && strstr(e.msg, tp("cls.st")),
          "classes that are not JSON: '%s'", e.msg);
    CHECK(classes_of(p, "{\"a\": 1}", NULL, stderr, &names, &n, &e) == -1 && strstr(e.msg, "not a JSON list"),
          "classes that are an object: '%s'", e.msg);

    p->classes = names5, p->nclasses = 5;
    CHECK(classes_of(p, abcde, NULL, stderr, &names, &n, &e) == 0 && n == 5, "the same names: %s", e.msg);
    free_names(names, n);
    CHECK(classes_of(p, NULL, NULL, stderr, &names, &n, &e) == 0 && n == 5 && strcmp(names[0], "a") == 0,
          "no names in the model file: the .cnn's: %s", e.msg);
    free_names(names, n);
    CHECK(classes_of(p, "[\"e\", \"d\", \"c\", \"b\", \"a\"]", NULL, stderr, &names, &n, &e) == -1 &&
              strstr(e.msg, "the model file's classes [\"e\", \"d\", \"c\", \"b\", \"a\"] differ from sea_test.cnn's "
                            "`classes` [\"a\", \"b\", \"c\", \"d\", \"e\"]"),
          "reversed names: '%s'", e.msg);

    /* the .cnn names none, the data folders are read and differ: a warning */
    p->classes = NULL, p->nclasses = 0;
    Sets s;
    memset(&s, 0, sizeof s);
    s.classes = reversed5, s.nclasses = 5;
    FILE *w = tmpfile();
    CHECK(classes_of(p, abcde, &s, w, &names, &n, &e) == 0 && n == 5, "folders that differ: %s", e.msg);
    free_names(names, n);
    char line[600] = "";
    rewind(w);
    if (!fgets(line, sizeof line, w)) line[0] = 0;
    CHECK(strstr(line, "cnnc: warning: ") && strstr(line, "differ from the data folders [\"e\""), "warning: '%s'", line);
    fclose(w);
}

int main(void)
{
    make_test_tmp("modelfile");
    Program p;
    sea_program(&p, 3, 8, 8, 4, 4, 8, 5, 0.0f);
    p.layers[p.nlayers - 1].out_ndim = 1;      /* as shape inference leaves it: 5 outputs */
    p.layers[p.nlayers - 1].out_shape[0] = 5;
    LowerOptions lo = { .batch = 2, .training = 1 };
    Error e = { "" };
    Graph *g = sea_graph(&p, &lo, 1, &e);
    CHECK(g != NULL, "lowering failed: %s", e.msg);
    if (g) {
        test_nonfinite(g);
        test_checkpoint_as_model(g);
        test_classes(&p);
        graph_free(g);
    }
    free(p.layers);
    remove_test_tmp();
    return test_done("test_modelfile");
}
