"""Readers for each delivery format, into DuckDB tables of text plus a line number.

Every reader either loads the whole file (rows it cannot parse become rows with
an `_error`, which the quarantine step records) or raises `DeliveryError` naming
the file and the problem, having loaded nothing.

Output: a table `<target>` with `_line` (line in the file, or sheet row; header = 1),
`_error` (why the row could not be parsed, else null) and one VARCHAR column per
contracted column, named in English.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import zipfile
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from python_calamine import CalamineWorkbook

from junheng.ingest.feeds import FileSpec, Part
from junheng.privacy import scrub
from junheng.sql import ident, relation_kind


class DeliveryError(Exception):
    """A delivery that cannot be read at all: nothing of it is loaded.

    Its text leaves the warehouse (Dagster's event log, alerts, the release's page), so the
    problem is scrubbed of anything that could be part of a person key (a reader's error
    can quote the line it failed on)."""

    def __init__(self, file_name: str, problem: str, line: int | None = None,
                 column: str | None = None):
        problem = scrub(problem)
        self.file_name, self.problem, self.line, self.column = file_name, problem, line, column
        where = "".join([f", line {line}" if line else "", f", column {column}" if column else ""])
        super().__init__(f"{file_name}{where}: {problem}")


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def decode(data: bytes, encoding: str, file_name: str) -> str:
    """Decode strictly; never replace a character. GBK that is really UTF-8 is refused."""
    if not data:
        raise DeliveryError(file_name, "empty file (0 bytes)")
    if encoding == "gbk":
        try:
            data.decode("utf-8")
            if not data.isascii():
                raise DeliveryError(file_name, "the file is UTF-8, but feeds.md requires GBK")
        except UnicodeDecodeError:
            pass
        try:
            return data.decode("gbk")
        except UnicodeDecodeError as exc:
            raise DeliveryError(file_name, f"not valid GBK: byte {data[exc.start]:#04x} at "
                                f"offset {exc.start} does not decode",
                                line=_line_of(data, exc.start)) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DeliveryError(file_name, f"not valid UTF-8: byte {data[exc.start]:#04x} at offset "
                            f"{exc.start} does not decode (GBK delivered where UTF-8 is due?)",
                            line=_line_of(data, exc.start)) from None


def _check_header(header: list[str], part: Part, file_name: str, where: str = "") -> list[str]:
    header = [h.strip() for h in header]
    missing = [h for h in part.columns if h not in header]
    if missing:
        raise DeliveryError(file_name, f"missing required column(s) {', '.join(missing)}{where}",
                            line=1, column=missing[0])
    dupes = sorted({h for h in header if header.count(h) > 1 and h in part.columns})
    if dupes:
        raise DeliveryError(file_name, f"column(s) {', '.join(dupes)} appear twice{where}", line=1)
    return [h for h in header if h not in part.columns]


def _to_table(lines: list[int], errors: list[str | None], cols: dict[str, list]) -> pa.Table:
    return pa.table({"_line": pa.array(lines, pa.int64()), "_error": pa.array(errors, pa.string()),
                     **{k: pa.array(v, pa.string()) for k, v in cols.items()}})


def read_small_csv(data: bytes, spec: FileSpec, file_name: str) -> tuple[pa.Table, list[str]]:
    """Small CSV deliveries, parsed in Python for exact line numbers.

    Returns the rows and the names of extra (uncontracted) columns, which are ignored."""
    part = spec.parts[0]
    text = decode(data, spec.encoding or "utf-8", file_name)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise DeliveryError(file_name, "no header line") from None
    extra = _check_header(header, part, file_name)
    header = [h.strip() for h in header]
    index = {part.columns[h]: header.index(h) for h in part.columns}
    lines, errors = [], []
    cols: dict[str, list] = {name: [] for name in part.columns.values()}
    start = reader.line_num + 1
    try:
        for record in reader:
            end = reader.line_num
            if not record or all(not f.strip() for f in record):
                start = end + 1
                continue
            lines.append(start)
            errors.append(None if len(record) == len(header) else
                          f"{len(record)} fields where the header has {len(header)}")
            for name, i in index.items():
                cols[name].append(record[i] if i < len(record) else None)
            start = end + 1
    except csv.Error as exc:
        raise DeliveryError(file_name, f"malformed CSV: {exc}", line=reader.line_num) from None
    return _to_table(lines, errors, cols), extra


def _cell(v) -> str | None:
    if v is None or v == "":
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


MAX_SHEET_CELLS = 2_000_000   # a district sheet has 11 rows, an institution sheet ~3,000 x 8

_CELL_REF = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,7})"')


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


def _check_sheet_extent(data: bytes, file_name: str) -> None:
    """Refuse a workbook whose sheets span more cells than any delivery can hold, before
    calamine reads it: calamine allocates the whole rectangle up to the last cell used,
    and one stray space typed in cell XFD1048576 asks for hundreds of gigabytes (the
    process aborts). The extent is read from the cell references in the sheets' XML."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/")
                      and n.endswith(".xml")]
            for name in sheets:
                rows = cols = 0
                with z.open(name) as fh:
                    tail = b""
                    while chunk := fh.read(1 << 20):
                        block = tail + chunk
                        for col, row in _CELL_REF.findall(block):
                            cols = max(cols, _column_number(col))
                            rows = max(rows, int(row))
                        tail = block[-32:]
                if rows * cols > MAX_SHEET_CELLS:
                    raise DeliveryError(
                        file_name, f"a sheet ({name.rsplit('/', 1)[-1]}) spans {rows:,} rows x "
                        f"{cols:,} columns: a cell far outside the table holds something (a "
                        "stray space?); clear it and deliver again")
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DeliveryError(file_name, f"not a readable XLSX workbook ({exc})") from None


