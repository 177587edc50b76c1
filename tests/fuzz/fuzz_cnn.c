/* tests/fuzz/fuzz_cnn.c: libFuzzer harness for the .cnn front end: lexer, parser, checker
 * (check_source), then, for a file that checks, lowering (with autodiff and the optimizer
 * when it declares one), the memory plan, the summary and the graph dump. */
#include <stdint.h>
#include <stdio.h>

#include "compiler/frontend/check.h"
#include "compiler/driver/dump.h"
#include "compiler/passes/lower.h"
#include "compiler/passes/plan.h"
#include "compiler/driver/summary.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

char fuzz_last_error[1024];    /* the last input's first error, for replay -v */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *sink;
    if (!sink) sink = fopen("/dev/null", "w");
    Program p;
    if (check_source("fuzz.cnn", (const char *)data, size, NULL, &p, sink) < 0) return 0;
    for (int training = 0; training <= (p.opt.kind != OPT_NONE); training++) {
        LowerOptions lo = { .batch = 2, .training = training };
        Error e;
        Graph *g = lower_program(&p, &lo, &e);
        if (!g) {
            snprintf(fuzz_last_error, sizeof fuzz_last_error, "%s", e.msg);
            continue;
        }
        PlanStats st;
        plan_memory(g, &st);
        print_summary(sink, &p, training ? &st : NULL, lo.batch);
        dump_graph_text(sink, g, p.path, &st);
        graph_free(g);
    }
    program_free(&p);
    return 0;
}
