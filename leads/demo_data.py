"""The pools the demo generator draws from, and the demo lists with their call scripts.

Places with their phone area codes, names by culture, companies, job titles,
lead sources, notes, and the many ways people write a phone number, a country
or a broken email address. Pairs of ``(value, weight)`` are drawn with
relative weights. The phone ranges are the ones reserved for fiction; see
:mod:`leads.demo` for why nothing here can reach a real person.
"""

from __future__ import annotations

from dataclasses import dataclass

from leads.models import LeadStatus

# --------------------------------------------------------------------------
# The demo lists
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoList:
    name: str
    description: str
    call_script: str


DEMO_LISTS = (
    DemoList(
        "West Coast SaaS founders",
        "Seed to Series B software companies in California, Oregon and Washington, "
        "from the spring founder dinners.",
        "Hi {first name}, this is {your name} from Leadline.\n"
        "We help small sales teams stop losing leads between the spreadsheet and the CRM.\n"
        "Ask: how do you track follow-ups today?\n"
        "If busy: offer 15 minutes on Thursday or Friday and send the invite while on the call.",
    ),
    DemoList(
        "Dental & medical practices – Northeast",
        "Independent practices with 5–50 staff in New York, New Jersey, Massachusetts and "
        "Connecticut. The office manager usually answers.",
        "Ask for the practice owner by name; the office manager is a friend, not a gatekeeper.\n"
        "Mention no-show reminders first: it is the pain they feel every week.\n"
        "Close on a 20-minute demo after hours (they see patients until 5).",
    ),
    DemoList(
        "Logistics Expo – booth scans",
        "Badge scans from our booth at the Logistics Expo; most asked about route planning.",
        'Open with the booth: "We met at the Logistics Expo, you stopped by about routes."\n'
        "Qualify: fleet size, dispatch tool, who signs.\n"
        "Next step: a pilot with one depot.",
    ),
    DemoList(
        "UK & DACH inbound",
        "Website sign-ups from the UK, Germany, Austria and Switzerland.",
        "Call within their business hours (the lead card shows local time).\n"
        "German prospects: use Sie and their surname until they switch.\n"
        "Confirm GDPR consent before adding them to a cadence.",
    ),
)


# --------------------------------------------------------------------------
# Places, names, companies, and how people write them
# --------------------------------------------------------------------------

# fmt: off


@dataclass(frozen=True, slots=True)
class Place:
    country: str  # ISO alpha-2
    code: str  # NANP area code, or the national area code without its trunk 0
    city: str
    state: str | None
    state_name: str | None = None
    local: str = ""  # UK: the fixed start of the drama-range local number


def _nanp(country: str, rows: str) -> tuple[Place, ...]:
    places = []
    for line in rows.strip().splitlines():
        code, city, state, state_name = (part.strip() for part in line.split("|"))
        places.append(Place(country, code, city, state, state_name))
    return tuple(places)


