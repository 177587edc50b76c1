/* runtime/parallel.c: threads, the team of a graph run, and the split GEMM (see parallel.h). */
#include "parallel.h"

#include <omp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

void par_set_threads(int n)
{
    if (n <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        n = cores > 0 ? (int)cores : 1;
    }
    omp_set_num_threads(n);
    openblas_set_num_threads(1);
}

/* How long a team thread spins for the next par_run before it sleeps. */
#define SPIN_NS 300000

/* A par_run's work in a team: T shares, each claimed by whichever thread comes first
 * (thread 0 included), so a thread that is slow to wake or was preempted holds up only the
 * share it took. It lives on thread 0's stack for the par_run. */
typedef struct Job {
    ParFn fn;
    void *ctx;
    int T;
    atomic_int next;            /* the next share to claim */
    atomic_int done;            /* shares finished */
} Job;

/* The team of the running par_team (one at a time: exec_run is not re-entered) */
static struct {
    atomic_uint gen;            /* bumped for each job, and to stop */
    _Atomic(Job *) job;         /* the job to take shares of, or NULL */
    atomic_int active;          /* threads that may be looking at job */
    atomic_int sleeping;        /* threads waiting on wake */
    atomic_int stop;
    int size;
    unsigned gen0;              /* gen when the team formed */
    pthread_mutex_t lock;
    pthread_cond_t wake;
} team = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER };

static _Thread_local int in_team;   /* thread 0 of a par_team, between jobs */
/* inside par_run's shares: 1 (kernels there run alone), or 3 when the par_run asked for
 * one thread (kernels there may still use them all) */
static _Thread_local int in_job;
static _Thread_local int share_id = -1;     /* the par_run share this thread is in, or -1 */

int par_share(void) { return share_id; }

int par_threads(void)
{
    if (in_job == 1) return 1;
    if (in_team) return team.size;
    return omp_in_parallel() ? 1 : omp_get_max_threads();
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Claims and runs shares of j until none is left. */
static void run_shares(Job *j)
{
    for (int t; (t = atomic_fetch_add(&j->next, 1)) < j->T;) {
        in_job = 1;
        share_id = t;
        j->fn(j->ctx, t, j->T);
        share_id = -1;
        in_job = 0;
        atomic_fetch_add(&j->done, 1);
    }
}

/* A team thread: waits for each job (spinning up to SPIN_NS, then sleeping), takes shares */
static void team_worker(void)
{
    unsigned seen = team.gen0;
    for (;;) {
        long long until = 0;
        for (unsigned i = 1; atomic_load(&team.gen) == seen; i++) {
            cpu_relax();
            if (i % 256) continue;
            long long now = now_ns();
            if (!until) until = now + SPIN_NS;
            else if (now > until) {
                pthread_mutex_lock(&team.lock);
                atomic_fetch_add(&team.sleeping, 1);
                while (atomic_load(&team.gen) == seen) pthread_cond_wait(&team.wake, &team.lock);
                atomic_fetch_sub(&team.sleeping, 1);
                pthread_mutex_unlock(&team.lock);
            } else sched_yield();
        }
        seen = atomic_load(&team.gen);
        if (atomic_load(&team.stop)) return;
        atomic_fetch_add(&team.active, 1);      /* thread 0 keeps the job alive until 0 */
        Job *j = atomic_load(&team.job);
        if (j) run_shares(j);
        atomic_fetch_sub(&team.active, 1);
    }
}

/* Thread 0: publishes the next generation (a job, or the stop) and wakes sleepers */
static void team_publish(void)
{
    atomic_fetch_add(&team.gen, 1);
    if (atomic_load(&team.sleeping) > 0) {
        pthread_mutex_lock(&team.lock);
        pthread_cond_broadcast(&team.wake);
        pthread_mutex_unlock(&team.lock);
    }
}

void par_team(void (*body)(void *), void *arg)
{
    int T = par_threads();
    if (T <= 1 || in_team || in_job || omp_in_parallel()) {
        body(arg);
        return;
    }
#pragma omp parallel num_threads(T)
    {
        if (omp_get_thread_num() == 0) {
            team.size = omp_get_num_threads();
            team.gen0 = atomic_load(&team.gen);
            atomic_store(&team.stop, 0);
            atomic_store(&team.job, NULL);
        }
#pragma omp barrier
        if (omp_get_thread_num() == 0) {
            in_team = 1;
            body(arg);
            in_team = 0;
            atomic_store(&team.stop, 1);
            team_publish();
        } else
            team_worker();
    }
}

void par_run(int T, ParFn fn, void *ctx)
{
    int saved = in_job;
    if (in_job == 1 || (!in_team && omp_in_parallel())) {    /* within parallel work: alone */
        for (int t = 0; t < T; t++) fn(ctx, t, T);
        return;
    }
    if (T <= 1) {
        in_job = 3;
        fn(ctx, 0, 1);
        in_job = saved;
        return;
    }
    if (in_team) {
        Job j = { fn, ctx, T, 0, 0 };
        atomic_store(&team.job, &j);
        team_publish();
        run_shares(&j);
        for (unsigned i = 1; atomic_load(&j.done) < T; i++) {
            cpu_relax();
            if (i % 4096 == 0) sched_yield();
        }
        atomic_store(&team.job, NULL);          /* then wait out any thread still holding &j */
        for (unsigned i = 1; atomic_load(&team.active) > 0; i++) {
            cpu_relax();
            if (i % 4096 == 0) sched_yield();
        }
        return;
    }
#pragma omp parallel num_threads(T)
    {
        int n = omp_get_num_threads();
        in_job = 1;
        for (int t = omp_get_thread_num(); t < T; t += n) {
            share_id = t;
            fn(ctx, t, T);
        }
        share_id = -1;
        in_job = 0;
    }
}

/* below this many multiply-adds a GEMM is not worth splitting */
#define SPLIT_MIN_FLOPS 200000.0

typedef struct Sgemm {
    CBLAS_TRANSPOSE ta, tb;
    int M, N, K, lda, ldb, ldc, split_n;
    float alpha, beta;
    const float *A, *B;
    float *C;
} Sgemm;

static void sgemm_share(void *ctx, int t, int T)
{
    const Sgemm *s = ctx;
    int len = s->split_n ? s->N : s->M;
    int lo = (int)par_lo((size_t)len, t, T), hi = (int)par_lo((size_t)len, t + 1, T);
    if (hi <= lo) return;
    if (s->split_n) {
        const float *b = s->tb == CblasNoTrans ? s->B + lo : s->B + (size_t)lo * s->ldb;
        cblas_sgemm(CblasRowMajor, s->ta, s->tb, s->M, hi - lo, s->K, s->alpha, s->A, s->lda, b, s->ldb, s->beta,
                    s->C + lo, s->ldc);
    } else {
        const float *a = s->ta == CblasNoTrans ? s->A + (size_t)lo * s->lda : s->A + lo;
        cblas_sgemm(CblasRowMajor, s->ta, s->tb, hi - lo, s->N, s->K, s->alpha, a, s->lda, s->B, s->ldb, s->beta,
                    s->C + (size_t)lo * s->ldc, s->ldc);
    }
}

void par_sgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
               const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    int T = par_threads();
    if (T <= 1 || (double)M * N * K < SPLIT_MIN_FLOPS || (M < 2 * T && N < 2 * T)) {
        cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    Sgemm s = { ta, tb, M, N, K, lda, ldb, ldc, N >= M, alpha, beta, A, B, C };
    par_run(T, sgemm_share, &s);
}
