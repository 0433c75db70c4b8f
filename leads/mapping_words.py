"""The words column mapping reads headers and values with.

Data only: :mod:`leads.mapping` holds the rules that use these tables. Fields
are named by the values of :class:`leads.mapping.Target` (``"first_name"``)
rather than by its members, because that module imports this one; it turns
them into members when it loads, so a misspelt field fails on import.

- ``LABELS``: the name of each field in the mapping page's select boxes.
- ``SYNONYMS``: header texts that name a field, from the exports of the usual
  CRMs, mail clients and list vendors in English, Spanish, Portuguese, French,
  German and Italian, with a rank for how surely they name it.
- ``JOINED_WORDS`` and ``SYMBOL_HEADERS``: spellings read as other words
  before any lookup ("E-mail" is "email", "#" is "no").
- ``LEADING_QUALIFIERS`` and ``TRAILING_QUALIFIERS``: words around a field name
  ("Work Phone", "Phone - Home") that are stripped before the lookup, with the
  rank they add.
- ``CUSTOM_PREFIXES``: how an export marks a custom field in its header.
- ``SALUTATIONS``: the values of a "Title" column that is Mr./Ms., not a job.
"""

LABELS: dict[str, str] = {
    "first_name": "First name",
    "last_name": "Last name",
    "full_name": "Full name",
    "company": "Company",
    "title": "Job title",
    "phone": "Phone",
    "mobile": "Mobile phone",
    "other_phone": "Other phone",
    "email": "Email",
    "website": "Website",
    "city": "City",
    "state": "State / region",
    "country": "Country",
    "time_zone": "Time zone",
    "linkedin_url": "LinkedIn URL",
    "x_url": "X (Twitter) URL",
    "other_profile_url": "Other profile URL",
    "birthday": "Birthday",
    "external_id": "External ID",
    "notes": "Notes",
    "source": "Source",
    "custom": "Custom field",
    "ignore": "Don't import",
}

# Words that punctuation splits but that mean one thing ("E-mail", "LinkedIn").
JOINED_WORDS: dict[tuple[str, str], str] = {
    ("e", "mail"): "email",
    ("linked", "in"): "linkedin",
    ("you", "tube"): "youtube",
    ("git", "hub"): "github",
}

