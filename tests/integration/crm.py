"""
Raw CRM customer records (realistic, with invalid ones mixed in) and the
outputs topologies/crm_customer.yaml must produce for them, computed here in
Python from the same rules:

  filter  valid-customers          .crmId != null and .status != "DELETED"
                                   and ((.email // "") | test("^[^@ ]+@[^@ ]+\\.[^@ ]+$"))
  map     crm-to-domain            key .crmId, value {customerId, name, email, segment, addresses, contacts, updatedAt}
  flatMap per-address-and-contact  one record per address, then per contact
  selectKey by-customer-id         .customerId

Each generated record says what it should become: outputs, a dead letter
(with the node it fails at), or nothing (filtered out).
"""
import json
import random
import re

EMAIL = re.compile(r"[^@ ]+@[^@ ]+\.[^@ ]+")

FIRST = ["Anna", "Lars", "Åsa", "Björn", "Karin", "Erik", "Maria", "Johan", "Eva", "Per", "Sofia", "Mikael",
         "Ingrid", "Nils", "Elin", "Olof", "Zoë", "José", "Chloé", "Jörg"]
LAST = ["Berg", "Lindqvist", "Öberg", "Johansson", "Nilsson", "Svensson", "Karlsson", "Andersson", "Ek",
        "Holm", "Müller", "García", "Dubois", "Sjöström"]
CITIES = [("Stockholm", "SE", "111 22"), ("Göteborg", "SE", "411 03"), ("Malmö", "SE", "211 19"),
          ("Oslo", "NO", "0150"), ("København", "DK", "1050"), ("Berlin", "DE", "10115"), ("Paris", "FR", "75001")]
STREETS = ["Storgatan", "Drottninggatan", "Kungsgatan", "Vasagatan", "Hauptstraße", "Rue de Rivoli", "Karl Johans gate"]
DOMAINS = ["example.com", "Example.SE", "shop.se", "mail.example.org", "exempel.nu"]


def ascii_downcase(s):
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in s)


