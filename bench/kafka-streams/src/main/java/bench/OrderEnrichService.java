package bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.GlobalKTable;
import org.apache.kafka.streams.kstream.Joined;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.ValueAndTimestamp;

/**
 * topologies/order_enrich.yaml in Kafka Streams:
 * - customers (crm-customer-v1) and order-counts (customer-order-count-v1, long values) as tables; their
 *   left join is the customer profile, kept in the customer-profiles store and written to
 *   customer-profile-v1;
 * - products (catalog-product-v1) as a global table;
 * - enrich: each order re-keyed by customer (the join's repartition topic, order-customer), left-joined
 *   with the customers table, each item given its product by a read of the global table's store (what
 *   kstreamd's lookup("products"; .sku) does), re-keyed by order id, to order-enriched-v1;
 * - order-items: one record per item, left-joined with the global table by .sku, to
 *   order-item-enriched-v1.
 * The two pipelines read order-new-v1 through one source, as Kafka Streams needs.
 */
public final class OrderEnrichService {
    private OrderEnrichService() { }

    /** {customerId: .customerId, name: .name, email: .email, segment: .segment, orders: ($right // 0)} */
    static JsonNode profile(JsonNode left, Long right) {
        ObjectNode o = Twin.F.objectNode();
        for (String f : new String[] {"customerId", "name", "email", "segment"})
            o.set(f, Twin.get(left, f));
        o.put("orders", right == null ? 0 : right);
        return o;
    }

    /** $left + {customer: (if $right == null then null else {name: $right.name, email: $right.email,
     *  segment: $right.segment} end)} */
    static JsonNode withCustomer(JsonNode left, JsonNode right) {
        ObjectNode o = ((ObjectNode) left).deepCopy();
        if (Twin.isNull(right)) {
            o.putNull("customer");
        } else {
            ObjectNode c = o.putObject("customer");
            for (String f : new String[] {"name", "email", "segment"})
                c.set(f, Twin.get(right, f));
        }
        return o;
    }

    /**
     * .items |= map(. as $item | lookup("products"; .sku) as $p | $item + {product: (if $p == null then null
     * else {name: $p.name, category: $p.category, listPrice: $p.price} end)}), reading the global table's store.
     */
    static final class ItemsWithProducts implements FixedKeyProcessor<String, JsonNode, JsonNode> {
        private FixedKeyProcessorContext<String, JsonNode> ctx;
        private KeyValueStore<String, ValueAndTimestamp<JsonNode>> products;

        @Override public void init(FixedKeyProcessorContext<String, JsonNode> ctx) {
            this.ctx = ctx;
            this.products = ctx.getStateStore("products");
        }

        @Override public void process(FixedKeyRecord<String, JsonNode> r) {
            ObjectNode o = ((ObjectNode) r.value()).deepCopy();
            JsonNode items = o.get("items");
            if (items == null || !items.isArray())
                throw new IllegalArgumentException("cannot iterate over .items");
            ArrayNode out = Twin.F.arrayNode();
            for (JsonNode item : items) {
                JsonNode sku = Twin.get(item, "sku");
                ValueAndTimestamp<JsonNode> pv = sku.isTextual() ? products.get(sku.textValue()) : null;
                JsonNode p = pv == null ? null : pv.value();
                ObjectNode x = ((ObjectNode) item).deepCopy();
                if (Twin.isNull(p)) {
                    x.putNull("product");
                } else {
                    ObjectNode pr = x.putObject("product");
                    pr.set("name", Twin.get(p, "name"));
                    pr.set("category", Twin.get(p, "category"));
                    pr.set("listPrice", Twin.get(p, "price"));
                }
                out.add(x);
            }
            o.set("items", out);
            ctx.forward(r.withValue(o));
        }
    }

    /** . as $o | .items | to_entries[] | .value + {orderId: $o.orderId, line: (.key + 1)} */
    static List<JsonNode> items(JsonNode order) {
        List<JsonNode> out = new ArrayList<>();
        JsonNode items = Twin.get(order, "items");
        if (!items.isArray())
            throw new IllegalArgumentException("cannot iterate over .items");
        for (int i = 0; i < items.size(); i++) {
            ObjectNode x = ((ObjectNode) items.get(i)).deepCopy();
            x.set("orderId", Twin.get(order, "orderId"));
            x.put("line", i + 1);
            out.add(x);
        }
        return out;
    }

    static String field(JsonNode v, String f) {
        JsonNode id = Twin.get(v, f);
        if (!id.isTextual())
            throw new IllegalArgumentException("the string key serde cannot hold " + id.getNodeType());
        return id.textValue();
    }

    static StreamsBuilder build(Twin t) {
        StreamsBuilder b = new StreamsBuilder();
        KTable<String, JsonNode> customers = b.table(t.topic("crm-customer-v1"), Consumed.with(Serdes.String(), Twin.JSON),
            Materialized.<String, JsonNode, KeyValueStore<Bytes, byte[]>>as("customers"));
        KTable<String, Long> orderCounts = b.table(t.topic("customer-order-count-v1"), Consumed.with(Serdes.String(), Serdes.Long()),
            Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>as("order-counts"));
        GlobalKTable<String, JsonNode> products = b.globalTable(t.topic("catalog-product-v1"), Consumed.with(Serdes.String(), Twin.JSON),
            Materialized.<String, JsonNode, KeyValueStore<Bytes, byte[]>>as("products"));

        customers.leftJoin(orderCounts, OrderEnrichService::profile, Named.as("customer-profile"),
                Materialized.<String, JsonNode, KeyValueStore<Bytes, byte[]>>as("customer-profiles").withValueSerde(Twin.JSON))
            .toStream()
            .to(t.topic("customer-profile-v1"), Produced.with(Serdes.String(), Twin.JSON));

        KStream<String, JsonNode> orders = b.stream(t.topic("order-new-v1"), Consumed.with(Serdes.String(), Twin.JSON));
        orders.selectKey((k, v) -> field(v, "customerId"), Named.as("by-customer"))
            .leftJoin(customers, OrderEnrichService::withCustomer,
                Joined.<String, JsonNode, JsonNode>as("order-customer").withKeySerde(Serdes.String()).withValueSerde(Twin.JSON))
            .processValues(ItemsWithProducts::new, Named.as("items-with-products"))
            .selectKey((k, v) -> field(v, "orderId"), Named.as("by-order"))
            .to(t.topic("order-enriched-v1"), Produced.with(Serdes.String(), Twin.JSON));

        orders.flatMapValues(OrderEnrichService::items, Named.as("items"))
            .leftJoin(products, (k, item) -> Twin.get(item, "sku").isTextual() ? item.get("sku").textValue() : null,
                (item, p) -> {
                    ObjectNode x = ((ObjectNode) item).deepCopy();
                    x.set("category", Twin.get(p, "category"));
                    x.set("listPrice", Twin.get(p, "price"));
                    return (JsonNode) x;
                }, Named.as("item-product"))
            .to(t.topic("order-item-enriched-v1"), Produced.with(Serdes.String(), Twin.JSON));
        return b;
    }

    public static void main(String[] args) throws InterruptedException {
        Twin.run("OrderEnrichService", args, OrderEnrichService::build);
    }
}
