"""`openmsi geonames import` and the distance helper routes (get-distance-provider-code,
get-distance, get-latlng-from-address, get-latslngs-from-address; spec source-selection.md).

``geonames_postcodes.txt`` is a small file in GeoNames' postal-code format (``allCountries.txt``
style: 12 tab-separated columns) made for these tests from public facts: 40 real postcodes of
the US, Germany and France with their approximate coordinates, the tutorial sources' among them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from factories import INVENTORY, assert_envelope
from openmsi.app import create_app
from openmsi.cli import app as cli
from openmsi.db import Database
from openmsi.models import Geoname
from openmsi.settings import Settings, get_settings

FIXTURE = Path(__file__).parent / "geonames_postcodes.txt"
LINES = FIXTURE.read_bytes().splitlines(keepends=True)
COUNTS = {"US": 26, "DE": 11, "FR": 3}
SOURCE = "Magento_InventoryApi::source"


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run_import(database_url: str, *paths: Path) -> Result:
    return CliRunner().invoke(
        cli, ["geonames", "import", *map(str, paths)], env={"OPENMSI_DATABASE_URL": database_url}
    )


def stored(session: Session) -> dict[str, int]:
    session.rollback()
    rows = session.execute(select(Geoname.country_code, func.count()).group_by(Geoname.country_code))
    return {country: count for country, count in rows}


def cities(session: Session, country: str) -> list[str]:
    session.rollback()
    query = select(Geoname.city).where(Geoname.country_code == country).order_by(Geoname.entity_id)
    return list(session.scalars(query))


def write(tmp_path: Path, name: str, lines: list[bytes]) -> Path:
    path = tmp_path / name
    path.write_bytes(b"".join(lines))
    return path


def of(country: str) -> list[bytes]:
    return [line for line in LINES if line.startswith(country.encode() + b"\t")]


# --- Import ------------------------------------------------------------------------------------


def test_import_loads_every_country_of_the_file(database_url: str, session: Session) -> None:
    result = run_import(database_url, FIXTURE)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "US: 26 postcodes imported (replacing 0).",
        "DE: 11 postcodes imported (replacing 0).",
        "FR: 3 postcodes imported (replacing 0).",
    ]
    assert "Checking" in result.stderr and "Importing" in result.stderr  # the progress bars
    assert stored(session) == COUNTS
    session.rollback()
    row = session.scalars(select(Geoname).where(Geoname.postcode == "80331")).one()
    assert (row.country_code, row.city, row.region, row.province) == ("DE", "München", "Bayern", "091")
    assert (row.latitude, row.longitude) == (48.1372, 11.5755)


def test_a_second_import_replaces_each_country_it_holds(
    database_url: str, session: Session, tmp_path: Path
) -> None:
    assert run_import(database_url, FIXTURE).exit_code == 0
    again = run_import(database_url, FIXTURE)
    assert again.exit_code == 0, again.output
    assert "US: 26 postcodes imported (replacing 26)." in again.stdout
    assert stored(session) == COUNTS
    # A <CC>.txt of Germany's first three postcodes: Germany is replaced, the others are kept.
    berlin = write(tmp_path, "DE.txt", of("DE")[:3])
    result = run_import(database_url, berlin)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["DE: 3 postcodes imported (replacing 11)."]
    assert stored(session) == {**COUNTS, "DE": 3}
    assert cities(session, "DE") == ["Berlin", "Berlin", "Berlin"]


def test_windows_line_breaks_and_blank_lines_are_read(
    database_url: str, session: Session, tmp_path: Path
) -> None:
    lines = [line.rstrip(b"\n") + b"\r\n" for line in of("FR")] + [b"\r\n", b"\n"]
    assert run_import(database_url, write(tmp_path, "FR.txt", lines)).exit_code == 0
    assert stored(session) == {"FR": 3}


def _replace(line: bytes, column: int, value: bytes) -> bytes:
    columns = line.rstrip(b"\n").split(b"\t")
    columns[column] = value
    return b"\t".join(columns) + b"\n"


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        pytest.param(lambda line: line.replace(b"\t4\n", b"\n"), "11 tab-separated columns instead of 12",
                     id="a-column-missing"),
        pytest.param(lambda line: line.replace(b"\n", b"\textra\n"), "13 tab-separated columns instead of 12",
                     id="a-column-too-many"),
        pytest.param(lambda line: _replace(line, 9, b"north"), 'the latitude "north" is not a number',
                     id="latitude-not-a-number"),
        pytest.param(lambda line: _replace(line, 10, b"181.5"),
                     "the longitude 181.5 is not between -180 and 180", id="longitude-off-the-globe"),
        pytest.param(lambda line: _replace(line, 9, b"nan"), "the latitude nan is not between -90 and 90",
                     id="latitude-nan"),
        pytest.param(lambda line: _replace(line, 1, b""), "the postal code is empty", id="no-postal-code"),
        pytest.param(lambda line: _replace(line, 2, b"x" * 181),
                     "the place name is longer than 180 characters", id="place-name-too-long"),
        pytest.param(lambda line: line.decode().encode("latin-1"),
                     "not UTF-8 text (byte 0xfc at position 11)", id="latin-1"),
    ],
)  # fmt: skip
def test_a_malformed_line_is_named_and_its_country_is_left_as_it_was(
    database_url: str, session: Session, tmp_path: Path, broken: Any, reason: str
) -> None:
    assert run_import(database_url, FIXTURE).exit_code == 0
    german = of("DE")
    munich = next(n for n, line in enumerate(german) if b"\t80331\t" in line)
    german[munich] = broken(german[munich])
    path = write(tmp_path, "allCountries.txt", of("US")[:2] + german + of("FR"))
    result = run_import(database_url, path)
    assert result.exit_code == 1
    line_number = 2 + munich + 1
    assert f"DE: not imported, nothing changed: {path}, line {line_number}: {reason}" in result.stderr
    # The United States and France are replaced; Germany keeps the rows of the first import.
    assert result.stdout.splitlines() == [
        "US: 2 postcodes imported (replacing 26).",
        "FR: 3 postcodes imported (replacing 3).",
    ]
    assert stored(session) == {"US": 2, "DE": 11, "FR": 3}


def test_a_line_without_a_country_stops_every_country_of_its_file(
    database_url: str, session: Session, tmp_path: Path
) -> None:
    path = write(tmp_path, "broken.txt", [*of("FR"), b"garbage\n", *of("DE")])
    result = run_import(database_url, path)
    assert result.exit_code == 1
    assert f"{path}, line 4: 1 tab-separated columns instead of 12" in result.stderr
    assert "FR: not imported" in result.stderr and "DE: not imported" in result.stderr
    assert stored(session) == {}


def test_a_missing_file_is_refused_before_anything(
    database_url: str, session: Session, tmp_path: Path
) -> None:
    result = run_import(database_url, FIXTURE, tmp_path / "nope.txt")
    assert result.exit_code == 2
    assert "does not exist" in result.output
    assert stored(session) == {}


# --- Distance helper routes ----------------------------------------------------------------------


@pytest.fixture
def offline(settings: Settings, database: Database) -> TestClient:
    return TestClient(create_app(settings.model_copy(update={"distance_provider": "offline"}), database))


@pytest.fixture
def imported(database_url: str) -> None:
    result = run_import(database_url, FIXTURE)
    assert result.exit_code == 0, result.output


def address_query(country: str, postcode: str, city: str = "", region: str = "", street: str = "") -> str:
    parts = {"country": country, "postcode": postcode, "street": street, "region": region, "city": city}
    return "&".join(f"address[{name}]={value}" for name, value in parts.items())


def test_the_provider_code_is_the_setting(
    client: TestClient, offline: TestClient, auth_headers: dict[str, str]
) -> None:
    for app_client, code in ((client, "google"), (offline, "offline")):
        response = app_client.get(f"{INVENTORY}/get-distance-provider-code", headers=auth_headers)
        assert response.status_code == 200
        assert response.json() == code


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("source[lat]=0&source[lng]=0&destination[lat]=0&destination[lng]=1", 111194.92664455874,
                     id="one-degree-on-the-equator"),
        pytest.param("source[lat]=52.5323&source[lng]=13.3846&destination[lat]=52.5323&destination[lng]=13.3846",
                     0, id="same-point"),
        pytest.param("source[lat]=90&source[lng]=0&destination[lat]=-90&destination[lng]=0",
                     20015086.79602057, id="pole-to-pole"),
    ],
)  # fmt: skip
def test_get_distance_measures_meters_on_the_sphere(
    offline: TestClient, auth_headers: dict[str, str], query: str, expected: float
) -> None:
    response = offline.get(f"{INVENTORY}/get-distance?{query}", headers=auth_headers)
    assert response.status_code == 200, response.text
    assert response.json() == expected


def test_coordinates_off_the_globe_still_give_a_number(
    offline: TestClient, auth_headers: dict[str, str]
) -> None:
    """Magento computes with any float; rounding can then push the haversine past 1, where
    asin is undefined: the value is clamped, so the answer is at most half the circumference."""
    query = "source[lat]=500&source[lng]=0&destination[lat]=-700&destination[lng]=1e300"
    response = offline.get(f"{INVENTORY}/get-distance?{query}", headers=auth_headers)
    assert response.status_code == 200, response.text
    assert 0 <= response.json() <= 20015086.79602057


def test_the_google_provider_answers_as_magento_without_a_key(
    client: TestClient, auth_headers: dict[str, str], imported: None
) -> None:
    key = {"message": "Google API key is not defined"}
    query = "source[lat]=0&source[lng]=0&destination[lat]=0&destination[lng]=1"
    assert_envelope(client.get(f"{INVENTORY}/get-distance?{query}", headers=auth_headers), 400, key)
    for route in ("get-latlng-from-address", "get-latslngs-from-address"):
        response = client.get(f"{INVENTORY}/{route}?{address_query('US', '10001')}", headers=auth_headers)
        assert_envelope(response, 400, key)


REQUIRED = '"%fieldName" is required. Enter and try again.'


@pytest.mark.parametrize(
    ("path", "envelope"),
    [
        pytest.param("get-distance?source[lat]=0&source[lng]=0", {"message": REQUIRED,
                     "parameters": {"fieldName": "destination"}}, id="no-destination"),
        pytest.param("get-distance?source[lat]=0&destination[lat]=0&destination[lng]=1",
                     {"message": REQUIRED, "parameters": {"fieldName": "lng"}}, id="no-source-lng"),
        pytest.param("get-distance?source[lat]=x&source[lng]=0&destination[lat]=0&destination[lng]=1",
                     {"message": 'Error occurred during "lat" processing. The "x" value\'s type is invalid. '
                                 'The "float" type was expected. Verify and try again.'},
                     id="lat-not-a-number"),
        pytest.param("get-latlng-from-address", {"message": REQUIRED, "parameters": {"fieldName": "address"}},
                     id="no-address"),
        pytest.param("get-latslngs-from-address?address[country]=US&address[postcode]=10001",
                     {"message": "One or more input exceptions have occurred.",
                      "errors": [{"message": REQUIRED, "parameters": {"fieldName": name}}
                                 for name in ("street", "region", "city")]}, id="incomplete-address"),
        pytest.param("get-latlng-from-address?address[country]=US&address[postcode]=10001&address[street]="
                     "&address[region]=&address[city]=&address[planet]=Earth",
                     {"message": '"%fieldName" is not supported. Correct the field name and try again.',
                      "parameters": {"fieldName": "Planet"}}, id="unknown-field"),
    ],
)  # fmt: skip
def test_helper_routes_refuse_bad_input_with_a_400(
    offline: TestClient, auth_headers: dict[str, str], path: str, envelope: dict[str, Any]
) -> None:
    assert_envelope(offline.get(f"{INVENTORY}/{path}", headers=auth_headers), 400, envelope)


@pytest.mark.parametrize(
    ("query", "one", "many"),
    [
        pytest.param(address_query("US", "89501"), {"lat": 39.5259, "lng": -119.8118},
                     [{"lat": 39.5259, "lng": -119.8118}], id="postcode"),
        pytest.param(address_query("us", "10118", city="Boston"), {"lat": 40.749, "lng": -73.9865},
                     [{"lat": 40.749, "lng": -73.9865}], id="postcode-wins-and-country-ignores-case"),
        pytest.param(address_query("DE", "10999", city="berl"), {"lat": 52.5323, "lng": 13.3846},
                     [{"lat": 52.5323, "lng": 13.3846}, {"lat": 52.5213, "lng": 13.4093},
                      {"lat": 52.5121, "lng": 13.3269}], id="city-prefix"),
        pytest.param(address_query("DE", "", region="Sachsen"), {"lat": 51.0574, "lng": 13.7168},
                     [{"lat": 51.0574, "lng": 13.7168}, {"lat": 51.3397, "lng": 12.3731}], id="region"),
        pytest.param(address_query("DE", "99999", city="%", region="Hessen"), {"lat": 50.1127, "lng": 8.6843},
                     [{"lat": 50.1127, "lng": 8.6843}, {"lat": 50.1172, "lng": 8.6828}],
                     id="a-percent-sign-is-no-wildcard"),
        pytest.param(address_query("DE", "99999", city="0", region="Sachsen"),
                     {"lat": 51.0574, "lng": 13.7168},
                     [{"lat": 51.0574, "lng": 13.7168}, {"lat": 51.3397, "lng": 12.3731}],
                     id="city-0-is-no-city-for-php"),
    ],
)  # fmt: skip
def test_offline_geocoding_follows_magentos_lookups(
    offline: TestClient,
    auth_headers: dict[str, str],
    imported: None,
    query: str,
    one: dict[str, float],
    many: list[dict[str, float]],
) -> None:
    response = offline.get(f"{INVENTORY}/get-latlng-from-address?{query}", headers=auth_headers)
    assert response.status_code == 200, response.text
    assert response.json() == one
    response = offline.get(f"{INVENTORY}/get-latslngs-from-address?{query}", headers=auth_headers)
    assert response.status_code == 200, response.text
    assert response.json() == many


@pytest.mark.parametrize("route", ["get-latlng-from-address", "get-latslngs-from-address"])
def test_an_unknown_address_is_a_404(
    offline: TestClient, auth_headers: dict[str, str], imported: None, route: str
) -> None:
    query = address_query("GB", "SW1A 1AA", city="London", region="England", street="Downing St")
    assert_envelope(
        offline.get(f"{INVENTORY}/{route}?{query}", headers=auth_headers),
        404,
        {"message": "Unknown geoname for %1", "parameters": ["Downing St SW1A 1AA London England GB"]},
    )


@pytest.mark.parametrize(
    "path",
    [
        "get-distance-provider-code",
        "get-distance?source[lat]=0&source[lng]=0&destination[lat]=0&destination[lng]=1",
        f"get-latlng-from-address?{address_query('US', '10001')}",
        f"get-latslngs-from-address?{address_query('US', '10001')}",
    ],
)
def test_helper_routes_need_the_source_resource(offline: TestClient, path: str) -> None:
    assert_envelope(
        offline.get(f"{INVENTORY}/{path}"),
        401,
        {
            "message": "The consumer isn't authorized to access %resources.",
            "parameters": {"resources": SOURCE},
        },
    )
