// A kstreamd topology file as a Kafka Streams topology built with the DSL:
// the program a Kafka Streams user would write for the same service. Each
// pipeline becomes a chain of DSL calls, each step's `name:` a Named /
// Grouped / Repartitioned / Produced name, each `store:` a Materialized
// name, each expression an Expr. Serdes: Consumed and Produced carry the
// topics' serdes from `topics:`; everything else is left to Kafka Streams
// (inherited from upstream, or the topology's `defaults`, as the config's
// default serdes), as a user's program would. Pipelines are built in file
// order, a pipeline another one reads first (as kstreamd loads them).
import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.*;
import org.apache.kafka.streams.processor.TopicNameExtractor;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.SessionStore;
import org.apache.kafka.streams.state.WindowStore;

@SuppressWarnings({"unchecked", "rawtypes"})
public final class Translator {
    /** A construct kstreamd runs that this translation does not: the case is not comparable. */
    static final class Unsupported extends Exception {
        Unsupported(String m) { super(m); }
    }

    enum Kind { STREAM, TABLE, GROUPED_STREAM, GROUPED_TABLE, TIME_WINDOWED, SESSION_WINDOWED, SPLIT }

    /** Where a pipeline is: the DSL object and what it is. */
    static final class S {
        Object o;
        Kind kind;

        S(Object o, Kind kind) {
            this.o = o;
            this.kind = kind;
        }
    }

    final Map<String, Object> topo;
    final StreamsBuilder b;
    final String defKey, defValue;
    final Map<String, Object> topics, tables, pipelines;
    final Map<String, KStream> sources = new HashMap<>();
    final Map<String, KTable> tableObjs = new HashMap<>();
    final Map<String, GlobalKTable> globalObjs = new HashMap<>();
    final Map<String, S> built = new HashMap<>();
    final Set<String> building = new HashSet<>();
    TimeWindows timeWindows; /* the last windowedBy's, for $window */

    Translator(Map<String, Object> topo, StreamsBuilder b) {
        this.topo = topo;
        this.b = b;
        this.topics = map(topo.get("topics"));
        Map<String, Object> d = map(topics.get("defaults"));
        this.defKey = str(d.getOrDefault("key", "string"));
        this.defValue = str(d.getOrDefault("value", "json"));
        this.tables = map(topo.get("tables"));
        this.pipelines = map(topo.get("pipelines"));
    }

    static Map<String, Object> map(Object o) {
        return o instanceof Map ? (Map<String, Object>) o : new LinkedHashMap<>();
    }

    static String str(Object o) { return o == null ? null : String.valueOf(o); }

    String keySerdeName(String topic) {
        Map<String, Object> t = map(topics.get(topic));
        return str(t.getOrDefault("key", defKey));
    }

    String valueSerdeName(String topic) {
        Map<String, Object> t = map(topics.get(topic));
        return str(t.getOrDefault("value", defValue));
    }

    Serde<Object> keySerde(String topic) { return KSerdes.byName(keySerdeName(topic)); }

    Serde<Object> valueSerde(String topic) { return KSerdes.byName(valueSerdeName(topic)); }

    static long duration(Object o) throws Unsupported {
        String s = str(o).trim();
        String[][] units = {{"ms", "1"}, {"s", "1000"}, {"m", "60000"}, {"h", "3600000"}, {"d", "86400000"}};
        for (String[] u : units)
            if (s.endsWith(u[0]) && s.length() > u[0].length() && Character.isDigit(s.charAt(s.length() - u[0].length() - 1)))
                return Long.parseLong(s.substring(0, s.length() - u[0].length()).trim()) * Long.parseLong(u[1]);
        throw new Unsupported("a duration this harness cannot read: " + s);
    }

    void build() throws Exception {
        /* kstreamd adds the `tables:` sources first, in file order, as their section comes first. */
        for (String name : tables.keySet())
            table(name);
        for (String name : pipelines.keySet())
            pipeline(name);
    }

    // ---- sources ----

    KStream stream(List<String> topicList) throws Unsupported {
        String first = topicList.get(0);
        String key = String.join(",", topicList);
        KStream s = sources.get(key);
        if (s != null)
            return s;
        for (String t : topicList)
            for (String k : sources.keySet())
                if (List.of(k.split(",")).contains(t))
                    throw new Unsupported("topic " + t + " read by two sources with different topic lists");
        Consumed c = Consumed.with(keySerde(first), valueSerde(first));
        s = topicList.size() == 1 ? b.stream(first, c) : b.stream(topicList, c);
        sources.put(key, s);
        return s;
    }

    KTable table(String name) throws Unsupported {
        KTable t = tableObjs.get(name);
        if (t != null)
            return t;
        Map<String, Object> tc = map(tables.get(name));
        if (Boolean.TRUE.equals(tc.get("global"))) {
            globalTable(name);
            return null;
        }
        String topic = str(tc.get("topic"));
        String store = str(tc.getOrDefault("store", name));
        t = b.table(topic, Consumed.with(keySerde(topic), valueSerde(topic)),
                    Materialized.<Object, Object, KeyValueStore<Bytes, byte[]>>as(store));
        tableObjs.put(name, t);
        return t;
    }

