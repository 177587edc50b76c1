/* runtime/dist.c: dist.h over MPI (HAVE_MPI), or over one process. */
#include "config.h"
#include "dist.h"

#include <stdio.h>
#include <stdlib.h>

#include "error.h"

static int on, rank, size = 1, local_size = 1;

int  dist_rank(void) { return rank; }
int  dist_size(void) { return size; }
int  dist_local_size(void) { return local_size; }
int  dist_active(void) { return on; }

#ifdef HAVE_MPI
#include <mpi.h>

/* A ring allreduce in a fixed order: the n floats in N segments; in N - 1 steps each rank
 * sends one segment to the next rank and adds the one it receives from the previous into its
 * own (reduce-scatter: segment s ends summed on rank s - 1, always in the same order), then in
 * N - 1 steps the summed segments go round as copies (allgather). Each rank sends and
 * receives 2(N-1)/N of the floats; the result has the same bits on every rank and in every
 * run of N processes. dist_sum_test moves it on a step when the step's messages are in. */
struct DistSum {
    float      *buf, *tmp;      /* tmp: the segment being received */
    size_t      n;
    int         step, tag;      /* step 0 .. 2(N-1); tag: this sum's, apart from the others in flight */
    MPI_Request req[2];
};
/* mpirun (Open MPI, MPICH's hydra, Slurm's PMI/PMIx) says so in the environment */
static int under_mpirun(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

int dist_init(int *argc, char ***argv)
{
    if (!under_mpirun()) return 0;
    int provided;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS) return -1;
    on = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &local);
    MPI_Comm_size(local, &local_size);
    MPI_Comm_free(&local);
    return 0;
}

void dist_finalize(void)
{
    if (on) MPI_Finalize();
    on = 0;
}

_Noreturn void dist_abort(int code, const char *msg)
{
    fprintf(stderr, "cnnc: rank %d of %d: %s\n", rank, size, msg);
    fflush(stderr);
    if (on) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

void dist_barrier(void)
{
    if (size > 1) MPI_Barrier(MPI_COMM_WORLD);
}

static size_t seg_lo(const DistSum *s, int k) { return s->n * (size_t)((k % size + size) % size) / (size_t)size; }
static size_t seg_len(const DistSum *s, int k)
{
    int j = (k % size + size) % size;
    return s->n * (size_t)(j + 1) / (size_t)size - s->n * (size_t)j / (size_t)size;
}

/* posts step s->step: reduce-scatter steps send segment rank - step and receive rank - step - 1;
 * allgather steps (step >= N - 1, t = step - N + 1) send rank + 1 - t and receive rank - t */
static void ring_post(DistSum *s)
{
    int st = s->step, t = st - (size - 1), next = (rank + 1) % size, prev = (rank + size - 1) % size;
    int out = st < size - 1 ? rank - st : rank + 1 - t, in = st < size - 1 ? rank - st - 1 : rank - t;
    float *dst = st < size - 1 ? s->tmp : s->buf + seg_lo(s, in);
    MPI_Irecv(dst, (int)seg_len(s, in), MPI_FLOAT, prev, s->tag, MPI_COMM_WORLD, &s->req[0]);
    MPI_Isend(s->buf + seg_lo(s, out), (int)seg_len(s, out), MPI_FLOAT, next, s->tag, MPI_COMM_WORLD, &s->req[1]);
}

/* after step s->step's messages: a reduce-scatter step adds what came in (the sum so far of
 * the ranks before) to this rank's own part, in that order */
static void ring_land(DistSum *s)
{
    if (s->step < size - 1) {
        int in = rank - s->step - 1;
        float *own = s->buf + seg_lo(s, in);
        for (size_t i = 0, len = seg_len(s, in); i < len; i++) own[i] = s->tmp[i] + own[i];
    }
    s->step++;
}

DistSum *dist_sum_start(float *buf, size_t n)
{
    static int sums;        /* started so far: the same count on every rank */
    if (size == 1) return NULL;
    if (n / (size_t)size + 1 > (size_t)INT32_MAX) dist_abort(1, "internal: a gradient bucket of more than 2^31 floats a process");
    DistSum *s = xmalloc(sizeof *s);
    s->buf = buf;
    s->n = n;
    s->step = 0;
    s->tag = sums++ % 30000;
    s->tmp = xmalloc((n / (size_t)size + 1) * sizeof *s->tmp);
    ring_post(s);
    return s;
}

void dist_sum_test(DistSum *s)
{
    int done = 1;
    while (s && s->step < 2 * (size - 1)) {
        MPI_Testall(2, s->req, &done, MPI_STATUSES_IGNORE);
        if (!done) return;
        ring_land(s);
        if (s->step < 2 * (size - 1)) ring_post(s);
    }
}

void dist_sum_wait(DistSum *s)
{
    if (!s) return;
    while (s->step < 2 * (size - 1)) {
        MPI_Waitall(2, s->req, MPI_STATUSES_IGNORE);
        ring_land(s);
        if (s->step < 2 * (size - 1)) ring_post(s);
    }
    free(s->tmp);
    free(s);
}

void dist_sum_f64(double *buf, size_t n)
{
    if (size == 1) return;
    double *all = xmalloc(n * (size_t)size * sizeof *all);
    MPI_Allgather(buf, (int)n, MPI_DOUBLE, all, (int)n, MPI_DOUBLE, MPI_COMM_WORLD);
    for (size_t i = 0; i < n; i++) {
        double v = all[i];
        for (int r = 1; r < size; r++) v += all[(size_t)r * n + i];
        buf[i] = v;
    }
    free(all);
}

void dist_sum_i64(int64_t *buf, size_t n)
{
    if (size > 1) MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
}

#else   /* one process */

struct DistSum { int unused; };

int  dist_init(int *argc, char ***argv) { (void)argc; (void)argv; return 0; }
void dist_finalize(void) { (void)on; (void)local_size; }
_Noreturn void dist_abort(int code, const char *msg)
{
    fprintf(stderr, "cnnc: rank 0 of 1: %s\n", msg);
    exit(code);
}
void dist_barrier(void) {}
DistSum *dist_sum_start(float *buf, size_t n) { (void)buf; (void)n; return NULL; }
void dist_sum_test(DistSum *s) { (void)s; }
void dist_sum_wait(DistSum *s) { (void)s; }
void dist_sum_f64(double *buf, size_t n) { (void)buf; (void)n; }
void dist_sum_i64(int64_t *buf, size_t n) { (void)buf; (void)n; }

#endif
