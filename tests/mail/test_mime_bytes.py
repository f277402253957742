"""`message_bytes` writes exactly the bytes of `build_message(...).as_bytes()`.

The dispatcher sends `message_bytes` (written directly, for speed); `build_message` is the
standard library's `email` package doing the same job. Any difference is a defect of the fast
path, so the two are compared byte for byte: on generated inputs (non-ASCII and long names,
subjects and bodies, header injection attempts, every line-ending, with and without a
calendar, replies) and on every shipped template in every language. Where the standard
library refuses an input, the fast path must refuse it too.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mail.mime import build_message, make_message_id, message_bytes
from tests.mail.test_mime import DATE, DOMAIN, MESSAGE, calendar_bytes

# Characters that exercise the header and body encoders: ASCII specials, Latin accents, a
# non-Latin script, an emoji, quotes and separators, spaces, and every line-break form.
SPECIAL = "\"',;:<>()[]@\\=?_.- \t\r\n\u2028\u0085"
ALPHABET = st.sampled_from(
    list("abcXYZ019 ") + list("áéíóúñçãõÁÉ") + list("Ωжあ") + ["😀"] + list(SPECIAL)
)
NAMES = st.text(ALPHABET, max_size=90)
BODY_LINES = st.lists(
    st.one_of(
        st.text(ALPHABET, max_size=120),
        st.sampled_from([".", "..", "From here", "trailing space ", "tab\t", "=3D", "x" * 200]),
    ),
    max_size=8,
)
LINE_ENDS = st.sampled_from(["\n", "\r\n", "\r"])
ADDRESSES = st.sampled_from(
    [
        "c.soto@santiago.example.org",
        "ana+cda@lima.example.org",
        "o'neil@baltimore.example.org",
        "not an address",
        "eve@example.org\r\nBcc: x@example.org",
        "",
    ]
)


@st.composite
def bodies(draw: st.DrawFn) -> str:
    return draw(LINE_ENDS).join(draw(BODY_LINES)) + draw(st.sampled_from(["", "\n", "\r\n"]))


@st.composite
def messages(draw: st.DrawFn) -> dict[str, Any]:
    method = draw(st.sampled_from([None, "REQUEST", "CANCEL"]))
    key = draw(st.text("abcdefghij/-0123456789", min_size=1, max_size=30))
    values: dict[str, Any] = {
        "sender_name": draw(NAMES),
        "sender_email": "accelerator@govex.example.org",
        "reply_to": draw(st.sampled_from([None, "help@govex.example.org"])),
        "to_name": draw(NAMES),
        "to_email": draw(ADDRESSES),
        "subject": draw(st.text(ALPHABET, max_size=160)),
        "text": draw(bodies()),
        "html": draw(bodies()),
        "message_id": make_message_id(key, DOMAIN),
        "date": DATE
        + dt.timedelta(minutes=draw(st.integers(-(10**6), 10**6)))
        + dt.timedelta(seconds=draw(st.integers(0, 59))),
    }
    if method is not None:
        summary = draw(st.text(ALPHABET.filter(lambda c: c not in "\r\n\u2028\u0085"), max_size=60))
        values["calendar"] = calendar_bytes(method, summary=summary or "Sesión")
        values["calendar_method"] = draw(st.sampled_from([None, method]))
    if draw(st.booleans()):
        earlier = make_message_id(key + "/earlier", DOMAIN)
        values["in_reply_to"] = earlier
        values["references"] = [earlier, make_message_id(key + "/first", DOMAIN)][
            : draw(st.integers(1, 2))
        ]
    return values


def outcome(make: Any, values: dict[str, Any]) -> bytes | str:
    """The bytes, or the kind of refusal (ValueError) the input met."""
    try:
        result = make(**values)
    except ValueError:
        return "refused"
    return result if isinstance(result, bytes) else bytes(result.as_bytes())


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(messages())
@example(MESSAGE | {"calendar": calendar_bytes("REQUEST")})
def test_the_fast_writer_matches_the_standard_library(values: dict[str, Any]) -> None:
    assert outcome(message_bytes, values) == outcome(build_message, values)


def test_generated_inputs_reach_both_outcomes() -> None:
    """The comparison above is worth something only if it sees messages and refusals."""
    seen: set[str] = set()

    @settings(max_examples=100, deadline=None, derandomize=True)
    @given(messages())
    def collect(values: dict[str, Any]) -> None:
        result = outcome(build_message, values)
        seen.add("refused" if result == "refused" else "bytes")
        if isinstance(result, bytes) and "calendar" in values:
            seen.add("calendar")

    collect()
    assert seen == {"refused", "bytes", "calendar"}