# (field, rank, header texts). Texts are written naturally and normalized when
# the table is built. Rank orders columns that want the same field: 0 is the
# field itself, 1 a usual but looser name ("Title" is also "Mr."/"Ms." in
# Outlook, where "Job Title" exists too), 2 and more a last resort.
SYNONYMS: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    ("first_name", 0, (
        "first name", "given name", "forename", "fname", "christian name", "name first",
        "nombre de pila", "primer nombre", "prénom", "vorname", "rufname", "nome proprio",
        "primeiro nome", "voornaam", "fornavn", "förnamn", "imię",
    )),
    ("first_name", 1, ("first", "given")),
    ("last_name", 0, (
        "last name", "surname", "family name", "lname", "name last", "apellido", "apellidos",
        "primer apellido", "nom de famille", "nachname", "familienname", "zuname", "cognome",
        "sobrenome", "apelido", "último nome", "achternaam", "efternamn", "etternavn", "nazwisko",
    )),
    ("last_name", 1, ("last", "family")),
    ("full_name", 0, (
        "full name", "display name", "contact name", "contact person", "person name",
        "lead name", "prospect name", "complete name", "name full", "nombre completo",
        "nombre y apellidos", "nombre y apellido", "nom complet", "nom et prénom",
        "prénom et nom", "nome completo", "nome e cognome", "vollständiger name",
        "ansprechpartner", "ansprechperson", "kontaktperson", "persona de contacto",
        "personne de contact", "persona di contatto", "pessoa de contato", "volledige naam",
    )),
    ("company", 0, (
        "company", "company name", "organization", "organisation", "organization name",
        "organisation name", "org", "org name", "account name", "business name", "employer",
        "employer name", "firm", "company / account", "empresa", "nombre de la empresa",
        "nombre empresa", "compañía", "organización", "razón social", "firma", "firmenname",
        "unternehmen", "société", "entreprise", "nom de l'entreprise", "raison sociale",
        "azienda", "società", "ragione sociale", "ditta", "nome azienda", "companhia",
        "nome da empresa", "organização", "bedrijf", "bedrijfsnaam", "företag",
    )),
    ("company", 1, ("account", "associated company", "current company")),
    ("company", 2, ("customer", "client")),
    ("title", 0, (
        "job title", "position", "job position", "role", "job role", "designation",
        "job function", "current title", "current position",
        "professional title", "organization title", "cargo", "puesto", "puesto de trabajo",
        "título del puesto", "poste", "fonction", "intitulé de poste", "intitulé du poste",
        "titre du poste", "berufsbezeichnung", "jobtitel", "stellenbezeichnung", "funktion",
        "position im unternehmen", "ruolo", "qualifica", "mansione", "posizione", "função",
        "functie", "befattning",
    )),
    ("title", 1, ("job", "headline", "occupation")),
    ("phone", 0, (
        "phone", "phone number", "telephone", "telephone number", "tel", "tel no", "tel nr",
        "phone no", "direct phone", "direct dial", "direct line", "first phone", "landline",
        "teléfono", "número de teléfono", "telefone", "número de telefone",
        "numéro de téléphone", "tél", "téléphone fixe", "telefon", "telefonnummer",
        "telefon nr", "rufnummer", "festnetz", "numero di telefono", "telefono fisso",
        "telefoon", "telefoonnummer",
    )),
    ("phone", 2, ("corporate phone", "voice")),
    ("phone", 3, ("company phone", "company main phone", "hq phone")),
    ("mobile", 0, (
        "mobile", "mobile phone", "mobile number", "mobile phone number", "mobile no", "cell",
        "cell phone", "cellphone", "cell number", "cellular", "cellular phone",
        "phone mobile", "móvil", "teléfono móvil", "número móvil", "celular",
        "teléfono celular", "número de celular", "handy", "handynummer", "handy nr", "mobil",
        "mobiltelefon", "mobilnummer", "mobil nr", "mobilfunk", "portable",
        "téléphone portable", "tél portable", "numéro de portable", "cellulare",
        "telefono cellulare", "numero di cellulare", "telemóvel", "telefone celular",
        "mobiel", "mobiele telefoon", "gsm",
    )),
    ("other_phone", 0, (
        "other phone", "phone other", "alternate phone", "alternative phone", "alt phone",
        "secondary phone", "additional phone", "second phone", "otro teléfono",
        "teléfono alternativo", "autre téléphone", "téléphone secondaire",
        "weitere telefonnummer", "altro telefono", "outro telefone",
    )),
    ("email", 0, (
        "email", "email address", "mail", "mail address", "correo", "correo electrónico",
        "dirección de correo", "dirección de correo electrónico", "courriel", "adresse email",
        "adresse mail", "adresse électronique", "adresse courriel", "mél", "email adresse",
        "mailadresse", "posta elettronica", "indirizzo email", "indirizzo di posta elettronica",
        "endereço de email", "endereço de e-mail", "e-post", "e-mailadres",
    )),
    ("email", 1, ("emails", "email addresses")),
    ("website", 0, (
        "website", "web site", "website url", "web page", "webpage", "homepage", "home page",
        "web", "web address", "site", "domain", "company website", "company domain",
        "company url", "www", "sitio web", "página web", "sitio", "site web", "webseite",
        "internetseite", "internetadresse", "sito web", "sito internet", "website adres",
    )),
    ("city", 0, (
        "city", "town", "locality", "city name", "ciudad", "localidad", "municipio",
        "población", "cidade", "ville", "commune", "stadt", "ort", "wohnort", "città",
        "località", "comune", "plaats", "woonplaats",
    )),
    ("state", 0, (
        "state", "province", "region", "state / province", "state / region",
        "state or province", "provincia", "región", "comunidad autónoma", "bundesland",
        "kanton", "état", "regione", "provincie",
    )),
    ("state", 1, ("estado", "state code")),
    ("state", 2, ("departamento", "département")),
    ("country", 0, (
        "country", "country / region", "country name", "nation", "país", "pays", "land",
        "paese", "nazione",
    )),
    ("country", 1, ("country code", "country iso", "iso country")),
    ("time_zone", 0, (
        "time zone", "timezone", "tz", "time zone name", "zona horaria", "huso horario",
        "fuso horário", "fuseau horaire", "zeitzone", "fuso orario", "tijdzone",
    )),
    ("linkedin_url", 0, (
        "linkedin", "linkedin url", "linkedin profile", "linkedin profile url",
        "linkedin link", "person linkedin url", "linkedin public url", "linkedin page",
    )),
    ("x_url", 0, (
        "twitter", "twitter url", "twitter profile", "twitter link", "x url", "x profile",
        "x twitter", "twitter x", "x / twitter", "x profile url",
    )),
    ("x_url", 1, ("twitter handle", "twitter username", "x handle")),
    ("other_profile_url", 0, (
        "other profile", "other profile url", "facebook", "facebook url", "facebook profile",
        "instagram", "instagram url", "instagram profile", "github", "github url",
        "github profile", "xing", "xing profile", "xing url", "youtube", "youtube url",
        "tiktok", "bluesky", "mastodon",
    )),
    ("birthday", 0, (
        "birthday", "birth date", "birthdate", "date of birth", "dob", "born",
        "fecha de nacimiento", "cumpleaños", "data de nascimento", "date de naissance",
        "anniversaire", "geburtsdatum", "geburtstag", "data di nascita", "compleanno",
        "geboortedatum", "verjaardag",
    )),
    ("birthday", 1, ("aniversário",)),
    ("external_id", 0, ("external id", "ext id", "externalid")),
    ("external_id", 1, (
        "id", "record id", "lead id", "contact id", "customer id", "user id", "person id",
        "prospect id", "crm id", "client id", "customer number", "customer no", "object id",
        "unique id", "uid", "uuid", "guid", "source id", "kundennummer", "kunden nr",
        "kundennr", "kunden id", "id cliente", "número de cliente", "numero cliente",
        "código cliente", "código de cliente", "identifiant", "id client", "numéro client",
        "identifiant client", "codice cliente", "klantnummer",
    )),
    # An account or organization id is shared by every contact at that company
    # in most CRMs, and the importer merges rows with the same external id.
    ("external_id", 2, ("account id", "organization id", "organisation id", "company id")),
    ("notes", 0, (
        "notes", "note", "comments", "comment", "remarks", "remark", "memo", "notas",
        "observaciones", "observación", "comentarios", "comentario", "notizen", "notiz",
        "bemerkungen", "bemerkung", "anmerkungen", "anmerkung", "kommentar", "kommentare",
        "remarques", "remarque", "commentaires", "commentaire", "annotazioni", "commenti",
        "osservazioni", "observações", "opmerkingen", "notities",
    )),
    ("notes", 1, ("description", "descripción", "beschreibung", "descrizione", "descrição")),
    ("notes", 2, ("about", "summary", "bio")),
    ("source", 0, (
        "source", "lead source", "original source", "origin", "fuente", "origen", "origem",
        "fonte", "quelle", "herkunft", "provenance", "bron",
    )),
    ("source", 1, (
        "channel", "utm source", "acquisition channel", "referral source", "canal",
    )),
    # Near misses of real fields that must not be read as them: Thunderbird
    # splits the birthday into three columns, and a county is not a country.
    ("custom", 0, ("birth year", "birth month", "birth day", "county", "fax", "fax number")),
    # Row numbers from spreadsheets and dataframes carry nothing about the lead.
    ("ignore", 0, (
        "index", "idx", "row", "row number", "row no", "row id", "row num", "line number",
        "line no", "no", "nr", "n", "s no", "sno", "sl no", "sr no", "serial no",
        "serial number", "lfd nr", "número de fila", "fila", "ligne", "zeile", "riga",
    )),
)  # fmt: skip

