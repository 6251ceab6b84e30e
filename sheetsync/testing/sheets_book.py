"""A spreadsheet held by the Sheets emulator and the Google-shaped errors its endpoints raise."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from sheetsync.testing.sheets_grid import A1Range, RangeError, Tab, parse_cells, split_range

STATUS_TEXT = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
DEFAULT_MESSAGES = {
    400: "Request contains an invalid argument.",
    401: "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project.",
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
    409: "The operation was aborted.",
    429: "Quota exceeded.",
    500: "Internal error encountered.",
    502: "Bad gateway.",
    503: "The service is currently unavailable.",
    504: "The service is currently unavailable.",
}


class ApiFailure(Exception):
    """An error answer: `body()` is Google's `{"error": {code, message, status}}` shape."""

    def __init__(
        self, code: int, message: str | None = None, *, details: list[Any] | None = None
    ) -> None:
        self.code = code
        self.message = message or DEFAULT_MESSAGES.get(code, "Error")
        self.details = details
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "status": STATUS_TEXT.get(self.code, "UNKNOWN"),
        }
        if self.details:
            err["details"] = self.details
        return {"error": err}


def bad_request(message: str) -> ApiFailure:
    return ApiFailure(400, message)


@dataclass
class Book:
    spreadsheet_id: str
    title: str
    tabs: list[Tab]
    allowed_tokens: set[str] | None = None  # None: anyone with a valid token
    protected_ranges: list[dict[str, Any]] = field(default_factory=list)  # with "sheetId"
    formats: list[dict[str, Any]] = field(default_factory=list)  # repeatCell requests seen

    def snapshot(self) -> Book:
        return copy.deepcopy(self)

    def restore(self, other: Book) -> None:
        self.__dict__.update(other.__dict__)

    def tab(self, title: str) -> Tab:
        for t in self.tabs:
            if t.title == title:
                return t
        raise KeyError(title)

    def find_tab(self, title: str) -> Tab | None:
        for t in self.tabs:
            if t.title == title:
                return t
        return None

    def tab_by_id(self, sheet_id: int) -> Tab | None:
        for t in self.tabs:
            if t.sheet_id == sheet_id:
                return t
        return None

    def parse_range(self, text: str) -> tuple[Tab, A1Range]:
        """Resolve a range string the way the API does; unknown tabs and bad syntax raise
        400 "Unable to parse range: …"."""
        try:
            title, cells = split_range(text)
            if title is None:
                assert cells is not None
                found = self.find_tab(cells)
                if found is not None:
                    return found, A1Range(found.title, whole=True)
                if not self.tabs:
                    raise RangeError(f"Unable to parse range: {text}")
                first = self.tabs[0]
                return first, parse_cells(first.title, cells, text)
            found = self.find_tab(title)
            if found is None:
                raise RangeError(f"Unable to parse range: {text}")
            if cells is None:
                return found, A1Range(found.title, whole=True)
            return found, parse_cells(found.title, cells, text)
        except RangeError as e:
            raise bad_request(e.message) from None
