// JSON text as kstreamd writes it (src/json/json_write.c, itself jq 1.6's
// `jq -c` output): compact, numbers as jq prints doubles, strings escaped as
// jq escapes them. The json serde uses it, so that the bytes of repartition
// and changelog topics can be compared with kstreamd's byte for byte.
import com.fasterxml.jackson.databind.JsonNode;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;

public final class JqJson {
    private JqJson() { }

    static String write(JsonNode n) {
        StringBuilder b = new StringBuilder();
        write(b, n);
        return b.toString();
    }

    static void write(StringBuilder b, JsonNode n) {
        switch (n.getNodeType()) {
        case NULL: case MISSING: b.append("null"); return;
        case BOOLEAN: b.append(n.booleanValue() ? "true" : "false"); return;
        case NUMBER:
            /* An integer read from a long serde keeps all its digits, as kstreamd's exact integers do. */
            if (n.isIntegralNumber() && n.canConvertToLong() && Math.abs(n.longValue()) >= (1L << 53))
                b.append(n.longValue());
            else
                num(b, n.isIntegralNumber() && n.canConvertToLong() ? (double) n.longValue() : n.asDouble());
            return;
        case STRING: str(b, n.textValue()); return;
        case ARRAY: {
            b.append('[');
            for (int i = 0; i < n.size(); i++) {
                if (i > 0)
                    b.append(',');
                write(b, n.get(i));
            }
            b.append(']');
            return;
        }
        case OBJECT: {
            b.append('{');
            boolean first = true;
            for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext();) {
                Map.Entry<String, JsonNode> e = it.next();
                if (!first)
                    b.append(',');
                first = false;
                str(b, e.getKey());
                b.append(':');
                write(b, e.getValue());
            }
            b.append('}');
            return;
        }
        default: throw new IllegalStateException("no JSON text for " + n.getNodeType());
        }
    }

    static void str(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
            case '"': b.append("\\\""); break;
            case '\\': b.append("\\\\"); break;
            case '\n': b.append("\\n"); break;
            case '\t': b.append("\\t"); break;
            case '\r': b.append("\\r"); break;
            case '\b': b.append("\\b"); break;
            case '\f': b.append("\\f"); break;
            default:
                if (c < 0x20 || c == 0x7f)
                    b.append(String.format("\\u%04x", (int) c));
                else
                    b.append(c);
            }
        }
        b.append('"');
    }

    static void num(StringBuilder b, double d) {
        if (Double.isNaN(d)) {
            b.append("null");
            return;
        }
        if (d > Double.MAX_VALUE)
            d = Double.MAX_VALUE;
        if (d < -Double.MAX_VALUE)
            d = -Double.MAX_VALUE;
        if (d == 0) {
            b.append(1 / d < 0 ? "-0" : "0");
            return;
        }
        if (Math.abs(d) < 1e16 && d == (double) (long) d) {
            b.append((long) d);
            return;
        }
        String tmp = null;
        for (int prec = 15; prec <= 17; prec++) {
            tmp = String.format(Locale.ROOT, "%." + (prec - 1) + "e", d);
            if (prec == 17 || Double.parseDouble(tmp) == d)
                break;
        }
        int q = 0;
        if (tmp.charAt(0) == '-') {
            b.append('-');
            q = 1;
        }
        StringBuilder digits = new StringBuilder();
        for (; tmp.charAt(q) != 'e'; q++)
            if (tmp.charAt(q) != '.')
                digits.append(tmp.charAt(q));
        int exp10 = Integer.parseInt(tmp.substring(q + 1));
        int nd = digits.length();
        while (nd > 1 && digits.charAt(nd - 1) == '0')
            nd--;
        String dg = digits.substring(0, nd);
        int decpt = exp10 + 1;
        if (decpt <= -4 || decpt > nd + 15) {
            b.append(dg.charAt(0));
            if (nd > 1)
                b.append('.').append(dg, 1, nd);
            b.append('e').append(exp10 < 0 ? '-' : '+').append(String.format("%02d", Math.abs(exp10)));
        } else if (decpt <= 0) {
            b.append("0.");
            for (int i = 0; i < -decpt; i++)
                b.append('0');
            b.append(dg);
        } else if (decpt >= nd) {
            b.append(dg);
            for (int i = nd; i < decpt; i++)
                b.append('0');
        } else {
            b.append(dg, 0, decpt).append('.').append(dg, decpt, nd);
        }
    }
}
