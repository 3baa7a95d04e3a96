/*
 * rdk_smoke: checks that the librdkafka we build against works with the broker we test against,
 * for every operation kstreamd relies on. Run through `tests/kafka/broker smoke`, or:
 *     rdk_smoke [BOOTSTRAP]          (default 127.0.0.1:39092; RDK_DEBUG=protocol,... for client debug)
 * Each check prints one PASS/FAIL/SKIP line; the exit status is 0 only if nothing failed.
 */
#include <librdkafka/rdkafka.h>

#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NMSG 1000      /* records produced idempotently, then consumed by the group */
#define NPART 3
#define NABORT 10      /* records of the aborted transaction */
#define NLATE 5        /* records of a transaction committed after the aborted one */

static const char *bootstrap = "127.0.0.1:39092";
static int npass, nfail, nskip;
static char run_id[32];
static char topic_in[128], topic_out[128];

/* last error reported by any client's error_cb (shown with failures) */
static char last_client_error[512];

static void result(const char *tag, const char *what, const char *fmt, va_list ap) {
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    printf("%-4s  %-46s %s\n", tag, what, buf);
    fflush(stdout);
}
static void pass(const char *what, const char *fmt, ...) {
    va_list ap; va_start(ap, fmt); result("PASS", what, fmt, ap); va_end(ap); npass++;
}
static int fail(const char *what, const char *fmt, ...) {
    va_list ap; va_start(ap, fmt); result("FAIL", what, fmt, ap); va_end(ap); nfail++;
    if (last_client_error[0]) {
        printf("      (last client error: %s)\n", last_client_error);
        last_client_error[0] = 0;
    }
    return 0;
}
static void skip(const char *what, const char *why) {
    printf("SKIP  %-46s %s\n", what, why); nskip++;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_alarm(int sig) {
    (void)sig;
    static const char m[] = "FAIL  watchdog: rdk_smoke took longer than 240 s, aborting\n";
    ssize_t r = write(1, m, sizeof m - 1);
    (void)r;
    _exit(3);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    (void)opaque;
    snprintf(last_client_error, sizeof last_client_error, "%s: %s: %s", rd_kafka_name(rk),
             rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
    fprintf(stderr, "      client error  %s\n", last_client_error);
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk;
    fprintf(stderr, "      client log %d %s %s\n", level, fac, buf);
}

static rd_kafka_conf_t *conf_new(const char *client_id) {
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char errstr[512];
    const char *dbg = getenv("RDK_DEBUG");
    if (rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, errstr, sizeof errstr) ||
        rd_kafka_conf_set(c, "client.id", client_id, errstr, sizeof errstr) ||
        (dbg && *dbg && rd_kafka_conf_set(c, "debug", dbg, errstr, sizeof errstr))) {
        fprintf(stderr, "conf: %s\n", errstr);
        exit(2);
    }
    rd_kafka_conf_set_error_cb(c, error_cb);
    rd_kafka_conf_set_log_cb(c, log_cb);
    return c;
}

static void conf_set(rd_kafka_conf_t *c, const char *k, const char *v) {
    char errstr[512];
    if (rd_kafka_conf_set(c, k, v, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "conf %s=%s: %s\n", k, v, errstr);
        exit(2);
    }
}

static rd_kafka_t *client_new(rd_kafka_type_t type, rd_kafka_conf_t *c) {
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(type, c, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "rd_kafka_new: %s\n", errstr);
        exit(2);
    }
    return rk;
}

/* ------------------------------------------------------------------ admin */

static int create_topics(void) {
    const char *what = "admin: CreateTopics (2 topics x 3 partitions)";
    rd_kafka_t *rk = client_new(RD_KAFKA_PRODUCER, conf_new("rdk_smoke-admin"));
    char errstr[512];
    rd_kafka_NewTopic_t *nt[2];
    nt[0] = rd_kafka_NewTopic_new(topic_in, NPART, 1, errstr, sizeof errstr);
    nt[1] = rd_kafka_NewTopic_new(topic_out, NPART, 1, errstr, sizeof errstr);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opt, 10000, errstr, sizeof errstr);
    rd_kafka_AdminOptions_set_request_timeout(opt, 15000, errstr, sizeof errstr);
    rd_kafka_CreateTopics(rk, nt, 2, opt, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 20000);
    int ok = 0;
    if (!ev) {
        fail(what, "no result within 20 s");
    } else if (rd_kafka_event_error(ev)) {
        fail(what, "%s: %s", rd_kafka_err2name(rd_kafka_event_error(ev)), rd_kafka_event_error_string(ev));
    } else {
        size_t n;
        const rd_kafka_topic_result_t **tr =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        ok = 1;
        for (size_t i = 0; i < n; i++)
            if (rd_kafka_topic_result_error(tr[i])) {
                ok = fail(what, "%s: %s: %s", rd_kafka_topic_result_name(tr[i]),
                          rd_kafka_err2name(rd_kafka_topic_result_error(tr[i])),
                          rd_kafka_topic_result_error_string(tr[i]));
                break;
            }
        if (ok) pass(what, "%s, %s", topic_in, topic_out);
    }
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_NewTopic_destroy_array(nt, 2);

    /* the topics must show up in metadata with all partitions led */
    if (ok) {
        const char *w2 = "metadata: topics visible, 3 partitions led";
        int64_t deadline = now_ms() + 15000;
        int seen = 0;
        char last[256] = "no metadata";
        while (!seen && now_ms() < deadline) {
            const struct rd_kafka_metadata *md;
            rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, 5000);
            if (err) {
                snprintf(last, sizeof last, "%s", rd_kafka_err2name(err));
            } else {
                int good = 0;
                for (int i = 0; i < md->topic_cnt; i++) {
                    const rd_kafka_metadata_topic_t *t = &md->topics[i];
                    if (strcmp(t->topic, topic_in) && strcmp(t->topic, topic_out)) continue;
                    int led = 0;
                    for (int p = 0; p < t->partition_cnt; p++)
                        if (!t->partitions[p].err && t->partitions[p].leader >= 0) led++;
                    if (!t->err && t->partition_cnt == NPART && led == NPART) good++;
                    else snprintf(last, sizeof last, "%s: %s, %d partitions, %d led", t->topic,
                                  rd_kafka_err2name(t->err), t->partition_cnt, led);
                }
                seen = good == 2;
                rd_kafka_metadata_destroy(md);
            }
            if (!seen) usleep(200000);
        }
        if (seen) pass(w2, "");
        else ok = fail(w2, "%s", last);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return ok;
}

