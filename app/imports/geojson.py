"""A GeoJSON FeatureCollection read one feature at a time, never whole.

The top level is walked by hand (its members in any order); each feature, and each other
member, is decoded by the json module's own scanner from a buffer refilled in 1 MiB chunks. A
feature (or member) larger than 16 MiB, invalid JSON, or a document that is not one
FeatureCollection raises NotAFeatureCollection with the reason.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from typing import Any

MAX_FEATURE_CHARS = 16 * 1024 * 1024  # one feature (or other top-level member)
_CHUNK_CHARS = 1024 * 1024
# What a value nested past the json module's recursion limit (about 1,000 levels) reads as: the
# scanner cannot decode it, so it is stepped over and its feature reported, not the file failed.
TOO_DEEP: Any = object()
_STRUCTURE = re.compile(r'\\.?|["\[\]{}]', re.DOTALL)


class NotAFeatureCollection(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FeatureCollection:
    """Walks the top level of one JSON object and decodes the `features` array one at a time."""

    def __init__(self, text: io.TextIOWrapper) -> None:
        self.text = text
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.decoder = json.JSONDecoder()

    def features(self) -> Iterator[Any]:
        if self.peek() is None:
            raise NotAFeatureCollection("the file is empty")
        if self.peek() != "{":
            raise NotAFeatureCollection(
                "this is not a GeoJSON FeatureCollection (it is not a JSON object)"
            )
        self.pos += 1
        kind, has_features = None, False
        while self.peek() != "}":
            key = self.value("a member name")
            if not isinstance(key, str):
                raise NotAFeatureCollection(
                    "this is not valid JSON: a member name must be a string"
                )
            self.expect(":")
            if key == "features":
                has_features = True
                yield from self._features()
            else:
                value = self.value(f"the member {key!r}")
                if key == "type":
                    kind = value
                    if kind != "FeatureCollection":
                        raise NotAFeatureCollection(
                            f"this GeoJSON is a {kind!r}, not a FeatureCollection"
                        )
            if self.peek() == ",":
                self.pos += 1
            elif self.peek() != "}":
                raise NotAFeatureCollection(
                    "this is not valid JSON: expected ',' or '}' at the top level"
                )
        self.pos += 1
        if self.peek() is not None:
            raise NotAFeatureCollection("there is more data after the end of the JSON document")
        if not has_features:
            raise NotAFeatureCollection(
                "this is not a GeoJSON FeatureCollection: it has no features array"
            )

    def _features(self) -> Iterator[Any]:
        self.expect("[")
        if self.peek() == "]":
            self.pos += 1
            return
        row = 0
        while True:
            row += 1
            yield self.value(f"feature {row}")
            after = self.peek()
            self.pos += 1
            if after == "]":
                return
            if after != ",":
                raise NotAFeatureCollection(
                    f"this is not valid JSON: expected ',' or ']' after feature {row}"
                )

    def peek(self) -> str | None:
        """The next character that is not blank, without taking it; None at the end."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._fill():
                return None

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise NotAFeatureCollection(f"this is not valid JSON: expected {char!r}")
        self.pos += 1

    def value(self, what: str) -> Any:
        self.peek()
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
            except RecursionError:
                self._skip_nested(what)
                return TOO_DEEP
            except json.JSONDecodeError as exc:
                if len(self.buf) - self.pos > MAX_FEATURE_CHARS:
                    raise NotAFeatureCollection(
                        f"{what} is larger than 16 MiB or not valid JSON"
                    ) from None
                if not self._fill():
                    raise NotAFeatureCollection(
                        f"this is not valid JSON in {what}: {exc.msg}"
                    ) from None
                continue
            if end == len(self.buf) and self._fill():
                continue  # a number at the end of the buffer may go on
            self.pos = end
            return value

    def _skip_nested(self, what: str) -> None:
        """Move past the object or array at `pos` without decoding it (brackets in strings
        do not count); NotAFeatureCollection if it does not end within MAX_FEATURE_CHARS."""
        depth, in_string, i = 0, False, self.pos
        while True:
            found = _STRUCTURE.search(self.buf, i)
            if found is None or found.group() == "\\":  # the end, or an escape cut by it
                i = len(self.buf) if found is None else found.start()
                start = self.pos
                if len(self.buf) - start > MAX_FEATURE_CHARS or not self._fill():
                    raise NotAFeatureCollection(f"{what} is larger than 16 MiB or not valid JSON")
                i -= start  # _fill keeps the buffer from `pos` on
                continue
            token, i = found.group(), found.end()
            if in_string:
                in_string = token != '"'  # an escape (two characters) never ends it
            elif token == '"':
                in_string = True
            elif token in ("[", "{"):
                depth += 1
            elif token in ("]", "}"):
                depth -= 1
                if depth == 0:
                    self.pos = i
                    return

    def _fill(self) -> bool:
        if self.eof:
            return False
        chunk = self.text.read(_CHUNK_CHARS)
        if not chunk:
            self.eof = True
            return False
        self.buf = self.buf[self.pos :] + chunk
        self.pos = 0
        return True
