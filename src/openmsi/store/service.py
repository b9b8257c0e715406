"""Websites: the sales channels that stocks serve (spec openmsi.md, "Websites and store views")."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from openmsi import errors
from openmsi.inventory import repository as inventory_repository
from openmsi.inventory.validators import DEFAULT_STOCK_ID, WEBSITE
from openmsi.models import StoreGroup, StoreView, Website
from openmsi.store import repository

# Magento's website and store codes: a letter first, then lower-case letters, digits, "_".
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def create_website(session: Session, code: str, name: str) -> Website:
    """`openmsi website create`: a website with one store group and one store view named by its
    code, assigned to the default stock as Magento's AssignWebsiteToDefaultStockPlugin does.

    Raises InputError for a malformed code or name, CouldNotSave when the code is taken.
    """
    if not _CODE.match(code):
        raise errors.InputError(
            'Website code "%1" is invalid: use a letter first, then lower-case letters (a-z), '
            "digits (0-9) or underscores, at most 32 characters.",
            [code],
        )
    name = name.strip()
    if not name or len(name) > 64:
        raise errors.InputError("The website name must be 1 to 64 characters long.")
    if repository.code_taken(session, code):
        raise errors.CouldNotSave(
            'A website, store group or store view with code "%1" already exists.', [code]
        )
    website_id, group_id, store_id = repository.next_ids(session)
    website = Website(website_id=website_id, code=code, name=name, sort_order=0, default_group_id=group_id)
    session.add(website)
    session.flush()
    session.add(
        StoreGroup(
            group_id=group_id, website_id=website_id, name=name, root_category_id=2,
            default_store_id=store_id, code=code,
        )
    )  # fmt: skip
    session.flush()
    session.add(
        StoreView(
            store_id=store_id, code=code, website_id=website_id, group_id=group_id, name=name, is_active=True
        )
    )
    inventory_repository.add_sales_channels(session, DEFAULT_STOCK_ID, [{"type": WEBSITE, "code": code}])
    session.flush()
    return website
