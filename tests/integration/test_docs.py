"""The README and man/kstreamd.yaml.5 say what the code does (issue 11, items 5, 18 and 19). No broker needed.

- the man page renders without troff warnings (a description starting with `.` was taken for a macro);
- filterNot's predicate reads "keeps records for which it is false";
- every serde of src/serde/serde.c is listed in the README and in the man page's SERDES section;
- `generate` sources and their variables ($i, $rand, $seed, $now) are documented in both;
- every kstreamd runtime key of src/kafka/runtime.c is in the README;
- that pipeline and processor names share one namespace is said, with kstreamd's own message.
"""
import os
import re
import shutil
import subprocess

import pytest

from conftest import kstreamd_path
from kit import REPO


def read(*path):
    with open(os.path.join(REPO, *path), encoding="utf-8") as f:
        return f.read()


def man_section(text, name):
    """A `.SH NAME` section of a man page's source, up to the next `.SH`."""
    m = re.search(r"^\.SH " + re.escape(name) + r"\n(.*?)(?=^\.SH |\Z)", text, re.S | re.M)
    assert m, f"no section {name}"
    return m.group(1)


def readme_section(text, title):
    m = re.search(r"^#+ " + re.escape(title) + r"\n(.*?)(?=^#+ |\Z)", text, re.S | re.M)
    assert m, f"README: no section {title}"
    return m.group(1)


def serde_names():
    src = read("src", "serde", "serde.c")
    block = src[src.index("ks_serde_names[] = {"):]
    block = block[:block.index("};")]
    names = re.findall(r'\] = "([a-z-]+)"', block)
    assert len(names) >= 11, names
    return names


def test_man_page_renders_without_warnings():
    if not shutil.which("man"):
        pytest.fail("man is needed (Debian: man-db)")
    r = subprocess.run(["man", "-l", "--warnings", os.path.join(REPO, "man", "kstreamd.yaml.5")],
                       capture_output=True, text=True, timeout=60, env=dict(os.environ, MANPAGER="cat", PAGER="cat"))
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", r.stderr


def test_filter_not_predicate_is_described_as_false():
    man = read("man", "kstreamd.yaml.5")
    m = re.search(r"^\.B filterNot\n(.*?)(?=^\.TP\n\.B [a-zA-Z]+\n)", man, re.S | re.M)
    assert m, "no filterNot entry"
    entry = m.group(1)
    assert "keeps records for which it is false" in entry, entry
    assert "for which it is true" not in entry, entry
    readme = read("README.md")
    assert "`filterNot` keeps records for which it is false" in readme


def test_every_serde_is_listed():
    man = man_section(read("man", "kstreamd.yaml.5"), "SERDES")
    readme = read("README.md")
    for name in serde_names():
        assert re.search(r"\.BR? .*\b" + re.escape(name) + r"\b", man), f"man page SERDES lacks {name}"
        assert re.search(r"(?<![-\w])" + re.escape(name) + r"(?![-\w])", readme), f"README lacks serde {name}"


def test_generate_sources_and_variables_are_documented():
    man = read("man", "kstreamd.yaml.5")
    gen = man_section(man, "GENERATE SOURCES") + man_section(man, "VARIABLES")
    readme = readme_section(read("README.md"), "Generate sources")
    for var in ("$i", "$rand", "$seed", "$now"):
        assert re.search(r"\.B " + re.escape(var) + r"\b", gen), f"man page: {var} not described"
        assert f"`{var}`" in readme, f"README: {var} not described"
    for key in ("rate", "count", "seed", "key", "value", "timestamp"):
        assert re.search(r"^\s+" + key + r":", readme, re.M), f"README's generate example lacks {key}"


def test_generate_examples_validate(tmp_path):
    """The generate examples of the README and the man page are valid topologies."""
    readme = readme_section(read("README.md"), "Generate sources")
    man = man_section(read("man", "kstreamd.yaml.5"), "GENERATE SOURCES")
    examples = [readme.split("```yaml\n", 1)[1].split("```", 1)[0],
                man.split(".nf\n", 1)[1].split(".fi", 1)[0].replace("\\\\", "\\")]
    for n, text in enumerate(examples):
        p = tmp_path / f"example{n}.yaml"
        p.write_text("application: doc-example\n" + text)
        r = subprocess.run([kstreamd_path(), "-c", str(p), "--validate"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, f"example {n}:\n{text}\n{r.stdout}{r.stderr}"


def test_every_runtime_key_is_in_the_readme():
    keys = re.findall(r'^\s+X\("([a-z.]+)"', read("src", "kafka", "runtime.c"), re.M)
    assert "repartition.purge.interval.ms" in keys and "log.sample.interval.ms" in keys, keys
    readme = read("README.md")
    for k in keys:
        assert f"`{k}`" in readme, f"README does not document {k}"


def test_names_share_one_namespace(tmp_path):
    p = tmp_path / "names.yaml"
    p.write_text("application: app\npipelines:\n  clean:\n    from: in\n    to: clean-out\n"
                 "  p:\n    from: other\n    steps:\n      - filter: {name: clean, predicate: '.ok'}\n    to: out\n")
    r = subprocess.run([kstreamd_path(), "-c", str(p), "--validate"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    msg = "duplicate name `clean`: already used by a pipeline at line 3"
    assert msg in r.stdout + r.stderr
    readme = read("README.md")
    assert "share one namespace" in readme and msg in readme
    assert "share one namespace" in man_section(read("man", "kstreamd.yaml.5"), "NAMES")
