/*
 * generate.h: the runtime of `from: {generate: ...}` sources, which make
 * records up for demos and load instead of reading a topic.
 *
 * The topology loader (src/topology/pipeline.c) turns a generate source into
 * an ordinary KSTREAM-SOURCE node reading the pseudo-topic
 * `generate:<pipeline>`. A driver (the Kafka driver, the test driver) asks
 * a generator for the next record whenever its rate allows and hands it to
 * ks_engine_process() like a record read from a topic: rec->topic is that
 * pseudo-topic, so the engine dispatches it to that source and through the
 * pipeline's steps to its sinks.
 *
 * Record number i (0-based, $i) is made as follows; every expression also
 * sees $seed and $now (the driver's wall clock in ms), and the stream
 * variables, which are null except $topic (the pseudo-topic) and, in `key`
 * and `value`, $timestamp:
 *   1. `timestamp` (input null), default $now: the record's timestamp in ms;
 *   2. `value` (input null): the value;
 *   3. `key` (input: the value, also $value), default null: the key.
 * Each takes the expression's first output; no output, a non-number
 * timestamp, or a result the pseudo-topic's serdes cannot hold (the topic
 * defaults: string keys, JSON values, unless `topics:` declares
 * `generate:<pipeline>`) fails the record. $rand is a pseudo-random number
 * in [0,1) that depends only on the seed and i (splitmix64), so the same
 * seed makes the same records, whatever the rate, the clock or earlier
 * failures. A failed record still counts towards `count`.
 *
 * A generator serves one thread. Generators evaluate the topology's
 * compiled expressions, which several threads may share when they are
 * native; a program that fell back to libjq must not run on two threads at
 * once.
 */
#ifndef KS_GENERATE_H
#define KS_GENERATE_H

#include <stddef.h>
#include <stdint.h>

#include "../topology/topology.h"
#include "engine.h"

typedef struct ks_generator ks_generator_t;

/*
 * Generators for every generate source of a topology (borrowed: it must
 * outlive them), in creation order; *n is set, 0 when there are none (the
 * result is then NULL). Free with ks_generators_free().
 */
ks_generator_t **ks_generators_new(const ks_topology_t *t, int *n);
void ks_generators_free(ks_generator_t **g, int n);

/* Records per second; 0: as fast as possible. */
double ks_generator_rate(const ks_generator_t *g);
/* 1 when `count` records have been made (never for an unbounded generator). */
int ks_generator_done(const ks_generator_t *g);
/* The pseudo-topic its records carry, `generate:<pipeline>`. */
const char *ks_generator_topic(const ks_generator_t *g);
/* The name of its source node (KSTREAM-SOURCE-0000000000 or the given `name:`). */
const char *ks_generator_node(const ks_generator_t *g);
/* How many records have been made (or failed) so far: the next $i. */
int64_t ks_generator_made(const ks_generator_t *g);

/*
 * Makes the next record: topic = the pseudo-topic, partition 0, offset =
 * $i, the timestamp, key and value bytes per the pseudo-topic's serdes (NULL
 * for a null), no headers. Returns 0; 1 when done (nothing made); or -1 with
 * a message in err when an expression failed or its result could not be
 * serialised (the record number is used up). The record's buffers belong to
 * the generator and stay valid until the next call.
 */
int ks_generator_next(ks_generator_t *g, int64_t now_ms, ks_record_t *out, char *err, size_t errlen);

/*
 * The dead-letter record for a failure of ks_generator_next(), as the
 * engine would write it: the topology's dead-letter topic, null key and
 * value, the wall-clock timestamp, and the headers kstreamd.error (err),
 * kstreamd.source.topic (the pseudo-topic), kstreamd.source.partition (0),
 * kstreamd.source.offset (the failed $i) and kstreamd.node (the source).
 * Buffers belong to the generator until its next call.
 */
void ks_generator_dead_letter(ks_generator_t *g, const char *err, int64_t now_ms, ks_record_t *out);

/* $rand of record i for a seed: a number in [0,1) (splitmix64 of the two). */
double ks_generate_rand(int64_t seed, int64_t i);
/* splitmix64's output function: a 64-bit mix of x (the PRNG's core, for tests). */
uint64_t ks_generate_mix64(uint64_t x);

#endif
