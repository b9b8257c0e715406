"""Distance providers (spec source-selection.md, "Distance providers"): how far a source is
from a destination, and where an address is.

The provider is ``OPENMSI_DISTANCE_PROVIDER`` (Magento's
``cataloginventory/source_selection_distance_based/provider``, default ``google``):

- ``offline`` geocodes with the GeoNames postal codes that ``openmsi geonames import`` loaded
  (Magento's ``GetGeoNameDataByAddress`` / ``GetGeoNamesDataByAddress``: exact postcode, else
  city prefix, else region, within the country) and measures great circles
  (``DistanceProvider/Offline/GetDistance.php``);
- ``google`` answers as Magento's Google provider does without an API key: every call fails
  with ``Google API key is not defined``. openmsi makes no outbound calls.

Errors are Magento's LocalizedExceptions: ``NoSuchEntity`` (404) for an address the offline
table does not know, ``MagentoError`` (400) for the Google provider.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from openmsi import errors
from openmsi.source_selection import repository
from openmsi.source_selection.repository import SourcePlace

OFFLINE = "offline"
GOOGLE = "google"
# Magento's constant is named EARTH_RADIUS_KM but holds meters: distances are in meters.
EARTH_RADIUS_M = 6371000.0
UNKNOWN_GEONAME = "Unknown geoname for %1"
GOOGLE_API_KEY_NOT_DEFINED = "Google API key is not defined"


@dataclass(frozen=True)
class Address:
    """AddressInterface (``InventorySourceSelection/Model/Address.php``)."""

    country: str
    postcode: str
    street: str
    region: str
    city: str

    def as_text(self) -> str:
        """``Convert/AddressToString``: what ``Unknown geoname for %1`` names."""
        return " ".join((self.street, self.postcode, self.city, self.region, self.country))


@dataclass(frozen=True)
class LatLng:
    """LatLngInterface."""

    lat: float
    lng: float


def distance(provider: str, source: LatLng, destination: LatLng) -> float:
    """GET get-distance: meters along the sphere (offline). Raises MagentoError (google)."""
    if provider != OFFLINE:
        raise errors.MagentoError(GOOGLE_API_KEY_NOT_DEFINED)
    # Offline/GetDistance.php step for step; PHP's deg2rad is (x / 180) * M_PI, which is not
    # always the same double as math.radians.
    lat_from, lng_from = _radians(source.lat), _radians(source.lng)
    lat_to, lng_to = _radians(destination.lat), _radians(destination.lng)
    haversine = math.sin((lat_to - lat_from) / 2) ** 2 + math.cos(lat_from) * math.cos(lat_to) * (
        math.sin((lng_to - lng_from) / 2) ** 2
    )
    # Clamped: coordinates outside the globe (Magento computes with any float) can push the
    # rounded value past 1, where asin is undefined.
    return 2 * math.asin(math.sqrt(min(max(haversine, 0.0), 1.0))) * EARTH_RADIUS_M


def _radians(degrees: float) -> float:
    return (degrees / 180.0) * math.pi


def lat_lng_from_address(session: Session, provider: str, address: Address) -> LatLng:
    """GET get-latlng-from-address: the first geoname of the address. Raises NoSuchEntity
    (offline, no match) or MagentoError (google)."""
    points = _lookup(session, provider, address, many=False)
    return LatLng(*points[0])


def lats_lngs_from_address(session: Session, provider: str, address: Address) -> list[LatLng]:
    """GET get-latslngs-from-address: the postcode's first geoname, else every geoname whose
    city starts with the address's, else every one of its region. Raises as above."""
    return [LatLng(*point) for point in _lookup(session, provider, address, many=True)]


def _lookup(session: Session, provider: str, address: Address, *, many: bool) -> list[tuple[float, float]]:
    if provider != OFFLINE:
        raise errors.MagentoError(GOOGLE_API_KEY_NOT_DEFINED)
    limit = None if many else 1
    points = repository.geonames_by_postcode(session, address.country, address.postcode)
    # PHP's `if ($address->getCity())`: "" and "0" are false.
    if not points and address.city not in ("", "0"):
        points = repository.geonames_by_city_prefix(session, address.country, address.city, limit)
    if not points:
        points = repository.geonames_by_region(session, address.country, address.region, limit)
    if not points:
        raise errors.NoSuchEntity(UNKNOWN_GEONAME, [address.as_text()])
    return points


def source_lat_lng(session: Session, provider: str, source: SourcePlace) -> LatLng:
    """``GetLatLngFromSource``: the source's own coordinates when both are set and not zero,
    else its address geocoded (missing parts as empty strings)."""
    if source.latitude and source.longitude:
        return LatLng(float(source.latitude), float(source.longitude))
    address = Address(
        source.country_id or "",
        source.postcode or "",
        source.street or "",
        source.region or "",
        source.city or "",
    )
    return lat_lng_from_address(session, provider, address)


def sort_by_distance(
    session: Session, provider: str, sources: Sequence[SourcePlace], destination: LatLng | Address
) -> list[SourcePlace]:
    """``DistanceBasedAlgorithm::getEnabledSourcesOrderedByDistanceByStockId``: the sources
    nearest first (ties keep priority order), then, in priority order, those whose distance
    could not be computed.

    The destination is located once, before the sources (Magento geocodes it again for each
    source). With the offline provider an address it does not know is the client's 404
    (``Unknown geoname for %1``), where Magento puts every source aside and answers the
    priority order; with the google provider every distance fails, as in Magento, and the
    answer is the priority order.
    """
    if isinstance(destination, Address):
        try:
            target = lat_lng_from_address(session, provider, destination)
        except errors.NoSuchEntity:
            raise
        except errors.MagentoError:
            return list(sources)
    else:
        target = destination
    measured: list[tuple[float, SourcePlace]] = []
    aside: list[SourcePlace] = []
    for source in sources:
        try:
            measured.append((distance(provider, source_lat_lng(session, provider, source), target), source))
        except errors.MagentoError:
            aside.append(source)
    measured.sort(key=lambda pair: pair[0])  # stable: equal distances keep priority order
    return [source for _, source in measured] + aside
