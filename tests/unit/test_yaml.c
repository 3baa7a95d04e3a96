/*
 * test_yaml.c: the YAML loader: node positions, anchors and aliases, merge
 * keys, ${ENV} substitution, duplicate keys, libyaml's syntax errors with
 * their place, limits against hostile input, and core-schema typing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/config/yaml.h"
#include "../../src/json/json.h"
#include "../../src/util/util.h"

/* Fixtures are found relative to the repository root, where `make test` runs. */
#ifndef KS_TEST_DIR
#define KS_TEST_DIR "tests"
#endif

/* Loads `text` as t.yaml; expects success and no diagnostics. */
static ks_ydoc_t *load_ok(const char *text)
{
    ks_diags_t diags = {0};
    ks_ydoc_t *doc = ks_yaml_load_string("t.yaml", text, strlen(text), &diags);
    if (!doc || diags.head) {
        char *s = ks_diags_string(&diags);
        print_error("unexpected diagnostics:\n%s", s);
        free(s);
        ks_diags_free(&diags);
        ks_ydoc_free(doc);
        fail();
    }
    return doc;
}

/* Loads `text` as t.yaml; expects failure and returns every diagnostic as one string (caller frees). */
static char *load_err(const char *text)
{
    ks_diags_t diags = {0};
    ks_ydoc_t *doc = ks_yaml_load_string("t.yaml", text, strlen(text), &diags);
    assert_null(doc);
    assert_true(diags.nerr > 0);
    char *s = ks_diags_string(&diags);
    ks_diags_free(&diags);
    return s;
}

static void assert_err(const char *text, const char *expected)
{
    char *s = load_err(text);
    assert_string_equal(s, expected);
    free(s);
}

/* The document as compact JSON (caller frees). */
static char *doc_json(const ks_ydoc_t *doc)
{
    ks_val v = ks_ynode_to_json(ks_ydoc_root(doc));
    ks_buf_t b = {0};
    ks_json_write(&b, v);
    ks_val_release(v);
    return ks_buf_steal(&b);
}

static void assert_json(const char *yaml, const char *json)
{
    ks_ydoc_t *doc = load_ok(yaml);
    char *s = doc_json(doc);
    assert_string_equal(s, json);
    free(s);
    ks_ydoc_free(doc);
}

static void nested_nodes_keep_line_and_column(void **state)
{
    ks_ydoc_t *doc = load_ok("app: x\n"
                             "topics:\n"
                             "  in:\n"
                             "    partitions: 3\n"
                             "  list: [a, \"b\"]\n");
    const ks_ynode_t *root = ks_ydoc_root(doc);
    assert_int_equal(root->kind, KS_YAML_MAP);
    assert_int_equal(root->line, 1);
    assert_int_equal(root->col, 1);
    assert_string_equal(root->file, "t.yaml");
    assert_string_equal(ks_ydoc_file(doc), "t.yaml");
    const ks_ynode_t *in = ks_ynode_get(ks_ynode_get(root, "topics"), "in");
    assert_non_null(in);
    assert_int_equal(in->line, 4);
    assert_int_equal(in->col, 5);
    const ks_ynode_t *p = ks_ynode_get(in, "partitions");
    assert_string_equal(p->value, "3");
    assert_int_equal(p->line, 4);
    assert_int_equal(p->col, 17);
    assert_true(p->plain);
    const ks_ynode_t *list = ks_ynode_get(ks_ynode_get(root, "topics"), "list");
    assert_int_equal(list->kind, KS_YAML_SEQ);
    assert_int_equal(list->n, 2);
    assert_int_equal(list->line, 5);
    assert_int_equal(list->col, 9);
    assert_int_equal(list->items[1]->col, 13);
    assert_false(list->items[1]->plain);
    assert_int_equal(root->keys[1]->line, 2);
    assert_int_equal(root->keys[1]->col, 1);
    ks_ydoc_free(doc);
}

static void get_returns_null_for_missing_key_or_non_mapping(void **state)
{
    ks_ydoc_t *doc = load_ok("a: [1]\n");
    const ks_ynode_t *root = ks_ydoc_root(doc);
    assert_null(ks_ynode_get(root, "b"));
    assert_null(ks_ynode_get(ks_ynode_get(root, "a"), "x"));
    assert_null(ks_ynode_get(NULL, "x"));
    assert_string_equal(ks_ynode_kind_name(root), "mapping");
    assert_string_equal(ks_ynode_kind_name(ks_ynode_get(root, "a")), "sequence");
    assert_string_equal(ks_ynode_kind_name(ks_ynode_get(root, "a")->items[0]), "scalar");
    ks_ydoc_free(doc);
}

