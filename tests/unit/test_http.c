/*
 * test_http.c: the HTTP server's handler API (src/http/server.h) over a
 * loopback connection: a handler that answers at once, one that answers
 * later from a timer on the server's loop (as a proxy to a peer will),
 * pipelined requests answered in order, the statistics, and the
 * percent-decoding of paths and parameters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../src/http/server.h"

static void now(ks_http_req_t *req, void *ud)
{
    char v[64];
    int n = ks_http_req_param(req, "v", v, sizeof v);
    const char *h = ks_http_req_header(req, "X-Test");
    char body[256];
    snprintf(body, sizeof body, "{\"path\":\"%s\",\"v\":\"%s\",\"h\":\"%s\"}", ks_http_req_path(req), n >= 0 ? v : "-",
             h ? h : "-");
    ks_http_reply(req, 200, NULL, body, strlen(body));
}

/* A reply 50 ms later, from a timer on the server's loop. */
typedef struct later {
    uv_timer_t timer;
    ks_http_req_t *req;
} later_t;

static void on_later_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_later(uv_timer_t *t)
{
    later_t *l = t->data;
    ks_http_reply(l->req, 200, "X-Later: yes\r\n", "{\"later\":true}", 14);
    uv_close((uv_handle_t *)&l->timer, on_later_closed);
}

static void later(ks_http_req_t *req, void *ud)
{
    later_t *l = calloc(1, sizeof *l);
    l->req = req;
    uv_timer_init(ks_http_server_loop(ks_http_req_server(req)), &l->timer);
    l->timer.data = l;
    uv_timer_start(&l->timer, on_later, 50, 0);
}

static const ks_http_route_t routes[] = {
    {"/now", 0, KS_EP_HEALTH, now},
    {"/later", 0, KS_EP_READY, later},
};

/* Sends `req` on a new connection, half-closes, reads until the server closes. */
static char *exchange(const char *addr, const char *req)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_port = htons((uint16_t)atoi(strrchr(addr, ':') + 1));
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
    shutdown(fd, SHUT_WR);
    static char buf[65536];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof buf - 1 && (r = recv(fd, buf + n, sizeof buf - 1 - n, 0)) > 0)
        n += (size_t)r;
    buf[n] = 0;
    close(fd);
    return buf;
}

static void handlers_answer_now_or_later_in_order(void **state)
{
    char err[256];
    ks_http_server_t *srv = ks_http_server_new("127.0.0.1:0", routes, 2, NULL, err, sizeof err);
    assert_non_null(srv);
    assert_int_equal(ks_http_server_start(srv, err, sizeof err), 0);
    const char *addr = ks_http_server_address(srv);
    assert_true(strncmp(addr, "127.0.0.1:", 10) == 0 && atoi(addr + 10) > 0);

    char *r = exchange(addr, "GET /now?v=a%20b%2F HTTP/1.1\r\nX-Test: yes\r\n\r\n");
    assert_non_null(strstr(r, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(r, "{\"path\":\"/now\",\"v\":\"a b/\",\"h\":\"yes\"}"));
    /* The later reply comes first on its connection: the request after it waits its turn. */
    r = exchange(addr, "GET /later HTTP/1.1\r\n\r\nGET /now HTTP/1.1\r\n\r\n");
    char *a = strstr(r, "{\"later\":true}"), *b = strstr(r, "{\"path\":\"/now\"");
    assert_non_null(a);
    assert_non_null(b);
    assert_true(a < b);
    assert_non_null(strstr(r, "X-Later: yes\r\n"));
    /* No route: 404; a method other than GET: 405 with Allow. */
    assert_non_null(strstr(exchange(addr, "GET /nope HTTP/1.1\r\n\r\n"), "HTTP/1.1 404 Not Found"));
    r = exchange(addr, "PUT /now HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert_non_null(strstr(r, "HTTP/1.1 405 Method Not Allowed"));
    assert_non_null(strstr(r, "Allow: GET\r\n"));

    ks_http_stats_t st;
    ks_http_server_stats(srv, &st);
    assert_int_equal(st.requests[KS_EP_HEALTH][KS_ST_200], 2);
    assert_int_equal(st.requests[KS_EP_READY][KS_ST_200], 1);
    assert_int_equal(st.requests[KS_EP_UNKNOWN][KS_ST_404], 1);
    assert_int_equal(st.requests[KS_EP_REFUSED][KS_ST_405], 1);
    uint64_t n = 0;
    for (int b = 0; b < KS_HTTP_NBUCKETS; b++)
        n += st.latency[KS_EP_READY][b];
    assert_int_equal(n, 1);
    /* The later reply took its 50 ms, less what the loop's cached clock was behind the request's. */
    assert_true(st.latency_sum_us[KS_EP_READY] >= 40000);
    assert_string_equal(ks_http_endpoint_name(KS_EP_KEY), "/v1/stores/{store}/keys/{key}");
    assert_int_equal(ks_http_status_code(KS_ST_503), 503);
    ks_http_server_stop(srv); /* its thread ends once every handle is closed */
}

static void a_bad_address_or_a_busy_port_is_an_error(void **state)
{
    char err[256];
    assert_null(ks_http_server_new("nowhere:80", routes, 2, NULL, err, sizeof err));
    assert_string_equal(err, "query.listen `nowhere:80`: not an IPv4 or IPv6 address with a port (HOST:PORT)");
    ks_http_server_t *srv = ks_http_server_new("127.0.0.1:0", routes, 2, NULL, err, sizeof err);
    assert_non_null(srv);
    char busy[64];
    snprintf(busy, sizeof busy, "%s", ks_http_server_address(srv));
    assert_null(ks_http_server_new(busy, routes, 2, NULL, err, sizeof err));
    char want[128];
    snprintf(want, sizeof want, "query.listen %s: cannot listen: address already in use", busy);
    assert_string_equal(err, want);
    ks_http_server_stop(srv); /* never started: stopped on this thread */
}

static void percent_decoding(void **state)
{
    char out[16];
    assert_int_equal(ks_http_percent_decode("a%2Fb+c", 7, out, sizeof out), 5);
    assert_string_equal(out, "a/b+c");
    assert_int_equal(ks_http_percent_decode("%e2%82%ac", 9, out, sizeof out), 3);
    assert_string_equal(out, "\xe2\x82\xac");
    assert_int_equal(ks_http_percent_decode("%2", 2, out, sizeof out), -1);
    assert_int_equal(ks_http_percent_decode("%zz", 3, out, sizeof out), -1);
    assert_int_equal(ks_http_percent_decode("0123456789abcdef", 16, out, sizeof out), -1); /* no room for the NUL */
    assert_int_equal(ks_http_percent_decode("", 0, out, sizeof out), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(handlers_answer_now_or_later_in_order),
        cmocka_unit_test(a_bad_address_or_a_busy_port_is_an_error),
        cmocka_unit_test(percent_decoding),
    };
    return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
