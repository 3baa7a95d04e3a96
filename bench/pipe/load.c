/*
 * load.c: preloads a topic with N order records (~270-byte JSON), for bench/pipe.
 *
 *   load BOOTSTRAP TOPIC N [PARTITIONS]
 *
 * Creates TOPIC with PARTITIONS (default 2) partitions if it is missing, then
 * produces N records keyed by order id (murmur2, as Java places them). Every
 * 5th order is "PAID", the others "NEW"; every order has 2 items {sku, qty, price}. Prints one
 * line to stdout: "records N bytes B new M items_of_new K".
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void die(const char *what, const char *why)
{
    fprintf(stderr, "load: %s: %s\n", what, why);
    exit(1);
}

static long delivered, failed;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk, (void)opaque;
    if (m->err) {
        if (failed++ < 5)
            fprintf(stderr, "load: delivery failed: %s\n", rd_kafka_err2str(m->err));
    } else
        delivered++;
}

static void set(rd_kafka_conf_t *c, const char *k, const char *v)
{
    char e[256];
    if (rd_kafka_conf_set(c, k, v, e, sizeof e) != RD_KAFKA_CONF_OK)
        die(k, e);
}

static void create_topic(rd_kafka_t *rk, const char *topic, int parts)
{
    char e[256];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, parts, 1, e, sizeof e);
    if (!nt)
        die("NewTopic", e);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    if (!ev)
        die("CreateTopics", "timed out");
    size_t n;
    const rd_kafka_topic_result_t **res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t err = rd_kafka_topic_result_error(res[i]);
        if (err && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
            die("CreateTopics", rd_kafka_err2str(err));
    }
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: load BOOTSTRAP TOPIC N [PARTITIONS]\n");
        return 2;
    }
    const char *bootstrap = argv[1], *topic = argv[2];
    long n = atol(argv[3]);
    int parts = argc > 4 ? atoi(argv[4]) : 2;
    char e[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    set(c, "bootstrap.servers", bootstrap);
    set(c, "linger.ms", "20");
    set(c, "batch.num.messages", "10000");
    set(c, "queue.buffering.max.messages", "1000000");
    set(c, "partitioner", "murmur2_random");
    set(c, "enable.idempotence", "true");
    rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof e);
    if (!rk)
        die("producer", e);
    create_topic(rk, topic, parts);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long bytes = 0, news = 0, items_of_new = 0;
    char key[32], val[512];
    unsigned seed = 12345;
    for (long i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        int new = i % 5 != 0;
        int s1 = (int)(seed >> 8) % 900, s2 = (int)(seed >> 12) % 900;
        int q1 = 1 + (int)(seed >> 4) % 4, q2 = 1 + (int)(seed >> 6) % 3;
        int klen = snprintf(key, sizeof key, "o-%09ld", i);
        int vlen = snprintf(val, sizeof val,
                            "{\"orderId\":\"%s\",\"customerId\":\"c-%06ld\",\"status\":\"%s\","
                            "\"createdAt\":\"2024-03-%02ldT%02ld:%02ld:%02ld.%03ldZ\",\"currency\":\"SEK\",\"ch\":\"w\","
                            "\"items\":[{\"sku\":\"SKU-%05d\",\"qty\":%d,\"price\":%d.%02d},"
                            "{\"sku\":\"SKU-%05d\",\"qty\":%d,\"price\":%d.%02d}],"
                            "\"shipping\":{\"method\":\"standard\",\"country\":\"SE\"}}",
                            key, (i * 7919) % 250000, new ? "NEW" : "PAID", 1 + i % 28, (i / 3600) % 24,
                            (i / 60) % 60, i % 60, i % 1000, s1, q1, 10 + s1 % 400, (int)(seed % 100),
                            s2, q2, 5 + s2 % 300, (int)((seed >> 3) % 100));
        news += new;
        items_of_new += new ? 2 : 0;
        bytes += vlen;
        for (;;) {
            rd_kafka_resp_err_t err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                                        RD_KAFKA_V_KEY(key, (size_t)klen), RD_KAFKA_V_VALUE(val, (size_t)vlen),
                                                        RD_KAFKA_V_END);
            if (!err)
                break;
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                die("produce", rd_kafka_err2str(err));
            rd_kafka_poll(rk, 10);
        }
        rd_kafka_poll(rk, 0);
    }
    if (rd_kafka_flush(rk, 120000))
        die("flush", "timed out");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    fprintf(stderr, "load: %ld records (%.0f bytes avg) in %.1f s, %.0f rec/s, %ld failed\n", delivered,
            (double)bytes / (double)n, secs, (double)delivered / secs, failed);
    printf("records %ld bytes %ld new %ld items_of_new %ld\n", delivered, bytes, news, items_of_new);
    rd_kafka_destroy(rk);
    return failed || delivered != n;
}
