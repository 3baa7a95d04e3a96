// The conformance harness' Kafka Streams side: java Conformance TRACE.jsonl
// reads what `kstreamd test --trace` wrote (per case: its topology file, the
// input records as bytes, wall-clock advances, the case's cache size), runs
// each case through Kafka Streams' TopologyTestDriver with the topology
// Translator builds from the same file, and prints one JSON line per case:
// every record of every topic (internal ones included) as bytes, the
// stores' contents, and Topology#describe(). run.sh compares the two.
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeSet;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyConfig;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.errors.ErrorHandlerContext;
import org.apache.kafka.streams.errors.LogAndContinueExceptionHandler;
import org.apache.kafka.streams.errors.LogAndContinueProcessingExceptionHandler;
import org.apache.kafka.streams.errors.ProductionExceptionHandler;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.processor.StateStore;
import org.apache.kafka.streams.state.BuiltInDslStoreSuppliers;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.SessionStore;
import org.apache.kafka.streams.state.WindowStore;
import org.apache.kafka.streams.state.internals.LeftOrRightValue;
import org.apache.kafka.streams.state.internals.TimestampedKeyAndJoinSide;
import org.apache.kafka.streams.test.TestRecord;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

@SuppressWarnings({"unchecked", "rawtypes"})
public class Conformance {
    static final HexFormat HEX = HexFormat.of();

    /** A record that cannot be serialised at a sink is dropped and the task goes on, as kstreamd's dead-letter topic. */
    public static class ContinueOnProduction implements ProductionExceptionHandler {
        String dlq;

        @Override public void configure(Map<String, ?> configs) {
            dlq = (String) configs.get(StreamsConfig.ERRORS_DEAD_LETTER_QUEUE_TOPIC_NAME_CONFIG);
        }

        @Override public Response handleError(ErrorHandlerContext c, org.apache.kafka.clients.producer.ProducerRecord<byte[], byte[]> r,
                                              Exception e) {
            return Response.resume();
        }

        @Override public Response handleSerializationError(ErrorHandlerContext c, org.apache.kafka.clients.producer.ProducerRecord r,
                                                           Exception e, SerializationExceptionOrigin o) {
            /* As the built-in handlers do with a dead-letter topic (KIP-1034): the source record's bytes. */
            return Response.resume(List.of(new org.apache.kafka.clients.producer.ProducerRecord<>(dlq, null, c.timestamp(),
                c.sourceRawKey(), c.sourceRawValue(), c.headers())));
        }
    }

    /** One topology file, translated: its topology, or why it cannot be. */
    static final class Built {
        Topology topology;
        String unsupported;
        Properties props;
        boolean failOnError;
    }

