/*
 * fuzz_http.c: libFuzzer target for the HTTP request path: the bytes of an
 * input are what a client sends to the query server (src/http/), over a real
 * loopback connection, as many requests as they hold (pipelined). The server
 * runs the query service of a topology with a key-value table, long keys,
 * and window and session stores, every partition held and active (its
 * stores are empty LMDB environments), so the input reaches the parser, the
 * limits, the routing, the key and parameter decoding and the store reads.
 *
 * Each input: connect, send, half-close, read until the server closes. The
 * server must answer each request it parses with a well-formed status line
 * and close the connection at the end of the input; a hang is a libFuzzer
 * timeout, a crash or leak an ASan report. Seeds: tests/fuzz/http-corpus/.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "../../src/http/service.h"
#include "../../src/kafka/status.h"
#include "../../src/util/log.h"

static const char topology[] = "application: fuzz-http\n"
                               "topics:\n"
                               "  defaults: {key: string, value: json}\n"
                               "  longs: {key: long}\n"
                               "tables:\n"
                               "  kv: {topic: kv, queryable: true}\n"
                               "  by-long: {topic: longs, queryable: true}\n"
                               "pipelines:\n"
                               "  w:\n"
                               "    from: events\n"
                               "    steps:\n"
                               "      - groupByKey\n"
                               "      - windowedBy: {tumbling: 1m}\n"
                               "      - count: {store: per-minute, queryable: true}\n"
                               "  s:\n"
                               "    from: events\n"
                               "    steps:\n"
                               "      - groupByKey\n"
                               "      - windowedBy: {session: 10s}\n"
                               "      - count: {store: sessions, queryable: true}\n";

static ks_topology_t *t;
static ks_runtime_conf_t conf;
static ks_query_service_t *svc;
static struct sockaddr_in addr;
static char state_dir[64];

static void remove_state(void)
{
    const char *files[] = {"data.mdb", "lock.mdb", "LOCK"};
    char path[128];
    snprintf(path, sizeof path, "%s/fuzz-http", state_dir);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char f[200];
        snprintf(f, sizeof f, "%s/%s", path, files[i]);
        unlink(f);
    }
    rmdir(path);
    rmdir(state_dir);
}

static void start(void)
{
    char path[64], err[2048];
    snprintf(path, sizeof path, "/tmp/ks-fuzz-http-%d.yaml", (int)getpid());
    snprintf(state_dir, sizeof state_dir, "/tmp/ks-fuzz-http-state-%d", (int)getpid());
    FILE *f = fopen(path, "w");
    if (!f || fputs(topology, f) < 0 || fclose(f)) {
        fprintf(stderr, "fuzz_http: cannot write %s\n", path);
        abort();
    }
    ks_diags_t d = {0};
    t = ks_topology_load(path, &d);
    unlink(path);
    char listen[] = "query.listen=127.0.0.1:0", dir[128], level[] = "log.level=error";
    snprintf(dir, sizeof dir, "state.dir=%s", state_dir);
    char *sets[] = {listen, dir, level};
    if (!t || ks_runtime_conf_build(&conf, NULL, t, sets, 3, &d)) {
        ks_diags_print(&d, stderr);
        abort();
    }
    ks_diags_free(&d);
    ks_log_set_level("error");
    if (ks_query_service_start(&t, 1, &conf, &svc, err, sizeof err)) {
        fprintf(stderr, "fuzz_http: %s\n", err);
        abort();
    }
    atexit(remove_state);
    /* Every partition of every sub-topology held and active, as after a rebalance and a restore. */
    const char *topics[64];
    int32_t parts[64];
    int n = 0;
    for (int i = 0; i < t->nprocs && n + 4 <= 64; i++) {
        const ks_proc_t *p = t->procs[i];
        if (p->op != KS_OP_SOURCE || !p->io.ntopics)
            continue;
        ks_status_set_partitions(t, p->subtopology, 4);
        for (int k = 0; k < 4; k++) {
            topics[n] = p->io.topics[0];
            parts[n++] = k;
        }
    }
    ks_status_thread_started(t, 0);
    ks_status_assigned(t, 0, topics, parts, n);
    ks_status_restored(t, 0);
    const char *a = ks_query_service_address(svc);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)atoi(strrchr(a, ':') + 1));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
}

/*
 * libFuzzer's timeout alarm (SIGALRM, every -timeout/2 s) interrupts blocking
 * calls. An interrupted connect() goes on in the background: wait for it and
 * read its outcome rather than calling connect() again.
 */
static int connect_retrying(int fd)
{
    if (!connect(fd, (struct sockaddr *)&addr, sizeof addr))
        return 0;
    if (errno != EINTR)
        return -1;
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int n;
    while ((n = poll(&p, 1, 4000)) < 0 && errno == EINTR)
        ;
    if (n <= 0)
        return -1;
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) || soerr) {
        errno = soerr ? soerr : errno;
        return -1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!svc)
        start();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect_retrying(fd)) {
        perror("fuzz_http: connect");
        abort();
    }
    struct timeval tv = {4, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    size_t off = 0;
    while (off < size) {
        ssize_t w = send(fd, data + off, size - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break; /* the server refused the request and closed: what it answered is read below */
        off += (size_t)w;
    }
    shutdown(fd, SHUT_WR);
    static char resp[1 << 20];
    size_t got = 0;
    for (;;) {
        ssize_t r = recv(fd, resp + got, sizeof resp - 1 - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            fprintf(stderr, "fuzz_http: the server neither answered nor closed within 4 s\n");
            abort();
        }
        if (r <= 0)
            break;
        got += (size_t)r;
        if (got == sizeof resp - 1)
            got = 0; /* keep reading; only the first response's line is checked below */
    }
    close(fd);
    resp[got] = 0;
    /* Whatever the server answered starts with a status line of ours. */
    if (got && (got < 13 || memcmp(resp, "HTTP/1.1 ", 9) != 0 || resp[9] < '1' || resp[9] > '5')) {
        fprintf(stderr, "fuzz_http: not a status line: %.40s\n", resp);
        abort();
    }
    return 0;
}
