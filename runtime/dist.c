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

struct DistSum {
    float      *buf, *all;      /* all: every rank's n floats, rank by rank */
    size_t      n;
    MPI_Request req;
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

DistSum *dist_sum_start(float *buf, size_t n)
{
    if (size == 1) return NULL;
    if (n > (size_t)INT32_MAX) dist_abort(1, "internal: a gradient bucket of more than 2^31 floats");
    DistSum *s = xmalloc(sizeof *s);
    s->buf = buf;
    s->n = n;
    s->all = xmalloc(n * (size_t)size * sizeof *s->all);
    MPI_Iallgather(buf, (int)n, MPI_FLOAT, s->all, (int)n, MPI_FLOAT, MPI_COMM_WORLD, &s->req);
    return s;
}

void dist_sum_test(DistSum *s)
{
    int done;
    if (s) MPI_Test(&s->req, &done, MPI_STATUS_IGNORE);
}

void dist_sum_wait(DistSum *s)
{
    if (!s) return;
    MPI_Wait(&s->req, MPI_STATUS_IGNORE);
    for (size_t i = 0; i < s->n; i++) {
        float v = s->all[i];
        for (int r = 1; r < size; r++) v += s->all[(size_t)r * s->n + i];
        s->buf[i] = v;
    }
    free(s->all);
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
