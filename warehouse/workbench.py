"""The planner workbench's own store: line edits with versions, the audit trail, forecast
overrides and snoozes, in one SQLite file beside the run folders (``<out>/workbench.sqlite``).

Why SQLite and not the DuckDB warehouse: DuckDB lets one process write a file at a time, and
the nightly run holds the warehouse for minutes; the workbench serves several planners at
once, at any hour. SQLite in WAL mode takes concurrent readers and short write transactions
from any number of processes. The nightly run reads the overrides and snoozes from here
(`active_overrides`, `active_snoozes`) and the approval, made through `planner.approve`, still
lands in the warehouse's ``raw.approved_lines``.

Every edit is optimistic: the caller sends the version it saw; `edit_line` applies it only if
that is still the line's version, in one ``BEGIN IMMEDIATE`` transaction, and writes one audit
row per changed field (who, when, old, new).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

STORE_FILE = "workbench.sqlite"
# The fields a planner may change on a line, in audit order.
LINE_FIELDS = ("qty", "hold", "note", "dealer_note", "snooze_until")

SCHEMA = """
create table if not exists line_edits (
    as_of text not null, dealer_id text not null, sku text not null,
    version integer not null, qty real, hold integer not null default 0,
    note text not null default '', dealer_note text not null default '',
    updated_by text not null, updated_at text not null,
    primary key (as_of, dealer_id, sku));
create table if not exists snoozes (
    dealer_id text not null, sku text not null, until text not null,
    set_by text not null, set_at text not null, as_of text not null,
    primary key (dealer_id, sku));
create table if not exists forecast_overrides (
    dealer_id text not null, sku text not null, units_per_week real not null,
    valid_from text not null, valid_to text not null, note text not null default '',
    set_by text not null, set_at text not null,
    primary key (dealer_id, sku));
create table if not exists audit (
    id integer primary key autoincrement, at text not null, user text not null,
    action text not null, as_of text, dealer_id text, sku text, field text,
    old text, new text, version integer);