static void delete_topics(void) {
    const char *what = "admin: DeleteTopics";
    rd_kafka_t *rk = client_new(RD_KAFKA_PRODUCER, conf_new("rdk_smoke-admin"));
    char errstr[512];
    rd_kafka_DeleteTopic_t *dt[2] = {rd_kafka_DeleteTopic_new(topic_in), rd_kafka_DeleteTopic_new(topic_out)};
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DELETETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opt, 10000, errstr, sizeof errstr);
    rd_kafka_AdminOptions_set_request_timeout(opt, 15000, errstr, sizeof errstr);
    rd_kafka_DeleteTopics(rk, dt, 2, opt, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 20000);
    if (!ev) {
        fail(what, "no result within 20 s");
    } else if (rd_kafka_event_error(ev)) {
        fail(what, "%s: %s", rd_kafka_err2name(rd_kafka_event_error(ev)), rd_kafka_event_error_string(ev));
    } else {
        size_t n;
        const rd_kafka_topic_result_t **tr =
            rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
        int ok = 1;
        for (size_t i = 0; i < n && ok; i++)
            if (rd_kafka_topic_result_error(tr[i]))
                ok = fail(what, "%s: %s", rd_kafka_topic_result_name(tr[i]),
                          rd_kafka_err2name(rd_kafka_topic_result_error(tr[i])));
        if (ok) pass(what, "");
    }
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_DeleteTopic_destroy_array(dt, 2);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
}

/* ------------------------------------------------------------------ idempotent producer */

static int dr_ok, dr_err;
static char dr_first_err[256];

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk; (void)opaque;
    if (m->err) {
        if (!dr_err++) snprintf(dr_first_err, sizeof dr_first_err, "%s", rd_kafka_err2name(m->err));
    } else {
        dr_ok++;
    }
}

static int produce_one(rd_kafka_t *rk, const char *topic, const char *key, const char *val) {
    for (int tries = 0; tries < 100; tries++) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
            RD_KAFKA_V_VALUE((void *)val, strlen(val)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) return err;
        rd_kafka_poll(rk, 100);
    }
    return RD_KAFKA_RESP_ERR__QUEUE_FULL;
}

static int idempotent_produce(void) {
    const char *what = "producer: idempotent, 1000 records";
    rd_kafka_conf_t *c = conf_new("rdk_smoke-idem");
    conf_set(c, "enable.idempotence", "true");
    conf_set(c, "linger.ms", "5");
    conf_set(c, "message.timeout.ms", "30000");
    rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
    rd_kafka_t *rk = client_new(RD_KAFKA_PRODUCER, c);
    dr_ok = dr_err = 0;
    int ok = 1;
    for (int i = 0; i < NMSG && ok; i++) {
        char k[32], v[32];
        snprintf(k, sizeof k, "k%d", i);
        snprintf(v, sizeof v, "v%d", i);
        rd_kafka_resp_err_t err = produce_one(rk, topic_in, k, v);
        if (err) ok = fail(what, "produce #%d: %s", i, rd_kafka_err2name(err));
    }
    rd_kafka_resp_err_t ferr = rd_kafka_flush(rk, 30000);
    char fe[256];
    rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(rk, fe, sizeof fe);
    if (!ok) {
    } else if (fatal) {
        ok = fail(what, "fatal error %s: %s", rd_kafka_err2name(fatal), fe);
    } else if (ferr) {
        ok = fail(what, "flush: %s (%d delivered, %d failed)", rd_kafka_err2name(ferr), dr_ok, dr_err);
    } else if (dr_ok != NMSG || dr_err) {
        ok = fail(what, "%d delivered, %d failed (first: %s)", dr_ok, dr_err, dr_first_err);
    } else {
        pass(what, "%d delivered", dr_ok);
    }
    rd_kafka_destroy(rk);
    return ok;
}

/* ------------------------------------------------------------------ more admin / offsets
 * Not all of these are used by kstreamd today; they are here to map what this librdkafka can do
 * against a given broker (Kafka Streams uses DeleteRecords to purge repartition topics, and
 * DescribeConfigs / CreatePartitions to validate internal topics). */

static rd_kafka_t *admin_rk;
static rd_kafka_queue_t *admin_q;
static rd_kafka_AdminOptions_t *admin_cur_opts; /* of the request in flight, freed by admin_wait */