    /* StreamsBuilder#globalTable, materialised as the table's store (its name unless `store:`). */
    GlobalKTable globalTable(String name) throws Unsupported {
        GlobalKTable g = globalObjs.get(name);
        if (g != null)
            return g;
        Map<String, Object> tc = map(tables.get(name));
        String topic = str(tc.get("topic"));
        String store = str(tc.getOrDefault("store", name));
        g = b.globalTable(topic, Consumed.with(keySerde(topic), valueSerde(topic)),
                          Materialized.<Object, Object, KeyValueStore<Bytes, byte[]>>as(store));
        globalObjs.put(name, g);
        Expr.GLOBAL_STORES.put(name, store);
        return g;
    }

    S pipeline(String name) throws Exception {
        S done = built.get(name);
        if (done != null)
            return done;
        if (!building.add(name))
            throw new Unsupported("pipelines make a cycle at " + name);
        Map<String, Object> p = map(pipelines.get(name));
        Object from = p.get("from");
        S s;
        if (from instanceof String && tables.containsKey(from)) {
            s = new S(table((String) from), Kind.TABLE);
        } else if (from instanceof String) {
            s = new S(stream(List.of((String) from)), Kind.STREAM);
        } else if (from instanceof List) {
            List<String> l = new ArrayList<>();
            for (Object o : (List<Object>) from)
                l.add(str(o));
            s = new S(stream(l), Kind.STREAM);
        } else if (from instanceof Map && map(from).containsKey("pipeline")) {
            S other = pipeline(str(map(from).get("pipeline")));
            s = new S(other.o, other.kind);
        } else if (from instanceof Map && map(from).containsKey("generate")) {
            /*
             * The records a generate source makes come from the wall clock and
             * kstreamd's own expressions; the trace has each as an input of the
             * source's pseudo-topic `generate:<pipeline>`, which Kafka Streams
             * reads like a topic, so what follows the generator is compared.
             */
            String topic = "generate:" + name;
            Object srcName = map(map(from).get("generate")).get("name");
            if (srcName == null) {
                s = new S(stream(List.of(topic)), Kind.STREAM);
            } else {
                s = new S(b.stream(topic, Consumed.with(keySerde(topic), valueSerde(topic)).withName(str(srcName))), Kind.STREAM);
                sources.put(topic, (KStream) s.o);
            }
        } else {
            throw new Unsupported("a `from` this harness cannot read: " + from);
        }
        List<Object> steps = p.get("steps") instanceof List ? (List<Object>) p.get("steps") : List.of();
        s = steps(name, s, steps);
        if (p.containsKey("to"))
            sink(s, p.get("to"), null);
        building.remove(name);
        built.put(name, s);
        return s;
    }

    S steps(String where, S s, List<Object> steps) throws Exception {
        for (Object st : steps) {
            String op;
            Object arg;
            if (st instanceof String) {
                op = (String) st;
                arg = null;
            } else {
                Map<String, Object> m = map(st);
                if (m.size() != 1)
                    throw new Unsupported("a step with more than one key: " + m.keySet());
                op = m.keySet().iterator().next();
                arg = m.get(op);
            }
            s = step(where, s, op, arg);
        }
        return s;
    }

    /** A step's named part: the mapping's entry, or the argument itself for the step's main part. */
    static Object part(Object arg, String name, String main) {
        if (arg instanceof Map)
            return ((Map<String, Object>) arg).get(name);
        return name.equals(main) ? arg : null;
    }

    static String name(Object arg) { return arg instanceof Map ? str(((Map) arg).get("name")) : null; }

    Expr expr(String op, Object arg, String part, String main) throws Exception {
        Object src = part(arg, part, main);
        if (src == null)
            throw new Unsupported("`" + op + "` without `" + part + "`");
        return new Expr(op, str(src));
    }

    static Named named(String n) { return Named.as(n); }

