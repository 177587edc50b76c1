/* tests/graph/test_parallel.c: the runtime's fork-join (runtime/parallel.c), outside a graph
 * run (OpenMP regions) and inside one (par_team, as exec_run uses it): every share of a
 * par_run runs exactly once and is told the T asked for, whatever the threads; work inside
 * work runs alone; work asked for one thread may still hand its kernels' work to all; a
 * team that slept between two par_runs wakes for the next. */
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "runtime/parallel.h"
#include "tests/test.h"

#define MAXT 64

typedef struct Shares {
    atomic_int runs[MAXT];
    atomic_int bad_T, told, inner_runs, bad_inner;
    int nested;
} Shares;

static void inner(void *ctx, int t, int T)
{
    Shares *s = ctx;
    atomic_fetch_add(&s->inner_runs, 1);
    if (t < 0 || t >= T || T != 3 || par_threads() != 1) atomic_fetch_add(&s->bad_inner, 1);
}

static void share(void *ctx, int t, int T)
{
    Shares *s = ctx;
    if (t >= 0 && t < MAXT) atomic_fetch_add(&s->runs[t], 1);
    atomic_store(&s->told, T);
    if (par_threads() != 1) atomic_fetch_add(&s->bad_T, 1000);
    if (s->nested) par_run(3, inner, s);        /* inside work: alone, every share still once */
}

static void check_run(int T, int nested, const char *where)
{
    Shares s;
    memset(&s, 0, sizeof s);
    s.nested = nested;
    par_run(T, share, &s);
    for (int t = 0; t < MAXT; t++)
        CHECK(atomic_load(&s.runs[t]) == (t < T || (t == 0 && T < 1)), "%s: share %d of %d ran %d times", where, t,
              T, atomic_load(&s.runs[t]));
    CHECK(atomic_load(&s.told) == (T < 1 ? 1 : T), "%s: shares told T %d for %d", where, atomic_load(&s.told), T);
    CHECK(atomic_load(&s.bad_T) == 0 || T <= 1, "%s: a share saw %d threads to use", where, par_threads());
    if (nested)
        CHECK(atomic_load(&s.inner_runs) == 3 * (T < 1 ? 1 : T) && atomic_load(&s.bad_inner) == 0,
              "%s: %d inner shares for %d shares (%d wrong)", where, atomic_load(&s.inner_runs), T,
              atomic_load(&s.bad_inner));
}

static void told_T(void *ctx, int t, int T)
{
    if (t == 0) atomic_store((atomic_int *)ctx, T);
}

/* work asked for one thread whose kernel asks for them all: it gets them */
static void one_then_all(void *ctx, int t, int T)
{
    CHECK(t == 0 && T == 1, "one thread asked for: share %d of %d", t, T);
    int threads = *(int *)ctx;
    CHECK(par_threads() == threads, "inside work of one thread, %d threads left, not %d", par_threads(), threads);
    check_run(threads, 1, "inside work of one thread");
}

static void team_body(void *arg)
{
    int threads = *(int *)arg;
    CHECK(par_threads() == threads, "a team's thread 0 sees %d threads, not %d", par_threads(), threads);
    for (int i = 0; i < 50; i++) check_run(i % 2 ? threads : 2 * threads + 1, i % 3 == 0, "in a team");
    check_run(1, 1, "in a team, one share");
    atomic_int seen = 0;
    par_run(7, told_T, &seen);
    CHECK(atomic_load(&seen) == 7, "7 shares asked for, told %d", atomic_load(&seen));
    par_run(1, one_then_all, &threads);
    struct timespec pause = { 0, 5 * 1000 * 1000 };       /* long enough for the team to sleep */
    nanosleep(&pause, NULL);
    check_run(threads, 1, "in a team, after a sleep");
}

int main(void)
{
    par_set_threads(0);
    int threads = par_threads();
    if (threads < 2) par_set_threads(threads = 2);    /* a team of two even on one core */
    check_run(threads, 0, "outside a team");
    check_run(2 * threads + 1, 1, "outside a team, more shares than threads, nested");
    check_run(1, 0, "outside a team, one share");
    par_run(1, one_then_all, &threads);
    for (int i = 0; i < 3; i++) par_team(team_body, &threads);
    CHECK(par_threads() == threads, "after the team: %d threads", par_threads());
    return test_done("test_parallel");
}