static rd_kafka_AdminOptions_t *admin_opts(rd_kafka_admin_op_t op) {
    char errstr[256];
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(admin_rk, op);
    rd_kafka_AdminOptions_set_request_timeout(o, 15000, errstr, sizeof errstr);
    if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_CREATEPARTITIONS ||
        op == RD_KAFKA_ADMIN_OP_DELETERECORDS || op == RD_KAFKA_ADMIN_OP_ALTERCONFIGS)
        rd_kafka_AdminOptions_set_operation_timeout(o, 10000, errstr, sizeof errstr);
    admin_cur_opts = o;
    return o;
}

/* waits for the admin result; NULL (after reporting the failure) on timeout or request error */
static rd_kafka_event_t *admin_wait(const char *what) {
    rd_kafka_event_t *ev = rd_kafka_queue_poll(admin_q, 20000);
    rd_kafka_AdminOptions_destroy(admin_cur_opts);
    admin_cur_opts = NULL;
    if (!ev) {
        fail(what, "no result within 20 s");
        return NULL;
    }
    if (rd_kafka_event_error(ev)) {
        fail(what, "%s: %s", rd_kafka_err2name(rd_kafka_event_error(ev)), rd_kafka_event_error_string(ev));
        rd_kafka_event_destroy(ev);
        return NULL;
    }
    return ev;
}