    S step(String where, S s, String op, Object arg) throws Exception {
        String nm = name(arg);
        switch (op) {
        case "filter":
        case "filterNot": {
            Expr e = expr(op, arg, "predicate", "predicate");
            Predicate pr = (k, v) -> e.test(KSerdes.toJson(v), k);
            if (s.kind == Kind.STREAM) {
                KStream x = (KStream) s.o;
                s.o = op.equals("filter") ? (nm == null ? x.filter(pr) : x.filter(pr, named(nm)))
                                          : (nm == null ? x.filterNot(pr) : x.filterNot(pr, named(nm)));
            } else if (s.kind == Kind.TABLE) {
                KTable x = (KTable) s.o;
                s.o = op.equals("filter") ? (nm == null ? x.filter(pr) : x.filter(pr, named(nm)))
                                          : (nm == null ? x.filterNot(pr) : x.filterNot(pr, named(nm)));
            } else {
                throw new Unsupported(op + " on " + s.kind);
            }
            return s;
        }
        case "mapValues": {
            Expr e = expr(op, arg, "mapper", "mapper");
            ValueMapperWithKey vm = (k, v) -> KSerdes.fromJson(e.one(KSerdes.toJson(v), k));
            if (s.kind == Kind.STREAM) {
                KStream x = (KStream) s.o;
                s.o = nm == null ? x.mapValues(vm) : x.mapValues(vm, named(nm));
            } else if (s.kind == Kind.TABLE) {
                KTable x = (KTable) s.o;
                s.o = nm == null ? x.mapValues(vm) : x.mapValues(vm, named(nm));
            } else {
                throw new Unsupported(op + " on " + s.kind);
            }
            return s;
        }
        case "map": {
            Expr e = expr(op, arg, "mapper", "mapper");
            KeyValueMapper m = (k, v) -> kv(e, e.one(KSerdes.toJson(v), k));
            KStream x = stream(s, op);
            s.o = nm == null ? x.map(m) : x.map(m, named(nm));
            return s;
        }
        case "flatMap": {
            Expr e = expr(op, arg, "mapper", "mapper");
            KeyValueMapper m = (k, v) -> {
                List<KeyValue> out = new ArrayList<>();
                for (JsonNode n : e.all(KSerdes.toJson(v), k))
                    out.add(kv(e, n));
                return out;
            };
            KStream x = stream(s, op);
            s.o = nm == null ? x.flatMap(m) : x.flatMap(m, named(nm));
            return s;
        }
        case "flatMapValues": {
            Expr e = expr(op, arg, "mapper", "mapper");
            ValueMapperWithKey m = (k, v) -> {
                List<Object> out = new ArrayList<>();
                for (JsonNode n : e.all(KSerdes.toJson(v), k))
                    out.add(KSerdes.fromJson(n));
                return out;
            };
            KStream x = stream(s, op);
            s.o = nm == null ? x.flatMapValues(m) : x.flatMapValues(m, named(nm));
            return s;
        }
        case "selectKey": {
            Expr e = expr(op, arg, "keySelector", "keySelector");
            KeyValueMapper m = (k, v) -> KSerdes.fromJson(e.one(KSerdes.toJson(v), k));
            KStream x = stream(s, op);
            s.o = nm == null ? x.selectKey(m) : x.selectKey(m, named(nm));
            return s;
        }
        case "peek": {
            Expr e = expr(op, arg, "action", "action");
            ForeachAction a = (k, v) -> e.all(KSerdes.toJson(v), k);
            KStream x = stream(s, op);
            s.o = nm == null ? x.peek(a) : x.peek(a, named(nm));
            return s;
        }
        case "print": {
            Object label = part(arg, "label", "label");
            Printed pr = Printed.toSysOut();
            if (label != null)
                pr = pr.withLabel(str(label));
            if (nm != null)
                pr = pr.withName(nm);
            stream(s, op).print(pr); /* the stream goes on from the step before, as kstreamd's print */
            return s;
        }
        case "split":
            split(where, s, arg);
            s.kind = Kind.SPLIT;
            return s;
        case "merge": {
            Object pn = part(arg, "pipeline", "pipeline");
            S other = pipeline(str(pn));
            KStream x = stream(s, op);
            KStream y = stream(other, op);
            s.o = nm == null ? x.merge(y) : x.merge(y, named(nm));
            return s;
        }
        case "repartition": {
            Repartitioned r = nm == null ? Repartitioned.with(null, null) : Repartitioned.as(nm);
            Object parts = part(arg, "partitions", null);
            if (parts != null)
                r = r.withNumberOfPartitions(Integer.parseInt(str(parts)));
            s.o = stream(s, op).repartition(r);
            return s;
        }
        case "to":
            sink(s, arg, nm);
            return s;
        case "toTable": {
            KStream x = stream(s, op);
            Object store = part(arg, "store", null);
            boolean log = !Boolean.FALSE.equals(part(arg, "changelog", null));
            if (store == null && nm == null) {
                s.o = x.toTable();
            } else if (store == null) {
                s.o = x.toTable(named(nm));
            } else {
                Materialized mat = materialized(str(store), log);
                s.o = nm == null ? x.toTable(mat) : x.toTable(named(nm), mat);
            }
            s.kind = Kind.TABLE;
            return s;
        }
        case "toStream": {
            if (s.kind != Kind.TABLE)
                throw new Unsupported("toStream on " + s.kind);
            KTable x = (KTable) s.o;
            s.o = nm == null ? x.toStream() : x.toStream(named(nm));
            s.kind = Kind.STREAM;
            return s;
        }
        case "groupByKey": {
            KStream x = stream(s, op);
            s.o = x.groupByKey(grouped(nm, inheritedKeySerde(x), inheritedValueSerde(x)));
            s.kind = Kind.GROUPED_STREAM;
            return s;
        }
        case "groupBy": {
            Expr e = expr(op, arg, "keySelector", "keySelector");
            if (s.kind == Kind.STREAM) {
                KeyValueMapper m = (k, v) -> KSerdes.fromJson(e.one(KSerdes.toJson(v), k));
                KStream x = (KStream) s.o;
                s.o = x.groupBy(m, grouped(nm, null, inheritedValueSerde(x)));
                s.kind = Kind.GROUPED_STREAM;
            } else if (s.kind == Kind.TABLE) {
                KeyValueMapper m = (k, v) -> KeyValue.pair(KSerdes.fromJson(e.one(KSerdes.toJson(v), k)), v);
                KTable x = (KTable) s.o;
                s.o = x.groupBy(m, grouped(nm, null, null));
                s.kind = Kind.GROUPED_TABLE;
            } else {
                throw new Unsupported("groupBy on " + s.kind);
            }
            return s;
        }
        case "windowedBy":
            return windowedBy(s, arg);
        case "count":
        case "reduce":
        case "aggregate":
            return aggregation(s, op, arg, nm);
        case "suppress":
            return suppress(s, arg, nm);
        case "join":
        case "leftJoin":
        case "outerJoin": {
            Object tn = part(arg, "table", null), gn = part(arg, "globalTable", null);
            if (gn != null && !op.equals("outerJoin") && s.kind == Kind.STREAM)
                return globalTableJoin(s, op, arg, nm, str(gn));
            if (tn != null && !op.equals("outerJoin") && s.kind == Kind.TABLE && part(arg, "foreignKey", null) != null)
                return foreignKeyJoin(s, op, arg, nm, str(tn));
            if (tn != null && s.kind == Kind.TABLE && part(arg, "foreignKey", null) == null)
                return tableTableJoin(s, op, arg, nm, str(tn));
            Object sn = part(arg, "stream", null);
            if (sn != null && s.kind == Kind.STREAM)
                return streamStreamJoin(s, op, arg, nm, str(sn));
            if (tn == null || op.equals("outerJoin") || s.kind != Kind.STREAM || part(arg, "foreignKey", null) != null)
                throw new Unsupported("foreign-key joins are not run by kstreamd yet");
            return streamTableJoin(s, op, arg, nm, str(tn));
        }
        default:
            throw new Unsupported("step `" + op + "`");
        }
    }

