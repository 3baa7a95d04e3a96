/*
 * ops.c: the operator table, from the rows of op_list.h.
 */
#include "topology.h"

const ks_op_info_t ks_ops[KS_OP__COUNT] = {
#define XX(op, dsl, stream_prefix, table_prefix, family)                                                               \
    [KS_OP_##op] = {dsl, stream_prefix, table_prefix, KS_FAMILY_##family},
    KS_OP_LIST(XX)
#undef XX
};