static void admin_extras(const char *group) {
    char compact[160], errstr[256];
    snprintf(compact, sizeof compact, "rdk_smoke-changelog-%s", run_id);
    admin_rk = client_new(RD_KAFKA_PRODUCER, conf_new("rdk_smoke-admin2"));
    admin_q = rd_kafka_queue_new(admin_rk);
    rd_kafka_event_t *ev;

    /* CreateTopics with a topic config, as for changelog topics */
    const char *w = "admin: CreateTopics with cleanup.policy=compact";
    int have_compact = 0;
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(compact, 1, 1, errstr, sizeof errstr);
    rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
    rd_kafka_CreateTopics(admin_rk, &nt, 1, admin_opts(RD_KAFKA_ADMIN_OP_CREATETOPICS), admin_q);
    rd_kafka_NewTopic_destroy(nt);
    if ((ev = admin_wait(w))) {
        size_t n;
        const rd_kafka_topic_result_t **tr =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        if (n == 1 && !rd_kafka_topic_result_error(tr[0])) { pass(w, "%s", compact); have_compact = 1; }
        else fail(w, "%s", n ? rd_kafka_err2name(rd_kafka_topic_result_error(tr[0])) : "no result");
        rd_kafka_event_destroy(ev);
    }

    /* DescribeConfigs */
    w = "admin: DescribeConfigs (topic)";
    if (have_compact) {
        /*
         * The broker may not know a topic the controller has just created
         * (KRaft propagates metadata asynchronously): UNKNOWN_TOPIC_OR_PART is
         * retried for a few seconds, as admin clients do.
         */
        for (int attempt = 0;; attempt++) {
            rd_kafka_ConfigResource_t *cr = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, compact);
            rd_kafka_DescribeConfigs(admin_rk, &cr, 1, admin_opts(RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS), admin_q);
            rd_kafka_ConfigResource_destroy(cr);
            if (!(ev = admin_wait(w)))
                break;
            size_t n;
            const rd_kafka_ConfigResource_t **rs =
                rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n);
            if (attempt < 50 && n == 1 &&
                rd_kafka_ConfigResource_error(rs[0]) == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
                rd_kafka_event_destroy(ev);
                usleep(100 * 1000);
                continue;
            }
            break;
        }
        if (ev) {
            size_t n, nc;
            const rd_kafka_ConfigResource_t **rs =
                rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n);
            const char *policy = NULL;
            if (n == 1 && !rd_kafka_ConfigResource_error(rs[0])) {
                const rd_kafka_ConfigEntry_t **ce = rd_kafka_ConfigResource_configs(rs[0], &nc);
                for (size_t i = 0; i < nc; i++)
                    if (!strcmp(rd_kafka_ConfigEntry_name(ce[i]), "cleanup.policy"))
                        policy = rd_kafka_ConfigEntry_value(ce[i]);
                if (policy && !strcmp(policy, "compact")) pass(w, "cleanup.policy=compact");
                else fail(w, "cleanup.policy=%s", policy ? policy : "(missing)");
            } else {
                fail(w, "%s", n ? rd_kafka_err2name(rd_kafka_ConfigResource_error(rs[0])) : "no result");
            }
            rd_kafka_event_destroy(ev);
        }
    } else skip(w, "no topic");

    /* AlterConfigs (the non-incremental one: all librdkafka 2.0 has) */
    w = "admin: AlterConfigs (topic)";
    if (have_compact) {
        rd_kafka_ConfigResource_t *cr = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, compact);
        rd_kafka_ConfigResource_set_config(cr, "cleanup.policy", "compact");
        rd_kafka_ConfigResource_set_config(cr, "min.compaction.lag.ms", "1000");
        rd_kafka_AlterConfigs(admin_rk, &cr, 1, admin_opts(RD_KAFKA_ADMIN_OP_ALTERCONFIGS), admin_q);
        rd_kafka_ConfigResource_destroy(cr);
        if ((ev = admin_wait(w))) {
            size_t n;
            const rd_kafka_ConfigResource_t **rs =
                rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev), &n);
            if (n == 1 && !rd_kafka_ConfigResource_error(rs[0])) pass(w, "");
            else fail(w, "%s: %s", n ? rd_kafka_err2name(rd_kafka_ConfigResource_error(rs[0])) : "no result",
                      n ? rd_kafka_ConfigResource_error_string(rs[0]) : "");
            rd_kafka_event_destroy(ev);
        }
    } else skip(w, "no topic");

    /* CreatePartitions 1 -> 2 */
    w = "admin: CreatePartitions";
    if (have_compact) {
        rd_kafka_NewPartitions_t *np = rd_kafka_NewPartitions_new(compact, 2, errstr, sizeof errstr);
        rd_kafka_CreatePartitions(admin_rk, &np, 1, admin_opts(RD_KAFKA_ADMIN_OP_CREATEPARTITIONS), admin_q);
        rd_kafka_NewPartitions_destroy(np);
        if ((ev = admin_wait(w))) {
            size_t n;
            const rd_kafka_topic_result_t **tr =
                rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(ev), &n);
            if (n == 1 && !rd_kafka_topic_result_error(tr[0])) pass(w, "1 -> 2 partitions");
            else fail(w, "%s", n ? rd_kafka_err2name(rd_kafka_topic_result_error(tr[0])) : "no result");
            rd_kafka_event_destroy(ev);
        }
    } else skip(w, "no topic");

    /* OffsetsForTimes (ListOffsets by timestamp) */
    w = "ListOffsets: offsets_for_times";
    {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(NPART);
        for (int p = 0; p < NPART; p++) rd_kafka_topic_partition_list_add(l, topic_in, p)->offset = 0;
        rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(admin_rk, l, 10000);
        for (int p = 0; !err && p < l->cnt; p++) err = l->elems[p].err;
        if (err) fail(w, "%s", rd_kafka_err2name(err));
        else pass(w, "");
        rd_kafka_topic_partition_list_destroy(l);
    }

    /* DeleteRecords: purge partition 0 of the input up to its end */
    w = "admin: DeleteRecords";
    {
        int64_t lo = -1, hi = -1;
        rd_kafka_query_watermark_offsets(admin_rk, topic_in, 0, &lo, &hi, 10000);
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, topic_in, 0)->offset = RD_KAFKA_OFFSET_END;
        rd_kafka_DeleteRecords_t *dr = rd_kafka_DeleteRecords_new(l);
        rd_kafka_topic_partition_list_destroy(l);
        rd_kafka_DeleteRecords(admin_rk, &dr, 1, admin_opts(RD_KAFKA_ADMIN_OP_DELETERECORDS), admin_q);
        rd_kafka_DeleteRecords_destroy(dr);
        if ((ev = admin_wait(w))) {
            const rd_kafka_topic_partition_list_t *r =
                rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(ev));
            if (r && r->cnt == 1 && !r->elems[0].err)
                pass(w, "partition 0 low watermark %" PRId64 " -> %" PRId64, lo, r->elems[0].offset);
            else
                fail(w, "%s", r && r->cnt ? rd_kafka_err2name(r->elems[0].err) : "no result");
            rd_kafka_event_destroy(ev);
        }
    }

    /* ListConsumerGroups */
    w = "admin: ListConsumerGroups";
    rd_kafka_ListConsumerGroups(admin_rk, admin_opts(RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS), admin_q);
    if ((ev = admin_wait(w))) {
        const rd_kafka_ListConsumerGroups_result_t *res = rd_kafka_event_ListConsumerGroups_result(ev);
        size_t nv, ne;
        const rd_kafka_ConsumerGroupListing_t **v = rd_kafka_ListConsumerGroups_result_valid(res, &nv);
        const rd_kafka_error_t **e = rd_kafka_ListConsumerGroups_result_errors(res, &ne);
        int found = 0;
        for (size_t i = 0; i < nv; i++)
            if (!strcmp(rd_kafka_ConsumerGroupListing_group_id(v[i]), group)) found = 1;
        if (ne) fail(w, "%s: %s", rd_kafka_error_name(e[0]), rd_kafka_error_string(e[0]));
        else if (!found) fail(w, "group %s not among %zu groups", group, nv);
        else pass(w, "%zu groups", nv);
        rd_kafka_event_destroy(ev);
    }

    /* DescribeConsumerGroups */
    w = "admin: DescribeConsumerGroups";
    rd_kafka_DescribeConsumerGroups(admin_rk, &group, 1, admin_opts(RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS),
                                    admin_q);
    if ((ev = admin_wait(w))) {
        size_t n;
        const rd_kafka_ConsumerGroupDescription_t **g = rd_kafka_DescribeConsumerGroups_result_groups(
            rd_kafka_event_DescribeConsumerGroups_result(ev), &n);
        const rd_kafka_error_t *e = n ? rd_kafka_ConsumerGroupDescription_error(g[0]) : NULL;
        if (n != 1) fail(w, "%zu results", n);
        else if (e) fail(w, "%s: %s", rd_kafka_error_name(e), rd_kafka_error_string(e));
        else pass(w, "state %s", rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(g[0])));
        rd_kafka_event_destroy(ev);
    }

    /* ListConsumerGroupOffsets */
    w = "admin: ListConsumerGroupOffsets";
    {
        rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(group, NULL);
        rd_kafka_ListConsumerGroupOffsets(admin_rk, &req, 1,
                                          admin_opts(RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS), admin_q);
        rd_kafka_ListConsumerGroupOffsets_destroy(req);
        if ((ev = admin_wait(w))) {
            size_t n;
            const rd_kafka_group_result_t **g = rd_kafka_ListConsumerGroupOffsets_result_groups(
                rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
            const rd_kafka_error_t *e = n ? rd_kafka_group_result_error(g[0]) : NULL;
            if (n != 1) fail(w, "%zu results", n);
            else if (e) fail(w, "%s: %s", rd_kafka_error_name(e), rd_kafka_error_string(e));
            else {
                const rd_kafka_topic_partition_list_t *l = rd_kafka_group_result_partitions(g[0]);
                int64_t sum = 0;
                for (int i = 0; l && i < l->cnt; i++) if (l->elems[i].offset > 0) sum += l->elems[i].offset;
                if (sum == NMSG) pass(w, "sum %" PRId64, sum);
                else fail(w, "sum %" PRId64 ", want %d", sum, NMSG);
            }
            rd_kafka_event_destroy(ev);
        }
    }

    /* DeleteGroups */
    w = "admin: DeleteGroups";
    {
        rd_kafka_DeleteGroup_t *dg = rd_kafka_DeleteGroup_new(group);
        rd_kafka_DeleteGroups(admin_rk, &dg, 1, admin_opts(RD_KAFKA_ADMIN_OP_DELETEGROUPS), admin_q);
        rd_kafka_DeleteGroup_destroy(dg);
        if ((ev = admin_wait(w))) {
            size_t n;
            const rd_kafka_group_result_t **g =
                rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev), &n);
            const rd_kafka_error_t *e = n ? rd_kafka_group_result_error(g[0]) : NULL;
            if (n != 1) fail(w, "%zu results", n);
            else if (e) fail(w, "%s: %s", rd_kafka_error_name(e), rd_kafka_error_string(e));
            else pass(w, "");
            rd_kafka_event_destroy(ev);
        }
    }

    if (have_compact) {
        rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(compact);
        rd_kafka_DeleteTopics(admin_rk, &dt, 1, admin_opts(RD_KAFKA_ADMIN_OP_DELETETOPICS), admin_q);
        rd_kafka_DeleteTopic_destroy(dt);
        ev = rd_kafka_queue_poll(admin_q, 20000);
        if (ev) rd_kafka_event_destroy(ev);
        rd_kafka_AdminOptions_destroy(admin_cur_opts);
    }
    rd_kafka_queue_destroy(admin_q);
    rd_kafka_destroy(admin_rk);
}

