"""Cells as people (and exports) type them: placeholder emails, blank-meaning words, every
LinkedIn profile URL shape, phone shapes, plain-text bodies; and header aliases by export."""

from __future__ import annotations

from typing import Any

import pytest
from rows_helpers import parse

from sheetsync.rows.campaigns import body_html
from sheetsync.rows.cells import Problem, as_email, as_phone
from sheetsync.rows.prospects import linkedin_url
from sheetsync.sheet.aliases import looks_like
from sheetsync.sheet.layout import PROSPECTS, header_key, match_headers

PLACEHOLDER = "is a placeholder, not an address; fill in the real address or delete the row"


@pytest.mark.parametrize(
    "cell",
    ["email_not_unlocked@domain.com", "EMAIL_NOT_UNLOCKED@domain.com", "n/a", "N/A", "-", "—",
     "none", "None", "null", "unknown", "noemail@acme.com", "no-email@acme.com"],
)  # fmt: skip
def test_placeholder_emails(cell: str) -> None:
    with pytest.raises(Problem) as err:
        as_email(cell, "Email")
    assert err.value.message == f"Email {cell.strip()!r} {PLACEHOLDER}"


@pytest.mark.parametrize("cell", ["na@acme.com", "nonea@acme.com", "n.a@acme.co"])
def test_addresses_that_only_look_like_placeholders_are_addresses(cell: str) -> None:
    assert as_email(cell, "Email") == cell


@pytest.mark.parametrize(
    "cell", ["n/a", "N/A", "n.a.", "-", "--", "–", "—", "none", "NONE", "null", "nil",
             "unknown", "Not available", "not found", "no data", "TBD", "?", " n/a "],
)  # fmt: skip
def test_blank_meaning_values_are_blank_in_optional_fields(cell: str) -> None:
    row = {"Email": "ann@acme.com", "First Name": cell, "Last Name": cell, "Company": cell,
           "Role": cell, "Phone": cell, "LinkedIn URL": cell, "Industry": cell}  # fmt: skip
    rows = parse(prospects=[row])
    assert rows.issues == []
    [p] = rows.prospects
    assert (p.body, p.left_out) == ({"email": "ann@acme.com"}, ())


def test_a_blank_meaning_value_lets_the_next_column_of_an_export_fill_the_field() -> None:
    rows = parse(prospects=[{"Email": "n/a", "Email 1": "ann@acme.com", "Mobile Phone": "-",
                             "Work Direct Phone": "'+1 415 555 0134"}])  # fmt: skip
    [p] = rows.prospects
    assert p.body == {"email": "ann@acme.com", "phone": "+1 415 555 0134"}


PROFILE = "https://www.linkedin.com/in/jane-doe-12345"


@pytest.mark.parametrize(
    ("cell", "url"),
    [
        ("https://www.linkedin.com/in/jane-doe-12345", PROFILE),
        ("https://www.linkedin.com/in/jane-doe-12345/", PROFILE),
        ("http://linkedin.com/in/jane-doe-12345", PROFILE),
        ("linkedin.com/in/jane-doe-12345", PROFILE),
        ("www.linkedin.com/in/jane-doe-12345?trk=public_profile", PROFILE),
        ("https://m.linkedin.com/in/jane-doe-12345", PROFILE),  # mobile
        ("https://mobile.linkedin.com/in/jane-doe-12345/", PROFILE),
        ("https://uk.linkedin.com/in/jane-doe-12345", PROFILE),  # country subdomains
        ("https://de.linkedin.com/in/jane-doe-12345/?originalSubdomain=de", PROFILE),
        ("https://www.linkedin.com/in/jane-doe-12345/details/experience/", PROFILE),
        ("https://www.linkedin.com/in/jane-doe-12345/en", PROFILE),
        ("https://www.linkedin.com/in/jane-doe-12345/recent-activity/all/", PROFILE),
        ("https://www.linkedin.com/in/jane-doe-12345#experience", PROFILE),
        ("HTTPS://WWW.LINKEDIN.COM/IN/jane-doe-12345", PROFILE),
        ("https://www.linkedin.com/in/j%C3%BCrgen-m%C3%BCller",
         "https://www.linkedin.com/in/j%C3%BCrgen-m%C3%BCller"),  # percent-encoded slugs
        ("https://www.linkedin.com/in/j%c3%bcrgen-m%c3%bcller",
         "https://www.linkedin.com/in/j%C3%BCrgen-m%C3%BCller"),
        ("https://www.linkedin.com/in/jürgen-müller",
         "https://www.linkedin.com/in/j%C3%BCrgen-m%C3%BCller"),
        ("https://www.linkedin.com/in/ACwAAAB1c2VyMTIz", "https://www.linkedin.com/in/ACwAAAB1c2VyMTIz"),
        ("https://www.linkedin.com/pub/jane-doe/1a/2b3/4c5",
         "https://www.linkedin.com/pub/jane-doe/1a/2b3/4c5"),  # the old public profile
    ],
)  # fmt: skip
def test_linkedin_profile_shapes_are_normalised(cell: str, url: str) -> None:
    assert linkedin_url(cell, "LinkedIn URL") == url


