"""HubSpot (CRM v3 objects, v4 associations), in batches of up to 100 items.

For each batch: contacts (update by stored id, else upsert by email, else create),
companies (update by stored id, else one create per distinct company in the batch),
deals (update by stored id, else upsert on the unique ``leadline_handoff_key``
property holding the hand-off's idempotency key), then the default associations between
them. Associating a pair that is already associated changes nothing, so every
delivery re-states them and an association lost to an earlier failure is made.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from redis import Redis

from sync.crm import fields
from sync.crm.base import CrmTarget, Delivery, HandoffItem
from sync.crm.config import build_client, common_errors, token_error
from sync.crm.http import Rejected, Transient
from sync.crm.hubspot_batch import BatchSender, Entry

BASE_URL = "https://api.hubapi.com"
# Private apps get 100 (Starter) to 190 (Professional, Enterprise) requests per 10 s.
DEFAULT_LIMIT = (100, 10.0)
MAX_BATCH = 100
OBJECT_TYPES = frozenset({"contact", "company", "deal"})
# A deal property with unique values that holds the hand-off's idempotency key; "Test
# connection" creates it when the account lacks it.
DEAL_KEY_PROPERTY = "leadline_handoff_key"
DEAL_KEY_DEFINITION = {
    "name": DEAL_KEY_PROPERTY,
    "label": "Leadline hand-off key",
    "description": "Set by Leadline so a deal is never created twice.",
    "groupName": "dealinformation",
    "type": "string",
    "fieldType": "text",
    "hasUniqueValue": True,
}
_PLURAL = {"contact": "contacts", "company": "companies", "deal": "deals"}

DEFAULT_MAPPING: fields.Mapping_ = {
    "contact": {
        "email": "email",
        "firstname": "first_name",
        "lastname": "last_name",
        "phone": "phone",
        "company": "company",
        "jobtitle": "title",
        "website": "website",
        "city": "city",
        "state": "state",
        "country": "country",
    },
    "company": {
        "name": "company",
        "domain": "website",
        "city": "city",
        "state": "state",
        "country": "country",
    },
    "deal": {
        "dealname": "deal_name",
        "amount": "deal_value",
        "deal_currency_code": "deal_currency",
        "dealstage": "deal_stage",
    },
}


def validate_settings(settings: dict[str, Any]) -> dict[str, str]:
    errors = {**token_error(settings), **common_errors(settings)}
    size = settings.get("batch_size")
    if size not in (None, "") and (not str(size).isdigit() or not 1 <= int(size) <= MAX_BATCH):
        errors["batch_size"] = f"Enter a whole number from 1 to {MAX_BATCH}."
    return errors


def property_error(object_type: str, prop: str) -> str | None:
    # HubSpot's internal property names: lower-case letters, digits and underscores.
    if not prop or not prop[0].isalpha() or not all(c.isalnum() or c == "_" for c in prop):
        return f"{prop!r} is not a HubSpot internal property name (like jobtitle or my_field)."
    if prop != prop.lower():
        return f"HubSpot internal names are lower case: use {prop.lower()!r}."
    return None


class HubSpotTarget(CrmTarget):
    kind = "hubspot"
    display_name = "HubSpot"

    def __init__(
        self,
        settings: dict[str, Any],
        field_mapping: dict[str, Any] | None = None,
        redis: Redis | None = None,
    ) -> None:
        self.mapping = fields.merged(DEFAULT_MAPPING, field_mapping)
        self.stages = (field_mapping or {}).get(fields.STAGES) or {}
        self.batch_size = int(settings.get("batch_size") or MAX_BATCH)
        self.pipeline = settings.get("deal_pipeline") or "default"
        self.client = build_client(
            vendor="HubSpot",
            kind=self.kind,
            settings=settings,
            credential=settings["token"],
            default_base_url=BASE_URL,
            default_limit=DEFAULT_LIMIT,
            headers={"Authorization": f"Bearer {settings['token']}"},
            error_message=lambda body: body.get("message") if isinstance(body, dict) else None,
            redis=redis,
        )

    def _check(self) -> None:
        self.client.request("GET", "/crm/v3/objects/contacts", params={"limit": 1})
        self.ensure_deal_key_property()

    def ensure_deal_key_property(self) -> None:
        """Create the unique deal property the upsert needs, unless the account has it."""
        try:
            self.client.request("GET", f"/crm/v3/properties/deals/{DEAL_KEY_PROPERTY}")
        except Rejected as error:
            if error.status != 404:
                raise
            self.client.request("POST", "/crm/v3/properties/deals", json=DEAL_KEY_DEFINITION)

    def _deliver(self, delivery: Delivery) -> None:
        items = delivery.items
        for start in range(0, len(items), self.batch_size):
            chunk = items[start : start + self.batch_size]
            self._contacts(delivery, chunk)
            self._companies(delivery, delivery.open(chunk))
            self._deals(delivery, delivery.open(chunk))
            self._associate(delivery, delivery.open(chunk))
            delivery.finish(chunk)

    def _erase(self, delivery: Delivery) -> None:
        # Contacts alone hold the person; archiving one that is gone answers 204 too.
        known = [item for item in delivery.items if item.external_ids.get("contact")]
        for start in range(0, len(known), self.batch_size):
            chunk = known[start : start + self.batch_size]
            inputs = [{"id": item.external_ids["contact"]} for item in chunk]
            try:
                self.client.request(
                    "POST", "/crm/v3/objects/contacts/batch/archive", json={"inputs": inputs}
                )
            except Rejected as error:
                delivery.fail_all(chunk, error)
            delivery.finish(chunk)

    # -- contacts ------------------------------------------------------------------

    def _contacts(self, d: Delivery, chunk: list[HandoffItem]) -> None:
        # One input per id or email: HubSpot refuses a batch that names one twice.
        known: dict[str, Entry] = {}
        by_email: dict[str, Entry] = {}
        new = []
        for item in chunk:
            props = fields.values(item, self.mapping["contact"])
            if contact_id := item.external_ids.get("contact"):
                update = {"id": contact_id, "properties": props}
                known.setdefault(contact_id, Entry([], update, contact_id)).items.append(item)
            elif item.email:
                email = item.email.lower()
                upsert = {"idProperty": "email", "id": email, "properties": props}
                by_email.setdefault(email, Entry([], upsert, email)).items.append(item)
            else:
                trace = {"properties": props, "objectWriteTraceId": item.key}
                new.append(Entry([item], trace, item.key))
        self._update(d, "contact", list(known.values()))
        sender = BatchSender(self.client, d, "contact")
        sender.send(
            "/crm/v3/objects/contacts/batch/upsert",
            list(by_email.values()),
            self._found(d, "contact"),
            _email_of,
        )
        self._create(d, "contact", new)

    # -- companies -----------------------------------------------------------------

    def _companies(self, d: Delivery, chunk: list[HandoffItem]) -> None:
        known: dict[str, Entry] = {}
        new: dict[tuple[str, str], Entry] = {}
        for item in chunk:
            if not item.company:
                continue
            props = fields.values(item, self.mapping["company"])
            if "domain" in props:
                props["domain"] = _domain(str(props["domain"]))
            if company_id := item.external_ids.get("company"):
                entry = known.setdefault(
                    company_id, Entry([], {"id": company_id, "properties": props}, company_id)
                )
            else:
                # Leads of one company in one batch share one new company.
                same = (item.company.strip().lower(), str(props.get("domain", "")))
                trace = f"company-{len(new)}"
                entry = new.setdefault(
                    same, Entry([], {"properties": props, "objectWriteTraceId": trace}, trace)
                )
            entry.items.append(item)
        self._update(d, "company", list(known.values()))
        self._create(d, "company", list(new.values()))

    # -- deals ---------------------------------------------------------------------

    def _deals(self, d: Delivery, chunk: list[HandoffItem]) -> None:
        known: dict[str, Entry] = {}
        new = []
        for item in chunk:
            if not item.has_deal:
                continue
            props = fields.values(item, self.mapping["deal"])
            if "dealstage" in props:
                props["dealstage"] = str(self.stages.get(item.deal_stage, props["dealstage"]))
            if deal_id := item.external_ids.get("deal"):
                update = {"id": deal_id, "properties": props}
                known.setdefault(deal_id, Entry([], update, deal_id)).items.append(item)
            else:
                props.setdefault("dealname", item.company or item.full_name)
                props["pipeline"] = self.pipeline
                # Upserted on the hand-off's key, never created: a worker killed after
                # HubSpot made the deal but before the id was kept finds it next time.
                props[DEAL_KEY_PROPERTY] = item.key
                upsert = {"idProperty": DEAL_KEY_PROPERTY, "id": item.key, "properties": props}
                new.append(Entry([item], upsert, item.key))
        self._update(d, "deal", list(known.values()))
        BatchSender(self.client, d, "deal").send(
            "/crm/v3/objects/deals/batch/upsert", new, self._found(d, "deal"), _deal_key_of
        )

    # -- associations --------------------------------------------------------------

    def _associate(self, d: Delivery, chunk: list[HandoffItem]) -> None:
        for source, target in (("contact", "company"), ("deal", "contact"), ("deal", "company")):
            pairs: dict[str, Entry] = {}
            for item in d.open(chunk):
                ids = d.ids[item.key]
                if source in ids and target in ids:
                    pair = f"{ids[source]}-{ids[target]}"
                    inputs = {"from": {"id": ids[source]}, "to": {"id": ids[target]}}
                    pairs.setdefault(pair, Entry([], inputs, pair)).items.append(item)
            path = (
                f"/crm/v4/associations/{_PLURAL[source]}/{_PLURAL[target]}/batch/associate/default"
            )
            BatchSender(self.client, d, f"{source}-{target} association").send(
                path,
                list(pairs.values()),
                lambda _entry, _result: None,
                _association_key,
            )

    # -- shared --------------------------------------------------------------------

    def _update(self, d: Delivery, object_type: str, entries: list[Entry]) -> None:
        BatchSender(self.client, d, object_type).send(
            f"/crm/v3/objects/{_PLURAL[object_type]}/batch/update",
            entries,
            self._found(d, object_type),
            lambda r: r.get("id"),
        )

    def _create(self, d: Delivery, object_type: str, entries: list[Entry]) -> None:
        BatchSender(self.client, d, object_type).send(
            f"/crm/v3/objects/{_PLURAL[object_type]}/batch/create",
            entries,
            self._found(d, object_type),
            lambda r: r.get("objectWriteTraceId"),
        )

    @staticmethod
    def _found(d: Delivery, object_type: str) -> Callable[[Entry, dict[str, Any]], None]:
        def record(entry: Entry, result: dict[str, Any]) -> None:
            for item in entry.items:
                if result.get("id") in (None, ""):
                    d.fail(item, Transient(f"HubSpot's reply gave the {object_type} no id."))
                else:
                    d.found(item, object_type, result["id"])

        return record


def _deal_key_of(result: dict[str, Any]) -> str | None:
    properties = result.get("properties")
    return properties.get(DEAL_KEY_PROPERTY) if isinstance(properties, dict) else None


def _email_of(result: dict[str, Any]) -> str | None:
    properties = result.get("properties")
    return properties.get("email") if isinstance(properties, dict) else None


def _association_key(result: dict[str, Any]) -> str:
    ends = [result.get(end) for end in ("from", "to")]
    return "-".join(str(e.get("id")) if isinstance(e, dict) else "" for e in ends)


def _domain(website: str) -> str:
    """HubSpot's company domain is a bare host: "https://www.acme.com/x" → "acme.com"."""
    host = urlsplit(website if "//" in website else f"//{website}").hostname or website
    return host.removeprefix("www.")