/* Stream-processing tests replay records with event times far in the past or future. Kafka 4.0
 * rejects records more than 1 h in the future by default (log.message.timestamp.after.max.ms);
 * the test broker lifts that limit: check it did. */
static void timestamps(void) {
    const char *what = "producer: 1970 and +1 year timestamps kept";
    rd_kafka_conf_t *c = conf_new("rdk_smoke-ts");
    conf_set(c, "message.timeout.ms", "15000");
    rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
    rd_kafka_t *rk = client_new(RD_KAFKA_PRODUCER, c);
    dr_ok = dr_err = 0;
    int64_t ts[2] = {1000, (int64_t)time(NULL) * 1000 + 365LL * 24 * 3600 * 1000};
    for (int i = 0; i < 2; i++)
        rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic_out), RD_KAFKA_V_PARTITION(0),
                          RD_KAFKA_V_VALUE("ts", 2), RD_KAFKA_V_TIMESTAMP(ts[i]),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    rd_kafka_flush(rk, 20000);
    rd_kafka_destroy(rk);
    if (dr_ok == 2 && !dr_err) pass(what, "");
    else fail(what, "%d delivered, %d failed (first: %s)", dr_ok, dr_err, dr_first_err);
}

/* Each compression codec: produce, then fetch back and decompress. (librdkafka enables codecs by
 * the Produce/Fetch versions a broker advertises, which KIP-896 narrowed in Kafka 4.0.) */
static void compression(void) {
    static const char *codecs[] = {"gzip", "snappy", "lz4", "zstd"};
    enum { NC = 4, PER = 200 };
    int delivered[NC] = {0}, readback[NC] = {0}, dfailed[NC] = {0};
    for (int c = 0; c < NC; c++) {
        rd_kafka_conf_t *conf = conf_new("rdk_smoke-compress");
        conf_set(conf, "compression.codec", codecs[c]);
        conf_set(conf, "linger.ms", "20");
        conf_set(conf, "message.timeout.ms", "15000");
        rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
        rd_kafka_t *rk = client_new(RD_KAFKA_PRODUCER, conf);
        dr_ok = dr_err = 0;
        dr_first_err[0] = 0;
        for (int i = 0; i < PER; i++) {
            char v[256];
            snprintf(v, sizeof v, "c-%s-%d-%0200d", codecs[c], i, 0);
            char k[16];
            snprintf(k, sizeof k, "z%d", i);
            produce_one(rk, topic_out, k, v);
        }
        rd_kafka_flush(rk, 20000);
        rd_kafka_destroy(rk);
        delivered[c] = dr_ok;
        dfailed[c] = dr_err;
        if (dr_err) {
            char what[64];
            snprintf(what, sizeof what, "producer: compression %s", codecs[c]);
            fail(what, "%d delivered, %d failed (first: %s)", dr_ok, dr_err, dr_first_err);
        }
    }

    rd_kafka_conf_t *conf = conf_new("rdk_smoke-decompress");
    char gid[96];
    snprintf(gid, sizeof gid, "rdk_smoke-decompress-%s", run_id);
    conf_set(conf, "group.id", gid);
    conf_set(conf, "enable.auto.commit", "false");
    rd_kafka_t *rk = client_new(RD_KAFKA_CONSUMER, conf);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(NPART);
    for (int p = 0; p < NPART; p++)
        rd_kafka_topic_partition_list_add(l, topic_out, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    int want = 0, got = 0;
    char first_err[256] = "";
    for (int c = 0; c < NC; c++) want += delivered[c];
    int64_t deadline = now_ms() + 20000;
    while (got < want && now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m) continue;
        if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF && !first_err[0])
            snprintf(first_err, sizeof first_err, "%s: %s", rd_kafka_err2name(m->err), rd_kafka_message_errstr(m));
        if (!m->err && m->len > 2 && !memcmp(m->payload, "c-", 2))
            for (int c = 0; c < NC; c++) {
                size_t n = strlen(codecs[c]);
                if (m->len > n + 3 && !memcmp((char *)m->payload + 2, codecs[c], n) &&
                    ((char *)m->payload)[2 + n] == '-') {
                    readback[c]++;
                    got++;
                }
            }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    for (int c = 0; c < NC; c++) {
        char what[64];
        snprintf(what, sizeof what, "compression %s: produce + fetch", codecs[c]);
        if (delivered[c] == PER && readback[c] == PER) pass(what, "%d records", PER);
        else if (delivered[c] == PER)
            fail(what, "read back %d of %d%s%s", readback[c], PER, first_err[0] ? "; first error: " : "", first_err);
        else if (!dfailed[c]) fail(what, "%d of %d delivered", delivered[c], PER);
    }
}