    /*
     * KStream#join / #leftJoin with a KTable: the joiner is the step's
     * `value:` (kstreamd's default `$left + $right` without one) with `.`
     * and $left the stream's value, $right the table's; `name:` is
     * Joined.as, which also names the repartition topic of a re-keyed
     * stream, as kstreamd does.
     */
    S streamTableJoin(S s, String op, Object arg, String nm, String table) throws Exception {
        Object v = part(arg, "value", null);
        Expr e = new Expr(op, v == null ? "$left + $right" : str(v));
        ValueJoinerWithKey j = (k, l, r) -> KSerdes.fromJson(e.one(KSerdes.toJson(l), k, "left", l, "right", r));
        Joined jd = nm == null ? Joined.with(null, null, null) : Joined.as(nm);
        KStream x = stream(s, op);
        KTable t = table(table);
        s.o = op.equals("join") ? x.join(t, j, jd) : x.leftJoin(t, j, jd);
        return s;
    }

    /*
     * KTable#join / #leftJoin / #outerJoin with a KTable: the joiner as
     * above, without the key (a ValueJoiner: kstreamd binds $key, Kafka
     * Streams has none to give); `name:` is Named.as, `store:` a
     * Materialized.as (`changelog: false` disables its logging).
     */
    S tableTableJoin(S s, String op, Object arg, String nm, String table) throws Exception {
        Object v = part(arg, "value", null), store = part(arg, "store", null);
        Expr e = new Expr(op, v == null ? "$left + $right" : str(v));
        ValueJoiner j = (l, r) -> KSerdes.fromJson(e.one(KSerdes.toJson(l), null, "left", l, "right", r));
        KTable x = (KTable) s.o, t = table(table);
        Named n = nm == null ? null : named(nm);
        Materialized m = store == null ? null : materialized(str(store), !"false".equals(String.valueOf(part(arg, "changelog", "true"))));
        if (op.equals("join"))
            s.o = n == null ? (m == null ? x.join(t, j) : x.join(t, j, m)) : (m == null ? x.join(t, j, n) : x.join(t, j, n, m));
        else if (op.equals("leftJoin"))
            s.o = n == null ? (m == null ? x.leftJoin(t, j) : x.leftJoin(t, j, m))
                            : (m == null ? x.leftJoin(t, j, n) : x.leftJoin(t, j, n, m));
        else
            s.o = n == null ? (m == null ? x.outerJoin(t, j) : x.outerJoin(t, j, m))
                            : (m == null ? x.outerJoin(t, j, n) : x.outerJoin(t, j, n, m));
        return s;
    }

