package bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.function.Function;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.processor.StateRestoreListener;

/**
 * What every twin shares: the command line, the settings both systems are given, the JSON serde and the
 * log lines bench/compare.py reads.
 *
 * <pre>
 *   java -cp 'target/classes:target/lib/*' bench.SERVICE --bootstrap HOST:PORT --app APPLICATION_ID
 *        --state DIR [--topic NAME=ACTUAL]... [--describe]
 * </pre>
 *
 * A topic is named in the code as the kstreamd topology file names it; --topic renames it (the benchmark
 * gives each run its own output topics). Settings: commit.interval.ms 1000, statestore.cache.max.bytes
 * 10 MB, num.stream.threads 1, at-least-once (Kafka Streams' default), everything else Kafka Streams'
 * default; keys are strings and values JSON unless a topic says otherwise, as in the topology files.
 * Printed on standard output: "state STATE EPOCH_MS" on every state change, and "restored STORE[P]: N
 * records in T ms at EPOCH_MS" per restored store partition, as kstreamd logs it (with the time at its end).
 */
public final class Twin {
    static final ObjectMapper MAPPER = new ObjectMapper();
    static final JsonNodeFactory F = JsonNodeFactory.instance;
    static final Serde<JsonNode> JSON = Serdes.serdeFrom(new JsonSerializer(), new JsonDeserializer());

    final Map<String, String> topics = new HashMap<>();
    String bootstrap, app, state;
    boolean describe;

    private Twin() { }

    /** The actual name of a topic named as the topology file names it. */
    String topic(String name) {
        return topics.getOrDefault(name, name);
    }

    static Twin parse(String service, String[] args) {
        Twin t = new Twin();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--describe")) {
                t.describe = true;
                continue;
            }
            if (i + 1 >= args.length)
                usage(service, a + " needs a value");
            String v = args[++i];
            switch (a) {
            case "--bootstrap": t.bootstrap = v; break;
            case "--app": t.app = v; break;
            case "--state": t.state = v; break;
            case "--topic": {
                int eq = v.indexOf('=');
                if (eq <= 0)
                    usage(service, "--topic needs NAME=ACTUAL, not " + v);
                t.topics.put(v.substring(0, eq), v.substring(eq + 1));
                break;
            }
            default: usage(service, "unknown option " + a);
            }
        }
        if (!t.describe && (t.bootstrap == null || t.app == null || t.state == null))
            usage(service, "--bootstrap, --app and --state are required");
        return t;
    }

    static void usage(String service, String why) {
        System.err.println(service + ": " + why);
        System.err.println("usage: " + service + " --bootstrap HOST:PORT --app ID --state DIR [--topic NAME=ACTUAL]... [--describe]");
        System.exit(2);
    }

    /** Builds the twin's topology with build, runs it until SIGTERM/SIGINT, then closes Kafka Streams. */
    static void run(String service, String[] args, Function<Twin, StreamsBuilder> build) throws InterruptedException {
        Twin t = parse(service, args);
        StreamsBuilder b = build.apply(t);
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, t.app == null ? service : t.app);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, t.bootstrap == null ? "127.0.0.1:9" : t.bootstrap);
        p.put(StreamsConfig.STATE_DIR_CONFIG, t.state == null ? "/tmp/kafka-streams" : t.state);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 1000);
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 10L * 1024 * 1024);
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.AT_LEAST_ONCE);
        p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        p.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, JsonSerde.class);
        Topology topo = b.build(p);
        if (t.describe) {
            System.out.println(topo.describe());
            return;
        }
        KafkaStreams ks = new KafkaStreams(topo, p);
        CountDownLatch done = new CountDownLatch(1);
        ks.setStateListener((now, before) -> {
            System.out.println("state " + now + " " + System.currentTimeMillis());
            if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING)
                done.countDown();
        });
        ks.setGlobalStateRestoreListener(new StateRestoreListener() {
            final Map<TopicPartition, Long> started = new HashMap<>();

            @Override public synchronized void onRestoreStart(TopicPartition tp, String store, long start, long end) {
                started.put(tp, System.nanoTime());
            }

            @Override public void onBatchRestored(TopicPartition tp, String store, long end, long n) { }

            @Override public synchronized void onRestoreEnd(TopicPartition tp, String store, long n) {
                Long t0 = started.remove(tp);
                long ms = t0 == null ? 0 : (System.nanoTime() - t0) / 1000000;
                System.out.println("restored " + store + "[" + tp.partition() + "]: " + n + " records in " + ms + " ms at "
                    + System.currentTimeMillis());
            }
        });
        ks.setUncaughtExceptionHandler(e -> {
            e.printStackTrace();
            return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            ks.close();
            done.countDown();
        }));
        ks.start();
        done.await();
        if (ks.state() == KafkaStreams.State.ERROR)
            System.exit(1);
    }

    // ---- JSON helpers for the hand-written expressions ----

    /** jq's `.field` on anything: null for a missing field or a non-object. */
    static JsonNode get(JsonNode n, String field) {
        JsonNode v = n == null ? null : n.get(field);
        return v == null ? F.nullNode() : v;
    }

    static boolean isNull(JsonNode n) {
        return n == null || n.isNull() || n.isMissingNode();
    }

    /** jq's truthiness: everything but null and false. */
    static boolean truthy(JsonNode n) {
        return !isNull(n) && !(n.isBoolean() && !n.booleanValue());
    }

    /** jq's `tostring`: a string as it is, anything else as its JSON text. */
    static String tostring(JsonNode n) {
        if (n != null && n.isTextual())
            return n.textValue();
        return isNull(n) ? "null" : n.toString();
    }

    /** jq's ascii_downcase (a string only: anything else is jq's error). */
    static String asciiDowncase(JsonNode n) {
        if (n == null || !n.isTextual())
            throw new IllegalArgumentException((isNull(n) ? "null" : n.getNodeType().toString().toLowerCase())
                + " cannot be ascii_downcased");
        String s = n.textValue();
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            b.append(c >= 'A' && c <= 'Z' ? (char) (c + 32) : c);
        }
        return b.toString();
    }

    /** jq's `round` (C's round(): halves away from zero) on a number. */
    static double round(double d) {
        return d < 0 ? -Math.floor(-d + 0.5) : Math.floor(d + 0.5);
    }

    public static final class JsonSerializer implements Serializer<JsonNode> {
        @Override public byte[] serialize(String topic, JsonNode data) {
            if (data == null || data.isNull())
                return null;
            try {
                return MAPPER.writeValueAsBytes(data);
            } catch (Exception e) {
                throw new SerializationException(e);
            }
        }
    }

    public static final class JsonDeserializer implements Deserializer<JsonNode> {
        @Override public JsonNode deserialize(String topic, byte[] data) {
            if (data == null)
                return null;
            try {
                return MAPPER.readTree(data);
            } catch (Exception e) {
                throw new SerializationException("invalid JSON", e);
            }
        }
    }

    public static final class JsonSerde extends Serdes.WrapperSerde<JsonNode> {
        public JsonSerde() {
            super(new JsonSerializer(), new JsonDeserializer());
        }
    }
}
