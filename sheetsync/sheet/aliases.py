"""The headers of common lead exports, as aliases of the Prospects tab's fields.

Headers are compared by `layout.header_key`: case, spaces and punctuation do not count, so
`First Name`, `first_name`, `firstName` and `FIRST-NAME` are one header. Where several columns
of one export can fill one field (Apollo has five phone columns), each row takes the FIRST
column, in the order below, whose cell is filled in (`n/a`, `-`, `none` … count as empty). The
order of preference is: the tab's own header (or the one configured in `[sheet.columns.<tab>]`,
which replaces these aliases), then the aliases as listed.

Where the headers come from (found with public vendor docs and public code that parses these
files; one export's header row per fixture under tests/exports/):

- Apollo people export: `First Name, Last Name, Title, Company Name, Company Name for Emails,
  Email, Email Status, …, Work Direct Phone, Home Phone, Mobile Phone, Corporate Phone, Other
  Phone, …, Person Linkedin Url, Website, Company Linkedin Url, …` (parsers of Apollo CSVs in
  public code, e.g. a `canonicalFieldMap` of "Work Direct Phone", "Corporate Phone", "Mobile
  Phone", "Home Phone", "Person Linkedin Url"; older exports say `Company`).
- HubSpot contacts export: `Record ID, First Name, Last Name, Email, Phone Number, Mobile Phone
  Number, Company Name, Job Title, Contact owner, Lead Status, …` (HubSpot CRM export files read
  by public code; the property labels of `phone`, `mobilephone`, `company`, `jobtitle`).
- Salesforce reports and Data Loader: report columns `First Name, Last Name, Title, Company /
  Account` (leads) or `Account Name` (contacts), `Email, Phone, Mobile`; API names `FirstName,
  LastName, Title, Company, Email, Phone, MobilePhone` (field mappings of Salesforce exports in
  public code).
- ZoomInfo contact export: `ZoomInfo Contact ID, First Name, Last Name, Job Title, Management
  Level, Email Address, Direct Phone Number, Mobile phone, Company HQ Phone, Company Name,
  LinkedIn Contact Profile URL, Website, …` (ZoomInfo export column lists in public code).
- Lusha: `Full Name, First Name, Last Name, Job Title, Company Name, Email 1, Email 2, Phone 1,
  Mobile 1, Direct Phone 1, Other Phone 1, … 2, Contact LinkedIn URL, Contact Country`
  (docs.lusha.com, "Fields for field mapping and descriptions").
- Hunter: `Email address, First name, Last name, Position, Organization, Phone number, LinkedIn
  URL, Twitter handle` (help.hunter.io on lead exports and imports; the fields `first_name,
  last_name, position, organization, linkedin, phone_number` of Hunter's API in public clients).
- Seamless.AI: `Contact Full Name, First Name, Last Name, Title, Department, Seniority, Company
  Name, Company Name - Cleaned, Website, Primary Email, Contact LI Profile URL, Email 1, Email 1
  Validation, Email 1 Total AI, Email 2, …, Contact Phone 1, Contact Mobile Phone, Company Phone
  1, …` (a Seamless.AI export header row in public test code).
- Clay "Find people" tables: `First Name, Last Name, Full Name, Job Title, Location, Company
  Domain, LinkedIn Profile, Current Company`, plus an email column such as `Work Email` (Clay
  CSV exports read by public code).
- Sales Navigator scrapers (snake_case or camelCase): `first_name, last_name, full_name,
  job_title, title, company_name, linkedin_profile_url, linkedin_url, email, work_email, phone`,
  PhantomBuster's `firstName, lastName, companyName, title, defaultProfileUrl, profileUrl`
  (DTOs of scraper outputs in public code).
- LinkedIn's own CSV (Connections.csv of "Get a copy of your data"): three lines of notes, then
  `First Name, Last Name, URL, Email Address, Company, Position, Connected On` (public parsers
  of the file, which skip the notes).
- WarmySender's CSV importer (warmysender.com/documentation/csv-import): `email, firstName,
  lastName, company, role, phone, linkedinUrl`, and it maps `e-mail, first_name, company name,
  title, job_title, position, telephone, mobile, linkedin, linkedin_url, linkedin_profile`.
"""

from __future__ import annotations

import re

