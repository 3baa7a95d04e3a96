/*
 * latency.c: end-to-end latency through a service, for bench/compare.py:
 *
 *   latency BOOTSTRAP IN_TOPIC OUT_TOPIC OUT_PARTITIONS RATE SECONDS WARMUP_SECONDS
 *
 * A producer thread writes RATE records a second for SECONDS seconds into
 * IN_TOPIC (paced every millisecond, linger.ms 1), each a raw CRM customer
 * whose "updatedAt" is the microsecond it was produced, keyed crm-<i % 20000>.
 * The main thread reads every partition of OUT_TOPIC from its end at the
 * start (assigned: no group to join) and, for each record produced WARMUP_SECONDS
 * or more after the start, notes now - updatedAt. It stops once it has seen a
 * record produced at or after the last one, or 30 s after the producer is done.
 * Prints one line: "sent N measured M p50_ms X p99_ms Y max_ms Z kept_up 0|1".
 * Written in C so that measuring costs little CPU on a busy machine.
 */
#define _GNU_SOURCE /* memmem */
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *bootstrap, *in_topic;
static long rate;
static double seconds;
static volatile int64_t last_sent_us; /* set when the producer is done */
static volatile long sent;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "latency: %s: %s\n", what, why);
    exit(1);
}

static void set(rd_kafka_conf_t *c, const char *k, const char *v)
{
    char e[256];
    if (rd_kafka_conf_set(c, k, v, e, sizeof e) != RD_KAFKA_CONF_OK)
        die(k, e);
}

static void *produce(void *arg)
{
    int64_t start = *(int64_t *)arg;
    char e[256];
    rd_kafka_conf_t *pc = rd_kafka_conf_new();
    set(pc, "bootstrap.servers", bootstrap);
    set(pc, "linger.ms", "1");
    set(pc, "partitioner", "murmur2_random");
    set(pc, "queue.buffering.max.messages", "1000000");
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, pc, e, sizeof e);
    if (!p)
        die("producer", e);
    long n = 0, total = (long)(rate * seconds);
    int64_t last = 0;
    while (n < total) {
        int64_t t = now_us();
        long due = (long)((t - start) * rate / 1000000);
        if (due > total)
            due = total;
        for (; n < due; n++) {
            char key[32], val[1024];
            long c = n % 20000;
            last = now_us();
            int kl = snprintf(key, sizeof key, "crm-%ld", c);
            int vl = snprintf(val, sizeof val,
                              "{\"crmId\":\"crm-%ld\",\"customerNumber\":\"c-%ld\",\"firstName\":\"Anna\","
                              "\"lastName\":\"Berg\",\"email\":\"anna.berg@example.com\",\"status\":\"ACTIVE\","
                              "\"vip\":%s,\"addresses\":[{\"type\":\"HOME\",\"street\":\"Storgatan 1\","
                              "\"zip\":\"111 22\",\"city\":\"Stockholm\",\"country\":\"SE\"}],"
                              "\"contacts\":[{\"type\":\"PHONE\",\"value\":\"+46 70 123 10 10\"},"
                              "{\"type\":\"Email\",\"value\":\"anna.berg@example.com\"}],"
                              "\"updatedAt\":\"%lld\"}",
                              c, c, c % 4 == 1 ? "true" : "false", (long long)last);
            while (rd_kafka_producev(p, RD_KAFKA_V_TOPIC(in_topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                     RD_KAFKA_V_KEY(key, (size_t)kl), RD_KAFKA_V_VALUE(val, (size_t)vl),
                                     RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(p, 1);
        }
        sent = n;
        rd_kafka_poll(p, 0);
        usleep(500);
    }
    rd_kafka_flush(p, 30000);
    rd_kafka_destroy(p);
    last_sent_us = last;
    return NULL;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: latency BOOTSTRAP IN_TOPIC OUT_TOPIC OUT_PARTITIONS RATE SECONDS WARMUP_SECONDS\n");
        return 2;
    }
    bootstrap = argv[1];
    in_topic = argv[2];
    const char *out = argv[3];
    int parts = atoi(argv[4]);
    rate = atol(argv[5]);
    seconds = atof(argv[6]);
    double warmup = atof(argv[7]);
    char e[256];

    rd_kafka_conf_t *cc = rd_kafka_conf_new();
    set(cc, "bootstrap.servers", bootstrap);
    set(cc, "group.id", "bench-latency");
    set(cc, "enable.auto.commit", "false");
    set(cc, "fetch.wait.max.ms", "5");
    set(cc, "enable.partition.eof", "false");
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, cc, e, sizeof e);
    if (!c)
        die("consumer", e);
    rd_kafka_poll_set_consumer(c);
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(parts);
    for (int i = 0; i < parts; i++)
        rd_kafka_topic_partition_list_add(tp, out, i)->offset = RD_KAFKA_OFFSET_END;
    if (rd_kafka_assign(c, tp))
        die("assign", out);
    rd_kafka_topic_partition_list_destroy(tp);
    /* a first fetch round, so that the partitions' end offsets are known before anything is produced */
    for (int i = 0; i < 5; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
        if (m)
            rd_kafka_message_destroy(m);
    }

    int64_t start = now_us(), cutoff = start + (int64_t)(warmup * 1e6), give_up = 0, newest = 0;
    size_t nlat = 0, cap = 1 << 20;
    int64_t *lat = malloc(cap * sizeof *lat);
    pthread_t th;
    pthread_create(&th, NULL, produce, &start);
    for (;;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 10);
        if (m) {
            if (!m->err && m->payload) {
                int64_t t = now_us();
                const char *s = memmem(m->payload, m->len, "\"updatedAt\":\"", 13);
                if (s) {
                    int64_t at = strtoll(s + 13, NULL, 10);
                    if (at > newest)
                        newest = at;
                    if (at >= cutoff) {
                        if (nlat == cap)
                            lat = realloc(lat, (cap *= 2) * sizeof *lat);
                        lat[nlat++] = t - at;
                    }
                }
            }
            rd_kafka_message_destroy(m);
        }
        if (last_sent_us) {
            if (newest >= last_sent_us)
                break;
            if (!give_up)
                give_up = now_us() + 30000000;
            else if (now_us() > give_up)
                break;
        }
    }
    pthread_join(th, NULL);
    int kept_up = newest >= last_sent_us;
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    if (nlat == 0) {
        printf("sent %ld measured 0 p50_ms nan p99_ms nan max_ms nan kept_up %d\n", sent, kept_up);
        return 0;
    }
    qsort(lat, nlat, sizeof *lat, cmp64);
    printf("sent %ld measured %zu p50_ms %.3f p99_ms %.3f max_ms %.3f kept_up %d\n", sent, nlat,
           lat[nlat / 2] / 1000.0, lat[(size_t)(nlat * 0.99)] / 1000.0, lat[nlat - 1] / 1000.0, kept_up);
    free(lat);
    return 0;
}