/* ------------------------------------------------------------------ consumers */

static int assigned_cnt;

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                         void *opaque) {
    (void)opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        assigned_cnt = parts->cnt;
        rd_kafka_assign(rk, parts);
    } else {
        assigned_cnt = 0;
        rd_kafka_assign(rk, NULL);
    }
}

static rd_kafka_t *group_consumer(const char *client_id, const char *group, const char *isolation) {
    rd_kafka_conf_t *c = conf_new(client_id);
    conf_set(c, "group.id", group);
    conf_set(c, "partition.assignment.strategy", "range");
    conf_set(c, "auto.offset.reset", "earliest");
    conf_set(c, "enable.auto.commit", "false");
    conf_set(c, "session.timeout.ms", "10000");
    conf_set(c, "isolation.level", isolation);
    rd_kafka_conf_set_rebalance_cb(c, rebalance_cb);
    rd_kafka_t *rk = client_new(RD_KAFKA_CONSUMER, c);
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

static int subscribe(rd_kafka_t *rk, const char *topic, const char *what) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (err) return fail(what, "subscribe: %s", rd_kafka_err2name(err));
    return 1;
}

/* sum of committed offsets of `topic` for the consumer's group, or -1 with *err set */
static int64_t committed_sum(rd_kafka_t *rk, const char *topic, rd_kafka_resp_err_t *err) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(NPART);
    for (int p = 0; p < NPART; p++) rd_kafka_topic_partition_list_add(l, topic, p);
    *err = rd_kafka_committed(rk, l, 10000);
    int64_t sum = 0;
    for (int p = 0; p < l->cnt && !*err; p++) {
        if (l->elems[p].err) *err = l->elems[p].err;
        else if (l->elems[p].offset >= 0) sum += l->elems[p].offset;
    }
    rd_kafka_topic_partition_list_destroy(l);
    return *err ? -1 : sum;
}

static int watermarks(void) {
    const char *what = "ListOffsets: watermarks sum to 1000";
    rd_kafka_t *rk = client_new(RD_KAFKA_PRODUCER, conf_new("rdk_smoke-wm"));
    int64_t total = 0;
    int nonempty = 0, ok = 1;
    for (int p = 0; p < NPART && ok; p++) {
        int64_t lo, hi;
        rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk, topic_in, p, &lo, &hi, 10000);
        if (err) ok = fail(what, "partition %d: %s", p, rd_kafka_err2name(err));
        total += hi - lo;
        nonempty += hi > lo;
    }
    if (ok) {
        if (total == NMSG) pass(what, "%d of %d partitions non-empty", nonempty, NPART);
        else ok = fail(what, "total %" PRId64, total);
    }
    rd_kafka_destroy(rk);
    return ok;
}

static int group_consume(void) {
    const char *what = "consumer group: subscribe (range), consume";
    char group[96];
    snprintf(group, sizeof group, "rdk_smoke-g-%s", run_id);
    rd_kafka_t *rk = group_consumer("rdk_smoke-group", group, "read_uncommitted");
    int ok = subscribe(rk, topic_in, what);
    static unsigned char seen[NMSG];
    memset(seen, 0, sizeof seen);
    int got = 0, dup = 0, bad = 0;
    char first_err[256] = "";
    int64_t deadline = now_ms() + 40000;
    while (ok && got < NMSG && now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
        if (!m) continue;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF && !first_err[0])
                snprintf(first_err, sizeof first_err, "%s: %s", rd_kafka_err2name(m->err),
                         rd_kafka_message_errstr(m));
        } else {
            int i;
            char v[32] = {0};
            memcpy(v, m->payload, m->len < 31 ? m->len : 31);
            if (sscanf(v, "v%d", &i) == 1 && i >= 0 && i < NMSG) {
                if (seen[i]++) dup++; else got++;
            } else {
                bad++;
            }
        }
        rd_kafka_message_destroy(m);
    }
    if (ok) {
        if (got == NMSG && !bad)
            pass(what, "%d distinct records, %d duplicates, %d partitions assigned", got, dup, assigned_cnt);
        else
            ok = fail(what, "%d of %d records within 40 s (%d unexpected)%s%s", got, NMSG, bad,
                      first_err[0] ? "; first error: " : "", first_err);
    }

    const char *w2 = "consumer group: commit offsets (sync)";
    if (ok) {
        rd_kafka_resp_err_t err = rd_kafka_commit(rk, NULL, 0);
        if (err) ok = fail(w2, "%s", rd_kafka_err2name(err));
        else pass(w2, "");
    } else {
        skip(w2, "nothing consumed");
    }

    const char *w3 = "consumer group: committed offsets read back";
    if (ok) {
        rd_kafka_resp_err_t err;
        int64_t sum = committed_sum(rk, topic_in, &err);
        if (err) ok = fail(w3, "%s", rd_kafka_err2name(err));
        else if (sum != NMSG) ok = fail(w3, "sum %" PRId64 ", want %d", sum, NMSG);
        else pass(w3, "sum %" PRId64, sum);
    } else {
        skip(w3, "no commit");
    }

    const char *w4 = "consumer group: close (leave group)";
    rd_kafka_resp_err_t err = rd_kafka_consumer_close(rk);
    if (err) fail(w4, "%s", rd_kafka_err2name(err));
    else pass(w4, "");
    rd_kafka_destroy(rk);
    return ok;
}