static void alias_resolves_to_anchored_node(void **state)
{
    ks_ydoc_t *doc = load_ok("base: &b {x: 1, y: [2]}\ncopy: *b\nname: &n hello\nagain: *n\n");
    const ks_ynode_t *root = ks_ydoc_root(doc);
    assert_ptr_equal(ks_ynode_get(root, "copy"), ks_ynode_get(root, "base"));
    assert_string_equal(ks_ynode_get(root, "again")->value, "hello");
    char *s = doc_json(doc);
    assert_string_equal(
        s, "{\"base\":{\"x\":1,\"y\":[2]},\"copy\":{\"x\":1,\"y\":[2]},\"name\":\"hello\",\"again\":\"hello\"}");
    free(s);
    ks_ydoc_free(doc);
}

static void alias_uses_latest_definition_of_anchor(void **state)
{
    assert_json("- &a one\n- *a\n- &a two\n- *a\n", "[\"one\",\"one\",\"two\",\"two\"]");
}

static void undefined_alias_is_error_with_position(void **state)
{
    assert_err("a: 1\nb: *nope\n", "t.yaml:2:4: undefined alias *nope\n");
}

static void recursive_alias_is_rejected(void **state)
{
    assert_err("a: &x\n  b: *x\n", "t.yaml:2:6: alias *x refers to a node that contains it\n");
}

static void alias_bomb_is_rejected(void **state)
{
    /* Billion laughs: nine levels of ten aliases each would expand to 10^9 nodes. */
    ks_buf_t b = {0};
    ks_buf_puts(&b, "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (int i = 1; i <= 9; i++) {
        ks_buf_printf(&b, "l%d: &l%d [", i, i);
        for (int j = 0; j < 10; j++)
            ks_buf_printf(&b, "%s*l%d", j ? ", " : "", i - 1);
        ks_buf_puts(&b, "]\n");
    }
    char *s = load_err(b.data);
    assert_non_null(strstr(s, "document expands to more than 1000000 nodes"));
    assert_non_null(strstr(s, "t.yaml:"));
    free(s);
    ks_buf_free(&b);
}

static void deep_nesting_is_rejected_without_crashing(void **state)
{
    size_t depth = 100000;
    char *text = ks_xmalloc(2 * depth + 1);
    memset(text, '[', depth);
    memset(text + depth, ']', depth);
    text[2 * depth] = 0;
    char *s = load_err(text);
    assert_non_null(strstr(s, "nesting deeper than 1000 levels"));
    free(s);
    free(text);
}

static void merge_key_adds_missing_keys(void **state)
{
    assert_json("base: &base {a: 1, b: 2}\n"
                "x:\n"
                "  <<: *base\n"
                "  c: 3\n",
                "{\"base\":{\"a\":1,\"b\":2},\"x\":{\"c\":3,\"a\":1,\"b\":2}}");
}

static void merge_key_explicit_keys_win_even_before_merge(void **state)
{
    assert_json("base: &base {a: 1, b: 2}\n"
                "x: {b: 20, <<: *base}\n"
                "y: {<<: *base, a: 10}\n",
                "{\"base\":{\"a\":1,\"b\":2},\"x\":{\"b\":20,\"a\":1},\"y\":{\"a\":10,\"b\":2}}");
}

static void merge_key_list_earlier_maps_win(void **state)
{
    assert_json("p: &p {a: 1, b: 1}\n"
                "q: &q {b: 2, c: 2}\n"
                "x:\n"
                "  <<: [*p, *q]\n"
                "  d: 4\n",
                "{\"p\":{\"a\":1,\"b\":1},\"q\":{\"b\":2,\"c\":2},\"x\":{\"d\":4,\"a\":1,\"b\":1,\"c\":2}}");
}

static void merge_key_of_merged_map_is_transitive(void **state)
{
    assert_json("a: &a {x: 1}\nb: &b {<<: *a, y: 2}\nc: {<<: *b}\n",
                "{\"a\":{\"x\":1},\"b\":{\"y\":2,\"x\":1},\"c\":{\"y\":2,\"x\":1}}");
}

static void merge_key_with_scalar_value_is_error(void **state)
{
    assert_err("a: &s hi\nb:\n  <<: *s\n",
               "t.yaml:3:7: merge key `<<` expects a mapping or a sequence of mappings, found a scalar\n");
}