"""


class StaleVersion(Exception):
    """The line changed since the caller read it: ``current`` is the line as it stands."""

    def __init__(self, current: dict[str, Any]) -> None:
        self.current = current
        super().__init__(f"stale version: the line is at version {current['version']}")


@dataclass(frozen=True)
class Store:
    """A workbench store file; every method opens its own short connection."""

    path: Path

    @classmethod
    def beside(cls, out_dir: Path) -> Store:
        """The store of an output folder: ``<out>/workbench.sqlite``."""
        return cls(Path(out_dir) / STORE_FILE)

    @contextmanager
    def _connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        try:
            con.row_factory = sqlite3.Row
            con.execute("pragma journal_mode=wal")
            con.execute("pragma busy_timeout=10000")
            con.executescript(SCHEMA)
            if write:
                con.execute("begin immediate")
                try:
                    yield con
                except BaseException:
                    con.execute("rollback")
                    raise
                con.execute("commit")
            else:
                yield con
        finally:
            con.close()

    @staticmethod
    def blank_line() -> dict[str, Any]:
        """The state of a line nobody has edited (version 0)."""
        return _blank_line()

    # ------------------------------------------------------------------ lines of a run

    def line_states(self, as_of: date | str) -> dict[tuple[str, str], dict[str, Any]]:
        """(dealer_id, sku) -> edited state of every edited line of a run, snoozes included."""
        key = str(as_of)
        with self._connect() as con:
            rows = con.execute("select * from line_edits where as_of = ?", [key]).fetchall()
            snoozed = con.execute(
                "select dealer_id, sku, until from snoozes where until >= ?", [key]
            ).fetchall()
        states = {(r["dealer_id"], r["sku"]): _line_row(r) for r in rows}
        for row in snoozed:
            state = states.setdefault((row["dealer_id"], row["sku"]), _blank_line())
            state["snooze_until"] = row["until"]
        return states

    def line_state(self, as_of: date | str, dealer_id: str, sku: str) -> dict[str, Any]:
        with self._connect() as con:
            return _read_line(con, str(as_of), dealer_id, sku)

    def edit_line(
        self,
        as_of: date | str,
        dealer_id: str,
        sku: str,
        *,
        version: int,
        changes: Mapping[str, Any],
        user: str,
    ) -> dict[str, Any]:
        """Apply ``changes`` (a subset of `LINE_FIELDS`) if ``version`` is still current.

        Returns the line as stored (its version raised by one when anything changed).
        Raises `StaleVersion` with the current line otherwise; nothing is written then.
        """
        unknown = set(changes) - set(LINE_FIELDS)
        if unknown:
            raise ValueError(f"unknown line field(s): {', '.join(sorted(unknown))}")
        key, now = str(as_of), _now()
        with self._connect(write=True) as con:
            current = _read_line(con, key, dealer_id, sku)
            if int(version) != current["version"]:
                raise StaleVersion(current)
            new = {**current, **changes}
            changed = [f for f in LINE_FIELDS if f in changes and new[f] != current[f]]
            if not changed:
                return current
            new["version"] = current["version"] + 1
            con.execute(
                "insert or replace into line_edits (as_of, dealer_id, sku, version, qty, hold,"
                " note, dealer_note, updated_by, updated_at) values (?,?,?,?,?,?,?,?,?,?)",
                [
                    key, dealer_id, sku, new["version"], new["qty"], int(bool(new["hold"])),
                    new["note"], new["dealer_note"], user, now,
                ],
            )  # fmt: skip
            if "snooze_until" in changed:
                if new["snooze_until"]:
                    con.execute(
                        "insert or replace into snoozes values (?,?,?,?,?,?)",
                        [dealer_id, sku, str(new["snooze_until"]), user, now, key],
                    )
                else:
                    con.execute(
                        "delete from snoozes where dealer_id = ? and sku = ?", [dealer_id, sku]
                    )
            for field in changed:
                _audit(con, now, user, "edit", key, dealer_id, sku, field,
                       current[field], new[field], new["version"])  # fmt: skip
            return _read_line(con, key, dealer_id, sku)

    # ------------------------------------------------------------------ persistent inputs

    def set_override(
        self,
        dealer_id: str,
        sku: str,
        *,
        units_per_week: float,
        valid_from: date,
        valid_to: date,
        note: str,
        user: str,
    ) -> dict[str, Any]:
        """Put the forecast override of a pair (one per pair: a new one replaces the old)."""
        now = _now()
        with self._connect(write=True) as con:
            old = con.execute(
                "select * from forecast_overrides where dealer_id = ? and sku = ?",
                [dealer_id, sku],
            ).fetchone()
            row = [dealer_id, sku, float(units_per_week), valid_from.isoformat(),
                   valid_to.isoformat(), note, user, now]  # fmt: skip
            con.execute("insert or replace into forecast_overrides values (?,?,?,?,?,?,?,?)", row)
            describe = "{:g}/week {} to {}"
            _audit(
                con, now, user, "forecast_override", None, dealer_id, sku, "units_per_week",
                describe.format(old["units_per_week"], old["valid_from"], old["valid_to"])
                if old else None,
                describe.format(float(units_per_week), row[3], row[4]), None,
            )  # fmt: skip
        return self.overrides(dealer_id=dealer_id, sku=sku)[0]

    def overrides(self, *, dealer_id: str | None = None, sku: str | None = None) -> list[dict]:
        with self._connect() as con:
            rows = con.execute(
                "select * from forecast_overrides where (? is null or dealer_id = ?)"
                " and (? is null or sku = ?) order by dealer_id, sku",
                [dealer_id, dealer_id, sku, sku],
            ).fetchall()
        return [dict(r) for r in rows]

    def active_overrides(self, as_of: date) -> list[dict]:
        """Overrides whose validity has not ended by ``as_of`` (the nightly run's input)."""
        with self._connect() as con:
            rows = con.execute(
                "select * from forecast_overrides where valid_to >= ? order by dealer_id, sku",
                [as_of.isoformat()],
            ).fetchall()
        return [dict(r) for r in rows]

    def active_snoozes(self, as_of: date) -> list[dict]:
        """Snoozes that run to ``as_of`` or later (the nightly run's input)."""
        with self._connect() as con:
            rows = con.execute(
                "select * from snoozes where until >= ? order by dealer_id, sku",
                [as_of.isoformat()],
            ).fetchall()
        return [dict(r) for r in rows]

    # ------------------------------------------------------------------ audit

    def record(self, user: str, action: str, *, as_of: str | None = None, new: str = "") -> None:
        """One audit row for a run-level action (e.g. an approval)."""
        with self._connect(write=True) as con:
            _audit(con, _now(), user, action, as_of, None, None, None, None, new, None)

    def audit(self, *, as_of: str | None = None, limit: int | None = None) -> list[dict]:
        with self._connect() as con:
            rows = con.execute(
                "select * from audit where (? is null or as_of = ?) order by id"
                + (" desc limit ?" if limit else ""),
                [as_of, as_of, *([limit] if limit else [])],
            ).fetchall()
        return [dict(r) for r in rows]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _blank_line() -> dict[str, Any]:
    return {"version": 0, "qty": None, "hold": False, "note": "", "dealer_note": "",
            "snooze_until": None, "updated_by": None, "updated_at": None}  # fmt: skip


def _line_row(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "version": row["version"], "qty": row["qty"], "hold": bool(row["hold"]),
        "note": row["note"], "dealer_note": row["dealer_note"], "snooze_until": None,
        "updated_by": row["updated_by"], "updated_at": row["updated_at"],
    }  # fmt: skip


def _read_line(con: sqlite3.Connection, as_of: str, dealer_id: str, sku: str) -> dict[str, Any]:
    row = con.execute(
        "select * from line_edits where as_of = ? and dealer_id = ? and sku = ?",
        [as_of, dealer_id, sku],
    ).fetchone()
    state = _line_row(row) if row else _blank_line()
    snooze = con.execute(
        "select until from snoozes where dealer_id = ? and sku = ? and until >= ?",
        [dealer_id, sku, as_of],
    ).fetchone()
    state["snooze_until"] = snooze["until"] if snooze else None
    return state


def _text(value: Any) -> str | None:
    """A value as the audit shows it: 40.0 -> "40", None stays None."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _audit(con, at, user, action, as_of, dealer_id, sku, field, old, new, version) -> None:
    con.execute(
        "insert into audit (at, user, action, as_of, dealer_id, sku, field, old, new, version)"
        " values (?,?,?,?,?,?,?,?,?,?)",
        [at, user, action, as_of, dealer_id, sku, field,
         _text(old), _text(new), version],
    )  # fmt: skip
