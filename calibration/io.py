"""Load measured pulse trains and multi-level programming data from CSV, with precise errors.

Long layout (docs/calibration.md): one row per measurement, a header naming the columns with their
units (case-insensitive): ``device_id, pulse_index`` and exactly one of ``resistance_ohm``,
``conductance_s`` or ``current_a`` (the latter with ``read_voltage_v``, as a column or an
argument); optional ``cycle``, ``pulse_type`` (``set``, ``reset``, ``weak_reset``),
``pulse_amplitude_v``, ``pulse_width_s``, ``time_s``. Wide layout: one column per device or
ramp, one row per pulse (row 1 = pulse 0); a column's trailing empty or ``0`` cells end its ramp.

Every problem is reported as a :class:`CSVFormatError` naming the file, the line and the column;
a partially bad file is rejected whole unless ``skip_bad_rows=True``, which drops the bad rows and
reports how many were dropped and why (``Measurements.skipped``). Accepted as they come: a
byte-order mark, CRLF line ends, quoted fields, comma, semicolon or tab delimiters (sniffed from
the header), scientific notation, header names in any case, whitespace around fields, unsorted
rows, and — unless ``strict=True`` — columns the loader does not know (ignored, and listed). The file is read in one streaming pass into compact
typed buffers (20 bytes of numbers per row: resistance, pulse, cycle, device), then sorted by
(device, cycle, pulse) — without any copy when the file is already in that order.
"""

from __future__ import annotations

import csv
import math
import os
import pathlib
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from devices import InvalidParameterError
from devices.support import check_real, closest

__all__ = ["PULSE_TYPES", "QUANTITIES", "CSVFormatError", "Measurements", "load_pulse_trains"]

#: The measured quantity columns (exactly one per file).
QUANTITIES = ("resistance_ohm", "conductance_s", "current_a")
PULSE_TYPES = ("set", "reset", "weak_reset")
_REQUIRED = ("device_id", "pulse_index")
#: Read voltages accepted for current data (V): 0.1 mV to 100 V, far beyond any RRAM read.
_READ_VOLTAGE = (1e-4, 100.0)
_OPTIONAL_NUMERIC = ("cycle", "pulse_amplitude_v", "pulse_width_s", "time_s", "read_voltage_v")
_KNOWN = (*_REQUIRED, *QUANTITIES, *_OPTIONAL_NUMERIC, "pulse_type")


class CSVFormatError(InvalidParameterError):
    """A measured-data file is malformed; ``path``, ``line`` and ``column`` say where."""

    def __init__(self, path: str, line: int, column: str | None, message: str) -> None:
        where = f"{path}:{line}" + (f": column {column!r}" if column else "")
        super().__init__(f"{where}: {message}")
        self.path, self.line, self.column = path, line, column


def _bad_utf8_line(path: str) -> tuple[int, int]:
    """Line (1-based) and byte offset of the first byte sequence that is not UTF-8."""
    data = pathlib.Path(path).read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return data.count(b"\n", 0, exc.start) + 1, exc.start
    return 0, -1


#: Field delimiters recognised in a header line (comma, semicolon — the CSV of locales whose
#: decimal mark is a comma — and tab).
DELIMITERS = (",", ";", "\t")


def sniff_delimiter(path: str) -> str:
    """The delimiter of ``path``: the one of :data:`DELIMITERS` found most often outside quotes
    in the header line (a comma when none is, e.g. a one-column file)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            first = fh.readline()
    except UnicodeDecodeError:
        return ","  # reported where the reader meets the byte
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in first:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])  # ties keep the comma
    return best if counts[best] > 0 else ","


def reader_of(path: str, fh: Any) -> Any:
    """A ``csv.reader`` over ``fh`` with the file's sniffed delimiter."""
    return csv.reader(fh, delimiter=sniff_delimiter(path))