def read_xlsx(data: bytes, spec: FileSpec, file_name: str) -> dict[str, tuple[pa.Table, list[str]]]:
    """Every sheet of an XLSX delivery, with calamine. Sheet row numbers as in Excel."""
    if not data:
        raise DeliveryError(file_name, "empty file (0 bytes)")
    _check_sheet_extent(data, file_name)
    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # calamine raises its own error types for every corruption
        raise DeliveryError(file_name, f"not a readable XLSX workbook ({exc})") from None
    out = {}
    for part in spec.parts:
        if part.sheet not in wb.sheet_names:
            raise DeliveryError(file_name, f"sheet {part.sheet} is missing "
                                f"(sheets: {', '.join(wb.sheet_names) or 'none'})")
        try:
            rows = wb.get_sheet_by_name(part.sheet).to_python(skip_empty_area=False)
        except Exception as exc:
            raise DeliveryError(file_name, f"sheet {part.sheet} cannot be read ({exc})") from None
        if not rows:
            raise DeliveryError(file_name, f"sheet {part.sheet} is empty (no header row)")
        header = [str(h).strip() if h is not None else "" for h in rows[0]]
        extra = _check_header(header, part, file_name, where=f" in sheet {part.sheet}")
        index = {part.columns[h]: header.index(h) for h in part.columns}
        lines, errors = [], []
        cols: dict[str, list] = {name: [] for name in part.columns.values()}
        for n, row in enumerate(rows[1:], start=2):
            if all(_cell(v) is None for v in row):
                continue
            lines.append(n)
            errors.append(None)
            for name, i in index.items():
                cols[name].append(_cell(row[i]) if i < len(row) else None)
        out[part.entity] = (_to_table(lines, errors, cols), extra)
    return out


def _duckdb_problem(exc: Exception) -> str:
    msg = str(exc).split("\n")[0]
    for needle, plain in (("gzip", "truncated or corrupt gzip stream"),
                          ("GZIP", "truncated or corrupt gzip stream"),
                          ("Invalid unicode", "not valid UTF-8"),
                          ("maximum line size", "a line longer than the reader's limit")):
        if needle in str(exc):
            return f"{plain} ({msg})"
    return msg


def _renumber(con: duckdb.DuckDBPyConnection, target: str, rejected_lines: list[int],
              first_line: int) -> None:
    """Turn record order into file line numbers when the reader skipped rejected lines."""
    n = con.execute(f"select count(*) from {target}").fetchall()[0][0]
    lines = np.arange(first_line, first_line + n + len(rejected_lines), dtype=np.int64)
    lines = np.setdiff1d(lines, np.array(rejected_lines, dtype=np.int64))[:n]
    # Rows were numbered as if no line had been skipped: first_line, first_line + 1, ...
    con.register("_line_map", pa.table({"_ord": np.arange(first_line, first_line + n,
                                                          dtype=np.int64), "_l": lines}))
    con.execute(f"update {target} set _line = m._l from _line_map m where {target}._line = m._ord")
    con.unregister("_line_map")


def read_big_csv(con: duckdb.DuckDBPyConnection, path: Path, spec: FileSpec, file_name: str,
                 target: str) -> list[str]:
    """A large UTF-8 CSV straight into DuckDB; unparsable lines become `_error` rows."""
    part = spec.parts[0]
    with open(path, "rb") as fh:
        first = fh.readline()
    if not first:
        raise DeliveryError(file_name, "empty file (0 bytes)")
    header = next(csv.reader([decode(first, "utf-8", file_name)]))
    extra = _check_header(header, part, file_name)
    names = [h.strip() for h in header]
    columns = {h: "VARCHAR" for h in names}
    select = ", ".join(f'"{h}" as {ident(part.columns[h])}' for h in part.columns)
    try:
        con.execute(
            f"create or replace temp table {target} as "
            "select (row_number() over () + 1)::bigint as _line, null::varchar as _error, "
            f"{select} "
            "from read_csv($path, header = true, columns = $columns, auto_detect = false, "
            "quote = '\"', escape = '\"', delim = ',', strict_mode = true, "
            "store_rejects = true, rejects_table = '_rejects', rejects_scan = '_rejects_scan')",
            {"path": str(path), "columns": columns})
        rejects = con.execute("select line, error_message, column_name from _rejects "
                              "order by line").fetchall()
    except duckdb.Error as exc:
        raise DeliveryError(file_name, _duckdb_problem(exc)) from None
    if rejects:
        _renumber(con, target, [r[0] for r in rejects], first_line=2)
        rows = pa.table({
            "_line": pa.array([r[0] for r in rejects], pa.int64()),
            "_error": pa.array([f"unparsable line: {r[1].splitlines()[0]}" for r in rejects]),
        })
        con.register("_bad", rows)
        con.execute(f"insert into {target} (_line, _error) select _line, _error from _bad")
        con.unregister("_bad")
    con.execute("drop table if exists _rejects; drop table if exists _rejects_scan")
    return extra


