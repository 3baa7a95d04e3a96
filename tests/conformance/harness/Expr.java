// A kstreamd step expression run by jackson-jq (jq 1.6 in Java), compiled
// once, with kstreamd's variables bound per evaluation: $key, $value,
// $timestamp, $topic, $partition, $offset, $headers from the record being
// processed (Ctx, set by the processor wrapper), $agg, $left, $right and
// $window where the step gives them. The rules for outputs are kstreamd's
// (src/engine/ops_stateless.c): filters take the first output's truth, the
// one-value steps need an output, flatMap takes them all.
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import net.thisptr.jackson.jq.BuiltinFunctionLoader;
import net.thisptr.jackson.jq.JsonQuery;
import net.thisptr.jackson.jq.Scope;
import net.thisptr.jackson.jq.Versions;
import net.thisptr.jackson.jq.exception.JsonQueryException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.streams.processor.api.ProcessingContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.TimestampedKeyValueStore;
import org.apache.kafka.streams.state.ValueAndTimestamp;
import org.apache.kafka.streams.processor.api.RecordMetadata;

public final class Expr {
    static final Scope ROOT = Scope.newEmptyScope();
    static final String[] VARS = {"key", "value", "timestamp", "topic", "partition", "offset", "headers", "agg",
                                  "left", "right", "window"};

    /** Global tables by name: their stores, for lookup(table; key) (the Translator fills it). */
    static final Map<String, String> GLOBAL_STORES = new HashMap<>();

    static {
        BuiltinFunctionLoader.getInstance().loadFunctions(Versions.JQ_1_6, ROOT);
        /*
         * lookup(table; key), kstreamd's own builtin: the row of a global table,
         * or null, read from its store through the processor's context (a
         * global store is open to every processor), as a user's Java would.
         */
        ROOT.addFunction("lookup", 2, (scope, args, in, path, out, version) -> {
            List<JsonNode> names = new ArrayList<>(), keys = new ArrayList<>();
            args.get(0).apply(scope, in, names::add);
            args.get(1).apply(scope, in, keys::add);
            Ctx c = Expr.CURRENT.get();
            for (JsonNode n : names)
                for (JsonNode k : keys) {
                    String store = GLOBAL_STORES.get(n.asText());
                    if (store == null || c == null)
                        throw new JsonQueryException("lookup: no global table " + n);
                    JsonNode row = KSerdes.F.nullNode();
                    if (!k.isNull()) {
                        TimestampedKeyValueStore<Object, Object> st = c.context.getStateStore(store);
                        ValueAndTimestamp<Object> v = st.get(KSerdes.fromJson(k));
                        if (v != null && v.value() != null)
                            row = KSerdes.toJson(v.value());
                    }
                    out.emit(row, null);
                }
        });
    }

    /** The record a processor is working on, set by Wrapper around every DSL processor. */
    static final class Ctx {
        final Record<?, ?> record;
        final ProcessingContext context;
        final Ctx outer;

        Ctx(Record<?, ?> record, ProcessingContext context, Ctx outer) {
            this.record = record;
            this.context = context;
            this.outer = outer;
        }
    }

    static final ThreadLocal<Ctx> CURRENT = new ThreadLocal<>();

    /** An evaluation failed: the processing exception handler continues, as kstreamd's dead-letter topic does. */
    static final class Failure extends RuntimeException {
        Failure(String m) { super(m); }
    }

    final String src;
    final String step;
    final JsonQuery q;

    Expr(String step, String src) throws Exception {
        this.step = step;
        this.src = src;
        this.q = JsonQuery.compile(src, Versions.JQ_1_6);
    }

    /** Every output, with `.` = input and the record's variables; extra = {name, value, ...}. */
    List<JsonNode> all(JsonNode input, Object key, Object... extra) {
        Scope s = Scope.newChildScope(ROOT);
        Ctx c = CURRENT.get();
        s.setValue("key", KSerdes.toJson(key));
        s.setValue("value", input);
        if (c != null) {
            s.setValue("timestamp", KSerdes.F.numberNode(c.record.timestamp()));
            RecordMetadata m = c.context.recordMetadata().orElse(null);
            s.setValue("topic", m == null ? KSerdes.F.nullNode() : KSerdes.F.textNode(m.topic()));
            s.setValue("partition", m == null ? KSerdes.F.nullNode() : KSerdes.F.numberNode(m.partition()));
            s.setValue("offset", m == null ? KSerdes.F.nullNode() : KSerdes.F.numberNode(m.offset()));
            ObjectNode h = KSerdes.F.objectNode();
            for (Header hd : c.record.headers())
                h.set(hd.key(), hd.value() == null ? KSerdes.F.nullNode()
                      : KSerdes.F.textNode(new String(hd.value(), StandardCharsets.UTF_8)));
            s.setValue("headers", h);
        }
        for (String v : new String[] {"agg", "left", "right", "window"})
            s.setValue(v, KSerdes.F.nullNode());
        for (int i = 0; i + 1 < extra.length; i += 2)
            s.setValue((String) extra[i], KSerdes.toJson(extra[i + 1]));
        List<JsonNode> out = new ArrayList<>();
        try {
            q.apply(s, input == null ? KSerdes.F.nullNode() : input, out::add);
        } catch (Exception e) {
            throw new Failure("evaluating `" + step + "`: " + e.getMessage());
        }
        return out;
    }

    /** The first output; none is an error (kstreamd: "the expression produced no output"). */
    JsonNode one(JsonNode input, Object key, Object... extra) {
        List<JsonNode> out = all(input, key, extra);
        if (out.isEmpty())
            throw new Failure("evaluating `" + step + "`: the expression produced no output");
        return out.get(0);
    }

    /** The first output's truth; no output is false. */
    boolean test(JsonNode input, Object key) {
        List<JsonNode> out = all(input, key);
        if (out.isEmpty())
            return false;
        JsonNode n = out.get(0);
        return !(n.isNull() || (n.isBoolean() && !n.booleanValue()));
    }
}