def rows(path: str, reader: Any) -> Iterator[list[str]]:
    """The rows of ``reader``; an undecodable byte or a CSV error (e.g. a field over the csv
    module's limit) is a CSVFormatError at the line where it is, not a traceback."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            line, offset = _bad_utf8_line(path)
            raise CSVFormatError(path, line, None, f"not UTF-8 text (byte {offset} of the file; "
                                 "save the file as UTF-8)") from None  # fmt: skip
        except csv.Error as exc:
            raise CSVFormatError(path, reader.line_num, None, f"unreadable CSV ({exc})") from None
        yield row


@dataclass
class Measurements:
    """Pulse trains in long form, sorted by (device, cycle, pulse).

    Attributes
    ----------
    device : ndarray of int32
        Device code per row; ``device_names[code]`` is the name from the file.
    pulse : ndarray of int32
        Pulse index per row.
    resistance_ohm : ndarray of float64
        Measured resistance per row (converted from conductance or current as needed).
    cycle : ndarray of int32
        Cycle per row (0 when the file has no cycle column).
    extra : dict of str to ndarray
        Optional columns present in the file (``time_s``, ``pulse_amplitude_v``, ...,
        ``pulse_type`` as strings).
    skipped : dict of str to int
        With ``skip_bad_rows=True``: number of dropped rows per reason.
    ignored_columns : tuple of str
        Columns of the file the loader does not know, ignored (``strict=False``).
    """

    device: np.ndarray
    device_names: tuple[str, ...]
    pulse: np.ndarray
    resistance_ohm: np.ndarray
    cycle: np.ndarray
    source: str
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    ignored_columns: tuple[str, ...] = ()

    @property
    def conductance_s(self) -> np.ndarray:
        return 1.0 / self.resistance_ohm

    @property
    def n_devices(self) -> int:
        return len(self.device_names)

    def trains(self) -> list[tuple[str, int, np.ndarray, np.ndarray]]:
        """``(device name, cycle, pulse indices, resistances)`` of every (device, cycle) train."""
        if self.device.size == 0:
            return []
        key = self.device.astype(np.int64) * (int(self.cycle.max()) + 1) + self.cycle.astype(
            np.int64
        )
        cuts = np.flatnonzero(np.diff(key)) + 1
        out = []
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, key.size], strict=True):
            out.append((self.device_names[self.device[lo]], int(self.cycle[lo]),
                        self.pulse[lo:hi], self.resistance_ohm[lo:hi]))  # fmt: skip
        return out


def _parse_columns(spec: Any) -> dict[str, str]:
    if spec is None:
        return {}
    if isinstance(spec, dict):
        return {str(k).strip().lower(): str(v).strip().lower() for k, v in spec.items()}
    mapping = {}
    for item in str(spec).split(","):
        if "=" not in item:
            raise InvalidParameterError(
                f"The 'columns' parameter must be 'old=new,...'. Got item {item!r} instead."
            )
        old, new = item.split("=", 1)
        mapping[old.strip().lower()] = new.strip().lower()
    return mapping


def unknown_columns(path: str, header: list[str], known: tuple[str, ...],
                    strict: bool) -> tuple[str, ...]:  # fmt: skip
    """The header's columns outside ``known`` (ignored), or, with ``strict``, an error naming the
    first with the closest known name. An empty column name is always an error."""
    ignored = []
    for k, name in enumerate(header):
        if name in known:
            continue
        if strict or not name:
            raise CSVFormatError(
                path, 1, name or f"#{k + 1}",
                ("unknown column" if name else "empty column name")
                + f"; expected some of {', '.join(known)}." + closest(name, known),
            )  # fmt: skip
        ignored.append(name)
    return tuple(dict.fromkeys(ignored))


def misspelt(path: str, header: list[str], ignored: tuple[str, ...], missing: list[str]) -> None:
    """An ignored column that is a near miss of a missing one is a typo, not an extra column:
    name it (``resistence_ohm`` -> "Did you mean 'resistance_ohm'?")."""
    for name in ignored:
        hint = closest(name, missing)
        if hint:
            raise CSVFormatError(path, 1, name, f"unknown column (ignored), and a required "
                                 f"column is missing.{hint}")  # fmt: skip


def _number(path: str, line: int, column: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CSVFormatError(path, line, column, f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise CSVFormatError(path, line, column, f"not a finite number: {text!r}")
    return value


def _integer(path: str, line: int, column: str, text: str) -> int:
    value = _number(path, line, column, text)
    if value != int(value) or value < 0 or value > 2**31 - 1:
        raise CSVFormatError(path, line, column,
                             f"must be a non-negative integer below 2**31, got {text!r}")  # fmt: skip
    return int(value)


def _to_resistance(path: str, line: int, column: str, value: float, quantity: str,
                   read_voltage: float | None) -> float:  # fmt: skip
    if value <= 0:
        raise CSVFormatError(path, line, column, f"must be > 0, got {value!r}")
    if quantity == "resistance_ohm":
        return value
    if quantity == "conductance_s":
        return 1.0 / value
    if read_voltage is None or not _READ_VOLTAGE[0] <= read_voltage <= _READ_VOLTAGE[1]:
        raise CSVFormatError(path, line, "read_voltage_v",
                             f"current_a needs a read voltage in [{_READ_VOLTAGE[0]:g}, "
                             f"{_READ_VOLTAGE[1]:g}] V (column or argument); got "
                             f"{read_voltage!r}")  # fmt: skip
    r = read_voltage / value
    if not math.isfinite(r):
        raise CSVFormatError(path, line, column, f"{value!r} A gives no finite resistance")
    return r


def load_pulse_trains(
    path: str | os.PathLike[str],
    layout: str = "long",
    columns: Any = None,
    quantity: str | None = None,
    read_voltage_v: float | None = None,
    skip_bad_rows: bool = False,
    strict: bool = False,
) -> Measurements:
    """Load measured pulse trains (see the module docstring for the layouts).

    Parameters
    ----------
    path : path
        CSV file.
    layout : {"long", "wide"}
    columns : dict or "old=new,..." string, optional
        Renames columns before they are interpreted.
    quantity : {"resistance_ohm", "conductance_s", "current_a"}, optional
        Wide layout: what the cells hold (required there).
    read_voltage_v : float, optional
        Read voltage for ``current_a`` data (long layout: unless a ``read_voltage_v`` column),
        between 1e-4 and 100 V.
    skip_bad_rows : bool
        Drop bad rows (counted in ``skipped``) instead of rejecting the file.
    strict : bool
        Long layout: reject columns the loader does not know (by default they are ignored and
        listed in ``Measurements.ignored_columns``: an operator name, a temperature...).
    """
    if layout not in ("long", "wide"):
        raise InvalidParameterError(
            f"The 'layout' parameter must be 'long' or 'wide'. Got {layout!r} instead."
            + closest(str(layout), ("long", "wide"))
        )
    if read_voltage_v is not None:
        check_real("read_voltage_v", read_voltage_v, "load_pulse_trains", *_READ_VOLTAGE)
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CSVFormatError(path, 0, None, "no such file")
    rename = _parse_columns(columns)
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = reader_of(path, fh)
        try:
            header_raw = next(reader)
        except StopIteration:
            raise CSVFormatError(path, 1, None, "empty file (a header is required)") from None
        except UnicodeDecodeError:
            line, offset = _bad_utf8_line(path)
            raise CSVFormatError(path, line, None, f"not UTF-8 text (byte {offset} of the file; "
                                 "save the file as UTF-8)") from None  # fmt: skip
        except csv.Error as exc:
            raise CSVFormatError(path, 1, None, f"unreadable CSV ({exc})") from None
        header = [rename.get(h.strip().lower(), h.strip().lower()) for h in header_raw]
        if layout == "wide":
            return _load_wide(path, reader, header, quantity, read_voltage_v, skip_bad_rows)
        return _load_long(path, reader, header, read_voltage_v, skip_bad_rows, strict)


def _load_long(path: str, reader: Any, header: list[str], read_voltage_v: float | None,
               skip: bool, strict: bool = False) -> Measurements:  # fmt: skip
    ignored = unknown_columns(path, header, _KNOWN, strict)
    dupes = [n for n, c in Counter(header).items() if c > 1 and n not in ignored]
    if dupes:
        raise CSVFormatError(path, 1, dupes[0], "column appears twice")
    missing = [n for n in _REQUIRED if n not in header]
    if not any(q in header for q in QUANTITIES):
        missing += QUANTITIES
    misspelt(path, header, ignored, missing)
    for name in _REQUIRED:
        if name not in header:
            raise CSVFormatError(path, 1, name, "missing required column")
    present = [q for q in QUANTITIES if q in header]
    if not present:
        raise CSVFormatError(
            path, 1, None, f"missing a quantity column: one of {', '.join(QUANTITIES)}"
        )
    if len(present) > 1:
        raise CSVFormatError(path, 1, present[1],
                             f"mixed units: {' and '.join(present)}; keep exactly one")  # fmt: skip
    quantity = present[0]
    parse = _RowParser(path, header, quantity, read_voltage_v)
    names: dict[str, int] = {}
    device, pulse, cycle = array("i"), array("i"), array("i")
    values = array("d")
    extras = {n: array("d") for n in parse.optional}
    kinds = array("b") if parse.has_pulse_type else None
    skipped: Counter[str] = Counter()
    for row in rows(path, reader):
        try:
            parsed = parse(reader.line_num, row)
        except CSVFormatError as exc:
            if not skip:
                raise
            skipped[str(exc).split(": ", 1)[1]] += 1
            continue
        if parsed is None:
            continue
        name, p, c, r, ex, kind = parsed
        device.append(names.setdefault(name, len(names)))
        pulse.append(p)
        cycle.append(c)
        values.append(r)
        for n, v in zip(parse.optional, ex, strict=True):
            extras[n].append(v)
        if kinds is not None:
            kinds.append(kind)
    if len(values) == 0:
        raise CSVFormatError(
            path,
            2,
            None,
            "no data rows" + (f" ({sum(skipped.values())} skipped)" if skipped else ""),
        )
    # Peak memory matters for files of ~10^7 rows: the columns stay in their array.array
    # buffers (numpy views, no copy) when the rows are already ordered, and every full-length
    # temporary below is either chunked or freed before the next one is made.
    columns: dict[str, Any] = {"device": device, "pulse": pulse, "cycle": cycle,
                               "resistance_ohm": values, **extras}  # fmt: skip
    if kinds is not None:
        columns["pulse_type"] = kinds
    arrays = {k: np.frombuffer(v, dtype=_DTYPE.get(k, np.float64)) for k, v in columns.items()}
    del device, pulse, cycle, values, extras, kinds, columns
    # devices in name order, so the result does not depend on the order of the rows
    sorted_names = sorted(names)
    # Device codes are in order of first appearance, so "grouped" (each device's rows together,
    # each train in order) holds exactly when the rows are sorted up to the order of the devices.
    grouped = _is_sorted(arrays["device"], arrays["cycle"], arrays["pulse"])
    if sorted_names != list(names):
        old_codes = [names[n] for n in sorted_names]
        if grouped:
            # the usual measured file: moving whole device blocks needs no index array
            bounds = np.searchsorted(arrays["device"], np.arange(len(names) + 1))
            for key in arrays:
                a = arrays[key]
                arrays[key] = np.concatenate([a[bounds[c] : bounds[c + 1]] for c in old_codes])
                del a  # frees this column's parse buffer before the next copy
        recode = np.empty(len(names), dtype=np.int32)
        recode[old_codes] = np.arange(len(names), dtype=np.int32)
        dev = arrays["device"]
        for s in range(0, dev.size, _CHUNK):
            dev[s : s + _CHUNK] = recode[dev[s : s + _CHUNK]]
    names = {n: k for k, n in enumerate(sorted_names)}
    if not grouped:
        order = np.lexsort((arrays["pulse"], arrays["cycle"], arrays["device"]))
        if order.size < 2**31:
            order = order.astype(np.int32)
        for key in arrays:  # one reordered copy alive at a time
            arrays[key] = arrays[key][order]
        del order
    dev, cyc, pul = arrays["device"], arrays["cycle"], arrays["pulse"]
    k = _first_duplicate(dev, cyc, pul)
    if k >= 0:
        key = (sorted_names[dev[k]], int(cyc[k]), int(pul[k]))
        where = _lines_of(path, parse, key)
        raise CSVFormatError(
            path, where[1], "pulse_index",
            f"duplicate measurement of device {key[0]!r}, cycle {key[1]}, pulse {key[2]} "
            f"(also on line {where[0]})",
        )  # fmt: skip
    extra: dict[str, np.ndarray] = {n: arrays[n] for n in parse.optional}
    if parse.has_pulse_type:
        extra["pulse_type"] = np.asarray(PULSE_TYPES)[arrays["pulse_type"]]
    return Measurements(dev, tuple(names), pul, arrays["resistance_ohm"], cyc, path, extra,
                        dict(skipped), ignored)  # fmt: skip


_CHUNK = 1 << 16
_DTYPE = {"device": np.int32, "pulse": np.int32, "cycle": np.int32, "pulse_type": np.int8}


class _RowParser:
    """Parses one long-layout row; raises CSVFormatError naming line and column."""

    def __init__(self, path: str, header: list[str], quantity: str,
                 read_voltage_v: float | None) -> None:  # fmt: skip
        self.path, self.header, self.quantity = path, header, quantity
        self.read_voltage_v = read_voltage_v
        self.col = {name: k for k, name in enumerate(header)}
        self.optional = tuple(
            n for n in _OPTIONAL_NUMERIC if n in self.col and n not in ("cycle", "read_voltage_v")
        )
        self.has_pulse_type = "pulse_type" in self.col

    def __call__(self, line: int, row: list[str]) -> tuple | None:
        if not row or all(not f.strip() for f in row):
            return None
        path, col = self.path, self.col
        if len(row) != len(self.header):
            raise CSVFormatError(path, line, None,
                                 f"{len(row)} fields, the header has {len(self.header)}")  # fmt: skip
        f = [x.strip() for x in row]
        name = f[col["device_id"]]
        if not name:
            raise CSVFormatError(path, line, "device_id", "empty device id")
        p = _integer(path, line, "pulse_index", f[col["pulse_index"]])
        c = _integer(path, line, "cycle", f[col["cycle"]]) if "cycle" in col else 0
        rv = self.read_voltage_v
        if "read_voltage_v" in col:
            rv = _number(path, line, "read_voltage_v", f[col["read_voltage_v"]])
        q = self.quantity
        r = _to_resistance(path, line, q, _number(path, line, q, f[col[q]]), q, rv)
        ex = tuple(_number(path, line, n, f[col[n]]) for n in self.optional)
        kind = -1
        if self.has_pulse_type:
            pt = f[col["pulse_type"]].lower()
            if pt not in PULSE_TYPES:
                raise CSVFormatError(path, line, "pulse_type",
                                     f"must be one of {', '.join(PULSE_TYPES)}, got {pt!r}")  # fmt: skip
            kind = PULSE_TYPES.index(pt)
        return name, p, c, r, ex, kind


def _lines_of(path: str, parse: _RowParser, key: tuple[str, int, int]) -> list[int]:
    """Line numbers of the first two valid rows with (device, cycle, pulse) == key.

    Only called to word a duplicate error, so the main pass need not keep a line number per row.
    """
    found: list[int] = []
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = reader_of(path, fh)
        next(reader)
        for row in rows(path, reader):
            try:
                parsed = parse(reader.line_num, row)
            except CSVFormatError:
                continue
            if parsed is not None and (parsed[0], parsed[2], parsed[1]) == key:
                found.append(reader.line_num)
                if len(found) == 2:
                    break
    return found


def _first_duplicate(dev: np.ndarray, cyc: np.ndarray, pul: np.ndarray) -> int:
    """Index k of the first row equal to row k + 1 (rows sorted), or -1; chunked."""
    for s in range(0, max(dev.size - 1, 0), _CHUNK):
        e = min(s + _CHUNK + 1, dev.size)
        same = (dev[s + 1 : e] == dev[s : e - 1]) & (cyc[s + 1 : e] == cyc[s : e - 1])
        same &= pul[s + 1 : e] == pul[s : e - 1]
        if same.any():
            return s + int(np.argmax(same))
    return -1


def _is_sorted(dev: np.ndarray, cyc: np.ndarray, pul: np.ndarray) -> bool:
    """Whether rows are already in (device, cycle, pulse) order (then nothing is copied)."""
    for s in range(0, max(dev.size - 1, 0), _CHUNK):
        e = min(s + _CHUNK + 1, dev.size)
        d, c, p = np.diff(dev[s:e]), np.diff(cyc[s:e]), np.diff(pul[s:e])
        if not np.all((d > 0) | ((d == 0) & ((c > 0) | ((c == 0) & (p >= 0))))):
            return False
    return True


def _load_wide(path: str, reader: Any, header: list[str], quantity: str | None,
               read_voltage_v: float | None, skip: bool) -> Measurements:  # fmt: skip
    if quantity not in QUANTITIES:
        raise InvalidParameterError(
            f"The 'quantity' parameter must be one of {', '.join(QUANTITIES)} for the wide layout. "
            f"Got {quantity!r} instead."
        )
    if any(not h for h in header):
        raise CSVFormatError(path, 1, None, "empty column name in the header")
    dupes = [n for n, c in Counter(header).items() if c > 1]
    if dupes:
        raise CSVFormatError(path, 1, dupes[0], "column appears twice")
    n_col = len(header)
    ended = [False] * n_col
    device, pulse, values = array("i"), array("i"), array("d")
    skipped: Counter[str] = Counter()
    index = 0
    for row in rows(path, reader):
        line = reader.line_num
        if len(row) > n_col:
            exc = CSVFormatError(path, line, None, f"{len(row)} fields, the header has {n_col}")
            if not skip:
                raise exc
            skipped[str(exc).split(": ", 1)[1]] += 1
            index += 1
            continue
        for k in range(n_col):
            text = row[k].strip() if k < len(row) else ""
            try:
                value = _number(path, line, header[k], text) if text else 0.0
                if value == 0.0:
                    ended[k] = True  # empty or 0: this ramp is over
                    continue
                if ended[k]:
                    raise CSVFormatError(path, line, header[k],
                                         "value after the ramp ended (an empty or 0 cell above)")  # fmt: skip
                r = _to_resistance(path, line, header[k], value, quantity, read_voltage_v)
            except CSVFormatError as exc:
                if not skip:
                    raise
                skipped[str(exc).split(": ", 1)[-1]] += 1
                continue
            device.append(k)
            pulse.append(index)
            values.append(r)
        index += 1
    if len(values) == 0:
        raise CSVFormatError(path, 2, None, "no data rows")
    dev = np.frombuffer(device, dtype=np.int32)
    pul = np.frombuffer(pulse, dtype=np.int32)
    order = np.lexsort((pul, dev))
    return Measurements(dev[order], tuple(header), pul[order],
                        np.frombuffer(values, dtype=np.float64)[order],
                        np.zeros(order.size, dtype=np.int32), path, {}, dict(skipped))  # fmt: skip
