package bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;

/**
 * topologies/crm_customer.yaml in Kafka Streams: raw CRM customers (crm-customer-raw-v1) filtered, mapped
 * to the domain shape, one record per address and per contact, re-keyed by customer id, to
 * crm-customer-v1. Each jq expression of the file is written out below it in Java.
 */
public final class CrmCustomerService {
    private CrmCustomerService() { }

    static final Pattern EMAIL = Pattern.compile("^[^@ ]+@[^@ ]+\\.[^@ ]+$");

    /** .crmId != null and .status != "DELETED" and ((.email // "") | test("^[^@ ]+@[^@ ]+\\.[^@ ]+$")) */
    static boolean valid(JsonNode v) {
        if (Twin.isNull(Twin.get(v, "crmId")))
            return false;
        JsonNode status = Twin.get(v, "status");
        if (status.isTextual() && status.textValue().equals("DELETED"))
            return false;
        JsonNode email = Twin.get(v, "email");
        if (!Twin.truthy(email))
            email = Twin.F.textNode("");
        if (!email.isTextual())
            throw new IllegalArgumentException(email.getNodeType() + " cannot be matched, as it is not a string");
        return EMAIL.matcher(email.textValue()).find();
    }

    static ArrayNode orEmpty(JsonNode n) {
        if (!Twin.truthy(n))
            return Twin.F.arrayNode();
        if (!n.isArray())
            throw new IllegalArgumentException("cannot iterate over " + n.getNodeType());
        return (ArrayNode) n;
    }

    /**
     * {key: .crmId, value: {customerId: (.customerNumber | tostring),
     *  name: ([.firstName, .lastName] | map(select(. != null and . != "")) | join(" ")),
     *  email: (.email | ascii_downcase), segment: (if .vip == true then "vip" else "standard" end),
     *  addresses: [(.addresses // [])[] | {type: (.type | ascii_downcase), street, zip, city, country}],
     *  contacts: [(.contacts // [])[] | {type: (.type | ascii_downcase), value}], updatedAt}}
     */
    static KeyValue<String, JsonNode> toDomain(String key, JsonNode v) {
        ObjectNode o = Twin.F.objectNode();
        o.put("customerId", Twin.tostring(Twin.get(v, "customerNumber")));
        StringBuilder name = new StringBuilder();
        for (String f : new String[] {"firstName", "lastName"}) {
            JsonNode part = Twin.get(v, f);
            if (Twin.isNull(part) || (part.isTextual() && part.textValue().isEmpty()))
                continue;
            if (name.length() > 0)
                name.append(' ');
            name.append(Twin.tostring(part));
        }
        o.put("name", name.toString());
        o.put("email", Twin.asciiDowncase(Twin.get(v, "email")));
        JsonNode vip = Twin.get(v, "vip");
        o.put("segment", vip.isBoolean() && vip.booleanValue() ? "vip" : "standard");
        ArrayNode addresses = o.putArray("addresses");
        for (JsonNode a : orEmpty(Twin.get(v, "addresses"))) {
            ObjectNode x = addresses.addObject();
            x.put("type", Twin.asciiDowncase(Twin.get(a, "type")));
            for (String f : new String[] {"street", "zip", "city", "country"})
                x.set(f, Twin.get(a, f));
        }
        ArrayNode contacts = o.putArray("contacts");
        for (JsonNode c : orEmpty(Twin.get(v, "contacts"))) {
            ObjectNode x = contacts.addObject();
            x.put("type", Twin.asciiDowncase(Twin.get(c, "type")));
            x.set("value", Twin.get(c, "value"));
        }
        o.set("updatedAt", Twin.get(v, "updatedAt"));
        JsonNode k = Twin.get(v, "crmId");
        if (!k.isTextual())
            throw new IllegalArgumentException("the string key serde cannot hold " + k.getNodeType());
        return KeyValue.pair(k.textValue(), o);
    }

    /**
     * del(.addresses, .contacts) as $c
     * | (.addresses[] | {key: $key, value: ($c + {kind: "address", address: .})}),
     *   (.contacts[] | {key: $key, value: ($c + {kind: "contact", contact: .})})
     */
    static List<KeyValue<String, JsonNode>> perAddressAndContact(String key, JsonNode v) {
        ObjectNode c = ((ObjectNode) v).deepCopy();
        c.remove("addresses");
        c.remove("contacts");
        List<KeyValue<String, JsonNode>> out = new ArrayList<>();
        for (JsonNode a : v.get("addresses")) {
            ObjectNode x = c.deepCopy();
            x.put("kind", "address");
            x.set("address", a);
            out.add(KeyValue.pair(key, x));
        }
        for (JsonNode ct : v.get("contacts")) {
            ObjectNode x = c.deepCopy();
            x.put("kind", "contact");
            x.set("contact", ct);
            out.add(KeyValue.pair(key, x));
        }
        return out;
    }

    /** .customerId, as a string key */
    static String customerId(String key, JsonNode v) {
        JsonNode id = Twin.get(v, "customerId");
        if (!id.isTextual())
            throw new IllegalArgumentException("the string key serde cannot hold " + id.getNodeType());
        return id.textValue();
    }

    static StreamsBuilder build(Twin t) {
        StreamsBuilder b = new StreamsBuilder();
        b.stream(t.topic("crm-customer-raw-v1"), Consumed.with(Serdes.String(), Twin.JSON))
            .filter((k, v) -> v != null && valid(v), Named.as("valid-customers"))
            .map(CrmCustomerService::toDomain, Named.as("crm-to-domain"))
            .flatMap(CrmCustomerService::perAddressAndContact, Named.as("per-address-and-contact"))
            .selectKey(CrmCustomerService::customerId, Named.as("by-customer-id"))
            .to(t.topic("crm-customer-v1"), Produced.with(Serdes.String(), Twin.JSON));
        return b;
    }

    public static void main(String[] args) throws InterruptedException {
        Twin.run("CrmCustomerService", args, CrmCustomerService::build);
    }
}
