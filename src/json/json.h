/*
 * json.h: JSON text <-> ks_val.
 *
 * The parser reads a byte range that need not be NUL-terminated (Kafka
 * payloads are not). Invalid UTF-8 in strings becomes U+FFFD, as in jq. An
 * integer literal outside +-2^53 that fits 64 bits keeps its exact value.
 *
 * The writer prints compactly, exactly like `jq -c`: shortest round-trip
 * numbers in jq's layout (1e+17, 1e-05, 0.0001), NaN as null, infinities as
 * +-DBL_MAX, raw UTF-8, and "\u007f" for DEL.
 */
#ifndef KS_JSON_H
#define KS_JSON_H

#include <stddef.h>

#include "../util/util.h"
#include "value.h"

/* Maximum nesting of arrays and objects the parser accepts. */
#define KS_JSON_MAX_DEPTH 512

/*
 * Parses exactly one JSON value from s[0..len) (surrounding whitespace
 * allowed). Returns 0 and sets *out (owned by the caller), or -1 with
 * a message in err.
 */
int ks_json_parse(const char *s, size_t len, ks_val *out, char *err, size_t errlen);

/*
 * Parses the next value of a stream of concatenated values starting at *pos.
 * Returns 0 with *out set and *pos advanced; 0 with *out invalid at the end of
 * input; -1 on a syntax error.
 */
int ks_json_parse_next(const char *s, size_t len, size_t *pos, ks_val *out, char *err, size_t errlen);

/* Where a value of ks_json_parse_next_at is in its stream, and how it is written there. */
typedef struct ks_json_span {
    size_t line0, col0; /* in: s[0] is after line0 newlines and col0 more bytes of the stream, for errors */
    size_t start;       /* out: the offset of the value's first byte (after whitespace) */
    int canonical;      /* out: 1 when s[start..*pos) is exactly what ks_json_write writes for the value,
                           i.e. what jq -c prints; 0 when it may not be (whitespace, escapes, non-ASCII,
                           numbers in other forms, repeated keys) */
} ks_json_span_t;

/*
 * ks_json_parse_next for a window of a longer stream: errors name their
 * line and column in the whole stream, and *span says where the value is
 * and whether its text can stand for its JSON output.
 */
int ks_json_parse_next_at(const char *s, size_t len, size_t *pos, ks_json_span_t *span, ks_val *out, char *err,
                          size_t errlen);

/*
 * Whether s[0..len) is exactly one JSON value the parser would accept,
 * checked without building it (for forwarding raw bytes safely).
 */
int ks_json_valid(const char *s, size_t len);

/*
 * Finds the top-level field `name` of the JSON text s[0..len), checking the
 * whole text as ks_json_valid does, without building values. Returns -1
 * when the text is not valid, 0 when it is valid but not an object, 1 for
 * an object without the field, 2 with the field's value at s[*voff..+*vlen)
 * (the last one when the key repeats).
 */
int ks_json_field(const char *s, size_t len, const char *name, size_t *voff, size_t *vlen);

/*
 * The same for the next value of a stream from *pos, when it is an object:
 * 1 without the field, 2 with it (as above), *pos then past the object; -1
 * when the next value is not a valid object within s[0..len) (another kind,
 * invalid, cut short, or the end of input: ks_json_parse_next says which),
 * *pos unchanged.
 */
int ks_json_field_next(const char *s, size_t len, size_t *pos, const char *name, size_t *voff, size_t *vlen);

/* Appends v's compact JSON text to b. Borrows v. */
void ks_json_write(ks_buf_t *b, ks_val v);
/* Appends a number in jq's format. */
void ks_json_write_num(ks_buf_t *b, double d);
/* Appends a JSON string literal for p[0..len). */
void ks_json_write_str(ks_buf_t *b, const char *p, size_t len);
/* Returns v's JSON text in a new malloc'd string. */
char *ks_json_dump(ks_val v);

/*
 * Appends the UTF-8 encoding of code point c (replacing invalid ones with
 * U+FFFD). Returns the number of bytes written.
 */
int ks_utf8_encode(ks_buf_t *b, uint32_t c);
/*
 * Decodes one code point at s[0..len); sets *cp (U+FFFD for an invalid
 * sequence) and returns the bytes consumed (>= 1).
 */
int ks_utf8_decode(const char *s, size_t len, uint32_t *cp);

#endif
