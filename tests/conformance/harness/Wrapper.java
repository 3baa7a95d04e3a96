// Kafka Streams' processor wrapper (KIP-1112), set as processor.wrapper.class:
// it wraps every DSL processor so that the record it processes, and its
// context, are known to the expressions its mappers and predicates run
// (Expr.CURRENT), without adding a node to the topology. The DSL's
// ValueMapper and Predicate see no timestamp, topic or headers; kstreamd's
// expressions do.
import java.util.Set;
import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorSupplier;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.ProcessorSupplier;
import org.apache.kafka.streams.processor.api.ProcessorWrapper;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.WrappedFixedKeyProcessorSupplier;
import org.apache.kafka.streams.processor.api.WrappedProcessorSupplier;
import org.apache.kafka.streams.state.StoreBuilder;

public class Wrapper implements ProcessorWrapper {
    @Override
    public <KIn, VIn, KOut, VOut> WrappedProcessorSupplier<KIn, VIn, KOut, VOut> wrapProcessorSupplier(
            String name, ProcessorSupplier<KIn, VIn, KOut, VOut> inner) {
        return new WrappedProcessorSupplier<KIn, VIn, KOut, VOut>() {
            @Override public Set<StoreBuilder<?>> stores() { return inner.stores(); }

            @Override public Processor<KIn, VIn, KOut, VOut> get() {
                Processor<KIn, VIn, KOut, VOut> p = inner.get();
                return new Processor<KIn, VIn, KOut, VOut>() {
                    ProcessorContext<KOut, VOut> ctx;

                    @Override public void init(ProcessorContext<KOut, VOut> context) {
                        ctx = context;
                        p.init(context);
                    }

                    @Override public void process(Record<KIn, VIn> r) {
                        Expr.Ctx outer = Expr.CURRENT.get();
                        Expr.CURRENT.set(new Expr.Ctx(r, ctx, outer));
                        try {
                            p.process(r);
                        } finally {
                            Expr.CURRENT.set(outer);
                        }
                    }

                    @Override public void close() { p.close(); }
                };
            }
        };
    }

    @Override
    public <KIn, VIn, VOut> WrappedFixedKeyProcessorSupplier<KIn, VIn, VOut> wrapFixedKeyProcessorSupplier(
            String name, FixedKeyProcessorSupplier<KIn, VIn, VOut> inner) {
        return new WrappedFixedKeyProcessorSupplier<KIn, VIn, VOut>() {
            @Override public Set<StoreBuilder<?>> stores() { return inner.stores(); }

            @Override public FixedKeyProcessor<KIn, VIn, VOut> get() {
                FixedKeyProcessor<KIn, VIn, VOut> p = inner.get();
                return new FixedKeyProcessor<KIn, VIn, VOut>() {
                    FixedKeyProcessorContext<KIn, VOut> ctx;

                    @Override public void init(FixedKeyProcessorContext<KIn, VOut> context) {
                        ctx = context;
                        p.init(context);
                    }

                    @Override public void process(FixedKeyRecord<KIn, VIn> r) {
                        Expr.Ctx outer = Expr.CURRENT.get();
                        Record<KIn, VIn> plain = new Record<>(r.key(), r.value(), r.timestamp(), r.headers());
                        Expr.CURRENT.set(new Expr.Ctx(plain, ctx, outer));
                        try {
                            p.process(r);
                        } finally {
                            Expr.CURRENT.set(outer);
                        }
                    }

                    @Override public void close() { p.close(); }
                };
            }
        };
    }
}
