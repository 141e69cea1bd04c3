"""Routes to community ownership for a site, and what a group must do next.

For each site, :func:`routes_for` sets out the routes that may apply, given
who owns it, where it is (England, Wales, Scotland, Northern Ireland, from the
need-area code) and its tenure and status:

* **Community asset transfer** (councils' own policies; less than best value
  allowed by the General Disposal Consents 2003 in England and Wales);
* **Asset of Community Value** nomination (England: Localism Act 2011 Part 5
  Chapter 3 and the Assets of Community Value (England) Regulations 2012): who
  may nominate and, when the listing or the owner's notice of disposal is dated,
  the 5-year listing, the 6-week interim moratorium, the 6-month full
  moratorium and the 18-month protected period worked out as dates
  (:func:`acv_dates`);
* **Asset transfer requests** to relevant authorities in Scotland (Community
  Empowerment (Scotland) Act 2015, Part 5), and the community right to buy
  (Land Reform (Scotland) Act 2003, Part 2);
* **NHS and public sector surplus land**, and the Community Right to Reclaim
  Land (Local Government, Planning and Land Act 1980, Part X) in England.

It is a guide, not an application: :data:`MAP_CANNOT` says plainly what the map
cannot do, and every site pack prints it. The rules are summarised as at
:data:`RULES_AS_AT`; law and councils' policies change.
"""
from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

RULES_AS_AT = "2026-01"

#: What the map cannot do: printed on every site pack and route list.
MAP_CANNOT: tuple[str, ...] = (
    "This is not an application, nomination or request: nothing here is sent to any owner, council or authority.",
    "It does not say a site is available, that its owner will transfer it, or on what terms or at what price.",
    "It does not check legal title (HM Land Registry), covenants, planning constraints, contamination, "
    "condition, or whether the site is in use today: the register may be out of date.",
    "Distances are straight lines, not walking routes; need comes from published statistics for small areas, "
    "not from the people who would use the site.",
    f"It is not legal advice. The rules are summarised as at {RULES_AS_AT}: check the law in force and the "
    "owner's own policy before acting.",
)

ACV_NOMINATORS = (
    "a parish (or town) council for the area",
    "an unincorporated group of at least 21 people on the electoral register of the council's area "
    "(or a neighbouring council's) that does not share out any surplus among its members",
    "a neighbourhood forum",
    "a charity",
    "a community interest company",
    "a company limited by guarantee or a community benefit society that does not share out its surplus",
)
ACV_BIDDERS = (
    "a parish council, a charity or a community interest company",
    "a company limited by guarantee or a community benefit society that does not share out its surplus",
)


@dataclass(frozen=True)
class Route:
    """One route to community ownership for one site."""

    key: str
    title: str
    applies: str  # "likely" | "possible" | "not available"
    why: str
    who: str
    next_steps: tuple[str, ...]
    law: str
    dates: tuple[str, ...] = field(default_factory=tuple)
    who_short: str = ""

    def text(self) -> str:
        """The route on one line: title, whether it applies, why, who, the numbered next steps, dates and the law."""
        steps = " ".join(f"({i + 1}) {s}" for i, s in enumerate(self.next_steps))
        dates = (" Dates: " + "; ".join(self.dates) + ".") if self.dates else ""
        return f"{self.title} [{self.applies}]: {self.why} Who: {self.who} Next: {steps}{dates} ({self.law})"


# --- dates ---------------------------------------------------------------------------------------