# Where read_jsonl_gz keeps the rows it read: a table of the warehouse in the restricted
# schema (never copied to the query snapshot), not a temp table (see read_jsonl_gz).
SCRATCH_SCHEMA = "raw"


def drop_read(con: duckdb.DuckDBPyConnection, target: str) -> None:
    """Drop what a reader made for `target`: a temp table, or a view over `<target>__rows`
    (a table of the warehouse's restricted schema, or a temp table)."""
    for name in (target, f"{target}__rows"):
        kind = relation_kind(con, "main", name, database="temp")
        if kind:
            con.execute(f"drop {kind} {ident(name)}")
    con.execute(f"drop table if exists {SCRATCH_SCHEMA}.{ident(target + '__rows')}")


def read_jsonl_gz(con: duckdb.DuckDBPyConnection, path: Path, spec: FileSpec, file_name: str,
                  target: str) -> list[str]:
    """Gzip JSON Lines straight into DuckDB (never through pandas).

    Fast path: DuckDB's JSON reader. If a line is not JSON, the file is read again
    line by line so that the bad lines are kept as `_error` rows with their numbers.
    """
    part = spec.parts[0]
    try:
        with gzip.open(path, "rb") as fh:
            head = fh.read(2)
    except (OSError, EOFError) as exc:
        raise DeliveryError(file_name, f"truncated or corrupt gzip stream ({exc})") from None
    if head == b"\x1f\x8b":
        raise DeliveryError(file_name, "compressed twice: the gzip stream holds another gzip "
                            "stream, not JSON Lines", line=1)
    cols = ", ".join(f"{ident(c)}: 'VARCHAR'" for c in part.columns.values())
    select = ", ".join(ident(c) for c in part.columns.values())
    rows = f"{SCRATCH_SCHEMA}.{ident(target + '__rows')}"
    # A table of the warehouse, not a temp table: temp tables are not compressed, and a
    # province year (65 million rows, 11 GB as temp data) spills to the temp directory under
    # the memory limit and is written and read back there by every scan (rules, audit,
    # publication). A warehouse table is compressed (the key stays uncompressed, as in raw:
    # compressing random keys costs more than it saves) and its blocks, once written, are
    # evicted for free: 4.3 GB at province scale instead of 11 GB of temp files.
    defs = ", ".join(part.column_def(ident(c), "varchar") for c in part.columns.values())
    try:
        con.execute(f"create schema if not exists {SCRATCH_SCHEMA}")
        con.execute(f"create or replace table {rows} (_error varchar, {defs})")
        # Record numbers from the row id of a fresh table, which follows the file's order
        # (insertion order is preserved): row_number() over () would cost 7 s a year.
        con.execute(
            f"insert into {rows} select null::varchar as _error, {select} "
            f"from read_json($path, format = 'newline_delimited', compression = 'gzip', "
            f"columns = {{{cols}}})", {"path": str(path)})
        con.execute(f"create or replace temp view {target} as select (rowid + 1)::bigint "
                    f"as _line, * from {rows}")
        return []
    except duckdb.InvalidInputException as exc:
        con.execute(f"drop table if exists {rows}")
        # A line that is not a JSON object (malformed, an array, a bare value): read the
        # file again line by line below, so that only those lines are quarantined. A gzip
        # problem fails the same way there and is reported then.
        if "gzip" in str(exc).lower():
            raise DeliveryError(file_name, _duckdb_problem(exc)) from None
    except duckdb.Error as exc:
        raise DeliveryError(file_name, _duckdb_problem(exc)) from None
    extract = ", ".join(f"json_extract_string(j, '$.{c}') as {ident(c)}"
                        for c in part.columns.values())
    try:
        con.execute(
            f"create or replace temp table {target} as "
            "with lines as (select row_number() over () as n, line from read_csv($path, "
            "columns = {'line': 'VARCHAR'}, header = false, delim = chr(31), quote = '', "
            "escape = '', auto_detect = false, compression = 'gzip')), "
            "parsed as (select n, line, try(json(line)) as j from lines) "
            "select n::bigint as _line, "
            "case when j is null or json_type(j) <> 'OBJECT' then 'not a JSON object: ' "
            "|| left(line, 80) end as _error, " + extract + " from parsed",
            {"path": str(path)})
    except duckdb.Error as exc:
        raise DeliveryError(file_name, _duckdb_problem(exc)) from None
    return []