    /*
     * KStream#join / #leftJoin / #outerJoin with another pipeline's stream:
     * JoinWindows.ofTimeDifferenceAndGrace(window, grace), or
     * ofTimeDifferenceWithNoGrace(window) without `grace:`, then #before and
     * #after for `before:` and `after:`; the joiner as above, `.` and $left
     * the left value (null for an unmatched right record of an outer
     * join); `name:` names the nodes and the stores, as
     * StreamJoined.as(name).withName(name) does; without it the stores'
     * serdes are the defaults (StreamJoined.with(null, null, null)).
     */
    S streamStreamJoin(S s, String op, Object arg, String nm, String other) throws Exception {
        Object v = part(arg, "value", null);
        Expr e = new Expr(op, v == null ? "$left + $right" : str(v));
        ValueJoinerWithKey j = (k, l, r) -> KSerdes.fromJson(e.one(KSerdes.toJson(l), k, "left", l, "right", r));
        Duration w = Duration.ofMillis(duration(part(arg, "window", null)));
        Object g = part(arg, "grace", null), b = part(arg, "before", null), a = part(arg, "after", null);
        JoinWindows jw = g == null ? JoinWindows.ofTimeDifferenceWithNoGrace(w)
                                   : JoinWindows.ofTimeDifferenceAndGrace(w, Duration.ofMillis(duration(g)));
        if (b != null)
            jw = jw.before(Duration.ofMillis(duration(b)));
        if (a != null)
            jw = jw.after(Duration.ofMillis(duration(a)));
        StreamJoined sj = nm == null ? StreamJoined.with(null, null, null) : StreamJoined.as(nm).withName(nm);
        KStream x = stream(s, op);
        KStream y = stream(pipeline(other), op);
        s.o = op.equals("join") ? x.join(y, j, jw, sj) : op.equals("leftJoin") ? x.leftJoin(y, j, jw, sj)
                                                                                : x.outerJoin(y, j, jw, sj);
        return s;
    }

    /*
     * KStream#join / #leftJoin with a GlobalKTable: `key:` is the
     * KeyValueMapper (`.` the value, $key the key), the joiner as above;
     * `name:` is Named.as.
     */
    S globalTableJoin(S s, String op, Object arg, String nm, String table) throws Exception {
        Object v = part(arg, "value", null);
        Expr e = new Expr(op, v == null ? "$left + $right" : str(v));
        Expr ke = new Expr(op, str(part(arg, "key", null)));
        ValueJoinerWithKey j = (k, l, r) -> KSerdes.fromJson(e.one(KSerdes.toJson(l), k, "left", l, "right", r));
        KeyValueMapper m = (k, val) -> KSerdes.fromJson(ke.one(KSerdes.toJson(val), k));
        KStream x = stream(s, op);
        GlobalKTable g = globalTable(table);
        if (op.equals("join"))
            s.o = nm == null ? x.join(g, m, j) : x.join(g, m, j, named(nm));
        else
            s.o = nm == null ? x.leftJoin(g, m, j) : x.leftJoin(g, m, j, named(nm));
        return s;
    }

    /*
     * KTable#join / #leftJoin with a foreign-key extractor: `foreignKey:`
     * is the BiFunction extractor (`.` the left value, $key its key), the
     * joiner a ValueJoiner (`.` and $left the left value, $right the right
     * one; it has no key, so $key is null in it); `name:` is
     * TableJoined.as, `store:` Materialized.as.
     */
    S foreignKeyJoin(S s, String op, Object arg, String nm, String table) throws Exception {
        Object v = part(arg, "value", null);
        Expr e = new Expr(op, v == null ? "$left + $right" : str(v));
        Expr fe = new Expr(op, str(part(arg, "foreignKey", null)));
        ValueJoiner j = (l, r) -> KSerdes.fromJson(e.one(KSerdes.toJson(l), null, "left", l, "right", r));
        java.util.function.BiFunction fk = (k, val) -> KSerdes.fromJson(fe.one(KSerdes.toJson(val), k));
        TableJoined tj = nm == null ? TableJoined.with(null, null) : TableJoined.as(nm);
        Object store = part(arg, "store", null);
        KTable x = (KTable) s.o;
        KTable t = table(table);
        if (store == null)
            s.o = op.equals("join") ? x.join(t, fk, j, tj) : x.leftJoin(t, fk, j, tj);
        else
            s.o = op.equals("join") ? x.join(t, fk, j, tj, materialized(str(store), true))
                                    : x.leftJoin(t, fk, j, tj, materialized(str(store), true));
        return s;
    }

    /*
     * Grouped with the serdes groupByKey() / groupBy() would carry (the
     * stream's, where Kafka Streams knows them), and a key serde always: a
     * windowed aggregation below wraps the grouped key serde, and without
     * one its suppress and sinks would apply the default serde to Windowed
     * keys. A user's program gives Grouped.with(serde, ...); the serde is
     * the one the default would be, and names are not affected.
     */
    Grouped grouped(String nm, Serde key, Serde value) {
        Grouped g = nm == null ? Grouped.with(null, null) : Grouped.as(nm);
        return g.withKeySerde(key != null ? key : KSerdes.byName(defKey)).withValueSerde(value);
    }

    static KeyValue kv(Expr e, JsonNode n) {
        if (!n.isObject() || !n.has("key") || !n.has("value"))
            throw new Expr.Failure("`" + e.step + "` must yield objects {key, value}, got " + JqJson.write(n));
        return KeyValue.pair(KSerdes.fromJson(n.get("key")), KSerdes.fromJson(n.get("value")));
    }

