/*
 * murmur2.c: the hash behind Kafka's default partitioner, so that a keyed
 * record kstreamd produces lands on the partition a Java producer would
 * choose. This is a transcription of Java's Utils.murmur2 (MurmurHash2 with
 * Kafka's seed 0x9747b28c, little-endian blocks), done in unsigned 32-bit
 * arithmetic where Java relies on int overflow.
 */
#include "serde.h"

int32_t ks_murmur2(const void *data, size_t len)
{
    const unsigned char *p = data;
    const uint32_t m = 0x5bd1e995;
    const int r = 24;
    /* Java's length is an int; keys past 2 GiB cannot occur in Kafka. */
    uint32_t h = 0x9747b28cu ^ (uint32_t)len;
    size_t nblocks = len / 4;

    for (size_t i = 0; i < nblocks; i++) {
        const unsigned char *b = p + i * 4;
        uint32_t k = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
    }

    /* Java's switch falls through from case 3 to case 1. */
    const unsigned char *tail = p + (len & ~(size_t)3);
    size_t rest = len % 4;
    if (rest >= 3)
        h ^= (uint32_t)tail[2] << 16;
    if (rest >= 2)
        h ^= (uint32_t)tail[1] << 8;
    if (rest >= 1) {
        h ^= tail[0];
        h *= m;
    }

    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return (int32_t)h; /* the same bits as Java's int */
}

int32_t ks_partition_for_key(const void *key, size_t len, int32_t num_partitions)
{
    if (num_partitions < 1)
        return -1;
    /* Utils.toPositive: clear the sign bit (not abs, which fails on INT_MIN). */
    uint32_t h = (uint32_t)ks_murmur2(key, len) & 0x7fffffffu;
    return (int32_t)(h % (uint32_t)num_partitions);
}
