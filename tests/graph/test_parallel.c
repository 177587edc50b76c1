/* tests/graph/test_parallel.c: the runtime's fork-join (runtime/parallel.c), outside a graph
 * run (OpenMP regions) and inside one (par_team, as exec_run uses it): every share of a
 * par_run runs once with the right t and T, par_barrier holds every thread until all have
 * come, work inside work runs alone, a kernel asked for one thread may still use them all,
 * and a team that sleeps between two par_runs wakes for the next. */
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "runtime/parallel.h"
#include "tests/test.h"

#define MAXT 64

typedef struct Shares {
    atomic_int runs[MAXT];
    atomic_int seen_T, arrived, bad_barrier, inner_threads;
    int nested;
} Shares;

static void inner(void *ctx, int t, int T)
{
    Shares *s = ctx;
    atomic_fetch_add(&s->inner_threads, 1);
    if (t != 0 || T != 1) atomic_fetch_add(&s->bad_barrier, 100);
}

static void share(void *ctx, int t, int T)
{
    Shares *s = ctx;
    if (t >= 0 && t < MAXT) atomic_fetch_add(&s->runs[t], 1);
    atomic_store(&s->seen_T, T);
    atomic_fetch_add(&s->arrived, 1);
    par_barrier();
    if (atomic_load(&s->arrived) != T) atomic_fetch_add(&s->bad_barrier, 1);   /* someone passed early */
    par_barrier();
    if (s->nested) {
        if (par_threads() != 1) atomic_fetch_add(&s->bad_barrier, 1000);
        par_run(4, inner, s);                   /* inside work: alone */
    }
}

/* one par_run of T wanted: each of the T' <= T shares once, T' reported alike */
static void check_run(int T, int nested, const char *where)
{
    Shares s;
    memset(&s, 0, sizeof s);
    s.nested = nested;
    par_run(T, share, &s);
    int got = atomic_load(&s.seen_T);
    CHECK(got >= 1 && got <= (T < 1 ? 1 : T), "%s: T %d for %d wanted", where, got, T);
    for (int t = 0; t < MAXT; t++)
        CHECK(atomic_load(&s.runs[t]) == (t < got), "%s: share %d ran %d times (T %d)", where, t,
              atomic_load(&s.runs[t]), got);
    CHECK(atomic_load(&s.bad_barrier) == 0, "%s: barrier or nesting broken (%d)", where, atomic_load(&s.bad_barrier));
    if (nested) CHECK(atomic_load(&s.inner_threads) == got, "%s: %d inner runs for %d shares", where,
                      atomic_load(&s.inner_threads), got);
}

static void all_threads(void *ctx, int t, int T)
{
    (void)t;
    atomic_store((atomic_int *)ctx, T);
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
    for (int i = 0; i < 50; i++) check_run(threads, i % 2, "in a team");
    check_run(1, 0, "in a team, one thread");
    atomic_int seen = 0;
    par_run(1, all_threads, &seen);
    CHECK(atomic_load(&seen) == 1, "one thread asked for, %d given", atomic_load(&seen));
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
    check_run(threads, 1, "outside a team, nested");
    check_run(1, 0, "outside a team, one thread");
    par_run(1, one_then_all, &threads);
    for (int i = 0; i < 3; i++) par_team(team_body, &threads);
    CHECK(par_threads() == threads, "after the team: %d threads", par_threads());
    return test_done("test_parallel");
}