# Headers that are only symbols but still mean "row number".
SYMBOL_HEADERS: dict[str, str] = {"#": "no", "№": "no"}

# Words around a field name that qualify it ("Work Phone", "Person - Email - Home",
# "Phone 1 - Value"), with the rank they add: a home number is the lead's phone
# only when there is no work number.
LEADING_QUALIFIERS: dict[str, int] = {
    **dict.fromkeys(
        ("person", "contact", "lead", "prospect", "customer", "client", "primary", "main",
         "preferred", "default", "work", "business", "office", "mailing", "address",
         "current", "hubspot", "hs", "salesforce", "sfdc", "zoho", "apollo", "pipedrive"),
        0,
    ),
    **dict.fromkeys(
        ("home", "personal", "private", "other", "secondary", "alternate", "alternative",
         "alt"),
        2,
    ),
    **dict.fromkeys(("billing", "shipping"), 3),
}  # fmt: skip
TRAILING_QUALIFIERS: dict[str, int] = {
    **dict.fromkeys(("value", "work", "business", "office", "primary", "main"), 0),
    **dict.fromkeys(("home", "personal", "private", "other"), 2),
}

# The export writes custom fields as "Custom: <name>"; reading them back keeps the name.
CUSTOM_PREFIXES: tuple[str, ...] = ("custom:", "custom field:")

SALUTATIONS: frozenset[str] = frozenset(
    {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam", "sr", "sra", "srta", "don",
     "doña", "herr", "frau", "m", "mme", "mlle", "sig", "sig ra", "dott", "ing"}
)  # fmt: skip
