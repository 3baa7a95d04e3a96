package bench;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Produced;

/**
 * The passthrough: every record of `in` to `out` as it is (kstreamd's `from: in` / `to: out` with no
 * steps), with the topic's serdes, string keys and JSON values, as a Kafka Streams program declares
 * them. kstreamd checks that each value is JSON (a scan, no tree) and writes its bytes; Jackson reads
 * each value into a tree and writes it again: the cost of a JSON serde in Kafka Streams.
 */
public final class Passthrough {
    private Passthrough() { }

    public static void main(String[] args) throws InterruptedException {
        Twin.run("Passthrough", args, t -> {
            StreamsBuilder b = new StreamsBuilder();
            b.stream(t.topic("in"), Consumed.with(Serdes.String(), Twin.JSON))
                .to(t.topic("out"), Produced.with(Serdes.String(), Twin.JSON));
            return b;
        });
    }
}
