// The serdes of kstreamd's topology language as Kafka Streams serdes, byte
// for byte the same as src/serde/serde.c, so that both systems read each
// other's topics. Every key and value inside the translated topology is a
// Jackson JsonNode (a Kafka null is Java null, a JSON null too), except what
// Kafka Streams itself makes: the Long of count() and the Windowed<> keys of
// windowed aggregations. Each serde accepts those as well.
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.kstream.Window;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.kstream.internals.SessionWindow;
import org.apache.kafka.streams.kstream.internals.TimeWindow;

public final class KSerdes {
    static final ObjectMapper MAPPER = new ObjectMapper();
    static final JsonNodeFactory F = JsonNodeFactory.instance;

    private KSerdes() { }

    /** A kstreamd serde by its topology name. */
    static Serde<Object> byName(String name) {
        switch (name) {
        case "string": return new StringS();
        case "json": return new JsonS();
        case "long": return new LongS();
        case "int": return new IntS();
        case "double": return new DoubleS();
        case "bytes": return new BytesS();
        case "void": return new VoidS();
        case "windowed-string": return new WindowedS(new StringS(), false);
        case "windowed-long": return new WindowedS(new LongS(), false);
        case "session-windowed-string": return new WindowedS(new StringS(), true);
        case "session-windowed-long": return new WindowedS(new LongS(), true);
        default: throw new IllegalArgumentException("unknown serde " + name);
        }
    }

    /** The class of a serde, for default.key.serde / default.value.serde. */
    static Class<?> classOf(String name) {
        switch (name) {
        case "string": return StringS.class;
        case "json": return JsonS.class;
        case "long": return LongS.class;
        case "int": return IntS.class;
        case "double": return DoubleS.class;
        case "bytes": return BytesS.class;
        case "void": return VoidS.class;
        default: throw new IllegalArgumentException("serde " + name + " cannot be a default");
        }
    }

    /** The JSON value kstreamd's expressions see for anything inside the topology. */
    static JsonNode toJson(Object o) {
        if (o == null)
            return F.nullNode();
        if (o instanceof JsonNode)
            return (JsonNode) o;
        if (o instanceof Long || o instanceof Integer)
            return F.numberNode(((Number) o).longValue());
        if (o instanceof Windowed) {
            Windowed<?> w = (Windowed<?>) o;
            ObjectNode win = F.objectNode();
            win.put("start", w.window().start());
            win.put("end", w.window().end());
            ObjectNode n = F.objectNode();
            n.set("key", toJson(w.key()));
            n.set("window", win);
            return n;
        }
        throw new IllegalStateException("no JSON form for " + o.getClass());
    }

    /** JSON null is a Kafka null: what an expression yields, as a key or value. */
    static Object fromJson(JsonNode n) {
        return n == null || n.isNull() ? null : n;
    }

    static String kindName(JsonNode n) {
        switch (n.getNodeType()) {
        case ARRAY: return "an array";
        case OBJECT: return "an object";
        case BOOLEAN: return "a boolean";
        case NUMBER: return "a number";
        case STRING: return "a string";
        default: return "a " + n.getNodeType().toString().toLowerCase();
        }
    }

    abstract static class Base implements Serde<Object>, Serializer<Object>, Deserializer<Object> {
        final String name;

        Base(String name) { this.name = name; }

        abstract byte[] encode(JsonNode v);

        abstract JsonNode decode(byte[] b);

        @Override public byte[] serialize(String topic, Object data) {
            if (data == null)
                return null;
            JsonNode v = toJson(data);
            return v.isNull() ? null : encode(v);
        }

        @Override public Object deserialize(String topic, byte[] data) {
            return data == null ? null : fromJson(decode(data));
        }

        @Override public Serializer<Object> serializer() { return this; }

        @Override public Deserializer<Object> deserializer() { return this; }

        @Override public void close() { }

        @Override public void configure(java.util.Map<String, ?> configs, boolean isKey) { }

        SerializationException cannotHold(JsonNode v) {
            return new SerializationException(name + " serde cannot hold " + kindName(v));
        }
    }

    public static class StringS extends Base {
        public StringS() { super("string"); }

        @Override byte[] encode(JsonNode v) {
            if (!v.isTextual())
                throw cannotHold(v);
            return v.textValue().getBytes(StandardCharsets.UTF_8);
        }

        @Override JsonNode decode(byte[] b) { return F.textNode(new String(b, StandardCharsets.UTF_8)); }
    }

    public static class JsonS extends Base {
        public JsonS() { super("json"); }

        @Override byte[] encode(JsonNode v) { return JqJson.write(v).getBytes(StandardCharsets.UTF_8); }

        @Override JsonNode decode(byte[] b) {
            if (b.length == 0)
                throw new SerializationException("invalid JSON: empty payload");
            try {
                return MAPPER.readTree(b);
            } catch (Exception e) {
                throw new SerializationException("invalid JSON: " + e.getMessage());
            }
        }
    }

