package bench;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The restore benchmark's service: in (string keys, JSON values) grouped by key and counted into the
 * entry-count store, whose changelog bench/compare.py fills to 1M entries and then restores into an
 * empty state directory. The count goes nowhere: only the store matters.
 */
public final class RestoreCount {
    private RestoreCount() { }

    public static void main(String[] args) throws InterruptedException {
        Twin.run("RestoreCount", args, t -> {
            StreamsBuilder b = new StreamsBuilder();
            b.stream(t.topic("in"), Consumed.with(Serdes.String(), Twin.JSON))
                .groupByKey()
                .count(Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>as("entry-count"));
            return b;
        });
    }
}
