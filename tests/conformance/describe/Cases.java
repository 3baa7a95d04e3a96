// Kafka Streams programs equivalent to kstreamd topology files, for run.sh:
// prints "=== NAME" and Topology#describe() for each hand-written case (the
// YAML file of each is listed in run.sh), then for each generated case of
// RandomCases.java (made by random.py, with its YAML files).
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.*;

public class Cases {
    interface Case { void build(StreamsBuilder b); }

    static void print(String name, Case c) {
        StreamsBuilder b = new StreamsBuilder();
        c.build(b);
        System.out.print("=== " + name + "\n" + b.build().describe());
    }

    public static void main(String[] args) {
        // tests/snapshots/extra/stateful_count.yaml
        print("stateful_count", b -> {
            b.<String, String>stream("order-v1").groupBy((k, v) -> v)
                .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofHours(1), Duration.ofMinutes(5)))
                .count(Materialized.as("customer-order-counts"))
                .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
                .toStream().map((k, v) -> KeyValue.pair(k.key(), v)).to("customer-order-count-v1");
            b.<String, String>stream("order-line-v1").groupByKey().count().toStream().to("product-order-count-v1");
        });
        // tests/snapshots/extra/tables.yaml
        print("tables", b -> {
            KTable<String, String> users = b.<String, String>table("user-v1", Materialized.as("users"));
            b.<String, String>stream("quote-v1").selectKey((k, v) -> v).toTable().toStream().to("latest-quote-v1");
            b.<String, String>stream("quote-v2").selectKey((k, v) -> v).toTable(Named.as("quotes-by-customer"))
                .toStream().to("latest-quote-v2");
            b.<String, String>stream("quote-v3").toTable().groupBy((k, v) -> KeyValue.pair(v, v)).count()
                .toStream().to("quote-count-v1");
            users.groupBy((k, v) -> KeyValue.pair(v, v), Grouped.as("by-region"))
                .count(Named.as("region-count"), Materialized.as("region-counts")).toStream().to("user-region-count-v1");
        });
        // topologies/customer_order_count.yaml
        print("customer_order_count", b -> {
            KStream<String, String> by = b.<String, String>stream("order-new-v1")
                .selectKey((k, v) -> v, Named.as("customer-key")).repartition(Repartitioned.as("orders-by-customer"));
            by.groupByKey().count(Materialized.as("customer-order-count")).toStream().to("customer-order-count-v1");
            by.groupByKey().aggregate(() -> "", (k, v, agg) -> agg, Materialized.as("customer-order-summary"))
                .toStream().to("customer-order-summary-v1");
            by.groupByKey().windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofHours(1), Duration.ofMinutes(5)))
                .aggregate(() -> "", (k, v, agg) -> agg, Materialized.as("customer-hourly-revenue"))
                .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
                .toStream().to("customer-hourly-revenue-v1");
        });
        // topologies/crm_customer.yaml
        print("crm_customer", b -> b.<String, String>stream("crm-customer-raw-v1")
            .filter((k, v) -> true, Named.as("valid-customers"))
            .map((k, v) -> KeyValue.pair(k, v), Named.as("crm-to-domain"))
            .flatMap((k, v) -> List.of(KeyValue.pair(k, v)), Named.as("per-address-and-contact"))
            .selectKey((k, v) -> v, Named.as("by-customer-id")).to("crm-customer-v1"));
        // tests/snapshots/extra/split_merge.yaml
        print("split_merge", b -> {
            KStream<String, String> pay = b.<String, String>stream("payment-v1");
            pay.filter((k, v) -> true).split()
                .branch((k, v) -> true, Branched.withConsumer(s -> s.mapValues(v -> v).to("payment-large-v1"), "large"))
                .branch((k, v) -> true, Branched.withConsumer(s -> s.to("payment-foreign-v1"), "foreign"))
                .defaultBranch(Branched.withConsumer(s -> s.to("payment-normal-v1"), "default"));
            KStream<String, String> refunds = b.<String, String>stream("refund-v1").mapValues(v -> v);
            pay.merge(refunds).selectKey((k, v) -> v).to("ledger-entry-v1");
        });
        // tests/snapshots/extra/repartition.yaml
        print("repartition", b -> b.<String, String>stream(Arrays.asList("click-v1", "view-v1"))
            .selectKey((k, v) -> v).repartition(Repartitioned.<String, String>as("by-user").withNumberOfPartitions(6))
            .peek((k, v) -> { }).to("user-event-v1"));
        // tests/conformance/describe/cases/named_suppress.yaml
        print("named_suppress", b -> b.<String, String>stream("in").groupByKey()
            .windowedBy(TimeWindows.ofSizeWithNoGrace(Duration.ofMinutes(1))).count(Named.as("c"))
            .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()).withName("sup"))
            .toStream(Named.as("ts")).to("out"));
        // tests/conformance/describe/cases/stream_joins.yaml
        print("stream_joins", b -> {
            KStream<String, String> clicks = b.stream("click-v1");
            b.<String, String>stream("view-v1")
                .join(clicks, (l, r) -> l, JoinWindows.ofTimeDifferenceWithNoGrace(Duration.ofMinutes(5)))
                .to("view-click-v1");
            b.<String, String>stream("view-v2")
                .leftJoin(clicks, (l, r) -> l, JoinWindows.ofTimeDifferenceAndGrace(Duration.ofMinutes(5), Duration.ofMinutes(1)),
                          StreamJoined.<String, String, String>as("vc").withName("vc"))
                .to("view-click-v2");
            KStream<String, String> orders = b.<String, String>stream("order-v1").selectKey((k, v) -> v);
            KStream<String, String> payments = b.<String, String>stream("payment-v1").selectKey((k, v) -> v);
            orders.outerJoin(payments, (l, r) -> l,
                             JoinWindows.ofTimeDifferenceWithNoGrace(Duration.ofSeconds(10)).before(Duration.ZERO))
                .to("order-payment-v1");
        });
        // tests/conformance/describe/cases/foreign_key_join.yaml
        print("foreign_key_join", b -> {
            KTable<String, String> orders = b.table("order-v1", Materialized.as("orders"));
            KTable<String, String> customers = b.table("customer-v1", Materialized.as("customers"));
            orders.join(customers, (String v) -> v, (l, r) -> l).toStream().to("out-inner");
            b.<String, String>stream("shipment-v1").toTable()
                .leftJoin(customers, (String v) -> v, (l, r) -> l, TableJoined.as("ship"), Materialized.as("ship-view"))
                .toStream().to("out-left");
            orders.join(customers, (String v) -> v, (l, r) -> l).groupBy((k, v) -> KeyValue.pair(v, v)).count()
                .toStream().to("out-count");
        });
        RandomCases.printAll();
    }
}