US_PLACES = _nanp("US", """
201|Jersey City|NJ|New Jersey
202|Washington|DC|District of Columbia
203|New Haven|CT|Connecticut
205|Birmingham|AL|Alabama
206|Seattle|WA|Washington
207|Portland|ME|Maine
210|San Antonio|TX|Texas
212|New York|NY|New York
213|Los Angeles|CA|California
214|Dallas|TX|Texas
215|Philadelphia|PA|Pennsylvania
216|Cleveland|OH|Ohio
301|Bethesda|MD|Maryland
303|Denver|CO|Colorado
305|Miami|FL|Florida
310|Santa Monica|CA|California
312|Chicago|IL|Illinois
313|Detroit|MI|Michigan
314|St. Louis|MO|Missouri
317|Indianapolis|IN|Indiana
401|Providence|RI|Rhode Island
402|Omaha|NE|Nebraska
404|Atlanta|GA|Georgia
405|Oklahoma City|OK|Oklahoma
407|Orlando|FL|Florida
408|San Jose|CA|California
410|Baltimore|MD|Maryland
412|Pittsburgh|PA|Pennsylvania
414|Milwaukee|WI|Wisconsin
415|San Francisco|CA|California
502|Louisville|KY|Kentucky
503|Portland|OR|Oregon
504|New Orleans|LA|Louisiana
505|Albuquerque|NM|New Mexico
509|Spokane|WA|Washington
512|Austin|TX|Texas
513|Cincinnati|OH|Ohio
515|Des Moines|IA|Iowa
602|Phoenix|AZ|Arizona
603|Manchester|NH|New Hampshire
608|Madison|WI|Wisconsin
612|Minneapolis|MN|Minnesota
614|Columbus|OH|Ohio
615|Nashville|TN|Tennessee
617|Boston|MA|Massachusetts
619|San Diego|CA|California
702|Las Vegas|NV|Nevada
704|Charlotte|NC|North Carolina
713|Houston|TX|Texas
716|Buffalo|NY|New York
718|Brooklyn|NY|New York
720|Denver|CO|Colorado
801|Salt Lake City|UT|Utah
802|Burlington|VT|Vermont
804|Richmond|VA|Virginia
808|Honolulu|HI|Hawaii
813|Tampa|FL|Florida
816|Kansas City|MO|Missouri
843|Charleston|SC|South Carolina
860|Hartford|CT|Connecticut
901|Memphis|TN|Tennessee
907|Anchorage|AK|Alaska
916|Sacramento|CA|California
919|Raleigh|NC|North Carolina
""")

CA_PLACES = _nanp("CA", """
416|Toronto|ON|Ontario
647|Toronto|ON|Ontario
613|Ottawa|ON|Ontario
604|Vancouver|BC|British Columbia
250|Victoria|BC|British Columbia
514|Montréal|QC|Québec
418|Québec|QC|Québec
403|Calgary|AB|Alberta
780|Edmonton|AB|Alberta
204|Winnipeg|MB|Manitoba
306|Saskatoon|SK|Saskatchewan
902|Halifax|NS|Nova Scotia
709|St. John's|NL|Newfoundland and Labrador
""")

# Ofcom's ranges for drama: area code, the local number's fixed start, city, nation.
GB_PLACES = tuple(
    Place("GB", code, city, nation, nation, local)
    for code, local, city, nation in (
        ("20", "7946 0", "London", "England"),
        ("113", "496 0", "Leeds", "England"),
        ("114", "496 0", "Sheffield", "England"),
        ("116", "496 0", "Leicester", "England"),
        ("117", "496 0", "Bristol", "England"),
        ("118", "496 0", "Reading", "England"),
        ("121", "496 0", "Birmingham", "England"),
        ("151", "496 0", "Liverpool", "England"),
        ("161", "496 0", "Manchester", "England"),
        ("131", "496 0", "Edinburgh", "Scotland"),
        ("141", "496 0", "Glasgow", "Scotland"),
        ("29", "2018 0", "Cardiff", "Wales"),
        ("28", "9649 6", "Belfast", "Northern Ireland"),
    )
)

DE_PLACES = tuple(
    Place("DE", code, city, land, land)
    for code, city, land in (
        ("30", "Berlin", "Berlin"),
        ("89", "München", "Bayern"),
        ("40", "Hamburg", "Hamburg"),
        ("69", "Frankfurt am Main", "Hessen"),
        ("221", "Köln", "Nordrhein-Westfalen"),
        ("211", "Düsseldorf", "Nordrhein-Westfalen"),
        ("711", "Stuttgart", "Baden-Württemberg"),
        ("341", "Leipzig", "Sachsen"),
    )
)
DE_MOBILE_PREFIXES = ("151", "160", "170", "171", "172", "175", "176", "177", "178", "179")

PLACES_BY_COUNTRY = {"US": US_PLACES, "CA": CA_PLACES, "GB": GB_PLACES, "DE": DE_PLACES}
COUNTRY_WEIGHTS = {"US": 74, "CA": 10, "GB": 9, "DE": 7}

# How the country column is filled in, by people who all mean the same thing.
COUNTRY_SPELLINGS = {
    "US": ((None, 40), ("US", 20), ("USA", 15), ("United States", 15), ("U.S.A.", 5), ("usa", 5)),
    "CA": (("Canada", 45), ("CA", 30), ("CAN", 10), (None, 15)),
    "GB": (("UK", 35), ("United Kingdom", 30), ("GB", 15), ("Great Britain", 5), ("U.K.", 15)),
    "DE": (("Germany", 45), ("DE", 25), ("Deutschland", 30)),
}

NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "anglo": (
        ("James", "Emily", "Michael", "Sarah", "David", "Jennifer", "Chris", "Ashley", "Tyler",
         "Megan", "Robert", "Linda", "Brian", "Jessica", "Kevin", "Amanda", "Zoë", "Renée"),
        ("Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson",
         "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "White", "Harris", "Clark",
         "Smith-Jones", "St. John"),
    ),
    "irish": (
        ("Seán", "Siobhán", "Aoife", "Niamh", "Ciarán", "Róisín", "Eoin", "Declan"),
        ("O'Brien", "O'Connor", "Murphy", "Kelly", "Ó Súilleabháin", "McCarthy", "Byrne"),
    ),
    "hispanic": (
        ("José", "María", "Luis", "Sofía", "Alejandro", "Lucía", "Carlos", "Valentina",
         "Javier", "Camila"),
        ("García", "Rodríguez", "Hernández", "López", "Martínez", "González", "Pérez",
         "Sánchez", "Ramírez", "de la Cruz"),
    ),
    "vietnamese": (
        ("Linh", "Minh", "Thanh", "Hương", "Đức", "Anh", "Trang"),
        ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Võ", "Đặng"),
    ),
    "chinese": (
        ("Wei", "Mei", "Xiaoling", "Jun", "Hao", "Yan", "Jing"),
        ("Wang", "Li", "Zhang", "Chen", "Liu", "Ng", "Huang"),
    ),
    "korean": (
        ("Min-jun", "Ji-woo", "Seo-yeon", "Hyun", "Soo-ah"),
        ("Kim", "Lee", "Park", "Choi", "Na", "Jung"),
    ),
    "japanese": (
        ("Hiroshi", "Yuki", "Haruto", "Sakura", "Kenji", "Aiko"),
        ("Tanaka", "Suzuki", "Yamamoto", "Watanabe", "Satō"),
    ),
    "south_asian": (
        ("Priya", "Rahul", "Ananya", "Arjun", "Deepa", "Vikram", "Sanjay", "Aisha"),
        ("Patel", "Sharma", "Gupta", "Singh", "Iyer", "Reddy", "Chatterjee"),
    ),
    "west_african": (
        ("Oluwaseun", "Chidi", "Ngozi", "Kwame", "Amara", "Adaeze", "Kofi"),
        ("Okafor", "Adeyemi", "Mensah", "Okonkwo", "Boateng", "Eze"),
    ),
    "arabic": (
        ("Mohammed", "Fatima", "Omar", "Yusuf", "Leila", "Karim", "Noor"),
        ("Al-Sayed", "Haddad", "Nasser", "Khalil", "Mansour"),
    ),
    "polish": (
        ("Łukasz", "Małgorzata", "Krzysztof", "Agnieszka", "Paweł", "Zofia"),
        ("Kowalski", "Wiśniewski", "Wójcik", "Nowak", "Lewandowska", "Dąbrowski"),
    ),
    "german": (
        ("Jürgen", "Jörg", "Anna", "Lena", "Maximilian", "Sören", "Katrin", "Björn"),
        ("Müller", "Schröder", "Groß", "Weiß", "Schmidt", "Becker", "Köhler", "Fischer"),
    ),
    "nordic": (
        ("Søren", "Ingrid", "Astrid", "Mikael", "Linnéa"),
        ("Bjørnsen", "Åkesson", "Søndergaard", "Lindqvist", "Hansen"),
    ),
    "french": (
        ("François", "Chloé", "Anaïs", "Étienne", "Hélène", "Loïc"),
        ("Dubois", "Lefèvre", "Moreau", "Girard", "Rousseau"),
    ),
    "italian": (
        ("Giulia", "Lorenzo", "Matteo", "Chiara", "Francesca"),
        ("Rossi", "Esposito", "Bianchi", "Ricci", "Romano"),
    ),
    "turkish": (
        ("Ayşe", "Çağrı", "Mehmet", "Elif", "Emre"),
        ("Yılmaz", "Öztürk", "Kaya", "Demir", "Çelik"),
    ),
    "portuguese": (
        ("João", "Gonçalo", "Inês", "Conceição"),
        ("Silva", "Santos", "Ferreira", "Gonçalves"),
    ),
}

