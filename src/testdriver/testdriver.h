/*
 * testdriver.h: `kstreamd test CASES.yaml...`, the TopologyTestDriver of
 * kstreamd. Runs a topology on in-memory topics, broker-free, case by case,
 * and compares what it wrote with what each case expects.
 */
#ifndef KS_TESTDRIVER_H
#define KS_TESTDRIVER_H

#include <stdio.h>

/*
 * Runs every case of one file, printing a line per case (and a diff per
 * failure) to out. Adds to *passed and *failed; a file that cannot be loaded
 * counts as one failure. Returns 0 when the file loaded.
 */
int ks_testdriver_run_file(const char *path, FILE *out, int *passed, int *failed);

/*
 * Writes, to f (NULL: stop), one JSON line per case run from now on: the
 * topology file, the case's input records as bytes (hex) in order with its
 * wall-clock advances, every record written (internal topics included) and
 * every store's contents. tests/conformance/run.sh feeds it to Kafka
 * Streams' TopologyTestDriver and compares. Main thread only.
 */
void ks_testdriver_trace(FILE *f);

#endif