    /*
     * Built again for every case: a Topology must not be shared by two test
     * drivers (Kafka Streams changes its store builders when a driver's cache
     * size is 0, e.g. disabling caching for the next driver too).
     */
    static Built build(String path) {
        Built b = new Built();
        Translator.WINDOWS.clear();
        try {
            Yaml yaml = new Yaml(new SafeConstructor(new LoaderOptions()));
            Map<String, Object> topo;
            try (FileInputStream in = new FileInputStream(path)) {
                topo = yaml.load(in);
            }
            Map<String, Object> cfg = Translator.map(topo.get("config"));
            String app = String.valueOf(topo.get("application"));
            Map<String, Object> d = Translator.map(Translator.map(topo.get("topics")).get("defaults"));
            Properties p = new Properties();
            p.put(StreamsConfig.APPLICATION_ID_CONFIG, app);
            p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
            p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, KSerdes.classOf(String.valueOf(d.getOrDefault("key", "string"))));
            p.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, KSerdes.classOf(String.valueOf(d.getOrDefault("value", "json"))));
            p.put(StreamsConfig.PROCESSOR_WRAPPER_CLASS_CONFIG, Wrapper.class);
            /* errors.tolerance: none is Kafka Streams' default: fail the task; else continue, with a dead-letter topic. */
            b.failOnError = "none".equals(String.valueOf(cfg.get("errors.tolerance")));
            if (!b.failOnError) {
                p.put(StreamsConfig.PROCESSING_EXCEPTION_HANDLER_CLASS_CONFIG, LogAndContinueProcessingExceptionHandler.class);
                p.put(StreamsConfig.DESERIALIZATION_EXCEPTION_HANDLER_CLASS_CONFIG, LogAndContinueExceptionHandler.class);
                p.put(StreamsConfig.PRODUCTION_EXCEPTION_HANDLER_CLASS_CONFIG, ContinueOnProduction.class);
            }
            p.put(StreamsConfig.ERRORS_DEAD_LETTER_QUEUE_TOPIC_NAME_CONFIG,
                  String.valueOf(cfg.getOrDefault("dlq.topic", app + "-dlq")));
            /* In-memory stores: RocksDB (the default) gives the same results on every case, six times slower. */
            p.put(StreamsConfig.DSL_STORE_SUPPLIERS_CLASS_CONFIG, BuiltInDslStoreSuppliers.InMemoryDslStoreSuppliers.class);
            /* A `tables:` table uses its source topic as its changelog in kstreamd, as this optimisation does. */
            p.put(StreamsConfig.TOPOLOGY_OPTIMIZATION_CONFIG, StreamsConfig.REUSE_KTABLE_SOURCE_TOPICS);
            b.props = p;
            StreamsBuilder sb = new StreamsBuilder(new TopologyConfig(new StreamsConfig(p)));
            new Translator(topo, sb).build();
            b.topology = sb.build(p);
        } catch (Translator.Unsupported e) {
            b.unsupported = e.getMessage();
        } catch (Exception e) {
            b.unsupported = "translation failed: " + e;
        }
        return b;
    }

    static JsonNode bytes(byte[] b) { return b == null ? KSerdes.F.nullNode() : KSerdes.F.textNode(HEX.formatHex(b)); }

    static byte[] unhex(JsonNode n) { return n == null || n.isNull() ? null : HEX.parseHex(n.textValue()); }

    static ObjectNode runCase(JsonNode c) {
        ObjectNode out = KSerdes.F.objectNode();
        out.set("file", c.get("file"));
        out.set("case", c.get("case"));
        Built b = build(c.get("topology").textValue());
        if (b.unsupported != null) {
            out.put("unsupported", b.unsupported);
            return out;
        }
        out.put("describe", b.topology.describe().toString());
        Properties p = new Properties();
        p.putAll(b.props);
        JsonNode cm = c.path("cacheMaxBytes");
        long cache = cm.isNumber() ? cm.asLong() : 10 * 1024 * 1024; /* kstreamd test's default, and Kafka Streams' */
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, cache);
        ArrayNode outs = out.putArray("outputs");
        try (TopologyTestDriver d = new TopologyTestDriver(b.topology, p, Instant.EPOCH)) {
            Map<String, TestInputTopic<byte[], byte[]>> ins = new HashMap<>();
            for (JsonNode in : c.get("inputs")) {
                if (in.has("generate"))
                    continue; /* the records it made follow as inputs of their pseudo-topic */
                if (in.has("advance")) {
                    d.advanceWallClockTime(Duration.ofMillis(in.get("advance").asLong()));
                    continue;
                }
                String topic = in.get("topic").textValue();
                TestInputTopic<byte[], byte[]> t = ins.computeIfAbsent(topic,
                    k -> d.createInputTopic(k, new ByteArraySerializer(), new ByteArraySerializer()));
                RecordHeaders hs = new RecordHeaders();
                for (JsonNode h : in.path("headers"))
                    hs.add(h.get(0).textValue(), unhex(h.get(1)));
                try {
                    t.pipeInput(new TestRecord<>(unhex(in.get("key")), unhex(in.get("value")), hs,
                                                 Instant.ofEpochMilli(in.get("timestamp").asLong())));
                } catch (RuntimeException e) {
                    if (!b.failOnError)
                        throw e;
                    /* errors.tolerance: none: the task fails at the bad record, as kstreamd's service stops. */
                    out.put("stopped", String.valueOf(e));
                    break;
                }
            }
            for (String topic : new TreeSet<>(d.producedTopicNames())) {
                TestOutputTopic<byte[], byte[]> t = d.createOutputTopic(topic, new ByteArrayDeserializer(), new ByteArrayDeserializer());
                for (TestRecord<byte[], byte[]> r : t.readRecordsToList()) {
                    ObjectNode o = outs.addObject();
                    o.put("topic", topic);
                    o.put("timestamp", r.timestamp());
                    o.set("key", bytes(r.key()));
                    o.set("value", bytes(r.value()));
                    ArrayNode hs = o.putArray("headers");
                    for (Header h : r.headers())
                        hs.addArray().add(h.key()).add(bytes(h.value()));
                }
            }
            out.set("stores", stores(d));
        } catch (Exception e) {
            out.put("error", String.valueOf(e));
        }
        return out;
    }

    static ObjectNode stores(TopologyTestDriver d) {
        ObjectNode all = KSerdes.F.objectNode();
        for (Map.Entry<String, StateStore> e : new java.util.TreeMap<>(d.getAllStateStores()).entrySet()) {
            String name = e.getKey();
            /* A foreign-key join's subscription store holds SubscriptionWrappers: its changelog is compared instead. */
            if (name.endsWith("-subscription-store") || name.startsWith("KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-"))
                continue;
            ArrayNode entries = KSerdes.F.arrayNode();
            KeyValueStore kv = d.getKeyValueStore(name);
            WindowStore ws = kv == null ? d.getWindowStore(name) : null;
            SessionStore ss = kv == null && ws == null ? d.getSessionStore(name) : null;
            KeyValueIterator it = kv != null ? kv.all() : ws != null ? ws.all()
                                : ss != null ? ss.findSessions(null, null, 0L, Long.MAX_VALUE) : null;
            if (it == null)
                continue; /* a suppression buffer: its changelog is compared instead */
            ObjectNode lastOuter = null;
            while (it.hasNext()) {
                KeyValue r = (KeyValue) it.next();
                if (r.key instanceof TimestampedKeyAndJoinSide) {
                    /* A stream-stream join's outer store: one entry per key, the list of the values it holds. */
                    TimestampedKeyAndJoinSide tk = (TimestampedKeyAndJoinSide) r.key;
                    ObjectNode k = KSerdes.F.objectNode();
                    k.set("key", KSerdes.toJson(tk.key()));
                    k.put("timestamp", tk.timestamp());
                    k.put("side", tk.isLeftSide() ? "left" : "right");
                    LeftOrRightValue lr = (LeftOrRightValue) r.value;
                    JsonNode item = KSerdes.toJson(lr.leftValue() != null ? lr.leftValue() : lr.rightValue());
                    if (lastOuter == null || !lastOuter.get("key").equals(k)) {
                        lastOuter = entries.addObject();
                        lastOuter.set("key", k);
                        lastOuter.putArray("value");
                    }
                    ((ArrayNode) lastOuter.get("value")).add(item);
                    continue;
                }
                ObjectNode en = entries.addObject();
                if (r.key instanceof Windowed) {
                    Windowed w = (Windowed) r.key;
                    en.set("key", KSerdes.toJson(w.key()));
                    ObjectNode win = en.putObject("window");
                    win.put("start", w.window().start());
                    win.put("end", w.window().end());
                } else {
                    en.set("key", KSerdes.toJson(r.key));
                }
                Object v = r.value instanceof org.apache.kafka.streams.state.ValueAndTimestamp
                    ? ((org.apache.kafka.streams.state.ValueAndTimestamp) r.value).value() : r.value;
                en.set("value", KSerdes.toJson(v));
            }
            it.close();
            all.set(name, entries);
        }
        return all;
    }

    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), false, StandardCharsets.UTF_8);
        /* KStream#print writes to System.out: kept off the results (the logs are not compared). */
        System.setOut(new PrintStream(java.io.OutputStream.nullOutputStream()));
        try (BufferedReader r = new BufferedReader(new InputStreamReader(new FileInputStream(args[0]), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null;) {
                if (line.isBlank())
                    continue;
                JsonNode c = KSerdes.MAPPER.readTree(line);
                out.println(KSerdes.MAPPER.writeValueAsString(runCase(c)));
            }
        }
        out.flush();
    }
}