    static KStream stream(S s, String op) throws Unsupported {
        if (s.kind != Kind.STREAM)
            throw new Unsupported(op + " on " + s.kind);
        return (KStream) s.o;
    }

    static Materialized materialized(String store, boolean log) {
        Materialized m = store == null ? Materialized.with(null, null) : Materialized.as(store);
        return log ? m : m.withLoggingDisabled();
    }

    void sink(S s, Object to, String nm) throws Exception {
        KStream x = stream(s, "to");
        if (nm == null)
            nm = name(to);
        Object topic = part(to, "topic", "topic");
        Object dyn = part(to, "dynamic", null);
        if (dyn != null) {
            Expr e = new Expr("to", str(dyn));
            TopicNameExtractor ex = (k, v, ctx) -> {
                JsonNode t = e.one(KSerdes.toJson(v), k);
                if (!t.isTextual() || t.textValue().isEmpty())
                    throw new Expr.Failure("the topic expression must yield a non-empty string, not " + JqJson.write(t));
                return t.textValue();
            };
            /* One serde pair for every topic, as Produced has: the defaults (a topic with others would differ). */
            Produced pr = Produced.with(KSerdes.byName(defKey), KSerdes.byName(defValue));
            x.to(ex, nm == null ? pr : pr.withName(nm));
            return;
        }
        String t = str(topic);
        Produced pr = Produced.with(keySerde(t), valueSerde(t));
        if (nm != null)
            pr = pr.withName(nm);
        x.to(t, pr);
    }

    void split(String where, S s, Object arg) throws Exception {
        KStream x = stream(s, "split");
        Map<String, Object> branches = new LinkedHashMap<>(map(arg));
        String nm = str(branches.remove("name"));
        BranchedKStream bs = nm == null ? x.split() : x.split(named(nm));
        for (Map.Entry<String, Object> br : branches.entrySet()) {
            Map<String, Object> bm = map(br.getValue());
            String bname = br.getKey();
            List<Object> bsteps = bm.get("steps") instanceof List ? (List<Object>) bm.get("steps") : List.of();
            Object bto = bm.get("to");
            Exception[] fail = {null};
            java.util.function.Consumer<KStream> chain = ks -> {
                try {
                    S bs2 = steps(where + "." + bname, new S(ks, Kind.STREAM), bsteps);
                    if (bto != null)
                        sink(bs2, bto, null);
                } catch (Exception e) {
                    fail[0] = e;
                }
            };
            if (bname.equals("default")) {
                bs.defaultBranch(Branched.withConsumer(chain, bname));
            } else {
                Expr e = new Expr("split", str(bm.get("when")));
                bs.branch((k, v) -> e.test(KSerdes.toJson(v), k), Branched.withConsumer(chain, bname));
            }
            if (fail[0] != null)
                throw fail[0];
        }
        if (!branches.containsKey("default"))
            bs.noDefaultBranch();
    }

    S windowedBy(S s, Object arg) throws Exception {
        if (s.kind != Kind.GROUPED_STREAM)
            throw new Unsupported("windowedBy on " + s.kind);
        KGroupedStream g = (KGroupedStream) s.o;
        Object grace = part(arg, "grace", null);
        Duration gr = grace == null ? null : Duration.ofMillis(duration(grace));
        Object tumbling = part(arg, "tumbling", null), hopping = part(arg, "hopping", null);
        Object sliding = part(arg, "sliding", null), session = part(arg, "session", null);
        if (tumbling != null || hopping != null) {
            Duration size = Duration.ofMillis(duration(tumbling != null ? tumbling : hopping));
            TimeWindows w = gr == null ? TimeWindows.ofSizeWithNoGrace(size) : TimeWindows.ofSizeAndGrace(size, gr);
            if (hopping != null)
                w = w.advanceBy(Duration.ofMillis(duration(part(arg, "advance", null))));
            s.o = g.windowedBy(w);
            s.kind = Kind.TIME_WINDOWED;
            timeWindows = w;
        } else if (sliding != null) {
            timeWindows = null;
            Duration d = Duration.ofMillis(duration(sliding));
            s.o = g.windowedBy(gr == null ? SlidingWindows.ofTimeDifferenceWithNoGrace(d)
                                          : SlidingWindows.ofTimeDifferenceAndGrace(d, gr));
            s.kind = Kind.TIME_WINDOWED;
        } else if (session != null) {
            Duration d = Duration.ofMillis(duration(session));
            s.o = g.windowedBy(gr == null ? SessionWindows.ofInactivityGapWithNoGrace(d)
                                          : SessionWindows.ofInactivityGapAndGrace(d, gr));
            s.kind = Kind.SESSION_WINDOWED;
        } else {
            throw new Unsupported("windowedBy without a window kind");
        }
        return s;
    }

