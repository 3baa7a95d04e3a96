/*
 * serde.h: serdes, the conversion between a Kafka record's key or value
 * bytes and the JSON value (ks_val) that expressions and stores see, plus
 * the default partitioner's hash.
 *
 * Every serde is byte-compatible with the Java class of the same name in
 * org.apache.kafka.common.serialization, so kstreamd reads and writes topics
 * shared with Kafka Streams applications:
 *
 *   string  UTF-8 text (StringSerde). Decoding replaces invalid UTF-8 with
 *           U+FFFD exactly as Java's `new String(bytes, UTF_8)` does.
 *   json    JSON text, written compactly like `jq -c`.
 *   long    8-byte big-endian two's complement (LongSerde).
 *   int     4-byte big-endian two's complement (IntegerSerde).
 *   double  8-byte big-endian IEEE-754 (DoubleSerde).
 *   bytes   raw bytes (ByteArraySerde). A JSON value cannot hold arbitrary
 *           bytes, so expressions see them as a base64 string (RFC 4648
 *           standard alphabet, padded, as Java's Base64.getEncoder()).
 *           Encoding takes such a string back to raw bytes: it must be
 *           valid base64 (standard alphabet; padding optional but correct
 *           if present; no whitespace), else it is an error.
 *   void    always null (VoidSerde).
 *
 * A Kafka null (a tombstone value or a null key) is a JSON null for every
 * serde, in both directions. All functions are pure and may be called from
 * any thread.
 */
#ifndef KS_SERDE_H
#define KS_SERDE_H

#include <stddef.h>
#include <stdint.h>

#include "../json/value.h"
#include "../util/util.h"

typedef enum ks_serde {
    KS_SERDE_STRING,
    KS_SERDE_JSON,
    KS_SERDE_LONG,
    KS_SERDE_INT,
    KS_SERDE_DOUBLE,
    KS_SERDE_BYTES,
    KS_SERDE_VOID,
    /*
     * Windowed keys, byte-compatible with Kafka Streams' TimeWindowedSerde
     * (the inner key's bytes, then the window start: 8 bytes big-endian) and
     * SessionWindowedSerde (inner bytes, then end and start). Their value is
     * {key, window: {start, end}}; time-window bytes carry no end, so they
     * decode to {key, window: {start}}.
     */
    KS_SERDE_WINDOWED_STRING,
    KS_SERDE_WINDOWED_LONG,
    KS_SERDE_SESSION_STRING,
    KS_SERDE_SESSION_LONG,
} ks_serde_t;

/* The serde names users write in a topology, indexed by ks_serde_t, NULL-terminated. */
extern const char *const ks_serde_names[];

/* Sets *out to the serde called name ("string", "json", ...). Returns 0, or -1 if unknown. */
int ks_serde_from_name(const char *name, ks_serde_t *out);

/* The serde's name as users write it; "unknown" for an out-of-range value. */
const char *ks_serde_name(ks_serde_t s);

/*
 * Decodes data[0..len) to a value. data == NULL means a Kafka null and
 * decodes to ks_null() for every serde; a non-NULL data with len 0 is an
 * empty payload, which is "" for string and bytes and an error for the
 * others (as in Java). Returns 0 with *out owned by the caller, or -1
 * with *out invalid and a message in err (which may be NULL), e.g. "Size of
 * data received by LongDeserializer is not 8" or "invalid JSON: ...".
 */
int ks_serde_decode(ks_serde_t s, const void *data, size_t len, ks_val *out, char *err, size_t errlen);

/*
 * Encodes v (borrowed) by appending its bytes to out. A JSON null is a Kafka
 * null for every serde: *is_null is set to 1 and nothing is appended;
 * otherwise *is_null is 0. Returns 0, or -1 with a message in err
 * (e.g. "long serde cannot hold a string", "long serde needs an integer, got
 * 1.5") and out left as it was.
 */
int ks_serde_encode(ks_serde_t s, ks_val v, ks_buf_t *out, int *is_null, char *err, size_t errlen);

/*
 * Whether values of this kind can ever be encoded with serde s, for topology
 * validation. Null always can. For numbers it does not look at the value:
 * 1.5 is a number a long serde holds the kind of, yet fails to encode.
 */
int ks_serde_can_hold(ks_serde_t s, ks_kind_t kind);

/* Java's org.apache.kafka.common.utils.Utils.murmur2 of data[0..len). */
int32_t ks_murmur2(const void *data, size_t len);

/*
 * The partition Kafka's default partitioner picks for a record with this
 * (non-null) key: toPositive(murmur2(key)) % num_partitions. Returns -1 if
 * num_partitions < 1.
 */
int32_t ks_partition_for_key(const void *key, size_t len, int32_t num_partitions);

/*
 * Kafka Streams' Murmur3.hash128 of data[0..len) (MurmurHash3_x64_128,
 * seed 104729): out[0] and out[1] are the two longs it returns, which a
 * foreign-key join's subscription carries big-endian.
 */
void ks_murmur3_128(const void *data, size_t len, uint64_t out[2]);

#endif