    static long integer(Base s, JsonNode v, long lo, long hi) {
        if (!v.isNumber())
            throw s.cannotHold(v);
        double d = v.asDouble();
        if (v.isIntegralNumber() && v.canConvertToLong()) {
            long l = v.longValue();
            if (l < lo || l > hi)
                throw new SerializationException(s.name + " serde needs a " + (hi == Long.MAX_VALUE ? 64 : 32)
                    + "-bit integer, got " + JqJson.write(v));
            return l;
        }
        if (Double.isNaN(d) || Double.isInfinite(d) || d != Math.floor(d))
            throw new SerializationException(s.name + " serde needs an integer, got " + JqJson.write(v));
        if (d < lo || d >= (double) hi + 1.0)
            throw new SerializationException(s.name + " serde needs a " + (hi == Long.MAX_VALUE ? 64 : 32)
                + "-bit integer, got " + JqJson.write(v));
        return (long) d;
    }

    public static class LongS extends Base {
        public LongS() { super("long"); }

        @Override byte[] encode(JsonNode v) {
            return ByteBuffer.allocate(8).putLong(integer(this, v, Long.MIN_VALUE, Long.MAX_VALUE)).array();
        }

        @Override JsonNode decode(byte[] b) {
            if (b.length != 8)
                throw new SerializationException("Size of data received by LongDeserializer is not 8");
            return F.numberNode(ByteBuffer.wrap(b).getLong());
        }
    }

    public static class IntS extends Base {
        public IntS() { super("int"); }

        @Override byte[] encode(JsonNode v) {
            return ByteBuffer.allocate(4).putInt((int) integer(this, v, Integer.MIN_VALUE, Integer.MAX_VALUE)).array();
        }

        @Override JsonNode decode(byte[] b) {
            if (b.length != 4)
                throw new SerializationException("Size of data received by IntegerDeserializer is not 4");
            return F.numberNode(ByteBuffer.wrap(b).getInt());
        }
    }

    public static class DoubleS extends Base {
        public DoubleS() { super("double"); }

        @Override byte[] encode(JsonNode v) {
            if (!v.isNumber())
                throw cannotHold(v);
            return ByteBuffer.allocate(8).putLong(Double.doubleToLongBits(v.asDouble())).array();
        }

        @Override JsonNode decode(byte[] b) {
            if (b.length != 8)
                throw new SerializationException("Size of data received by DoubleDeserializer is not 8");
            return F.numberNode(ByteBuffer.wrap(b).getDouble());
        }
    }

    public static class BytesS extends Base {
        public BytesS() { super("bytes"); }

        @Override byte[] encode(JsonNode v) {
            if (!v.isTextual())
                throw cannotHold(v);
            try {
                return Base64.getDecoder().decode(v.textValue());
            } catch (IllegalArgumentException e) {
                throw new SerializationException("bytes serde needs base64: " + e.getMessage());
            }
        }

        @Override JsonNode decode(byte[] b) { return F.textNode(Base64.getEncoder().encodeToString(b)); }
    }

    public static class VoidS extends Base {
        public VoidS() { super("void"); }

        @Override byte[] encode(JsonNode v) { throw cannotHold(v); }

        @Override JsonNode decode(byte[] b) {
            throw new SerializationException("Data should be null for a VoidDeserializer.");
        }
    }

    /** TimeWindowedSerde / SessionWindowedSerde over a string or long inner serde. */
    public static class WindowedS extends Base {
        final Base inner;
        final boolean session;

        WindowedS(Base inner, boolean session) {
            super((session ? "session-windowed-" : "windowed-") + inner.name);
            this.inner = inner;
            this.session = session;
        }

        @Override byte[] encode(JsonNode v) {
            JsonNode k = v.get("key"), w = v.get("window");
            JsonNode start = w == null ? null : w.get("start"), end = w == null ? null : w.get("end");
            if (!v.isObject() || k == null || start == null || (session && end == null))
                throw new SerializationException(name + " serde needs {key, window: {start" + (session ? ", end" : "") + "}}");
            if (k.isNull())
                throw new SerializationException(name + " serde cannot hold a null key");
            byte[] kb = inner.encode(k);
            ByteBuffer b = ByteBuffer.allocate(kb.length + (session ? 16 : 8)).put(kb);
            if (session)
                b.putLong(integer(new LongS(), end, Long.MIN_VALUE, Long.MAX_VALUE));
            b.putLong(integer(new LongS(), start, Long.MIN_VALUE, Long.MAX_VALUE));
            return b.array();
        }

        @Override JsonNode decode(byte[] b) {
            int tail = session ? 16 : 8;
            if (b.length < tail)
                throw new SerializationException("a windowed key needs at least " + tail + " bytes, got " + b.length);
            byte[] kb = java.util.Arrays.copyOf(b, b.length - tail);
            ByteBuffer bb = ByteBuffer.wrap(b);
            ObjectNode w = F.objectNode();
            w.put("start", bb.getLong(b.length - 8));
            if (session)
                w.put("end", bb.getLong(b.length - 16));
            ObjectNode o = F.objectNode();
            o.set("key", inner.decode(kb));
            o.set("window", w);
            return o;
        }

        /** A windowed key as Kafka Streams' Windowed, for its own windowed serdes' users. */
        static Windowed<Object> windowed(JsonNode key, long start, long end, boolean session) {
            Window w = session ? new SessionWindow(start, end) : new TimeWindow(start, end);
            return new Windowed<>(key, w);
        }
    }
}