    S aggregation(S s, String op, Object arg, String nm) throws Exception {
        Object storeO = part(arg, "store", null);
        String store = storeO == null ? null : str(storeO);
        boolean log = !Boolean.FALSE.equals(part(arg, "changelog", null));
        Materialized mat = materialized(store, log);
        Named n = nm == null ? null : named(nm);
        boolean usesWindow = arg instanceof Map && ((Map<String, Object>) arg).values().stream()
            .anyMatch(v -> v instanceof String && ((String) v).contains("$window"));
        switch (s.kind) {
        case GROUPED_STREAM: {
            KGroupedStream g = (KGroupedStream) s.o;
            if (op.equals("count")) {
                s.o = store == null && log ? (n == null ? g.count() : g.count(n)) : n == null ? g.count(mat) : g.count(n, mat);
            } else if (op.equals("reduce")) {
                Expr r = expr(op, arg, "reducer", "reducer");
                Reducer red = (agg, v) -> KSerdes.fromJson(r.one(KSerdes.toJson(v), key(), "agg", agg));
                s.o = n == null ? g.reduce(red, mat) : g.reduce(red, n, mat);
            } else {
                Expr i = expr(op, arg, "initializer", null), a = expr(op, arg, "aggregator", null);
                Initializer init = () -> KSerdes.fromJson(i.one(KSerdes.F.nullNode(), key()));
                Aggregator ag = (k, v, agg) -> KSerdes.fromJson(a.one(KSerdes.toJson(v), k, "agg", agg));
                s.o = n == null ? g.aggregate(init, ag, mat) : g.aggregate(init, ag, n, mat);
            }
            s.kind = Kind.TABLE;
            return s;
        }
        case GROUPED_TABLE: {
            KGroupedTable g = (KGroupedTable) s.o;
            if (op.equals("count")) {
                s.o = n == null ? g.count(mat) : g.count(n, mat);
            } else if (op.equals("reduce")) {
                Expr ad = expr(op, arg, "adder", null), sb = expr(op, arg, "subtractor", null);
                Reducer add = (agg, v) -> KSerdes.fromJson(ad.one(KSerdes.toJson(v), key(), "agg", agg));
                Reducer sub = (agg, v) -> KSerdes.fromJson(sb.one(KSerdes.toJson(v), key(), "agg", agg));
                s.o = n == null ? g.reduce(add, sub, mat) : g.reduce(add, sub, n, mat);
            } else {
                Expr i = expr(op, arg, "initializer", null), ad = expr(op, arg, "adder", null);
                Expr sb = expr(op, arg, "subtractor", null);
                Initializer init = () -> KSerdes.fromJson(i.one(KSerdes.F.nullNode(), key()));
                Aggregator add = (k, v, agg) -> KSerdes.fromJson(ad.one(KSerdes.toJson(v), k, "agg", agg));
                Aggregator sub = (k, v, agg) -> KSerdes.fromJson(sb.one(KSerdes.toJson(v), k, "agg", agg));
                s.o = n == null ? g.aggregate(init, add, sub, mat) : g.aggregate(init, add, sub, n, mat);
            }
            s.kind = Kind.TABLE;
            return s;
        }
        case TIME_WINDOWED: {
            TimeWindowedKStream g = (TimeWindowedKStream) s.o;
            if (usesWindow && (timeWindows == null || !op.equals("aggregate")
                               || String.valueOf(part(arg, "initializer", null)).contains("$window")))
                throw new Unsupported("$window in a sliding window's aggregation or an initializer: Kafka Streams' Aggregator is not told the window");
            Materialized wm = windowMat(store, log);

            if (op.equals("count")) {
                s.o = store == null && log ? (n == null ? g.count() : g.count(n)) : n == null ? g.count(wm) : g.count(n, wm);
            } else if (op.equals("reduce")) {
                Expr r = expr(op, arg, "reducer", "reducer");
                Reducer red = (agg, v) -> KSerdes.fromJson(r.one(KSerdes.toJson(v), key(), "agg", agg));
                s.o = n == null ? g.reduce(red, wm) : g.reduce(red, n, wm);
            } else {
                Expr i = expr(op, arg, "initializer", null), a = expr(op, arg, "aggregator", null);
                Initializer init = () -> KSerdes.fromJson(i.one(KSerdes.F.nullNode(), key()));
                WindowOf wo = new WindowOf(timeWindows);
                Aggregator ag = (k, v, agg) -> KSerdes.fromJson(a.one(KSerdes.toJson(v), k, "agg", agg, "window", wo.next()));
                s.o = n == null ? g.aggregate(init, ag, wm) : g.aggregate(init, ag, n, wm);
            }
            s.kind = Kind.TABLE;
            return s;
        }
        case SESSION_WINDOWED: {
            if (usesWindow)
                throw new Unsupported("$window in a session aggregation: Kafka Streams' Aggregator is not told the session");
            SessionWindowedKStream g = (SessionWindowedKStream) s.o;
            Materialized sm = sessionMat(store, log);

            if (op.equals("count")) {
                s.o = store == null && log ? (n == null ? g.count() : g.count(n)) : n == null ? g.count(sm) : g.count(n, sm);
            } else if (op.equals("reduce")) {
                Expr r = expr(op, arg, "reducer", "reducer");
                Reducer red = (agg, v) -> KSerdes.fromJson(r.one(KSerdes.toJson(v), key(), "agg", agg));
                s.o = n == null ? g.reduce(red, sm) : g.reduce(red, n, sm);
            } else {
                Expr i = expr(op, arg, "initializer", null), a = expr(op, arg, "aggregator", null);
                Expr m = expr(op, arg, "merger", null);
                Initializer init = () -> KSerdes.fromJson(i.one(KSerdes.F.nullNode(), key()));
                Aggregator ag = (k, v, agg) -> KSerdes.fromJson(a.one(KSerdes.toJson(v), k, "agg", agg));
                Merger mg = (k, a1, a2) -> KSerdes.fromJson(m.one(KSerdes.toJson(a2), k, "agg", a1));
                s.o = n == null ? g.aggregate(init, ag, mg, sm) : g.aggregate(init, ag, mg, n, sm);
            }
            s.kind = Kind.TABLE;
            return s;
        }
        default:
            throw new Unsupported(op + " on " + s.kind);
        }
    }