def generate(n, seed=4):
    """n raw records: list of dicts {key, raw (bytes), ts, outcome, outputs, dlq_node}."""
    rnd = random.Random(seed)
    recs = []
    for i in range(n):
        crm = f"CRM-{100000 + i}"
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        v = {
            "crmId": crm,
            "customerNumber": 500000 + i if rnd.random() < 0.8 else str(500000 + i),
            "firstName": first,
            "lastName": last,
            "email": f"{first}.{last}@{rnd.choice(DOMAINS)}".replace(" ", ""),
            "status": rnd.choice(["ACTIVE", "ACTIVE", "ACTIVE", "INACTIVE", "PROSPECT"]),
            "vip": rnd.random() < 0.1,
            "addresses": [],
            "contacts": [],
            "updatedAt": f"2024-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}T{rnd.randint(0, 23):02d}:"
                         f"{rnd.randint(0, 59):02d}:{rnd.randint(0, 59):02d}Z",
            "source": "salesforce",
        }
        for _ in range(rnd.choice([0, 1, 1, 1, 2, 2])):
            city, country, zipc = rnd.choice(CITIES)
            v["addresses"].append({"type": rnd.choice(["BILLING", "Shipping", "home"]),
                                   "street": f"{rnd.choice(STREETS)} {rnd.randint(1, 120)}",
                                   "zip": zipc, "city": city, "country": country})
        for _ in range(rnd.choice([0, 1, 1, 2, 3])):
            if rnd.random() < 0.5:
                v["contacts"].append({"type": "PHONE", "value": f"+46 70 {rnd.randint(1000000, 9999999)}"})
            else:
                v["contacts"].append({"type": "EMAIL", "value": v["email"].lower(), "primary": rnd.random() < 0.5})
        # optional and odd-but-valid shapes
        r = rnd.random()
        if r < 0.05:
            del v["lastName"]
        elif r < 0.08:
            v["firstName"] = ""
        elif r < 0.10:
            v["firstName"] = None
        if rnd.random() < 0.05:
            del v["addresses"]
        if rnd.random() < 0.05:
            v["contacts"] = None
        if rnd.random() < 0.03:
            del v["updatedAt"]
        if rnd.random() < 0.03:
            v["vip"] = "true"           # a string: stays standard

        # invalid records, about 15 %
        kind = "ok"
        r = rnd.random()
        if r < 0.02:
            kind = "malformed"
        elif r < 0.04:
            v["crmId"] = None
        elif r < 0.06:
            del v["crmId"]
        elif r < 0.08:
            v["status"] = "DELETED"
        elif r < 0.10:
            v["email"] = rnd.choice(["anna.example.com", "anna@example", "anna berg@example.com", "a@@example.com",
                                     "", None])
        elif r < 0.11:
            del v["email"]
        elif r < 0.12:
            v["email"] = 46701234567        # not a string: the regex fails -> dead letter
            kind = "dlq-filter"
        elif r < 0.13:
            v.setdefault("addresses", [])
            v["addresses"] = (v["addresses"] or []) + [{"street": "Okänd väg 1", "city": "Umeå", "country": "SE"}]
            kind = "dlq-map"                # address without a type: ascii_downcase of null fails
        elif r < 0.14:
            v["status"] = "deleted"         # case-sensitive: passes

        if kind == "malformed":
            raw = json.dumps(v, ensure_ascii=False).encode()[: rnd.randint(5, 60)]
        else:
            raw = json.dumps(v, ensure_ascii=False).encode()
        rec = {"key": crm, "raw": raw, "ts": 1_700_000_000_000 + i * 10, "kind": kind}
        rec.update(expect(v, crm) if kind != "malformed" else {"outcome": "dlq", "dlq_node": "valid-customers",
                                                                "outputs": []})
        if kind.startswith("dlq"):
            assert rec["outcome"] == "dlq", (kind, rec)
        recs.append(rec)
    return recs


def expect(v, key):
    """What the topology makes of the parsed value v: {outcome, outputs[(key, value)], dlq_node}."""
    # filter
    if v.get("crmId") is None or v.get("status") == "DELETED":
        return {"outcome": "drop", "outputs": []}
    email = v.get("email")
    if email is None or email is False:
        email = ""
    if not isinstance(email, str):
        return {"outcome": "dlq", "dlq_node": "valid-customers", "outputs": []}
    if not EMAIL.fullmatch(email):
        return {"outcome": "drop", "outputs": []}
    # map
    cn = v.get("customerNumber")
    customer_id = cn if isinstance(cn, str) else json.dumps(cn)
    names = [x for x in (v.get("firstName"), v.get("lastName")) if x is not None and x != ""]
    base = {"customerId": customer_id, "name": " ".join(names), "email": ascii_downcase(email),
            "segment": "vip" if v.get("vip") is True else "standard", "updatedAt": v.get("updatedAt")}
    addrs, contacts = [], []
    for a in v.get("addresses") or []:
        if not isinstance(a.get("type"), str):
            return {"outcome": "dlq", "dlq_node": "crm-to-domain", "outputs": []}
        addrs.append({"type": ascii_downcase(a["type"]), "street": a.get("street"), "zip": a.get("zip"),
                      "city": a.get("city"), "country": a.get("country")})
    for c in v.get("contacts") or []:
        if not isinstance(c.get("type"), str):
            return {"outcome": "dlq", "dlq_node": "crm-to-domain", "outputs": []}
        contacts.append({"type": ascii_downcase(c["type"]), "value": c.get("value")})
    # flatMap, then selectKey
    outs = [(customer_id, dict(base, kind="address", address=a)) for a in addrs]
    outs += [(customer_id, dict(base, kind="contact", contact=c)) for c in contacts]
    return {"outcome": "out" if outs else "none", "outputs": outs}
