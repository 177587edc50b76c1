/* tests/checkpoint/test_history.c: the per-epoch history a checkpoint carries (so that a
 * resumed run's report shows the epochs before it): checkpoint_history_line on good lines
 * and on each way a line can be malformed; a checkpoint saved with a history gives it back
 * exactly; one without a history gives NULL; a malformed history is refused naming the
 * file. test_checkpoint.sh checks the report itself. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/driver/checkpoint.h"
#include "tests/data/datatest.h"
#include "tests/graph/sea_program.h"
#include "tests/test.h"

static void test_lines(void)
{
    const char *text = "1 3 0x1.8p+0 30 50 1 0x1p-1 7 10 0x1.2p+1\n2 3 1.25 40 50 0 0 0 0 2\n", *cur = text;
    double v[CKPT_HISTORY_FIELDS];
    CHECK(checkpoint_history_line(&cur, v) == 1 && v[0] == 1 && v[2] == 1.5 && v[6] == 0.5 && v[9] == 2.25,
          "first line: %g %g %g %g", v[0], v[2], v[6], v[9]);
    CHECK(checkpoint_history_line(&cur, v) == 1 && v[0] == 2 && v[2] == 1.25 && v[9] == 2 && isnan(v[10]),
          "second line");
    CHECK(checkpoint_history_line(&cur, v) == 0 && *cur == '\0', "the end");
    cur = "3 3 1 2 3 1 0.5 1 2 3 0x1.47ae147ae147bp-7\n";     /* with the epoch's lr */
    CHECK(checkpoint_history_line(&cur, v) == 1 && v[9] == 3 && v[10] == 0.01 && *cur == '\0', "lr: %g", v[10]);
    static const char *const bad[] = {
        "1 2 3\n",                                  /* too few numbers */
        "1 2 3 4 5 6 7 8 9 10 11 12\n",             /* too many */
        "1 2 3 4 5 6 7 8 9 10 \n",                  /* a space before the newline */
        "1 2 3 4 5 6 7 8 9 10",                     /* no newline */
        "1 2 x 4 5 6 7 8 9 10\n",                   /* not a number */
        "1.5 2 3 4 5 6 7 8 9 10\n",                 /* an epoch that is not an integer */
        "1 2 3 -4 5 6 7 8 9 10\n",                  /* a negative count */
        "1 2 3 4 5 6 7 8 1e300 10\n",               /* a count past INT32_MAX */
        "1  2 3 4 5 6 7 8 9 10\n",                  /* two spaces */
        " 1 2 3 4 5 6 7 8 9 10\n",                  /* a leading space */
        "\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cur = bad[i];
        CHECK(checkpoint_history_line(&cur, v) == -1 && cur == bad[i], "'%s' accepted", bad[i]);
    }
}

/* --resume compares programs by their tokens: comments and layout do not count */
static void test_source_tokens(void)
{
    const char *base = "model M {\n    x = Linear(150, 32)\n}\nNUM_EPOCHS = 3\nname = \"a  # b\"\ny = n // 2\n";
    static const char *const same[] = {
        "model M {\n    x = Linear(150, 32)\n}\nNUM_EPOCHS = 3\nname = \"a  # b\"\ny = n // 2\n# a trailing comment\n",
        "model M { x = Linear( 150 ,32 ) }   /* block\ncomment */ NUM_EPOCHS=3\nname = \"a  # b\"\n  // note\ny = n//2",
        "# header\nmodel   M\t{\n\n    x = Linear(150, \\\n 32)  # a comment\n}\nNUM_EPOCHS = 3\nname = \"a  # b\"\ny = n // 2\n",
    };
    static const char *const differ[] = {
        "model M {\n    x = Linear(150, 33)\n}\nNUM_EPOCHS = 3\nname = \"a  # b\"\ny = n // 2\n",
        "model M {\n    x = Linear(150, 32)\n}\nNUM_EPOCHS = 3\nname = \"a # b\"\ny = n // 2\n",
        "model M {\n    x = Linear(150, 32)\n}\nNUM_EPOCHS = 3\nname = \"a  # b\"\ny = n // 3\n",
        "model M {\n    x = Linear(150, 32)\n}\nNUM_EPOCHS = 4\nname = \"a  # b\"\ny = n // 2\n",
        "modelM {\n    x = Linear(150, 32)\n}\nNUM_EPOCHS = 3\nname = \"a  # b\"\ny = n // 2\n",
    };
    char *want = checkpoint_source_tokens(base);
    for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
        char *got = checkpoint_source_tokens(same[i]);
        CHECK(strcmp(got, want) == 0, "'%s' and '%s' differ", got, want);
        free(got);
    }
    for (size_t i = 0; i < sizeof differ / sizeof *differ; i++) {
        char *got = checkpoint_source_tokens(differ[i]);
        CHECK(strcmp(got, want) != 0, "change %zu was not seen: '%s'", i, got);
        free(got);
    }
    free(want);
}

static void test_roundtrip(void)
{
    Program p;
    sea_program(&p, 3, 8, 8, 4, 4, 8, 5, 0.0f);
    p.source = "model source";
    LowerOptions lo = { .batch = 2, .training = 1 };
    Error e = { "" };
    Graph *g = sea_graph(&p, &lo, 1, &e);
    CHECK(g != NULL, "lowering failed: %s", e.msg);
    if (!g) return;
    const char *history = "1 2 0x1.8p+0 30 50 1 0x1p-1 7 10 0x1.2p+1\n";
    TrainState ts = { 1, 0, 0, 0, 0, 7, 2, (char *)history, 3 }, back;
    CHECK(checkpoint_save(tp("h.ckpt"), g, p.source, &ts, &e) == 0, "save: %s", e.msg);
    CHECK(checkpoint_load(tp("h.ckpt"), g, p.source, &back, &e) == 0, "load: %s", e.msg);
    CHECK(back.ranks == 3, "the processes of an MPI run came back as %d, not 3", back.ranks);
    CHECK(back.history && strcmp(back.history, history) == 0, "history came back as '%s'",
          back.history ? back.history : "(null)");
    free(back.history);

    ts.history = NULL;
    CHECK(checkpoint_save(tp("none.ckpt"), g, p.source, &ts, &e) == 0, "save without history: %s", e.msg);
    CHECK(checkpoint_load(tp("none.ckpt"), g, p.source, &back, &e) == 0 && back.history == NULL,
          "no history: %s", e.msg);

    ts.history = "1 2 x\n2 2 0 0 0 0 0 0 0 0\n";
    CHECK(checkpoint_save(tp("bad.ckpt"), g, p.source, &ts, &e) == 0, "save a bad history: %s", e.msg);
    back.history = (char *)"unchanged";
    CHECK(checkpoint_load(tp("bad.ckpt"), g, p.source, &back, &e) == -1 && strstr(e.msg, "bad.ckpt") &&
              strstr(e.msg, "\"history\" is malformed at '1 2 x'") && !strchr(e.msg, '\n') && back.history == NULL,
          "a malformed history: '%s'", e.msg);
    graph_free(g);
    free(p.layers);
}

int main(void)
{
    make_test_tmp("history");
    test_lines();
    test_source_tokens();
    test_roundtrip();
    remove_test_tmp();
    return test_done("test_history");
}