SALES_NAV = (
    "is a Sales Navigator link, not a public profile; open the lead in Sales Navigator, choose "
    "View LinkedIn profile and paste that address"
)
NOT_PROFILE = (
    "is a LinkedIn page, not a person's profile; use the profile's address, like "
    "https://www.linkedin.com/in/<profile>"
)
NOT_LINKEDIN = (
    "is not a LinkedIn profile URL; use the profile's address, like "
    "https://www.linkedin.com/in/<profile>"
)


@pytest.mark.parametrize(
    ("cell", "why"),
    [
        ("https://www.linkedin.com/sales/lead/ACwAAB12345,NAME_SEARCH,xyz", SALES_NAV),
        ("https://www.linkedin.com/sales/people/ACwAAB12345,name,abc", SALES_NAV),
        ("https://www.linkedin.com/pub/dir/Jane/Doe", NOT_PROFILE),
        ("https://www.linkedin.com/company/acme", NOT_PROFILE),
        ("https://www.linkedin.com/jobs/view/123456", NOT_PROFILE),
        ("https://www.linkedin.com/school/mit/", NOT_PROFILE),
        ("https://www.linkedin.com/feed/", NOT_PROFILE),
        ("https://www.linkedin.com/in/", NOT_LINKEDIN),
        ("https://www.linkedin.com/", NOT_LINKEDIN),
        ("https://evil-linkedin.com/in/jane", NOT_LINKEDIN),
        ("https://linkedin.com.evil.io/in/jane", NOT_LINKEDIN),
        ("ftp://www.linkedin.com/in/jane", NOT_LINKEDIN),
        ("https://www.linkedin.com:8443/in/jane", NOT_LINKEDIN),
        ("https://twitter.com/jane", NOT_LINKEDIN),
        ("jane doe", NOT_LINKEDIN),
    ],
)
def test_what_is_not_a_public_profile_says_why(cell: str, why: str) -> None:
    with pytest.raises(Problem) as err:
        linkedin_url(cell, "LinkedIn URL")
    assert err.value.message.endswith(why)


@pytest.mark.parametrize(
    ("cell", "phone"),
    [
        ("+1 (415) 555-0134", "+1 (415) 555-0134"),
        ("415.555.0134", "415.555.0134"),
        ("'+1 415-555-0134", "+1 415-555-0134"),  # Apollo's apostrophe
        ("tel:+14155550134", "+14155550134"),
        ("+44 20 7946 0958 ext. 12", "+44 20 7946 0958 ext. 12"),
        ("+1 555 123 4567 x89", "+1 555 123 4567 x89"),
        ("+33 (0)1 23 45 67 89", "+33 (0)1 23 45 67 89"),
        ("030/1234567", "030/1234567"),
        ("+1 415\u2013555\u20130134", "+1 415\u2013555\u20130134"),  # en dashes from Word
        (5551234567.0, "5551234567"),  # a number cell keeps its digits
        (4915123456789, "4915123456789"),
    ],
)
def test_phone_shapes(cell: Any, phone: str) -> None:
    assert as_phone(cell, "Phone") == phone


@pytest.mark.parametrize("cell", ["n/a x", "call me", "12", "+", "555-CALL-NOW", "1e10x"])
def test_what_is_not_a_phone(cell: str) -> None:
    with pytest.raises(Problem) as err:
        as_phone(cell, "Phone")
    assert err.value.message == (
        f"Phone {cell!r} is not a phone number; use digits, spaces and + - ( ), "
        f"e.g. +1 555 123 4567"
    )