CULTURE_WEIGHTS = {
    "US": {"anglo": 40, "hispanic": 15, "irish": 5, "vietnamese": 5, "chinese": 5, "korean": 4,
           "japanese": 2, "south_asian": 8, "west_african": 4, "arabic": 3, "polish": 3,
           "german": 2, "italian": 3, "french": 1, "nordic": 1, "portuguese": 1},
    "CA": {"anglo": 35, "french": 22, "chinese": 10, "south_asian": 10, "irish": 5,
           "italian": 5, "portuguese": 4, "vietnamese": 3, "korean": 3, "arabic": 3},
    "GB": {"anglo": 45, "irish": 10, "south_asian": 15, "polish": 8, "west_african": 8,
           "arabic": 5, "chinese": 4, "italian": 3, "french": 2},
    "DE": {"german": 55, "turkish": 20, "polish": 10, "italian": 5, "arabic": 5, "nordic": 5},
}

COMPANY_PREFIXES = (
    "Northwind", "Bluepeak", "Harbor", "Summit", "Pioneer", "Red Oak", "Silverline",
    "Evergreen", "Brightwater", "Ironclad", "Cedar", "Granite", "Lakeside", "Maple",
    "Coastal", "Keystone", "Atlas", "Vertex", "Nimbus", "Helix", "Orbit", "Lumen", "Meridian",
    "Cobalt", "Sterling", "Juniper", "Prairie", "Bayside", "Copperline", "Tidewater",
    "Foxglove", "Little Creek", "Öko", "Café Lumière",
)
# Industry, English company words, German company words.
INDUSTRIES = (
    ("Software", ("Software", "Labs", "Systems", "Cloud", "Analytics"), ("Software", "IT")),
    ("Logistics", ("Logistics", "Freight", "Shipping"), ("Logistik", "Spedition")),
    ("Healthcare", ("Health", "Dental", "Family Clinic", "Medical"), ("Medizintechnik",)),
    ("Construction", ("Builders", "Roofing", "Construction"), ("Bau", "Bautechnik")),
    ("Financial services", ("Capital", "Advisors", "Insurance"), ("Finanz", "Versicherung")),
    ("Manufacturing", ("Manufacturing", "Industries", "Fabrication"), ("Maschinenbau",)),
    ("Retail", ("Outfitters", "Market", "Goods"), ("Handel",)),
    ("Hospitality", ("Hotels", "Catering"), ("Gastronomie", "Hotel")),
    ("Real estate", ("Realty", "Properties"), ("Immobilien",)),
    ("Marketing", ("Media", "Creative", "Agency"), ("Werbeagentur", "Medien")),
    ("Legal", ("Law Group", "Legal"), ("Rechtsanwälte",)),
    ("Energy", ("Solar", "Energy"), ("Energie", "Solartechnik")),
)
COMPANY_SUFFIXES = {
    "US": (("", 30), (" Inc.", 20), (" LLC", 20), (", Inc", 8), (" Corp.", 7), (" Co.", 5),
           (" Group", 10)),
    "CA": (("", 35), (" Inc.", 30), (" Ltd.", 20), (" Ltée", 15)),
    "GB": (("", 30), (" Ltd", 40), (" Ltd.", 15), (" plc", 5), (" & Co.", 10)),
    "DE": ((" GmbH", 55), (" AG", 10), (" GmbH & Co. KG", 15), (" KG", 5), ("", 15)),
}
EMPLOYEE_BUCKETS = (("1-10", 25), ("11-50", 30), ("51-200", 22), ("201-500", 10),
                    ("501-1,000", 6), ("1,001-5,000", 5), ("5,000+", 2))
