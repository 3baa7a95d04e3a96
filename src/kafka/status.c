/*
 * status.c: the applications' shared status (status.h). One mutex guards
 * the registry and every application's fields: the writers are rare
 * (rebalances, start, stop) and the readers short (one HTTP request reads a
 * few fields), so nothing finer is worth its complexity.
 */
#include "status.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"

enum { TH_CREATED, TH_WAITING, TH_RESTORING, TH_RUNNING, TH_STOPPED };

typedef struct held {
    int sub;
    int32_t partition;
    int thread;
    ks_part_state_t state;
} held_t;

typedef struct app {
    const ks_topology_t *t;
    int nthreads;
    int *phase;      /* per thread: TH_* */
    int *partitions; /* per sub-topology; 0: unknown */
    held_t *held;
    int nheld;
    int global_ok;
    int failed;
    char why[512];
} app_t;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static app_t *g_apps;
static int g_napps;
static int g_stopping;

const char *ks_client_state_name(ks_client_state_t s)
{
    switch (s) {
    case KS_CLIENT_CREATED: return "CREATED";
    case KS_CLIENT_REBALANCING: return "REBALANCING";
    case KS_CLIENT_RUNNING: return "RUNNING";
    case KS_CLIENT_PENDING_SHUTDOWN: return "PENDING_SHUTDOWN";
    case KS_CLIENT_NOT_RUNNING: return "NOT_RUNNING";
    case KS_CLIENT_ERROR: return "ERROR";
    }
    return "?";
}

/* The application of `t`, or NULL. Called with g_mu held. */
static app_t *find(const ks_topology_t *t)
{
    for (int i = 0; i < g_napps; i++)
        if (g_apps[i].t == t)
            return &g_apps[i];
    return NULL;
}

void ks_status_register(ks_topology_t *const *ts, int n, const int *nthreads)
{
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < n; i++) {
        if (find(ts[i]))
            continue;
        KS_GROW(g_apps, g_napps);
        app_t *a = &g_apps[g_napps++];
        memset(a, 0, sizeof *a);
        a->t = ts[i];
        a->nthreads = nthreads[i] > 0 ? nthreads[i] : 1;
        a->phase = ks_xcalloc((size_t)a->nthreads, sizeof *a->phase);
        a->partitions = ks_xcalloc((size_t)(ts[i]->nsubtopologies > 0 ? ts[i]->nsubtopologies : 1), sizeof(int));
        a->global_ok = !ks_topology_has_global(ts[i]);
    }
    g_stopping = 0;
    pthread_mutex_unlock(&g_mu);
}

void ks_status_clear(void)
{
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < g_napps; i++) {
        free(g_apps[i].phase);
        free(g_apps[i].partitions);
        free(g_apps[i].held);
    }
    free(g_apps);
    g_apps = NULL;
    g_napps = 0;
    g_stopping = 0;
    pthread_mutex_unlock(&g_mu);
}

/* ---- writers ---- */

void ks_status_set_partitions(const ks_topology_t *t, int sub, int partitions)
{
    pthread_mutex_lock(&g_mu);
    app_t *a = find(t);
    if (a && sub >= 0 && sub < t->nsubtopologies)
        a->partitions[sub] = partitions;
    pthread_mutex_unlock(&g_mu);
}

static void set_phase(const ks_topology_t *t, int thread, int phase)
{
    pthread_mutex_lock(&g_mu);
    app_t *a = find(t);
    if (a && thread >= 0 && thread < a->nthreads)
        a->phase[thread] = phase;
    pthread_mutex_unlock(&g_mu);
}

void ks_status_thread_started(const ks_topology_t *t, int thread)
{
    set_phase(t, thread, TH_WAITING);
}

void ks_status_thread_running(const ks_topology_t *t, int thread)
{
    set_phase(t, thread, TH_RUNNING);
}

/* Drops what `thread` holds. Called with g_mu held. */
static void drop_thread(app_t *a, int thread)
{
    int w = 0;
    for (int i = 0; i < a->nheld; i++)
        if (a->held[i].thread != thread)
            a->held[w++] = a->held[i];
    a->nheld = w;
}

void ks_status_thread_stopped(const ks_topology_t *t, int thread)
{
    pthread_mutex_lock(&g_mu);
    app_t *a = find(t);
    if (a && thread >= 0 && thread < a->nthreads) {
        a->phase[thread] = TH_STOPPED;
        drop_thread(a, thread);
    }
    pthread_mutex_unlock(&g_mu);
}

void ks_status_assigned(const ks_topology_t *t, int thread, const char *const *topics, const int32_t *partitions, int n)
{
    pthread_mutex_lock(&g_mu);
    app_t *a = find(t);
    if (a && thread >= 0 && thread < a->nthreads) {
        drop_thread(a, thread);
        for (int i = 0; i < n; i++) {
            int sub = ks_topology_reader(t, topics[i]);
            if (sub < 0)
                continue;
            int dup = 0;
            for (int k = 0; k < a->nheld && !dup; k++)
                dup = a->held[k].sub == sub && a->held[k].partition == partitions[i];
            if (dup)
                continue; /* co-partitioned topics of one task */
            KS_GROW(a->held, a->nheld);
            a->held[a->nheld++] = (held_t){sub, partitions[i], thread, KS_PART_RESTORING};
        }
        a->phase[thread] = TH_RESTORING;
    }
    pthread_mutex_unlock(&g_mu);
}

