#!/usr/bin/env python3
"""random.py N SEED DIR: writes N random topologies of stateless steps (some
named, some ending in groupByKey + count), each as DIR/rNNN.yaml for kstreamd
and as the same program in Kafka Streams' DSL in DIR/RandomCases.java, whose
printAll() prints "=== rNNN" and Topology#describe() for each."""
import os
import random
import sys

# step -> (the Java call with {N} where Named.as(...) goes, its YAML main part, an expression)
STEPS = {
    'filter': ('filter((k, v) -> true{N})', 'predicate', 'true'),
    'filterNot': ('filterNot((k, v) -> false{N})', 'predicate', 'false'),
    'mapValues': ('mapValues(v -> v{N})', 'mapper', '.'),
    'map': ('map((k, v) -> KeyValue.pair(k, v){N})', 'mapper', '{key: $key, value: .}'),
    'selectKey': ('selectKey((k, v) -> v{N})', 'keySelector', '.'),
    'peek': ('peek((k, v) -> { }{N})', 'action', '.'),
    'flatMapValues': ('flatMapValues(v -> List.of(v){N})', 'mapper', '.'),
    'flatMap': ('flatMap((k, v) -> List.of(KeyValue.pair(k, v)){N})', 'mapper', '{key: $key, value: .}'),
}


def one(rng, name):
    topics = ['t%d' % i for i in range(rng.randint(1, 3))]
    yaml = ['application: app', 'topics:', '  defaults: {key: string, value: json}', '  cnt: {value: long}',
            'pipelines:']
    java, streams = [], set()
    for p in range(rng.randint(1, 6)):
        src = rng.choice(topics)
        if src not in streams:  # pipelines reading one topic share its source, as one KStream variable
            java.append('KStream<String, String> s_%s = b.<String, String>stream("%s");' % (src, src))
            streams.add(src)
        yaml += ['  p%d:' % p, '    from: %s' % src]
        steps, chain = [], 's_%s' % src
        for s in range(rng.randint(0, 4)):
            op = rng.choice(sorted(STEPS))
            call, main, expr = STEPS[op]
            named = rng.random() < 0.3
            label = 'n%d_%d' % (p, s)
            chain += '.' + call.replace('{N}', ', Named.as("%s")' % label if named else '')
            if named:
                steps.append("      - %s: {%s: '%s', name: %s}" % (op, main, expr, label))
            else:
                steps.append("      - %s: '%s'" % (op, expr))
        if rng.random() < 0.2:
            steps += ['      - groupByKey', '      - count', '      - toStream']
            chain += '.groupByKey().count().toStream()'
            out = 'cnt'
        else:
            out = 'o%d' % p
        if steps:
            yaml.append('    steps:')
            yaml += steps
        yaml.append('    to: %s' % out)
        java.append(chain + '.to("%s");' % out)
    return '\n'.join(yaml) + '\n', java


def main():
    n, seed, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    rng = random.Random(seed)
    methods, calls = [], []
    for i in range(n):
        name = 'r%03d' % i
        yaml, java = one(rng, name)
        with open(os.path.join(out, name + '.yaml'), 'w') as f:
            f.write(yaml)
        methods.append('    static void %s(StreamsBuilder b) {\n        %s\n    }\n' % (name, '\n        '.join(java)))
        calls.append('        Cases.print("%s", RandomCases::%s);' % (name, name))
    with open(os.path.join(out, 'RandomCases.java'), 'w') as f:
        f.write('import java.util.List;\nimport org.apache.kafka.streams.KeyValue;\n'
                'import org.apache.kafka.streams.StreamsBuilder;\nimport org.apache.kafka.streams.kstream.*;\n\n'
                'public class RandomCases {\n%s\n    static void printAll() {\n%s\n    }\n}\n'
                % ('\n'.join(methods), '\n'.join(calls)))


if __name__ == '__main__':
    main()
