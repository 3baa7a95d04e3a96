/*
 * bare.c: the baseline for bench/pipe, a plain librdkafka consume -> produce
 * pipe with the settings kstreamd's Kafka driver uses, and nothing else:
 *
 *   bare BOOTSTRAP IN_TOPIC OUT_TOPIC GROUP [COMMIT_INTERVAL_MS]
 *
 * Consumer: group GROUP, range assignor, auto commit and auto offset store
 * off, earliest, no partition EOF events; rd_kafka_consumer_poll per record.
 * Producer: idempotent, murmur2_random partitioner, librdkafka's default
 * batching (as kstreamd, which sets nothing else); each record is copied to
 * OUT_TOPIC with its key, value and timestamp. Every COMMIT_INTERVAL_MS
 * (default 1000) the producer is flushed, then the processed offsets are
 * committed (at-least-once, as kstreamd). SIGTERM/SIGINT: flush, commit,
 * close, exit 0.
 *
 * BARE_CONSUMER_SET / BARE_PRODUCER_SET="k=v k=v": more librdkafka
 * properties for one client, for experiments (e.g. debug=fetch); run.sh
 * passes the environment through. Unset for the measured baseline.
 */
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t stop;
static long failed;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "bare: %s: %s\n", what, why);
    exit(1);
}

static void set(rd_kafka_conf_t *c, const char *k, const char *v)
{
    char e[256];
    if (rd_kafka_conf_set(c, k, v, e, sizeof e) != RD_KAFKA_CONF_OK)
        die(k, e);
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk, (void)opaque;
    if (m->err && failed++ < 5)
        fprintf(stderr, "bare: delivery failed: %s\n", rd_kafka_err2str(m->err));
}

static rd_kafka_topic_partition_list_t *processed;

/* BARE_SET="k=v k=v": extra librdkafka properties for both clients (bisecting against kstreamd's settings). */
static void set_extra(rd_kafka_conf_t *c, int producer)
{
    const char *env = getenv(producer ? "BARE_PRODUCER_SET" : "BARE_CONSUMER_SET");
    if (!env || !*env)
        return;
    char *copy = strdup(env), *save = NULL;
    for (char *kv = strtok_r(copy, " ", &save); kv; kv = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq)
            die("BARE_*_SET", kv);
        *eq = 0;
        set(c, kv, eq + 1);
    }
    free(copy);
}

static void commit(rd_kafka_t *c, rd_kafka_t *p)
{
    if (rd_kafka_flush(p, 60000))
        die("flush", "timed out");
    if (failed)
        die("produce", "a delivery failed");
    if (processed->cnt == 0)
        return;
    rd_kafka_resp_err_t e = rd_kafka_commit(c, processed, 0);
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
        fprintf(stderr, "bare: commit: %s\n", rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(processed);
    processed = rd_kafka_topic_partition_list_new(8);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        rd_kafka_assign(rk, parts);
    } else {
        commit(rk, opaque);
        rd_kafka_assign(rk, NULL);
    }
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: bare BOOTSTRAP IN_TOPIC OUT_TOPIC GROUP [COMMIT_INTERVAL_MS]\n");
        return 2;
    }
    const char *bootstrap = argv[1], *in = argv[2], *out = argv[3], *group = argv[4];
    long commit_ms = argc > 5 ? atol(argv[5]) : 1000;
    char e[512];
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    rd_kafka_conf_t *pc = rd_kafka_conf_new();
    set(pc, "bootstrap.servers", bootstrap);
    set(pc, "enable.idempotence", "true");
    set(pc, "partitioner", "murmur2_random");
    set_extra(pc, 1);
    rd_kafka_conf_set_dr_msg_cb(pc, dr_cb);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, pc, e, sizeof e);
    if (!p)
        die("producer", e);

    rd_kafka_conf_t *cc = rd_kafka_conf_new();
    set(cc, "bootstrap.servers", bootstrap);
    set(cc, "group.id", group);
    set(cc, "enable.auto.commit", "false");
    set(cc, "enable.auto.offset.store", "false");
    set(cc, "auto.offset.reset", "earliest");
    set(cc, "partition.assignment.strategy", "range");
    set(cc, "enable.partition.eof", "false");
    set_extra(cc, 0);
    rd_kafka_conf_set_rebalance_cb(cc, rebalance_cb);
    rd_kafka_conf_set_opaque(cc, p);
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, cc, e, sizeof e);
    if (!c)
        die("consumer", e);
    rd_kafka_poll_set_consumer(c);
    processed = rd_kafka_topic_partition_list_new(8);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, in, RD_KAFKA_PARTITION_UA);
    if (rd_kafka_subscribe(c, topics))
        die("subscribe", in);
    rd_kafka_topic_partition_list_destroy(topics);

    rd_kafka_topic_t *ot = rd_kafka_topic_new(p, out, NULL);
    long n = 0, next_commit = now_ms() + commit_ms;
    while (!stop) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
        if (m) {
            if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                    fprintf(stderr, "bare: consumer: %s\n", rd_kafka_message_errstr(m));
            } else {
                rd_kafka_timestamp_type_t tt;
                int64_t ts = rd_kafka_message_timestamp(m, &tt);
                for (;;) {
                    rd_kafka_resp_err_t err = rd_kafka_producev(
                        p, RD_KAFKA_V_RKT(ot), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_KEY(m->key, m->key_len), RD_KAFKA_V_VALUE(m->payload, m->len),
                        RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_END);
                    if (!err)
                        break;
                    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        die("produce", rd_kafka_err2str(err));
                    rd_kafka_poll(p, 10);
                }
                rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(processed, in, m->partition);
                if (!tp)
                    tp = rd_kafka_topic_partition_list_add(processed, in, m->partition);
                tp->offset = m->offset + 1;
                n++;
            }
            rd_kafka_message_destroy(m);
        }
        rd_kafka_poll(p, 0);
        if ((n & 1023) == 0 || !m) {
            long t = now_ms();
            if (t >= next_commit) {
                commit(c, p);
                next_commit = t + commit_ms;
            }
        }
    }
    commit(c, p);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    rd_kafka_topic_destroy(ot);
    rd_kafka_flush(p, 60000);
    rd_kafka_destroy(p);
    fprintf(stderr, "bare: %ld records\n", n);
    return 0;
}
