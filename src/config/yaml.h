/*
 * yaml.h: the YAML loader under every configuration file (topologies,
 * environment files, test cases). It turns a file into a tree of nodes in
 * which each node keeps its file, line and column, so that later stages can
 * report `file:line:col: message` for anything they reject.
 *
 * The loader is built on libyaml's event API. On top of plain YAML it
 * resolves anchors and aliases (shared nodes, with a cap against alias
 * bombs), merge keys (`<<: *base`), rejects duplicate keys and multiple
 * documents, and substitutes `${ENV_VAR}` / `${ENV_VAR:-default}` in scalars
 * (`$$` is a literal `$`).
 *
 * Ownership: a ks_ydoc_t owns every node and string reachable from its root.
 * Nodes reached through an alias or a merge key are shared, not copied, so a
 * node may appear at several places of the tree; the tree is still acyclic.
 * Nothing here is thread-safe, but a loaded document is read-only and may be
 * read by several threads.
 */
#ifndef KS_CONFIG_YAML_H
#define KS_CONFIG_YAML_H

#include <stddef.h>

#include "../json/value.h"
#include "../util/diag.h"

/* Limits that keep hostile input from exhausting memory, time or stack. */
#define KS_YAML_MAX_BYTES (64 << 20) /* bytes of a file: a larger one (or a device without end) is refused */
#define KS_YAML_MAX_NODES 1000000    /* nodes of the tree with every alias expanded */
#define KS_YAML_MAX_DEPTH 1000       /* nesting, also with aliases expanded */
#define KS_YAML_MAX_ERRORS 100       /* errors reported for one file; the rest are counted */

typedef enum { KS_YAML_SCALAR, KS_YAML_MAP, KS_YAML_SEQ } ks_yaml_kind_t;

typedef struct ks_ynode {
    ks_yaml_kind_t kind;
    const char *file;        /* owned by the document */
    int line, col;           /* 1-based start of the node (of its anchor or tag, if any) */
    char *value;             /* scalar text after ${ENV} substitution, NUL-terminated; NULL otherwise */
    size_t len;              /* scalar: bytes in value (a "\0" escape may make it exceed strlen) */
    int plain;               /* scalar was unquoted and untagged: may be null/bool/number */
    int flow;                /* map: written in flow style, `{a: 1}` (a jq object left unquoted looks like one) */
    size_t n;                /* map entries or sequence items */
    struct ks_ynode **keys;  /* map: key nodes, all scalars, unique by text; NULL otherwise */
    struct ks_ynode **items; /* map values (items[i] belongs to keys[i]) or sequence items */
} ks_ynode_t;

typedef struct ks_ydoc ks_ydoc_t; /* owns all nodes */

/*
 * Loads a file. Returns a document the caller frees with ks_ydoc_free(), or
 * NULL after adding every error found to `diags` (`file:line:col: message`
 * in file order, line 0 when the file cannot be read or is larger than
 * KS_YAML_MAX_BYTES, of which at most one byte more is read). A syntax error stops
 * the load; the others (duplicate keys, unset variables, bad aliases or
 * merge values) are all collected, up to KS_YAML_MAX_ERRORS.
 */
ks_ydoc_t *ks_yaml_load_file(const char *path, ks_diags_t *diags);

/* Same from memory; `name` is the file name used in positions (copied). */
ks_ydoc_t *ks_yaml_load_string(const char *name, const char *text, size_t len, ks_diags_t *diags);

/* The root node, borrowed; NULL for an empty document (no content, or `---` alone). */
const ks_ynode_t *ks_ydoc_root(const ks_ydoc_t *doc);
/* The file name given at load, borrowed. */
const char *ks_ydoc_file(const ks_ydoc_t *doc);
/* Frees the document and every node; NULL is allowed. */
void ks_ydoc_free(ks_ydoc_t *doc);

/* The value under `key` (borrowed), or NULL if absent or `map` is not a mapping. */
const ks_ynode_t *ks_ynode_get(const ks_ynode_t *map, const char *key);

/*
 * Converts a node to a new JSON value (the caller owns the reference). Plain
 * scalars are resolved with the YAML 1.2 core schema: null, Null, NULL, ~
 * and empty -> null; true/false (also True, TRUE...) -> boolean; integers
 * (decimal, 0x, 0o) and floats (including .inf, -.inf, .nan) -> number;
 * anything else, and every quoted or `!!str`-tagged scalar -> string.
 * Mappings become objects (keys as their text), sequences arrays. A NULL
 * node gives null.
 */
ks_val ks_ynode_to_json(const ks_ynode_t *n);

/* "scalar", "mapping" or "sequence", for messages like "expected a mapping, found a sequence". */
const char *ks_ynode_kind_name(const ks_ynode_t *n);

#endif
