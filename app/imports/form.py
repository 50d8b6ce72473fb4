"""A store list sent as multipart/form-data (a browser's file picker, `curl -F file=@x.csv`):
the one `file` field streamed out of the form as it arrives, never held whole.

python-multipart parses; this keeps the bytes of the `file` part and refuses a form without
one, with a second one, or with any other field (an unknown field is an error, as an unknown
query parameter is).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart import MultipartParser
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartState, parse_options_header

from app.errors import InvalidInput

FIELD = "file"


@dataclass(slots=True)
class FormFile:
    """What the form said of its file: known once the part's headers have arrived."""

    filename: str | None = None
    content_type: str | None = None
    seen: bool = False
    _header: bytes = b""
    _headers: dict[bytes, bytes] = field(default_factory=dict)
    _in_file: bool = False
    _chunks: list[bytes] = field(default_factory=list)
    _problem: str | None = None


def boundary_of(content_type: str) -> bytes:
    """The boundary of a multipart/form-data Content-Type; 422 without one."""
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise _invalid("send multipart/form-data with a boundary, or the file itself as the body")
    return boundary


async def file_chunks(
    stream: AsyncIterator[bytes], boundary: bytes, form: FormFile
) -> AsyncIterator[bytes]:
    """The bytes of the form's `file` field; `form` learns its name and type on the way."""

    def on_part_begin() -> None:
        form._headers = {}

    def on_header_field(data: bytes, start: int, end: int) -> None:
        form._header += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        name = form._header.lower()
        form._headers[name] = form._headers.get(name, b"") + data[start:end]

    def on_header_end() -> None:
        form._header = b""

    def on_headers_finished() -> None:
        _, options = parse_options_header(form._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name != FIELD:
            form._problem = f"the form has a field {name!r}; send only the field {FIELD!r}"
        elif form.seen:
            form._problem = f"the form has the field {FIELD!r} twice"
        else:
            form.seen, form._in_file = True, True
            filename = options.get(b"filename")
            form.filename = filename.decode("utf-8", "replace")[:200] if filename else None
            kind, _ = parse_options_header(form._headers.get(b"content-type", b""))
            form.content_type = kind.decode("latin-1") or None

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if form._in_file:
            form._chunks.append(data[start:end])

    def on_part_end() -> None:
        form._in_file = False

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    async for chunk in stream:
        try:
            parser.write(chunk)
        except MultipartParseError as exc:
            raise _invalid(f"the form cannot be read ({exc})") from None
        if form._problem:
            raise _invalid(form._problem)
        if form._chunks:
            yield b"".join(form._chunks)
            form._chunks.clear()
    try:
        parser.finalize()
    except MultipartParseError as exc:
        raise _invalid(f"the form cannot be read ({exc})") from None
    if not form.seen:
        raise _invalid(f"the form has no field {FIELD!r} (the store list)")
    if parser.state is not MultipartState.END:
        raise _invalid("the form ends before its closing boundary: was the upload cut short?")


def _invalid(msg: str) -> InvalidInput:
    return InvalidInput.at(["body"], msg)