# field -> aliases, in order of preference (after the tab's own header)
ALIASES: dict[str, tuple[str, ...]] = {
    "email": (
        "Email Address",  # ZoomInfo, LinkedIn, Hunter ("Email address")
        "Work Email",  # Clay, scrapers (work_email)
        "Business Email",
        "Email 1",  # Seamless.AI, Lusha
        "Primary Email",  # Seamless.AI
        "Email 2",  # Seamless.AI, Lusha
    ),
    "first_name": ("Given Name",),  # First Name / first_name / firstName / FirstName: one key
    "last_name": ("Surname", "Family Name"),
    "company": (
        "Company Name",  # Apollo, HubSpot, ZoomInfo, Lusha, Seamless.AI, scrapers, WarmySender
        "Company / Account",  # Salesforce lead reports
        "Account Name",  # Salesforce contact reports
        "Organization",  # Hunter
        "Organisation",
        "Current Company",  # Clay
        "Company Name - Cleaned",  # Seamless.AI
        "Company Name for Emails",  # Apollo
    ),
    "role": (
        "Title",  # Apollo, Salesforce, Seamless.AI, scrapers
        "Job Title",  # HubSpot, ZoomInfo, Lusha, Clay, scrapers (job_title)
        "Position",  # LinkedIn, Hunter, WarmySender
    ),
    # The person's own lines first (mobile, then direct), then shared and home numbers.
    "phone": (
        "Mobile Phone",  # Apollo, ZoomInfo ("Mobile phone"), Salesforce API (MobilePhone)
        "Mobile",  # Salesforce reports, WarmySender
        "Mobile Phone Number",  # HubSpot
        "Contact Mobile Phone",  # Seamless.AI
        "Mobile 1",  # Lusha
        "Work Direct Phone",  # Apollo
        "Direct Phone Number",  # ZoomInfo
        "Direct Phone 1",  # Lusha
        "Contact Phone 1",  # Seamless.AI
        "Phone Number",  # HubSpot, Hunter (phone_number)
        "Phone 1",  # Lusha
        "Telephone",  # WarmySender
        "Corporate Phone",  # Apollo
        "Other Phone",  # Apollo, Salesforce
        "Other Phone 1",  # Lusha
        "Mobile 2",  # Lusha
        "Direct Phone 2",  # Lusha
        "Contact Phone 2",  # Seamless.AI
        "Phone 2",  # Lusha
        "Home Phone",  # Apollo, Salesforce: last, a cold email is about work
    ),
    # Public profile columns before the ones that may hold a Sales Navigator link.
    "linkedin_url": (
        "Person Linkedin Url",  # Apollo
        "LinkedIn Contact Profile URL",  # ZoomInfo
        "Contact LinkedIn URL",  # Lusha
        "Contact LI Profile URL",  # Seamless.AI
        "LinkedIn Profile URL",  # scrapers (linkedin_profile_url, linkedInProfileUrl)
        "LinkedIn Profile",  # Clay, WarmySender (linkedin_profile)
        "Default Profile URL",  # PhantomBuster (defaultProfileUrl)
        "LinkedIn",  # WarmySender, Hunter (linkedin)
        "Profile URL",  # PhantomBuster (profileUrl): may be a Sales Navigator link
        "URL",  # LinkedIn's Connections.csv
    ),
}

# Words that make an unmatched header look like one of the fields (`check` warns about it).
_LOOKS_LIKE: dict[str, tuple[str, ...]] = {
    "email": ("email", "mail"),
    "first_name": ("firstname", "givenname", "forename"),
    "last_name": ("lastname", "surname", "familyname"),
    "company": ("company", "organization", "organisation", "employer"),
    "role": ("jobtitle", "position", "title"),
    "phone": ("phone", "mobile"),
    "linkedin_url": ("linkedin",),
}

# Headers of the exports above that contain such a word but are deliberately not used: about
# the address or the number rather than the value itself, or someone else's (compared by
# header_key without digits, so "Email 2 Validation" is "emailvalidation").
KNOWN_OTHER = frozenset(
    {
        # Apollo
        "emailstatus", "primaryemailsource", "emailconfidence", "primaryemailcatchallstatus",
        "primaryemaillastverifiedat", "primaryemailverificationsource", "emailsent",
        "emailopen", "emailbounced", "secondaryemail", "tertiaryemail",
        # Seamless.AI, Lusha, Hunter
        "emailvalidation", "emailtotalai", "personalemail", "contactphonetotalai",
        "contactmobilephonetotalai", "emailverificationstatus", "emailtype",
        # ZoomInfo
        "mobilephonedonotcall", "directphonedonotcall", "emaildomain",
        "linkedincompanyprofileurl", "zoominfocontactprofileurl",
        # Salesforce
        "emailoptout", "emailbouncedreason", "emailbounceddate", "asstphone",
        "assistantphone", "titleofcourtesy", "salutation",
        # scrapers
        "linkedincompanyurl", "salesnavigatorprofileurl",
    }
)  # fmt: skip

_DIGITS = re.compile(r"\d+")


def looks_like(key: str) -> str | None:
    """The field an unmatched header (given as its header_key) seems to mean, or None. Columns
    about the company (`Company Phone`, `Company Linkedin Url`) mean only the company field."""
    plain = _DIGITS.sub("", key)
    if not plain or plain in KNOWN_OTHER:
        return None
    about_company = plain.startswith(("company", "account", "organi", "corporate"))
    if plain.startswith("tel"):  # Tel, Telefon, Téléphone ("tel" inside a word is no phone)
        return "phone"
    for field, words in _LOOKS_LIKE.items():
        if about_company and field != "company":
            continue
        if field == "company" and not re.fullmatch(
            r"(company|organi[sz]ation|employer)(name)?", plain
        ):
            continue  # "Company City", "Company Domain": about the company, not its name
        if any(w in plain for w in words):
            return field
    return None
