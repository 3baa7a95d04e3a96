/*
 * directory.h: who owns which partition of an application, from the
 * consumer group itself. Every kstreamd stream thread's consumer carries
 * its instance's application.server in its client.id
 * ("<thread client id>-consumer@HOST:PORT", ks_directory_client_id), and
 * DescribeConsumerGroups returns each member's client.id with its
 * assignment: the directory is the group's own description, refreshed
 * about once a second and whenever a caller finds it wrong, with nothing
 * of its own to keep in sync.
 *
 * @locality: every function but ks_directory_client_id runs on the loop
 * the directory was made with (the query server's); the admin client's
 * results are served there through an eventfd.
 * @ownership: strings returned are the directory's, valid until the next
 * refresh lands (the loop's next iteration at the earliest): copy them to
 * keep them across an asynchronous step.
 */
#ifndef KS_HTTP_DIRECTORY_H
#define KS_HTTP_DIRECTORY_H

#include <stddef.h>
#include <uv.h>

#include "../kafka/runtime.h"

typedef struct ks_directory ks_directory_t;

/*
 * A consumer's client.id carrying `server` (NULL: none, the instance does
 * not serve queries): "<prefix>-consumer@<server>", or "<prefix>-consumer".
 * @locality any thread. @ownership writes `buf`.
 */
void ks_directory_client_id(char *buf, size_t len, const char *prefix, const char *server);

/*
 * A directory of the group `group` on `loop`, through its own admin client
 * (`conf`'s security settings, `bootstrap`). NULL with a message in err.
 * @ownership the caller's; ks_directory_close ends it.
 */
ks_directory_t *ks_directory_new(uv_loop_t *loop, const char *group, const ks_runtime_conf_t *conf,
                                 const char *bootstrap, char *err, size_t errlen);
/* Stops refreshing, destroys the client; freed once its handles have closed (run the loop after). */
void ks_directory_close(ks_directory_t *d);

/*
 * The address of the member that owns topic[partition], or NULL: no
 * description yet, the group is rebalancing (its assignments are about to
 * change), or no member that serves queries has the partition.
 */
const char *ks_directory_owner(const ks_directory_t *d, const char *topic, int partition);
/* The distinct addresses of the members that serve queries, in the description's order. */
int ks_directory_addresses(const ks_directory_t *d, const char *const **addrs);
/* Whether a description arrived and the group is stable. */
int ks_directory_stable(const ks_directory_t *d);
/* Asks for a new description now (a peer said it does not own what the directory said it does). */
void ks_directory_refresh(ks_directory_t *d);

#endif
