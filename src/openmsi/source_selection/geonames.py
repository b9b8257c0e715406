"""GeoNames postal-code dumps, read and checked for ``openmsi geonames import``.

The files are those of https://download.geonames.org/export/zip/ (``allCountries.txt`` or one
``<CC>.txt`` per country, unzipped), which Magento's ``inventory-geonames:import`` downloads
(``InventoryDistanceBasedSourceSelection/Model/ImportGeoNames.php``): UTF-8 text, one postal
code per line, 12 tab-separated columns::

    country code, postal code, place name, admin name1, admin code1, admin name2,
    admin code2, admin name3, admin code3, latitude, longitude, accuracy

Magento keeps the postal code as ``postcode``, the place name as ``city``, admin name1 (the
state) as ``region``, column 7 (admin code2) as ``province``, and the coordinates. It skips
lines with fewer than 10 columns and casts anything to a float; openmsi refuses a file that
does not have this shape, naming the line (see ``parse``), and imports nothing of a country
with such a line.

The import reads the files twice, streaming (``allCountries.txt`` is 1.5 million lines): once
to check every line and count each country's postcodes (``check``), once to hand the rows of
the countries without a problem to the caller, in batches, a country's rows together as long
as they are together in the files (``batches``). The caller (the CLI) replaces each country in
a transaction of its own.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openmsi.models import GEONAME_CITY_LENGTH, GEONAME_CODE_LENGTH, GEONAME_REGION_LENGTH

COLUMNS = 12
BATCH = 1000
# Bytes read between two progress reports.
PROGRESS_STEP = 256 * 1024
_COUNTRY = re.compile(r"[A-Za-z]{2}")

Progress = Callable[[int], None]
Row = dict[str, Any]


class MalformedLine(ValueError):
    """Why a line is not a GeoNames postal code."""


@dataclass(frozen=True)
class Problem:
    path: Path
    line: int
    reason: str
    country: str | None  # None when even the country code cannot be read

    def __str__(self) -> str:
        return f"{self.path}, line {self.line}: {self.reason}"


@dataclass
class Check:
    """What ``check`` found: postcodes per country (in order of first appearance) and the first
    problem of each country that has one; problems without a readable country spoil every
    country of their file."""

    counts: dict[str, int] = field(default_factory=dict)
    problems: dict[str, Problem] = field(default_factory=dict)
    file_problems: dict[Path, Problem] = field(default_factory=dict)
    countries_of_file: dict[Path, set[str]] = field(default_factory=dict)

    def refused(self) -> dict[str, Problem]:
        """Every country that will not be imported, with the problem that says why."""
        refused = dict(self.problems)
        for path, problem in self.file_problems.items():
            for country in self.countries_of_file.get(path, set()):
                refused.setdefault(country, problem)
        return refused

    def importable(self) -> list[str]:
        refused = self.refused()
        return [country for country in self.counts if country not in refused]


def parse(raw: bytes) -> Row:
    """One line (without its line break) as an ``inventory_geoname`` row. Raises MalformedLine."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedLine(
            f"not UTF-8 text (byte 0x{raw[error.start]:02x} at position {error.start + 1})"
        ) from None
    columns = text.split("\t")
    if len(columns) != COLUMNS:
        raise MalformedLine(f"{len(columns)} tab-separated columns instead of {COLUMNS}")
    country, postcode, city, region = columns[0], columns[1], columns[2], columns[3]
    province = columns[6]
    if not _COUNTRY.fullmatch(country):
        raise MalformedLine(f'the country code "{country}" is not two letters')
    if not postcode:
        raise MalformedLine("the postal code is empty")
    for name, value, limit in (
        ("postal code", postcode, GEONAME_CODE_LENGTH),
        ("place name", city, GEONAME_CITY_LENGTH),
        ("admin name1", region, GEONAME_REGION_LENGTH),
        ("admin code2", province, GEONAME_CODE_LENGTH),
    ):
        if len(value) > limit:
            raise MalformedLine(f"the {name} is longer than {limit} characters")
    return {
        "country_code": country.upper(),
        "postcode": postcode,
        "city": city,
        "region": region,
        "province": province,
        "latitude": _coordinate("latitude", columns[9], 90),
        "longitude": _coordinate("longitude", columns[10], 180),
    }


def _coordinate(name: str, text: str, bound: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise MalformedLine(f'the {name} "{text}" is not a number') from None
    if not math.isfinite(value) or not -bound <= value <= bound:
        raise MalformedLine(f"the {name} {text} is not between -{bound} and {bound}")
    return value


def _lines(path: Path, progress: Progress) -> Iterator[tuple[int, bytes]]:
    """(line number, line without its break), empty lines skipped, read as a stream."""
    pending = 0
    with path.open("rb") as stream:
        for number, raw in enumerate(stream, start=1):
            pending += len(raw)
            if pending >= PROGRESS_STEP:
                progress(pending)
                pending = 0
            line = raw.rstrip(b"\r\n")
            if line:
                yield number, line
    progress(pending)


def _country_of(raw: bytes) -> str | None:
    head = raw.split(b"\t", 1)[0]
    try:
        country = head.decode("ascii")
    except UnicodeDecodeError:
        return None
    return country.upper() if _COUNTRY.fullmatch(country) else None


def check(paths: Sequence[Path], progress: Progress) -> Check:
    """Read every line of the files: postcodes per country and the first problem of each."""
    found = Check()
    for path in paths:
        countries = found.countries_of_file.setdefault(path, set())
        for number, raw in _lines(path, progress):
            try:
                row = parse(raw)
            except MalformedLine as error:
                country = _country_of(raw)
                problem = Problem(path, number, str(error), country)
                if country is None:
                    found.file_problems.setdefault(path, problem)
                else:
                    countries.add(country)
                    found.counts.setdefault(country, 0)
                    found.problems.setdefault(country, problem)
                continue
            country = row["country_code"]
            countries.add(country)
            found.counts[country] = found.counts.get(country, 0) + 1
    return found


def batches(
    paths: Sequence[Path], countries: set[str], progress: Progress
) -> Iterator[tuple[str, list[Row]]]:
    """The rows of these countries, in file order, in batches of at most ``BATCH`` rows of one
    country; lines of other countries are skipped (``check`` has read them already)."""
    batch: list[Row] = []
    current: str | None = None
    for path in paths:
        for _, raw in _lines(path, progress):
            country = _country_of(raw)
            if country not in countries:
                continue
            if country != current or len(batch) >= BATCH:
                if batch:
                    assert current is not None
                    yield current, batch
                batch, current = [], country
            batch.append(parse(raw))
    if batch:
        assert current is not None
        yield current, batch
