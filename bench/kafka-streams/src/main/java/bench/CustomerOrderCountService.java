package bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;

/**
 * topologies/customer_order_count.yaml in Kafka Streams: the orders of order-new-v1 re-keyed by customer
 * through one repartition topic (orders-by-customer), then grouped three times: a count
 * (customer-order-count-v1, long values), a summary aggregate (customer-order-summary-v1) and the
 * revenue per customer in tumbling 1 h windows with 5 min grace, suppressed until the window closes
 * (customer-hourly-revenue-v1, keyed by {key, window: {start, end}} as JSON).
 */
public final class CustomerOrderCountService {
    private CustomerOrderCountService() { }

    /** {orders: ($agg.orders + 1), total: (($agg.total + .total) * 100 | round / 100),
     *  lastOrderAt: ([$agg.lastOrderAt, .createdAt] | max)} */
    static JsonNode summary(String key, JsonNode v, JsonNode agg) {
        ObjectNode o = Twin.F.objectNode();
        o.put("orders", agg.get("orders").asDouble() + 1);
        o.put("total", Twin.round((agg.get("total").asDouble() + Twin.get(v, "total").asDouble()) * 100) / 100);
        o.set("lastOrderAt", max(Twin.get(agg, "lastOrderAt"), Twin.get(v, "createdAt")));
        return o;
    }

    /** jq's `[a, b] | max` for nulls and strings (jq orders null before every string). */
    static JsonNode max(JsonNode a, JsonNode b) {
        if (Twin.isNull(a))
            return b;
        if (Twin.isNull(b))
            return a;
        if (!a.isTextual() || !b.isTextual())
            throw new IllegalArgumentException("lastOrderAt and createdAt must be strings or null");
        return a.textValue().compareTo(b.textValue()) >= 0 ? a : b;
    }

    /** {orders: ($agg.orders + 1), revenue: (($agg.revenue + .total) * 100 | round / 100)} */
    static JsonNode revenue(String key, JsonNode v, JsonNode agg) {
        ObjectNode o = Twin.F.objectNode();
        o.put("orders", agg.get("orders").asDouble() + 1);
        o.put("revenue", Twin.round((agg.get("revenue").asDouble() + Twin.get(v, "total").asDouble()) * 100) / 100);
        return o;
    }

    static String customerId(String key, JsonNode v) {
        JsonNode id = Twin.get(v, "customerId");
        if (!id.isTextual())
            throw new IllegalArgumentException("the string key serde cannot hold " + id.getNodeType());
        return id.textValue();
    }

    static StreamsBuilder build(Twin t) {
        StreamsBuilder b = new StreamsBuilder();
        KStream<String, JsonNode> byCustomer = b.stream(t.topic("order-new-v1"), Consumed.with(Serdes.String(), Twin.JSON))
            .selectKey(CustomerOrderCountService::customerId, Named.as("customer-key"))
            .repartition(Repartitioned.<String, JsonNode>as("orders-by-customer").withKeySerde(Serdes.String()).withValueSerde(Twin.JSON));

        byCustomer.groupByKey()
            .count(Materialized.as("customer-order-count"))
            .toStream()
            .to(t.topic("customer-order-count-v1"), Produced.with(Serdes.String(), Serdes.Long()));

        byCustomer.groupByKey()
            .aggregate(() -> {
                ObjectNode o = Twin.F.objectNode();
                o.put("orders", 0);
                o.put("total", 0);
                o.putNull("lastOrderAt");
                return (JsonNode) o;
            }, CustomerOrderCountService::summary, Materialized.<String, JsonNode, org.apache.kafka.streams.state.KeyValueStore<org.apache.kafka.common.utils.Bytes, byte[]>>as("customer-order-summary").withValueSerde(Twin.JSON))
            .toStream()
            .to(t.topic("customer-order-summary-v1"), Produced.with(Serdes.String(), Twin.JSON));

        byCustomer.groupByKey()
            .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofHours(1), Duration.ofMinutes(5)))
            .aggregate(() -> {
                ObjectNode o = Twin.F.objectNode();
                o.put("orders", 0);
                o.put("revenue", 0);
                return (JsonNode) o;
            }, CustomerOrderCountService::revenue, Materialized.<String, JsonNode, org.apache.kafka.streams.state.WindowStore<org.apache.kafka.common.utils.Bytes, byte[]>>as("customer-hourly-revenue").withValueSerde(Twin.JSON))
            .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
            .toStream()
            .map((w, v) -> {
                ObjectNode k = Twin.F.objectNode();
                k.put("key", w.key());
                ObjectNode win = k.putObject("window");
                win.put("start", w.window().start());
                win.put("end", w.window().end());
                return KeyValue.pair((JsonNode) k, v);
            })
            .to(t.topic("customer-hourly-revenue-v1"), Produced.with(Twin.JSON, Twin.JSON));
        return b;
    }

    public static void main(String[] args) throws InterruptedException {
        Twin.run("CustomerOrderCountService", args, CustomerOrderCountService::build);
    }
}