def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` calendar months later, clamped to the month's last day (31 Aug + 6 = 28/29 Feb)."""
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def period_last_day(start: dt.date, months: int) -> dt.date:
    """Last day of a period of ``months`` calendar months *beginning with* ``start`` (``start`` counts).

    It is the day before the corresponding date ``months`` later (1 Mar + 6 months: to 31 Aug). Where that
    month has no corresponding date (31 Aug + 6 months: no 31 Feb), the period runs to the month's last day.
    """
    y, m = divmod(start.month - 1 + months, 12)
    year, month = start.year + y, m + 1
    last = calendar.monthrange(year, month)[1]
    if start.day > last:
        return dt.date(year, month, last)
    return dt.date(year, month, start.day) - dt.timedelta(days=1)


def _as_date(v) -> dt.date | None:
    if v is None or v is pd.NaT or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    if isinstance(v, pd.Timestamp):
        return v.date()
    text = str(v).strip()
    if not text:
        return None
    try:
        if re.match(r"^\d{4}-\d{2}-\d{2}", text):
            return dt.date.fromisoformat(text[:10])
        return pd.to_datetime(text, dayfirst=True).date()
    except (ValueError, TypeError):
        return None


@dataclass(frozen=True)
class AcvDates:
    """The dates of an Asset of Community Value listing and of a moratorium, worked out.

    Periods "beginning with" a date include that date (Localism Act 2011 s.95(6)):
    a six-week period beginning on 1 March ends on 11 April, and the owner is
    free of it from 12 April.
    """

    listed_on: dt.date | None = None
    listing_ends: dt.date | None = None  # removed from the list five years from entry (2012 Regs, reg. 2)
    notified_on: dt.date | None = None  # the council received the owner's notice of intended disposal
    interim_last_day: dt.date | None = None
    full_last_day: dt.date | None = None
    protected_last_day: dt.date | None = None

    @property
    def free_to_sell_without_request(self) -> dt.date | None:
        """First day the owner may sell on if no community group asked to bid during the interim period."""
        return self.interim_last_day + dt.timedelta(days=1) if self.interim_last_day else None

    @property
    def free_to_sell_after_request(self) -> dt.date | None:
        """First day the owner may sell on (to anyone) when a group asked to bid: after the full moratorium."""
        return self.full_last_day + dt.timedelta(days=1) if self.full_last_day else None

    def lines(self, as_of: dt.date | None = None) -> list[str]:
        """The dates in words, with where ``as_of`` (default today) falls."""
        as_of = as_of or dt.date.today()
        out = []
        if self.listed_on:
            state = "listed" if as_of < self.listing_ends else "the listing has lapsed: nominate again if the use continues"
            out.append(f"listed on {self.listed_on:%d %b %Y}; the listing lasts five years, to {self.listing_ends:%d %b %Y} "
                       f"(as at {as_of:%d %b %Y}: {state})")
        if self.notified_on:
            out.append(f"owner's notice of intended disposal received {self.notified_on:%d %b %Y}")
            out.append(f"interim moratorium (6 weeks): to {self.interim_last_day:%d %b %Y}: a community interest group "
                       f"must ask in writing to be treated as a potential bidder by then")
            out.append(f"full moratorium (6 months), if a group asked: to {self.full_last_day:%d %b %Y}; the owner may "
                       f"sell to anyone from {self.free_to_sell_after_request:%d %b %Y} (from "
                       f"{self.free_to_sell_without_request:%d %b %Y} if no group asked)")
            out.append(f"protected period (18 months): to {self.protected_last_day:%d %b %Y}: no new moratorium until then")
            if as_of <= self.interim_last_day:
                out.append(f"as at {as_of:%d %b %Y}: inside the interim moratorium, {(self.interim_last_day - as_of).days + 1} "
                           f"day(s) left to ask to be treated as a bidder")
            elif as_of <= self.full_last_day:
                out.append(f"as at {as_of:%d %b %Y}: the interim period is over; if a group asked in time, the full "
                           f"moratorium runs for {(self.full_last_day - as_of).days + 1} more day(s)")
            elif as_of <= self.protected_last_day:
                out.append(f"as at {as_of:%d %b %Y}: the moratoria are over; inside the protected period the owner may sell "
                           "to anyone without a new moratorium")
            else:
                out.append(f"as at {as_of:%d %b %Y}: the protected period has ended; a new notice of disposal would "
                           "start new moratoria")
        return out


def acv_dates(*, listed_on=None, notified_on=None) -> AcvDates:
    """Work out Asset of Community Value dates (England).

    Parameters
    ----------
    listed_on : date (or ISO text) the asset was entered on the council's list
    notified_on : date the council received the owner's written notice of an intended relevant disposal

    Returns
    -------
    :class:`AcvDates`: five-year listing end; the last days of the 6-week interim
    moratorium, the 6-month full moratorium and the 18-month protected period,
    each a period beginning with ``notified_on`` (so ending the day before the
    same date 6 weeks / 6 months / 18 months later; see :func:`period_last_day`
    where a month has no such date).
    """
    listed, notified = _as_date(listed_on), _as_date(notified_on)
    if listed_on not in (None, "") and listed is None:
        from assets_map.io.report import InputError
        raise InputError(f"the listing date {listed_on!r} is not a date")
    if notified_on not in (None, "") and notified is None:
        from assets_map.io.report import InputError
        raise InputError(f"the notification date {notified_on!r} is not a date")
    if listed and notified and notified < listed:
        from assets_map.io.report import InputError
        raise InputError(f"the notice of disposal ({notified}) is dated before the listing ({listed})")
    one = dt.timedelta(days=1)
    return AcvDates(
        listed_on=listed,
        listing_ends=add_months(listed, 60) if listed else None,
        notified_on=notified,
        interim_last_day=notified + dt.timedelta(weeks=6) - one if notified else None,
        full_last_day=period_last_day(notified, 6) if notified else None,
        protected_last_day=period_last_day(notified, 18) if notified else None,
    )


# --- where and who -------------------------------------------------------------------------------

def nation_of(row) -> str:
    """England, Wales, Scotland, Northern Ireland or "unknown", from a ``nation`` column or the need-area code."""
    stated = row.get("nation")
    if isinstance(stated, str) and stated.strip():
        low = stated.strip().lower()
        for n in ("England", "Wales", "Scotland", "Northern Ireland"):
            if low == n.lower():
                return n
    code = row.get("need_area_code")
    if isinstance(code, str) and code:
        c = code.strip().upper()
        if c.startswith("E0"):
            return "England"
        if c.startswith("W0"):
            return "Wales"
        if c.startswith("S0"):
            return "Scotland"
        if c.startswith(("95", "N0")):
            return "Northern Ireland"
    return "unknown"


_RESIDENTIAL = re.compile(r"\b(housing|flats?|dwellings?|houses?|residential|homes?)\b", re.I)
_OPERATIONAL = re.compile(r"\b(railway|substation|pumping station|sewage|water treatment|depot of)\b", re.I)


def _text(v) -> str:
    return v.strip() if isinstance(v, str) else ""


#: Why no anchor's transfer route applies, by the brownfield ``ownership`` status of land not wholly public.
_NOT_PUBLIC = {
    "private": "not in public ownership (owner not published): the register's publisher is not the owner, so no "
               "council or public body transfer policy applies.",
    "mixed": "mixed ownership (partly public, partly not; owners not published): only the publicly owned part could "
             "be transferred by a public body, so find out which part that is first.",
    "unknown": "ownership not known (the register does not say who owns it): no transfer policy can be named until "
               "the owner is found.",
}


def _owner_name(row) -> str:
    return _text(row.get("organisation")) or "the owner"


def _tenure_steps(row) -> list[str]:
    steps = []
    if row.get("tenure") == "leasehold":
        steps.append("the owner holds this on a lease: ask who the freeholder is; the owner cannot pass on more than "
                     "its lease, and a transfer needs the landlord's consent")
    if row.get("status") == "leased-out":
        steps.append("it is leased out: ask when the lease ends and whether the tenant would share or assign it")
    return steps


def routes_for(row, *, as_of: dt.date | None = None, listed_on=None, notified_on=None) -> list[Route]:
    """The routes to community ownership for one site (a row of an analysis), most direct first.

    ACV dates come from ``listed_on`` / ``notified_on`` or, where not given, from
    the row's ``acv_listed_on`` / ``acv_notified_on`` columns.
    """
    as_of = as_of or dt.date.today()
    nation = nation_of(row)
    owner = row.get("anchor_type") or "other"
    who_owns = _owner_name(row)
    extra = _tenure_steps(row)
    routes: list[Route] = []
    group = ("a constituted community organisation (e.g. a charitable incorporated organisation, a community "
             "benefit society or a company limited by guarantee) with a local connection")
    # 1. Community asset transfer
    if nation == "Scotland":
        relevant = owner in ("council", "nhs", "police", "fire")
        routes.append(Route(
            "scotland_atr", "Asset transfer request (Scotland)", "likely" if relevant else "possible",
            (f"{who_owns} is " + ("a relevant authority (councils, health boards, Police Scotland, the Scottish "
             "Fire and Rescue Service and others listed in Schedule 3)" if relevant else
             "not obviously a relevant authority: check Schedule 3 of the Act") +
             "; a community transfer body may ask to buy, lease or use the site, and the authority must agree "
             "unless it has reasonable grounds to refuse."),
            "a community transfer body: a community-controlled body with a written constitution, a defined "
            "community, open membership and community control (or a body designated by Scottish Ministers)",
            tuple(["contact the authority's asset transfer officer and ask for its register of land and the "
                   "pre-application advice it must give",
                   "agree the community the body serves and check the constitution meets section 19",
                   "make a written asset transfer request: what you want (ownership, lease or use), the price "
                   "or rent you offer, the benefits and how you will fund it",
                   "the authority must decide within 6 months of a valid request (or a longer agreed period); "
                   "you may seek a review or appeal a refusal"] + extra),
            "Community Empowerment (Scotland) Act 2015, Part 5; Asset Transfer Request (Procedure) (Scotland) Regulations 2016"))
        routes.append(Route(
            "scotland_crtb", "Community right to buy (Scotland)", "possible",
            "a community body may register an interest in land and then has first refusal when it is sold; "
            "abandoned, neglected or detrimental land can be bought even without a sale.",
            "a community body (a company limited by guarantee, a SCIO or a community benefit society) "
            "controlled by members of the community it defines",
            ("ask Community Land Scotland or the Scottish Land Fund for advice before registering",
             "apply to the Register of Community Interests in Land (Registers of Scotland)"),
            "Land Reform (Scotland) Act 2003, Part 2 and Part 3A"))
    elif row.get("ownership") in _NOT_PUBLIC:
        # A brownfield register says the land is not (or not wholly, or not known to be) public: no anchor's route.
        routes.append(Route(
            "cat", "Transfer by agreement with the owner", "possible" if row.get("ownership") == "mixed" else "not available",
            _NOT_PUBLIC[row.get("ownership")], group,
            tuple(["find the owner: an HM Land Registry title search (by address or map) names the registered owner",
                   "ask the owner whether it would sell or lease the site, or allow a meanwhile use"] + extra),
            "no public body's transfer policy applies to land it does not own"))
    elif owner == "council":
        routes.append(Route(
            "cat", "Community asset transfer", "likely",
            f"{who_owns} is a council: councils may transfer land or buildings to community organisations below "
            "market value where that promotes local wellbeing, under their community asset transfer policy.",
            group,
            tuple([f"find {who_owns}'s community asset transfer policy and its estates contact",
                   "send an expression of interest naming the site (asset id and address) and the use you propose",
                   "prepare a business plan: the use, who benefits, running costs, income, the skills of your board",
                   "expect a lease (often 25 years or more) or a freehold, and a condition survey before agreement"] + extra),
            "General Disposal Consent (England) 2003 / (Wales) 2003 under the Local Government Act 1972 s.123"
            if nation in ("England", "Wales", "unknown") else "the council's community asset transfer policy"))
    elif nation == "Northern Ireland":
        routes.append(Route(
            "cat", "Community asset transfer (Northern Ireland framework)", "possible",
            f"{who_owns} may transfer under the voluntary Community Asset Transfer policy framework; there is no "
            "statutory right.", group,
            tuple(["ask the owner's estates team whether it follows the framework", "send an expression of interest"]
                  + extra), "Community Asset Transfer in Northern Ireland policy framework (2014)"))
    else:
        charity = owner in ("university", "college", "housing_association")
        routes.append(Route(
            "cat", "Transfer by agreement with the owner", "possible",
            f"{who_owns} is not a council, so no council asset transfer policy applies; it may still sell or lease "
            "to a community group under its own disposal policy" +
            (" (as a charity or exempt charity it must normally get the best terms reasonably obtainable)." if charity
             else "."),
            group,
            tuple([f"ask {who_owns}'s estates team whether the site is surplus and how it disposes of land",
                   "ask about a meanwhile (temporary) lease while a long-term transfer is discussed"] + extra),
            "Charities Act 2011, Part 7 (disposals by charities)" if charity else "the owner's disposal policy"))
    # 2. Asset of Community Value
    listed_on = listed_on if listed_on is not None else row.get("acv_listed_on")
    notified_on = notified_on if notified_on is not None else row.get("acv_notified_on")
    dates = acv_dates(listed_on=listed_on, notified_on=notified_on)
    if nation == "England" or nation == "unknown":
        use = _text(row.get("use")) + " " + _text(row.get("name"))
        caveats = []
        if _RESIDENTIAL.search(use):
            caveats.append("a home (and land with it) generally cannot be listed")
        if _OPERATIONAL.search(use):
            caveats.append("operational land of statutory undertakers cannot be listed")
        applies = "possible" if not caveats else "not available"
        where = "" if nation == "England" else " (applies in England only: check where the site is)"
        why = ("a site can be listed if its main use now, or in the recent past, furthers the social wellbeing or "
               "social interests of the local community and could realistically do so again within five years"
               + where + ". Listing gives a right to bid, not a right to buy: when the owner decides to sell, a "
               "moratorium gives a community group time to raise the money, but the owner may still sell to anyone.")
        if caveats:
            why += " But " + "; ".join(caveats) + "."
        steps = ["gather evidence of the community use (dates, who used it, letters of support)",
                 "send the nomination to the council where the site lies: the site, its boundaries, the owner and "
                 "occupiers you know of, why it is of community value, and your group's eligibility",
                 "the council decides within 8 weeks; the owner may ask for a review",
                 "if the owner gives notice of sale, ask in writing to be treated as a potential bidder within the "
                 "6-week interim moratorium"]
        routes.append(Route(
            "acv", "Asset of Community Value nomination (right to bid)", applies, why,
            "nominate: " + "; ".join(ACV_NOMINATORS) + ", each with a local connection. Bid during a moratorium: "
            + "; ".join(ACV_BIDDERS) + ".",
            tuple(steps), "Localism Act 2011, Part 5 Chapter 3; Assets of Community Value (England) Regulations 2012. "
            "The English Devolution and Community Empowerment Bill proposes a stronger community right to buy: "
            "check whether it is in force", tuple(dates.lines(as_of)),
            who_short="nominate: a parish council; 21+ local voters (an unincorporated group); a neighbourhood forum; a "
                      "charity; a community interest company; a company limited by guarantee or community benefit "
                      "society that does not share out its surplus; each with a local connection. Bid: the same, "
                      "except unincorporated groups and neighbourhood forums"))
    elif nation == "Wales":
        routes.append(Route("acv", "Asset of Community Value nomination", "not available",
                            "the community right to bid (Localism Act 2011) has not been brought into force in Wales.",
                            "-", ("ask the council about its community asset transfer guidance instead",),
                            "Localism Act 2011, Part 5 Chapter 3 (England only)"))
    # 3. NHS and public sector surplus land
    if (owner in ("nhs", "police", "fire") or (owner == "council" and nation == "England")) \
            and row.get("ownership") not in _NOT_PUBLIC:
        body = {"nhs": "NHS land (trusts and NHS Property Services)", "police": "police land",
                "fire": "fire and rescue land", "council": "council land"}[owner]
        status = row.get("status")
        surplus = status in ("surplus", "vacant")
        steps = [f"ask {who_owns}'s estates team whether the site is or will be declared surplus, and when",
                 "ask to be told before it goes to open market, and about a meanwhile use or lease",
                 "check whether it is listed as surplus public land (the government's property finder or the "
                 "owner's disposals list)"]
        if nation == "England":
            steps.append("if public land is unused or under-used and not being released, anyone may ask the "
                         "Secretary of State to order its disposal (Community Right to Reclaim Land)")
        routes.append(Route(
            "public_surplus", "Public sector surplus land", "likely" if surplus else "possible",
            f"{body} that is surplus is usually offered to other public bodies first, then sold at best value; "
            "community groups are not first in line, so contact matters early" +
            (f". The owner records it as {status}." if surplus else "."),
            "anyone may ask; to buy or lease, " + group,
            tuple(steps + extra),
            "NHS estates surplus land guidance; Local Government, Planning and Land Act 1980, Part X (England)"))
    return routes


def routes_frame(sites: pd.DataFrame, *, id_column: str = "asset_id", as_of: dt.date | None = None) -> pd.DataFrame:
    """One row per (site, route): ``site_id``, ``route``, ``title``, ``applies``, ``why``, ``who``, ``next_steps``, ``dates``, ``law``."""
    rows = []
    for _, row in sites.iterrows():
        for r in routes_for(row, as_of=as_of):
            rows.append({"site_id": row.get(id_column), "route": r.key, "title": r.title, "applies": r.applies,
                         "why": r.why, "who": r.who, "next_steps": " ".join(f"({i + 1}) {s}" for i, s in enumerate(r.next_steps)),
                         "dates": "; ".join(r.dates), "law": r.law})
    return pd.DataFrame(rows, columns=["site_id", "route", "title", "applies", "why", "who", "next_steps", "dates", "law"])