/* ------------------------------------------------------------------ transactions */

static int txn_err(const char *what, const char *call, rd_kafka_error_t *e) {
    fail(what, "%s: %s: %s%s%s", call, rd_kafka_error_name(e), rd_kafka_error_string(e),
         rd_kafka_error_is_fatal(e) ? " (fatal)" : "",
         rd_kafka_error_txn_requires_abort(e) ? " (abortable)" : "");
    rd_kafka_error_destroy(e);
    return 0;
}

/* consume-transform-produce: all of topic_in -> topic_out in one transaction with the consumer's
 * offsets; then an aborted transaction; then a small committed one. */
static int transactions(int *committed_out) {
    const char *w1 = "txn producer: init_transactions";
    char txid[96], group[96];
    snprintf(txid, sizeof txid, "rdk_smoke-tx-%s", run_id);
    snprintf(group, sizeof group, "rdk_smoke-eos-%s", run_id);
    *committed_out = 0;

    rd_kafka_conf_t *c = conf_new("rdk_smoke-txn");
    conf_set(c, "transactional.id", txid);
    conf_set(c, "linger.ms", "5");
    rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
    rd_kafka_t *p = client_new(RD_KAFKA_PRODUCER, c);
    dr_ok = dr_err = 0;
    rd_kafka_error_t *e;
    int ok = 1;

    if ((e = rd_kafka_init_transactions(p, 30000))) {
        txn_err(w1, "init_transactions", e);
        rd_kafka_destroy(p);
        skip("txn: consume-transform-produce + offsets", "no transactional producer");
        return 0;
    }
    pass(w1, "transactional.id %s", txid);

    /* read_committed consumer of the input, offsets committed through the transaction */
    const char *w2 = "txn: consume input (read_committed group)";
    rd_kafka_t *cons = group_consumer("rdk_smoke-eos", group, "read_committed");
    ok = subscribe(cons, topic_in, w2);
    int got = 0;
    int64_t deadline = now_ms() + 40000;
    char first_err[256] = "";
    if (ok && (e = rd_kafka_begin_transaction(p))) ok = txn_err(w2, "begin_transaction", e);
    while (ok && got < NMSG && now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(cons, 500);
        rd_kafka_poll(p, 0);
        if (!m) continue;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF && !first_err[0])
                snprintf(first_err, sizeof first_err, "%s: %s", rd_kafka_err2name(m->err),
                         rd_kafka_message_errstr(m));
        } else {
            char k[64] = {0}, v[64] = {0};
            memcpy(k, m->key, m->key_len < 63 ? m->key_len : 63);
            snprintf(v, sizeof v, "t%.*s", (int)(m->len < 40 ? m->len : 40), (const char *)m->payload);
            rd_kafka_resp_err_t err = produce_one(p, topic_out, k, v);
            if (err) ok = fail(w2, "produce in transaction: %s", rd_kafka_err2name(err));
            got++;
        }
        rd_kafka_message_destroy(m);
    }
    if (ok) {
        if (got == NMSG) pass(w2, "%d records, transformed into the transaction", got);
        else ok = fail(w2, "%d of %d records within 40 s%s%s", got, NMSG,
                       first_err[0] ? "; first error: " : "", first_err);
    }

    const char *w3 = "txn: send_offsets_to_transaction";
    if (ok) {
        rd_kafka_topic_partition_list_t *pos;
        rd_kafka_assignment(cons, &pos);
        rd_kafka_position(cons, pos);
        rd_kafka_consumer_group_metadata_t *cgmd = rd_kafka_consumer_group_metadata(cons);
        if ((e = rd_kafka_send_offsets_to_transaction(p, pos, cgmd, 30000)))
            ok = txn_err(w3, "send_offsets_to_transaction", e);
        else
            pass(w3, "%d partitions", pos->cnt);
        rd_kafka_consumer_group_metadata_destroy(cgmd);
        rd_kafka_topic_partition_list_destroy(pos);
    } else {
        skip(w3, "consume failed");
    }

    const char *w4 = "txn: commit_transaction";
    if (ok) {
        if ((e = rd_kafka_commit_transaction(p, 30000))) ok = txn_err(w4, "commit_transaction", e);
        else if (dr_err) ok = fail(w4, "%d delivery failures (first: %s)", dr_err, dr_first_err);
        else { pass(w4, "%d records delivered", dr_ok); *committed_out += NMSG; }
    } else {
        skip(w4, "earlier step failed");
        if ((e = rd_kafka_abort_transaction(p, 10000))) rd_kafka_error_destroy(e);
    }

    const char *w5 = "txn: offsets committed via the transaction";
    if (ok) {
        rd_kafka_resp_err_t err;
        int64_t sum = committed_sum(cons, topic_in, &err);
        if (err) fail(w5, "%s", rd_kafka_err2name(err));
        else if (sum != NMSG) fail(w5, "group %s: sum %" PRId64 ", want %d", group, sum, NMSG);
        else pass(w5, "group %s: sum %" PRId64, group, sum);
    } else {
        skip(w5, "no committed transaction");
    }
    rd_kafka_consumer_close(cons);
    rd_kafka_destroy(cons);

    const char *w6 = "txn: abort_transaction";
    if (ok) {
        int fine = 1;
        if ((e = rd_kafka_begin_transaction(p))) fine = txn_err(w6, "begin_transaction", e);
        for (int i = 0; fine && i < NABORT; i++) {
            char k[32];
            snprintf(k, sizeof k, "k%d", i);
            if (produce_one(p, topic_out, k, "aborted")) fine = fail(w6, "produce failed");
        }
        if (fine) rd_kafka_flush(p, 10000); /* make sure they reach the log before the abort */
        if (fine && (e = rd_kafka_abort_transaction(p, 30000))) fine = txn_err(w6, "abort_transaction", e);
        if (fine) pass(w6, "%d records aborted", NABORT);

        const char *w7 = "txn: commit after abort";
        fine = 1;
        if ((e = rd_kafka_begin_transaction(p))) fine = txn_err(w7, "begin_transaction", e);
        for (int i = 0; fine && i < NLATE; i++) {
            char k[32];
            snprintf(k, sizeof k, "k%d", i);
            if (produce_one(p, topic_out, k, "late")) fine = fail(w7, "produce failed");
        }
        if (fine && (e = rd_kafka_commit_transaction(p, 30000))) fine = txn_err(w7, "commit_transaction", e);
        if (fine) { pass(w7, "%d records", NLATE); *committed_out += NLATE; }
    } else {
        skip(w6, "earlier step failed");
    }
    rd_kafka_destroy(p);
    return ok;
}