@pytest.mark.parametrize(
    ("cell", "html"),
    [
        ("Hi {{firstName}},", "<p>Hi {{firstName}},</p>"),
        ("Hi {{firstName}},\n\nShort question.\nWorth a call?",
         "<p>Hi {{firstName}},</p><p>Short question.<br>Worth a call?</p>"),
        ("Hi,\r\n\r\nline one\r\nline two", "<p>Hi,</p><p>line one<br>line two</p>"),  # Windows
        ("Hi,\r\rold Mac", "<p>Hi,</p><p>old Mac</p>"),
        ("a\n \n\n\nb", "<p>a</p><p>b</p>"),  # blank lines with spaces, several in a row
        ("2 < 3 & 5 > 4", "<p>2 &lt; 3 &amp; 5 &gt; 4</p>"),
        ("I <3 {{company}} & co", "<p>I &lt;3 {{company}} &amp; co</p>"),
        ("Write to <ann@acme.com>", "<p>Write to &lt;ann@acme.com&gt;</p>"),
        ("Hi <first name>", "<p>Hi &lt;first name&gt;</p>"),
        ('{{firstName | "there"}} said "hi"', '<p>{{firstName | "there"}} said "hi"</p>'),
        ("Tom's &amp; Jerry's", "<p>Tom's &amp;amp; Jerry's</p>"),  # text, so & is escaped
        # a cell with HTML is sent as written
        ("<p>Hi {{firstName}},</p><p>Hello</p>", "<p>Hi {{firstName}},</p><p>Hello</p>"),
        ("Hi,<br>line two\n\nkept as typed", "Hi,<br>line two\n\nkept as typed"),
        ('<a href="https://a.io">this</a> & more', '<a href="https://a.io">this</a> & more'),
        ("<DIV>caps</DIV>", "<DIV>caps</DIV>"),
    ],
)  # fmt: skip
def test_plain_text_bodies_become_html(cell: str, html: str) -> None:
    assert body_html(cell) == html


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Person Linkedin Url", "linkedin_url"), ("linkedin_profile_url", "linkedin_url"),
        ("LinkedIn Contact Profile URL", "linkedin_url"),
        ("Contact LI Profile URL", "linkedin_url"),
        ("URL", "linkedin_url"), ("linkedInProfileUrl", "linkedin_url"),
        ("Email Address", "email"), ("E-mail", "email"), ("Email 1", "email"),
        ("Work Email", "email"), ("first_name", "first_name"), ("FirstName", "first_name"),
        ("LAST-NAME", "last_name"), ("company_name", "company"), ("Company / Account", "company"),
        ("Account Name", "company"), ("Organization", "company"), ("job_title", "role"),
        ("Title", "role"), ("Position", "role"), ("Mobile phone", "phone"),
        ("Work Direct Phone", "phone"), ("Phone Number", "phone"), ("Direct Phone Number", "phone"),
        ("Mobile 1", "phone"), ("telephone", "phone"), ("MobilePhone", "phone"),
    ],
)  # fmt: skip
def test_export_headers_are_aliases(header: str, field: str) -> None:
    found = match_headers(PROSPECTS, ["Notes", header])
    assert found.index == {field: 1}
    assert found.duplicates == {}


def test_several_columns_of_one_field_are_filled_by_preference_not_duplicates() -> None:
    header = ["Home Phone", "Mobile Phone", "Work Direct Phone", "Corporate Phone", "Email"]
    found = match_headers(PROSPECTS, header)
    assert found.all("phone") == (1, 2, 3, 0)  # mobile, direct, corporate, then home
    assert found.duplicates == {}
    assert match_headers(PROSPECTS, ["Email", "e-mail"]).duplicates == {"email": [0, 1]}


@pytest.mark.parametrize(
    ("header", "field"),
    [("E-mail Adresse", "email"), ("Mail", "email"), ("Phone (work)", "phone"),
     ("Cell / Mobile", "phone"), ("Telefon", "phone"), ("Intel", None), ("Hotel", None),
     ("LinkedIn link", "linkedin_url"),
     ("Vorname / First name", "first_name"), ("Surname 2", "last_name"),
     ("Company name 2", "company"), ("Job title (current)", "role"), ("City", None),
     ("Company Phone", None), ("Company Linkedin Url", None), ("Email Status", None),
     ("Email 2 Validation", None), ("Personal Email", None), ("Company City", None),
     ("Mobile Phone Do Not Call", None)],
)  # fmt: skip
def test_unmatched_headers_that_look_like_a_field(header: str, field: str | None) -> None:
    assert looks_like(header_key(header)) == field
