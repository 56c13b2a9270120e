"""The lead fields an import can fill, their labels, and the header names that
suggest them (French and English, VICIdial's own names included)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString


@dataclass(frozen=True)
class FieldDef:
    name: str
    label: LazyString
    synonyms: tuple[str, ...] = ()


STANDARD_FIELDS: tuple[FieldDef, ...] = (
    FieldDef("phone_number", _l("Phone"), ("phone", "telephone", "tel", "portable", "mobile", "numero", "gsm",
                                           "phone number", "telephone 1", "tel1")),
    FieldDef("first_name", _l("First name"), ("prenom", "firstname", "first name", "given name")),
    FieldDef("last_name", _l("Last name"), ("nom", "lastname", "last name", "surname", "nom de famille")),
    FieldDef("company", _l("Company"), ("societe", "entreprise", "raison sociale", "company name", "organisation")),
    FieldDef("alt_phone", _l("Other phone"), ("telephone 2", "tel2", "fixe", "autre telephone", "alt phone",
                                             "alternate phone")),
    FieldDef("email", _l("Email"), ("mail", "e-mail", "courriel", "adresse email", "email address")),
    FieldDef("address1", _l("Address"), ("adresse", "adresse 1", "address", "address line 1", "rue")),
    FieldDef("address2", _l("Address (2)"), ("adresse 2", "complement", "address line 2")),
    FieldDef("address3", _l("Address (3)"), ("adresse 3", "address line 3")),
    FieldDef("postal_code", _l("Postal code"), ("code postal", "cp", "zip", "zip code", "postcode")),
    FieldDef("city", _l("City"), ("ville", "commune", "town", "localite")),
    FieldDef("state", _l("State"), ("etat", "region")),
    FieldDef("province", _l("Province"), ("departement",)),
    FieldDef("country_code", _l("Country"), ("pays", "country", "code pays")),
    FieldDef("comments", _l("Comments"), ("commentaire", "commentaires", "notes", "remarques", "comment")),
    FieldDef("vendor_lead_code", _l("External code"), ("code externe", "reference", "ref", "external id", "id client",
                                                       "vendor code")),
    FieldDef("consent_source", _l("Consent source"), ("source consentement", "origine consentement")),
    FieldDef("consent_at", _l("Consent date"), ("date consentement", "consent date")),
    FieldDef("consent_text", _l("Consent text"), ("texte consentement",)),
    FieldDef("consent_proof", _l("Consent proof"), ("preuve consentement", "consent proof")),
)
STANDARD_NAMES: frozenset[str] = frozenset(f.name for f in STANDARD_FIELDS)
CUSTOM_PREFIX = "custom:"
NAME_FIELDS = ("first_name", "last_name", "company")


def fold(text: str) -> str:
    """Header name → comparable key: no accents, no case, single spaces."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", " ", plain.lower()).strip()


def _synonym_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for field in STANDARD_FIELDS:
        index[fold(field.name.replace("_", " "))] = field.name
        index[field.name] = field.name
        for synonym in field.synonyms:
            index[fold(synonym)] = field.name
    return index


_SYNONYMS = _synonym_index()


def suggest_field(header: str, custom_keys: dict[str, str]) -> str | None:
    """The field a column named ``header`` most likely holds; ``custom_keys`` maps
    folded labels and keys of the tenant's custom fields to their keys."""
    key = fold(header)
    if key in _SYNONYMS:
        return _SYNONYMS[key]
    if key in custom_keys:
        return CUSTOM_PREFIX + custom_keys[key]
    return None