static void quoted_merge_key_is_an_ordinary_key(void **state)
{
    assert_json("\"<<\": 1\n", "{\"<<\":1}");
}

static void duplicate_key_is_error_at_second_occurrence(void **state)
{
    assert_err("a: 1\nb:\n  x: 1\n  y: 2\n  x: 3\n", "t.yaml:5:3: duplicate key `x` (first at line 3:3)\n");
}

static void all_duplicate_keys_are_reported(void **state)
{
    assert_err("a: 1\na: 2\nb: {c: 1, c: 2}\n", "t.yaml:2:1: duplicate key `a` (first at line 1:1)\n"
                                                "t.yaml:3:11: duplicate key `c` (first at line 3:5)\n");
}

static void empty_scalars_have_empty_text(void **state)
{
    ks_ydoc_t *doc = load_ok("a:\nb: ''\n");
    assert_string_equal(ks_ynode_get(ks_ydoc_root(doc), "a")->value, "");
    assert_int_equal(ks_ynode_get(ks_ydoc_root(doc), "b")->len, 0);
    ks_ydoc_free(doc);
    assert_err("? ''\n: 1\n? ''\n: 2\n", "t.yaml:3:3: duplicate key `` (first at line 1:3)\n");
}

static void non_scalar_key_is_error(void **state)
{
    assert_err("? [a, b]\n: 1\n", "t.yaml:1:3: mapping keys must be scalars, found a sequence\n");
}

static void env_variable_is_substituted(void **state)
{
    setenv("KS_TEST_BROKER", "kafka:9092", 1);
    setenv("KS_TEST_PORT", "8080", 1);
    ks_ydoc_t *doc =
        load_ok("servers: ${KS_TEST_BROKER}\nurl: \"http://h:${KS_TEST_PORT}/x\"\nport: ${KS_TEST_PORT}\n");
    const ks_ynode_t *root = ks_ydoc_root(doc);
    const ks_ynode_t *servers = ks_ynode_get(root, "servers");
    assert_string_equal(servers->value, "kafka:9092");
    assert_int_equal(servers->line, 1);
    assert_int_equal(servers->col, 10);
    assert_string_equal(ks_ynode_get(root, "url")->value, "http://h:8080/x");
    char *s = doc_json(doc);
    assert_string_equal(s, "{\"servers\":\"kafka:9092\",\"url\":\"http://h:8080/x\",\"port\":8080}");
    free(s);
    ks_ydoc_free(doc);
}

static void env_variable_in_key_is_substituted(void **state)
{
    setenv("KS_TEST_KEY", "name", 1);
    assert_json("${KS_TEST_KEY}: 1\n", "{\"name\":1}");
}

static void env_default_is_used_when_unset_or_empty(void **state)
{
    unsetenv("KS_TEST_UNSET");
    setenv("KS_TEST_EMPTY", "", 1);
    setenv("KS_TEST_SET", "yes", 1);
    assert_json(
        "a: ${KS_TEST_UNSET:-localhost:9092}\nb: ${KS_TEST_EMPTY:-d}\nc: ${KS_TEST_SET:-d}\nd: x${KS_TEST_UNSET:-}y\n",
        "{\"a\":\"localhost:9092\",\"b\":\"d\",\"c\":\"yes\",\"d\":\"xy\"}");
}

static void env_unset_without_default_is_error(void **state)
{
    unsetenv("KS_TEST_UNSET");
    assert_err("a: 1\nb: pre-${KS_TEST_UNSET}\n", "t.yaml:2:4: environment variable KS_TEST_UNSET is not set\n");
}

static void env_double_dollar_is_literal_dollar(void **state)
{
    unsetenv("KS_TEST_UNSET");
    assert_json("a: $${KS_TEST_UNSET}\nb: 'cost $5 $$'\nc: $\n",
                "{\"a\":\"${KS_TEST_UNSET}\",\"b\":\"cost $5 $\",\"c\":\"$\"}");
}

static void env_bad_reference_is_error(void **state)
{
    assert_err("a: ${1X}\nb: ${OPEN\n", "t.yaml:1:4: invalid environment variable reference `${1X}`\n"
                                        "t.yaml:2:4: unterminated `${` in `${OPEN`\n");
}

static void syntax_error_reports_problem_and_position(void **state)
{
    assert_err("a: 1\nb: 2\nc: d: e\n", "t.yaml:3:5: mapping values are not allowed in this context\n");
}

static void syntax_error_reports_context(void **state)
{
    assert_err("a:\n  b: 1\n c: 2\n",
               "t.yaml:3:2: did not find expected key (while parsing a block mapping at line 1:1)\n");
}