/* Reads all of topic_out by assign() (no group), counting committed vs aborted records. */
static void read_output(const char *isolation, int *n_committed, int *n_aborted, int want_total) {
    char gid[96];
    snprintf(gid, sizeof gid, "rdk_smoke-reader-%s-%s", isolation, run_id);
    rd_kafka_conf_t *c = conf_new("rdk_smoke-reader");
    conf_set(c, "group.id", gid);
    conf_set(c, "enable.auto.commit", "false");
    conf_set(c, "isolation.level", isolation);
    rd_kafka_t *rk = client_new(RD_KAFKA_CONSUMER, c);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(NPART);
    for (int p = 0; p < NPART; p++)
        rd_kafka_topic_partition_list_add(l, topic_out, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    *n_committed = *n_aborted = 0;
    int64_t deadline = now_ms() + 30000, quiet_until = 0;
    while (now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (m && !m->err) {
            if (m->len == 7 && !memcmp(m->payload, "aborted", 7)) (*n_aborted)++;
            else (*n_committed)++;
        }
        if (m) rd_kafka_message_destroy(m);
        /* once everything expected is in, listen 2 s more for anything that should not be */
        if (*n_committed + *n_aborted >= want_total && !quiet_until) quiet_until = now_ms() + 2000;
        if (quiet_until && now_ms() > quiet_until) break;
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

int main(int argc, char **argv) {
    if (argc > 1) bootstrap = argv[1];
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGALRM, on_alarm);
    alarm(240);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    snprintf(run_id, sizeof run_id, "%ld-%d", (long)time(NULL), rand() % 100000);
    snprintf(topic_in, sizeof topic_in, "rdk_smoke-in-%s", run_id);
    snprintf(topic_out, sizeof topic_out, "rdk_smoke-out-%s", run_id);
    printf("rdk_smoke: librdkafka %s, bootstrap %s\n", rd_kafka_version_str(), bootstrap);

    int produced = 0;
    if (!create_topics()) {
        skip("everything else", "topics could not be created");
    } else {
        produced = idempotent_produce();
        if (produced) {
            watermarks();
            group_consume();
            int committed = 0;
            transactions(&committed);
            char group[96];
            snprintf(group, sizeof group, "rdk_smoke-g-%s", run_id);
            admin_extras(group);
            if (committed) {
                int c, a;
                const char *w = "read_committed consumer";
                read_output("read_committed", &c, &a, committed);
                if (c == committed && a == 0) pass(w, "%d committed records, no aborted ones", c);
                else fail(w, "%d committed (want %d), %d aborted (want 0)", c, committed, a);
                w = "read_uncommitted consumer (sanity)";
                int want_a = committed > NMSG ? NABORT : 0;
                read_output("read_uncommitted", &c, &a, committed + want_a);
                if (c == committed && a == want_a) pass(w, "%d committed + %d aborted records", c, a);
                else fail(w, "%d committed (want %d), %d aborted (want %d)", c, committed, a, want_a);
            } else {
                skip("read_committed consumer", "no committed transaction");
            }
        } else {
            skip("consumer group / transactions", "nothing produced");
        }
        if (produced) compression();
        timestamps();
        delete_topics();
    }
    printf("rdk_smoke: %d passed, %d failed, %d skipped\n", npass, nfail, nskip);
    return nfail ? 1 : 0;
}