    static Serde inheritedValueSerde(Object stream) {
        return stream instanceof org.apache.kafka.streams.kstream.internals.AbstractStream
            ? ((org.apache.kafka.streams.kstream.internals.AbstractStream) stream).valueSerde() : null;
    }

    /** The key serde Kafka Streams carries on a stream (null: unknown, the default serde applies). */
    static Serde inheritedKeySerde(Object stream) {
        return stream instanceof org.apache.kafka.streams.kstream.internals.AbstractStream
            ? ((org.apache.kafka.streams.kstream.internals.AbstractStream) stream).keySerde() : null;
    }

    /**
     * $window for a tumbling or hopping window's aggregator. Kafka Streams'
     * KStreamWindowAggregate calls the aggregator once per window of the
     * record that is not closed (end > stream time - grace), in the order of
     * TimeWindows#windowsFor, with its own stream time per processor: the
     * n-th call for a record is the n-th such window. Each case builds its
     * topology anew, and with it these.
     */
    static final List<WindowOf> WINDOWS = new ArrayList<>();

    static final class WindowOf {
        final TimeWindows w;
        long observed = Long.MIN_VALUE;
        Expr.Ctx last;
        List<long[]> open = new ArrayList<>();
        int next;

        WindowOf(TimeWindows w) {
            this.w = w;
            WINDOWS.add(this);
        }

        JsonNode next() {
            Expr.Ctx c = Expr.CURRENT.get();
            if (c != last) {
                last = c;
                long ts = c.record.timestamp();
                observed = Math.max(observed, ts);
                long close = observed - w.gracePeriodMs();
                open.clear();
                next = 0;
                for (Map.Entry<Long, org.apache.kafka.streams.kstream.internals.TimeWindow> e : w.windowsFor(ts).entrySet())
                    if (e.getValue().end() > close)
                        open.add(new long[] {e.getValue().start(), e.getValue().end()});
            }
            long[] se = open.get(Math.min(next++, open.size() - 1));
            com.fasterxml.jackson.databind.node.ObjectNode o = KSerdes.F.objectNode();
            o.put("start", se[0]);
            o.put("end", se[1]);
            return o;
        }
    }

    /** The key of the record being aggregated (reducers and initializers are not given it). */
    static Object key() {
        Expr.Ctx c = Expr.CURRENT.get();
        return c == null ? null : c.record.key();
    }

    static Materialized windowMat(String store, boolean log) {
        Materialized m = store == null ? Materialized.with(null, null)
                                       : Materialized.<Object, Object, WindowStore<Bytes, byte[]>>as(store);
        return log ? m : m.withLoggingDisabled();
    }

    static Materialized sessionMat(String store, boolean log) {
        Materialized m = store == null ? Materialized.with(null, null)
                                       : Materialized.<Object, Object, SessionStore<Bytes, byte[]>>as(store);
        return log ? m : m.withLoggingDisabled();
    }

    S suppress(S s, Object arg, String nm) throws Exception {
        if (s.kind != Kind.TABLE)
            throw new Unsupported("suppress on " + s.kind);
        Suppressed sup;
        boolean closes = "untilWindowCloses".equals(arg) || Boolean.TRUE.equals(part(arg, "untilWindowCloses", null));
        if (closes) {
            sup = Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded());
        } else {
            Object lim = part(arg, "untilTimeLimit", null);
            if (lim == null)
                throw new Unsupported("suppress without untilWindowCloses or untilTimeLimit");
            Object max = part(arg, "maxRecords", null);
            Suppressed.BufferConfig bc = max == null ? Suppressed.BufferConfig.unbounded()
                                                     : Suppressed.BufferConfig.maxRecords(Long.parseLong(str(max)));
            sup = Suppressed.untilTimeLimit(Duration.ofMillis(duration(lim)), bc);
        }
        if (nm != null)
            sup = sup.withName(nm);
        s.o = ((KTable) s.o).suppress(sup);
        return s;
    }
}