static void tab_indentation_is_error(void **state)
{
    assert_err("a:\n\tb: 1\n",
               "t.yaml:2:1: a tab in the indentation: YAML does not allow tabs for indentation; indent with spaces\n");
    assert_err("a:\n  b: 1\n  \tc: 2\n",
               "t.yaml:3:3: a tab in the indentation: YAML does not allow tabs for indentation; indent with spaces\n");
    /* A tab elsewhere is libyaml's message. */
    char *s = load_err("a: [1,\n b: 1\n");
    assert_null(strstr(s, "tab"));
    free(s);
}

static void node_limit_names_aliases_only_when_there_are_some(void **state)
{
    ks_buf_t b = {0};
    ks_buf_puts(&b, "x:\n");
    for (int i = 0; i < KS_YAML_MAX_NODES; i++)
        ks_buf_puts(&b, "- 1\n");
    char *s = load_err(b.data);
    assert_non_null(strstr(s, "document has more than 1000000 nodes\n"));
    assert_null(strstr(s, "aliases"));
    free(s);
    ks_buf_free(&b);
    s = load_err("a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
                 "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                 "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                 "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                 "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                 "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                 "g: [*f, *f]\n");
    assert_non_null(strstr(s, "(too many aliases?)"));
    free(s);
}

static void invalid_utf8_is_error_with_position(void **state)
{
    char *s = load_err("a: 1\nb: \xff\n");
    assert_non_null(strstr(s, "t.yaml:2:4: invalid leading UTF-8 octet"));
    free(s);
}

static void multiple_documents_are_rejected(void **state)
{
    assert_err("a: 1\n---\nb: 2\n", "t.yaml:2:1: only one YAML document per file\n");
}

static void empty_file_has_no_root(void **state)
{
    const char *texts[] = {"", "# only a comment\n", "---\n", "\n\n"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        ks_ydoc_t *doc = load_ok(texts[i]);
        assert_null(ks_ydoc_root(doc));
        char *s = doc_json(doc);
        assert_string_equal(s, "null");
        free(s);
        ks_ydoc_free(doc);
    }
}

static void plain_scalars_resolve_with_core_schema(void **state)
{
    assert_json("[null, ~, true, False, 0x1f, 0o17, 1e3, -12, +7, 1.5, .5, -.inf, 012, yes, on, 0x, 1e, 12abc]",
                "[null,null,true,false,31,15,1000,-12,7,1.5,0.5,-1.7976931348623157e+308,12,"
                "\"yes\",\"on\",\"0x\",\"1e\",\"12abc\"]");
}

static void quoted_and_str_tagged_scalars_stay_strings(void **state)
{
    assert_json("[\"123\", 'quoted', \"true\", '', !!str 42, ! null]",
                "[\"123\",\"quoted\",\"true\",\"\",\"42\",\"null\"]");
}

static void nan_resolves_to_number(void **state)
{
    ks_ydoc_t *doc = load_ok(".nan");
    ks_val v = ks_ynode_to_json(ks_ydoc_root(doc));
    assert_int_equal(v.kind, KS_NUMBER);
    assert_true(ks_num_get(v) != ks_num_get(v));
    ks_ydoc_free(doc);
}

static void big_integers_stay_exact(void **state)
{
    ks_ydoc_t *doc = load_ok("[9007199254740993, -9223372036854775808, 18446744073709551615, 0xffffffffffffffff]");
    const ks_ynode_t *root = ks_ydoc_root(doc);
    ks_val v = ks_ynode_to_json(root);
    assert_int_equal(ks_arr_get(v, 0)->exact, KS_EXACT_I64);
    assert_true(ks_arr_get(v, 0)->i == 9007199254740993LL);
    assert_true(ks_arr_get(v, 1)->i == INT64_MIN);
    assert_true(ks_arr_get(v, 2)->u == UINT64_MAX);
    assert_true(ks_arr_get(v, 3)->u == UINT64_MAX);
    ks_val_release(v);
    ks_ydoc_free(doc);
}

static void missing_file_reports_cannot_read(void **state)
{
    ks_diags_t diags = {0};
    assert_null(ks_yaml_load_file("/nonexistent/kstreamd-test.yaml", &diags));
    char *s = ks_diags_string(&diags);
    assert_string_equal(s, "/nonexistent/kstreamd-test.yaml: cannot read: No such file or directory\n");
    free(s);
    ks_diags_free(&diags);
}

static void fixture_file_loads_with_positions(void **state)
{
    ks_diags_t diags = {0};
    ks_ydoc_t *doc = ks_yaml_load_file(KS_TEST_DIR "/config/yaml_anchors.yaml", &diags);
    if (!doc) {
        char *s = ks_diags_string(&diags);
        fail_msg("%s", s);
    }
    const ks_ynode_t *root = ks_ydoc_root(doc);
    const ks_ynode_t *orders = ks_ynode_get(ks_ynode_get(root, "topics"), "order-new-v1");
    assert_non_null(orders);
    assert_string_equal(orders->file, KS_TEST_DIR "/config/yaml_anchors.yaml");
    const ks_ynode_t *parts = ks_ynode_get(orders, "partitions");
    assert_string_equal(parts->value, "12");
    assert_int_equal(parts->line, 12);
    const ks_ynode_t *key = ks_ynode_get(orders, "key");
    assert_string_equal(key->value, "string");
    assert_int_equal(key->line, 5); /* merged from the anchored defaults */
    ks_ydoc_free(doc);
    ks_diags_free(&diags);
}

static void no_input_crashes_the_loader(void **state)
{
    /* Truncations of a document exercise every error path of the event loop. */
    const char *text = "a: &x {b: [1, \"two\", *x2], <<: *x}\nc: !!map {d: ${HOME}}\n? [k]\n: 'v\n";
    size_t len = strlen(text);
    for (size_t i = 0; i <= len; i++) {
        ks_diags_t diags = {0};
        ks_ydoc_t *doc = ks_yaml_load_string("t.yaml", text, i, &diags);
        if (doc) {
            ks_val v = ks_ynode_to_json(ks_ydoc_root(doc));
            ks_val_release(v);
        }
        ks_ydoc_free(doc);
        ks_diags_free(&diags);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nested_nodes_keep_line_and_column),
        cmocka_unit_test(get_returns_null_for_missing_key_or_non_mapping),
        cmocka_unit_test(alias_resolves_to_anchored_node),
        cmocka_unit_test(alias_uses_latest_definition_of_anchor),
        cmocka_unit_test(undefined_alias_is_error_with_position),
        cmocka_unit_test(recursive_alias_is_rejected),
        cmocka_unit_test(alias_bomb_is_rejected),
        cmocka_unit_test(deep_nesting_is_rejected_without_crashing),
        cmocka_unit_test(merge_key_adds_missing_keys),
        cmocka_unit_test(merge_key_explicit_keys_win_even_before_merge),
        cmocka_unit_test(merge_key_list_earlier_maps_win),
        cmocka_unit_test(merge_key_of_merged_map_is_transitive),
        cmocka_unit_test(merge_key_with_scalar_value_is_error),
        cmocka_unit_test(quoted_merge_key_is_an_ordinary_key),
        cmocka_unit_test(duplicate_key_is_error_at_second_occurrence),
        cmocka_unit_test(all_duplicate_keys_are_reported),
        cmocka_unit_test(empty_scalars_have_empty_text),
        cmocka_unit_test(non_scalar_key_is_error),
        cmocka_unit_test(env_variable_is_substituted),
        cmocka_unit_test(env_variable_in_key_is_substituted),
        cmocka_unit_test(env_default_is_used_when_unset_or_empty),
        cmocka_unit_test(env_unset_without_default_is_error),
        cmocka_unit_test(env_double_dollar_is_literal_dollar),
        cmocka_unit_test(env_bad_reference_is_error),
        cmocka_unit_test(syntax_error_reports_problem_and_position),
        cmocka_unit_test(syntax_error_reports_context),
        cmocka_unit_test(tab_indentation_is_error),
        cmocka_unit_test(node_limit_names_aliases_only_when_there_are_some),
        cmocka_unit_test(invalid_utf8_is_error_with_position),
        cmocka_unit_test(multiple_documents_are_rejected),
        cmocka_unit_test(empty_file_has_no_root),
        cmocka_unit_test(plain_scalars_resolve_with_core_schema),
        cmocka_unit_test(quoted_and_str_tagged_scalars_stay_strings),
        cmocka_unit_test(nan_resolves_to_number),
        cmocka_unit_test(big_integers_stay_exact),
        cmocka_unit_test(missing_file_reports_cannot_read),
        cmocka_unit_test(fixture_file_loads_with_positions),
        cmocka_unit_test(no_input_crashes_the_loader),
    };
    return cmocka_run_group_tests_name("yaml", tests, NULL, NULL);
}
