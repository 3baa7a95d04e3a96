package bench;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.WindowStore;

/**
 * topologies/entity_lookup.yaml's materialisation in Kafka Streams (its HTTP queries are not part of the
 * benchmark): order-enriched-v1 as the orders table, customer-profile-v1 as the customer-profiles table,
 * and order-new-v1 re-keyed by customer and counted in tumbling 1 h windows with 5 min grace
 * (customer-hourly-orders). No output topic.
 */
public final class EntityLookupService {
    private EntityLookupService() { }

    static StreamsBuilder build(Twin t) {
        StreamsBuilder b = new StreamsBuilder();
        b.table(t.topic("order-enriched-v1"), Consumed.with(Serdes.String(), Twin.JSON),
            Materialized.<String, JsonNode, KeyValueStore<Bytes, byte[]>>as("orders"));
        b.table(t.topic("customer-profile-v1"), Consumed.with(Serdes.String(), Twin.JSON),
            Materialized.<String, JsonNode, KeyValueStore<Bytes, byte[]>>as("customer-profiles"));
        b.stream(t.topic("order-new-v1"), Consumed.with(Serdes.String(), Twin.JSON))
            .selectKey((k, v) -> OrderEnrichService.field(v, "customerId"), Named.as("by-customer"))
            .groupByKey()
            .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofHours(1), Duration.ofMinutes(5)))
            .count(Materialized.<String, Long, WindowStore<Bytes, byte[]>>as("customer-hourly-orders"));
        return b;
    }

    public static void main(String[] args) throws InterruptedException {
        Twin.run("EntityLookupService", args, EntityLookupService::build);
    }
}
