/*
 * endian.h: big-endian integers in byte strings, as Java's DataOutput and
 * Kafka's serializers write them. The store layout (timestamps, window
 * starts and ends, buffer times) and the Long, Integer and Double serdes
 * use these; inline because both run per record.
 */
#ifndef KS_ENDIAN_H
#define KS_ENDIAN_H

#include <stdint.h>

/* The n (at most 8) bytes at p as a big-endian unsigned number. */
static inline uint64_t ks_be_load(const void *p, int n)
{
    const unsigned char *b = p;
    uint64_t u = 0;
    for (int i = 0; i < n; i++)
        u = u << 8 | b[i];
    return u;
}

/* Writes the low n (at most 8) bytes of u at p, most significant first. */
static inline void ks_be_store(void *p, uint64_t u, int n)
{
    unsigned char *b = p;
    for (int i = n - 1; i >= 0; i--) {
        b[i] = (unsigned char)(u & 0xff);
        u >>= 8;
    }
}

/* A signed 64-bit number (a timestamp) from 8 big-endian bytes. */
static inline int64_t ks_be64_get(const void *p)
{
    return (int64_t)ks_be_load(p, 8);
}

/* Writes a signed 64-bit number as 8 big-endian bytes. */
static inline void ks_be64_put(void *p, int64_t v)
{
    ks_be_store(p, (uint64_t)v, 8);
}

/* A 32-bit number from 4 big-endian bytes, and writing one (Java's putInt). */
static inline uint32_t ks_be32_get(const void *p)
{
    return (uint32_t)ks_be_load(p, 4);
}
static inline void ks_be32_put(void *p, uint32_t v)
{
    ks_be_store(p, v, 4);
}

#endif
