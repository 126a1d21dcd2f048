"""A KPI added in dbt reaches every consumer after one nightly run, with no Python edit.

On a copy of the dbt project, a data engineer adds `kpi_probe` to `fct_dealer_kpis.sql` and its
yml; the real nightly flow (VMI_DBT_PROJECT_DIR pointing at the copy) must then carry it into
the run folder's kpis.csv, the per-run history reporting.rpt_dealer_kpis, and the KPI table of
report.html.
"""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.slow

PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
PROBE = "kpi_probe"
PROBE_OFFSET = 7  # kpi_probe = stockout_days + 7: a small whole number, distinct per dealer


def add_kpi_probe(project: Path) -> None:
    """What a data engineer does: one more column in the model and one more entry in its yml."""
    model = project / "models" / "marts" / "fct_dealer_kpis.sql"
    sql = model.read_text().rstrip()
    assert sql.endswith("select * from final")
    model.write_text(
        sql.removesuffix("select * from final")
        + f"select\n    final.*,\n    final.stockout_days + {PROBE_OFFSET} as {PROBE}\n"
        + "from final\n"
    )
    models_yml = project / "models" / "marts" / "_marts__models.yml"
    spec = yaml.safe_load(models_yml.read_text())
    (kpis,) = [m for m in spec["models"] if m["name"] == "fct_dealer_kpis"]
    kpis["columns"].append(
        {
            "name": PROBE,
            "description": f"Test probe: stockout_days + {PROBE_OFFSET}.",
            "data_tests": ["not_null"],
        }
    )
    models_yml.write_text(yaml.safe_dump(spec, sort_keys=False))


class KpiTable(HTMLParser):
    """Header and body cells of the table in the page's `<section id="kpis">`.

    A header cell is named by its `data-kpi` attribute when it has one, else by its text.
    """

    def __init__(self) -> None:
        super().__init__()
        self.header: list[str] = []
        self.rows: list[list[str]] = []
        self._depth = 0  # > 0 inside the KPI section
        self._cell: list[str] | None = None
        self._in_head = False
        self._kpi: str | None = None

    def handle_starttag(self, tag, attrs):
        if self._depth:
            if tag == "section":
                self._depth += 1
            elif tag == "thead":
                self._in_head = True
            elif tag == "tr" and not self._in_head:
                self.rows.append([])
            elif tag in ("th", "td"):
                self._cell = []
                self._kpi = dict(attrs).get("data-kpi")
        elif tag == "section" and dict(attrs).get("id") == "kpis":
            self._depth = 1

    def handle_endtag(self, tag):
        if not self._depth:
            return
        if tag == "section":
            self._depth -= 1
        elif tag == "thead":
            self._in_head = False
        elif tag in ("th", "td") and self._cell is not None:
            text = " ".join("".join(self._cell).split())
            if self._in_head:
                self.header.append(self._kpi or text.lower().replace(" ", "_").replace("-", "_"))
            else:
                self.rows[-1].append(text)
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def number(text: str) -> float:
    return float(text.replace(",", "").strip())


@pytest.fixture(scope="module")
def probe_run(prefect_api, small_landing, tmp_path_factory):
    """One nightly run on the small world, built with the copy of the dbt project."""
    from flows.nightly import nightly_replenishment

    base = tmp_path_factory.mktemp("kpi_probe")
    project = base / "dbt_project"
    shutil.copytree(
        PROJECT_DIR,
        project,
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", ".user.yml"),
    )
    add_kpi_probe(project)
    landing = base / "landing"
    shutil.copytree(small_landing, landing)
    warehouse = base / "warehouse.duckdb"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VMI_DBT_PROJECT_DIR", str(project))
        folder = nightly_replenishment(
            landing=str(landing), warehouse=str(warehouse), out=str(base / "out")
        )
    return Path(folder), warehouse


def test_kpi_column_reaches_kpis_csv(probe_run):
    folder, warehouse = probe_run
    kpis = pd.read_csv(folder / "kpis.csv", dtype={"dealer_id": str})
    assert PROBE in kpis.columns
    assert len(kpis) > 0 and kpis["dealer_id"].is_unique
    assert (kpis[PROBE] == kpis["stockout_days"] + PROBE_OFFSET).all()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        mart = con.execute(f"select dealer_id, {PROBE} from marts.fct_dealer_kpis").fetchall()
    assert dict(mart) == dict(zip(kpis["dealer_id"], kpis[PROBE], strict=True))


def test_kpi_column_reaches_the_per_run_history(probe_run):
    folder, warehouse = probe_run
    run_id = json.loads((folder / "run_summary.json").read_text())["run_id"]
    kpis = pd.read_csv(folder / "kpis.csv", dtype={"dealer_id": str})
    with duckdb.connect(str(warehouse), read_only=True) as con:
        kept = con.execute(
            f"select dealer_id, {PROBE} from reporting.rpt_dealer_kpis where run_id = ?",
            [run_id],
        ).fetchall()
        runs = con.execute("select distinct run_id from reporting.rpt_dealer_kpis").fetchall()
    assert runs == [(run_id,)]
    assert dict(kept) == dict(zip(kpis["dealer_id"], kpis[PROBE], strict=True))


def test_kpi_column_reaches_the_report_kpi_table(probe_run):
    folder, _ = probe_run
    kpis = pd.read_csv(folder / "kpis.csv", dtype={"dealer_id": str})
    table = KpiTable()
    table.feed((folder / "report.html").read_text())
    assert PROBE in table.header, f"KPI table columns: {table.header}"
    column = table.header.index(PROBE)
    expected = dict(zip(kpis["dealer_id"], kpis[PROBE], strict=True))
    shown = {}
    for cells in table.rows:
        # The dealer's id is a word of one of the row's cells (today: "<id> <name>").
        (dealer,) = {word for cell in cells for word in cell.split() if word in expected}
        shown[dealer] = number(cells[column])
    assert shown == {dealer: float(value) for dealer, value in expected.items()}