void ks_status_restored(const ks_topology_t *t, int thread)
{
    pthread_mutex_lock(&g_mu);
    app_t *a = find(t);
    if (a && thread >= 0 && thread < a->nthreads) {
        for (int i = 0; i < a->nheld; i++)
            if (a->held[i].thread == thread)
                a->held[i].state = KS_PART_ACTIVE;
        a->phase[thread] = TH_RUNNING;
    }
    pthread_mutex_unlock(&g_mu);
}

void ks_status_revoked(const ks_topology_t *t, int thread)
{
    pthread_mutex_lock(&g_mu);
    app_t *a = find(t);
    if (a && thread >= 0 && thread < a->nthreads) {
        drop_thread(a, thread);
        if (a->phase[thread] != TH_STOPPED)
            a->phase[thread] = TH_WAITING;
    }
    pthread_mutex_unlock(&g_mu);
}

void ks_status_global_bootstrapped(const ks_topology_t *t)
{
    pthread_mutex_lock(&g_mu);
    app_t *a = find(t);
    if (a)
        a->global_ok = 1;
    pthread_mutex_unlock(&g_mu);
}

void ks_status_failed(const ks_topology_t *t, const char *why)
{
    pthread_mutex_lock(&g_mu);
    app_t *a = find(t);
    if (a && !a->failed) {
        a->failed = 1;
        snprintf(a->why, sizeof a->why, "%s", why);
    }
    pthread_mutex_unlock(&g_mu);
}

void ks_status_stopping(void)
{
    pthread_mutex_lock(&g_mu);
    g_stopping = 1;
    pthread_mutex_unlock(&g_mu);
}

/* ---- readers ---- */

int ks_status_count(void)
{
    pthread_mutex_lock(&g_mu);
    int n = g_napps;
    pthread_mutex_unlock(&g_mu);
    return n;
}

const ks_topology_t *ks_status_topology(int i)
{
    pthread_mutex_lock(&g_mu);
    const ks_topology_t *t = i >= 0 && i < g_napps ? g_apps[i].t : NULL;
    pthread_mutex_unlock(&g_mu);
    return t;
}

ks_client_state_t ks_status_state(const ks_topology_t *t, char *reason, size_t reasonlen)
{
    char none[1];
    if (!reason) {
        reason = none;
        reasonlen = sizeof none;
    }
    reason[0] = 0;
    pthread_mutex_lock(&g_mu);
    app_t *a = find(t);
    ks_client_state_t s = KS_CLIENT_RUNNING;
    if (!a) {
        s = KS_CLIENT_CREATED;
        snprintf(reason, reasonlen, "not started");
        goto out;
    }
    if (a->failed) {
        s = KS_CLIENT_ERROR;
        snprintf(reason, reasonlen, "failed: %s", a->why);
        goto out;
    }
    int stopped = 0;
    for (int i = 0; i < a->nthreads; i++)
        stopped += a->phase[i] == TH_STOPPED;
    if (g_stopping || stopped) {
        s = stopped == a->nthreads ? KS_CLIENT_NOT_RUNNING : KS_CLIENT_PENDING_SHUTDOWN;
        snprintf(reason, reasonlen, "shutting down");
        goto out;
    }
    if (!a->global_ok) {
        s = KS_CLIENT_REBALANCING;
        snprintf(reason, reasonlen, "the global tables are bootstrapping");
        goto out;
    }
    for (int i = 0; i < a->nthreads; i++) {
        if (a->phase[i] == TH_CREATED) {
            s = KS_CLIENT_CREATED;
            snprintf(reason, reasonlen, "stream thread %d has not started", i);
            goto out;
        }
    }
    for (int i = 0; i < a->nthreads; i++) {
        if (a->phase[i] == TH_WAITING) {
            s = KS_CLIENT_REBALANCING;
            snprintf(reason, reasonlen, "stream thread %d waits for its partitions (the group is rebalancing)", i);
            goto out;
        }
        if (a->phase[i] == TH_RESTORING) {
            int n = 0;
            for (int k = 0; k < a->nheld; k++)
                n += a->held[k].thread == i && a->held[k].state == KS_PART_RESTORING;
            s = KS_CLIENT_REBALANCING;
            snprintf(reason, reasonlen, "stream thread %d is restoring the state of %d task%s", i, n,
                     n == 1 ? "" : "s");
            goto out;
        }
    }
out:
    pthread_mutex_unlock(&g_mu);
    return s;
}

int ks_status_partitions(const ks_topology_t *t, int sub)
{
    pthread_mutex_lock(&g_mu);
    app_t *a = find(t);
    int n = a && sub >= 0 && sub < t->nsubtopologies ? a->partitions[sub] : 0;
    pthread_mutex_unlock(&g_mu);
    return n;
}

ks_part_state_t ks_status_partition(const ks_topology_t *t, int sub, int32_t partition)
{
    pthread_mutex_lock(&g_mu);
    app_t *a = find(t);
    ks_part_state_t s = KS_PART_NOT_HELD;
    for (int i = 0; a && i < a->nheld; i++)
        if (a->held[i].sub == sub && a->held[i].partition == partition) {
            s = a->held[i].state;
            break;
        }
    pthread_mutex_unlock(&g_mu);
    return s;
}

int ks_status_global_ready(const ks_topology_t *t)
{
    pthread_mutex_lock(&g_mu);
    app_t *a = find(t);
    int ok = a && a->global_ok;
    pthread_mutex_unlock(&g_mu);
    return ok;
}