TITLES = (
    ("Chief Executive Officer", 8), ("Founder", 6), ("Co-founder & CTO", 3), ("Owner", 8),
    ("VP of Sales", 6),
    ("Head of Marketing", 5), ("Operations Manager", 7), ("Office Manager", 6),
    ("Director of IT", 4), ("Procurement Lead", 3), ("Purchasing Manager", 4),
    ("HR Director", 3), ("Marketing Coordinator", 4), ("Practice Manager", 3),
    ("Geschäftsführer", 2), ("vp sales", 1), ("Dir. of Ops", 1), ("Owner/Operator", 2),
    (None, 12),
)
SOURCES = (("Website form", 30), ("Trade show", 15), ("Webinar", 10), ("Referral", 10),
           ("Purchased list", 15), ("LinkedIn", 10), ("Cold outreach", 5), (None, 5))
LEAD_NOTES = (
    "Met at the booth; wants a demo next month.", "Referred by a customer in Denver.",
    "Prefers email over phone.", "Asked us not to call before 10am.",
    "Uses a spreadsheet today; contract with current vendor ends in Q3.",
)
NOTE_TEXTS = (
    "Left a voicemail; will try again Thursday morning.",
    "Gatekeeper says she is in meetings until the 15th.",
    "Interested. Asked for pricing for 25 seats.",
    "Wrong number; the main line is on their website.",
    "Prefers email. Sent the intro deck.",
    "Currently under contract until March; call back in February.",
    "Not the decision maker; referred me to the COO.",
    "Asked to call back after the quarter closes.",
    "Spoke with the assistant and sent a calendar link.",
    "Very friendly, wants to loop in their ops lead. Follow up Tuesday.",
    "Nur vormittags im Büro erreichbar.",
    "Said they already use a competitor but are unhappy with support.",
)
STATUS_WEIGHTS_OWNED = ((LeadStatus.NEW, 60), (LeadStatus.CONTACTED, 20),
                        (LeadStatus.CONNECTED, 12), (LeadStatus.QUALIFIED, 8))

# NANP formats; a = area code, e = exchange, l = line, x = extension.
NANP_FORMATS = (
    ("{a}-{e}-{l}", 30), ("({a}) {e}-{l}", 18), ("{a}.{e}.{l}", 10), ("{a}{e}{l}", 8),
    ("+1 {a} {e} {l}", 8), ("+1 ({a}) {e}-{l} x{x}", 4), ("1-{a}-{e}-{l}", 5),
    ("{a}-{e}-{l} ext. {x}", 4), ("001-{a}-{e}-{l}", 3), ("+1.{a}.{e}.{l}", 3),
    ("{a} {e} {l}", 3), ("  ({a}){e}-{l} ", 2), ("tel:+1{a}{e}{l}", 1), ("011 1 {a} {e} {l}", 1),
)
# c = area code without the trunk 0, n = local number as written, m = local digits.
GB_FORMATS = (
    ("+44 {c} {n}", 35), ("0{c} {n}", 30), ("+44 (0){c} {n}", 15), ("0044 {c} {n}", 8),
    ("+44{c}{m}", 7), ("(0{c}) {n}", 5),
)
DE_FORMATS = (
    ("+49 {c} {n}", 35), ("0{c} {n}", 25), ("0{c}/{m}", 15), ("+49 (0){c} {n}", 15),
    ("0049 {c} {m}", 5), ("0{c}-{m}", 5),
)
NATIONAL_FORMATS = frozenset({"0{c} {n}", "(0{c}) {n}", "0{c}/{m}", "0{c}-{m}"})

INVALID_PHONES = (
    "(555) 123-4567", "555-01{d2}", "{a}-555-01{d1}", "123-456-7890", "000-000-0000",
    "call after 5pm", "ask for {first}", "unknown", "+44 7700 900{d3}", "+1 {a} 555 01{d2} 99",
    "TBD", "ext. {d3}",
)
INVALID_EMAILS = (
    "{local}@", "{local}@{bare}", "{first} {last}@{domain}", "{local}@@{domain}",
    "{local}.@{domain}", "{local}[at]{domain}", "{local}@{bare},com", "{local}.{domain}",
)
BLANK_EMAILS = (None, None, "", "N/A", "n/a", "none", "-")
PERSONAL_DOMAINS = ("example.com", "example.net", "example.org")
ROLE_MAILBOXES = ("info", "sales", "office", "hello", "contact")

# fmt: on
