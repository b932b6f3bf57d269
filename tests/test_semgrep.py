"""The semgrep gate of `make test` (.semgrep/rules.yml): every local rule fires on a bad sample and keeps quiet on
its good twin, so a rule that stopped matching (a semgrep upgrade, a typo in a pattern) cannot pass unnoticed.
tests/test_code_rules.py checks the same properties of the real tree in plain Python."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / ".semgrep" / "rules.yml"
SEMGREP = ROOT / ".venv" / "semgrep" / "bin" / "semgrep"  # its own virtualenv: see .semgrep/requirements.txt
SEMGREP_BIN = str(SEMGREP) if SEMGREP.exists() else shutil.which("semgrep")
# the flags of the Makefile's gate: local rules only, no metrics, no version check (no network at all)
FLAGS = ["--metrics=off", "--disable-version-check", "--error", "--strict"]

pytestmark = pytest.mark.skipif(SEMGREP_BIN is None, reason="semgrep is not installed (`make test` puts it in .venv/semgrep)")

# sample file → {line: rule ids expected there}; an empty dict: no finding at all
SAMPLES: dict[str, tuple[str, dict[int, set[str]]]] = {
    "server/jinja_bare.py": (
        "from jinja2 import Environment, FileSystemLoader\n"
        "env = Environment(loader=FileSystemLoader('templates'))\n",
        {2: {"jinja-autoescape-off"}}),
    "renderers/jinja_off.py": (
        "import jinja2\n"
        "env = jinja2.Environment(autoescape=False)\n"
        "page = jinja2.Template('<p>{{ name }}</p>')\n"
        "env.autoescape = False\n",
        {2: {"jinja-autoescape-off"}, 3: {"jinja-autoescape-off"}, 4: {"jinja-autoescape-off"}}),
    "server/sql_sinks.py": (
        "from tortoise.expressions import RawSQL\n"
        "async def find(conn, Record, name, table, key):\n"
        "    await conn.execute_query(\"SELECT id FROM student WHERE name = '%s'\" % name)\n"
        "    await conn.execute_script(\"DELETE FROM \" + table)\n"
        "    await Record.raw(\"SELECT * FROM record WHERE form_id = '{}'\".format(key))\n"
        "    return RawSQL(f\"json_extract(data, '$.{key}')\")\n",
        {3: {"sql-formatted-into-raw-query", "sql-statement-built-by-formatting"},
         4: {"sql-formatted-into-raw-query", "sql-statement-built-by-formatting"},
         5: {"sql-formatted-into-raw-query", "sql-statement-built-by-formatting"},
         6: {"sql-formatted-into-raw-query"}}),
    "server/sql_statement.py": (
        "def statement(name, data):\n"
        "    first = f\"SELECT * FROM student WHERE name = '{name}'\"\n"
        "    return first, \"UPDATE record SET data = '%s'\" % data\n",
        {2: {"sql-statement-built-by-formatting"}, 3: {"sql-statement-built-by-formatting"}}),
    # a reviewed exception: `# nosemgrep: RULE-ID (why)` on the line before silences that rule on that line only
    # (server/db.py and server/records.py use it; one naming another rule silences nothing)
    "server/exception.py": (
        "async def pragma(conn, name):\n"
        "    # nosemgrep: sql-formatted-into-raw-query (a PRAGMA takes no parameters)\n"
        "    await conn.execute_query(f'PRAGMA {name}')\n"
        "    await conn.execute_query(f'PRAGMA {name}')\n",
        {4: {"sql-formatted-into-raw-query"}}),
    "server/good.py": (
        "from jinja2 import Environment, Template, select_autoescape\n"
        "env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))\n"
        "page = Template('<p>{{ name }}</p>', autoescape=True)\n"
        "async def find(conn, name):\n"
        "    await conn.execute_query('SELECT id FROM student WHERE name = ?', [name])\n"
        "    return f'Please select {name}'  # prose, not SQL\n",
        {}),
    "renderers/templates/bad.html": (
        "<input name=\"q\" value={{ answer }}>\n"
        "<td class=\"x\"{{ extra }}>\n"
        "<a class=\"link\"\n   href={{ url }}>x</a>\n"
        "<button type=\"button\" onclick=\"go()\">go</button>\n"
        "{% autoescape false %}{{ label }}{% endautoescape %}\n",
        {1: {"template-unquoted-expression-in-tag"}, 2: {"template-unquoted-expression-in-tag"},
         3: {"template-unquoted-expression-in-tag"}, 5: {"template-inline-event-handler"},
         6: {"template-autoescape-off"}}),
    "renderers/templates/good.html": (
        "<input name=\"q\" value=\"{{ answer }}\" class='{{ kind }}'>\n"
        "<td class=\"field{% if wide %} long{% endif %}\"{{ cell_style(c) }}>{{ text }}</td>\n"
        "<p>{{ note }} on=\"1\"</p>\n",
        {}),
}


@pytest.fixture(scope="module")
def findings(tmp_path_factory) -> dict[str, dict[int, set[str]]]:
    """One semgrep run over every sample (a run costs seconds): path → line → rule ids found."""
    root = tmp_path_factory.mktemp("semgrep")
    for name, (text, _) in SAMPLES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    run = subprocess.run([SEMGREP_BIN, "scan", "--config", str(RULES), *FLAGS, "--json", "server", "renderers"],
                         cwd=root, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stderr[-2000:]  # --error: findings fail the gate
    report = json.loads(run.stdout)
    assert report["errors"] == [], report["errors"]
    found: dict[str, dict[int, set[str]]] = {}
    for result in report["results"]:
        rule = result["check_id"].rsplit(".", 1)[-1]  # semgrep prefixes the id with the rules file's folder
        found.setdefault(result["path"], {}).setdefault(result["start"]["line"], set()).add(rule)
    return found


@pytest.mark.parametrize("name", SAMPLES)
def test_each_rule_fires_on_its_bad_sample_only(findings, name):
    assert findings.get(name, {}) == SAMPLES[name][1]


def test_every_rule_is_proved():
    rules = {line.split(":", 1)[1].strip() for line in RULES.read_text(encoding="utf-8").splitlines()
             if line.startswith("  - id:")}
    proved = {rule for _, expected in SAMPLES.values() for ids in expected.values() for rule in ids}
    assert rules == proved

