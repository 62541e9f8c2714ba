"""Conversations written to find where a JavaScript port of ledger.conversation could drift.

Each is named for what it probes. Nothing here says what the answer is: the Python reference
decides, and the JS client must give the same hash or the same refusal code.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

from ledger.conversation import MAX_CHATGPT_DEPTH, MAX_MODEL_LENGTH

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

# Python's str.strip() set, and characters one of the two languages takes for white space and
# the other not (U+FEFF for JS; U+180E was Zs before Unicode 6.3; U+200B, U+2060 never were).
PYTHON_WHITESPACE = [cp for cp in range(0x110000) if chr(cp).isspace()]
OTHER_BLANKS = [0xFEFF, 0x180E, 0x200B, 0x2060, 0x00AD]

Case = dict[str, Any]


def plain(*turns: tuple[object, object], model: object = None, **extra: object) -> Case:
    return {"messages": [{"role": r, "content": c} for r, c in turns], "model": model, **extra}


def chat(user: object, assistant: object = "ok", **extra: object) -> Case:
    return plain(("user", user), ("assistant", assistant), **extra)


def node(message: object, parent: object, **extra: object) -> dict[str, Any]:
    return {"message": message, "parent": parent, "children": [], **extra}


def msg(role: object, content: object, **extra: object) -> dict[str, Any]:
    return {"author": {"role": role}, "content": content, **extra}


def text(*parts: object) -> dict[str, Any]:
    return {"content_type": "text", "parts": list(parts)}


def chatgpt(*messages: object, current: object = None, model: object = "gpt-4o") -> Case:
    """A linear ChatGPT conversation whose nodes are m0, m1, ... under a root with no message."""
    mapping: dict[str, Any] = {"root": node(None, None)}
    parent = "root"
    for i, message in enumerate(messages):
        mapping[f"m{i}"] = node(message, parent)
        parent = f"m{i}"
    return {"title": "t", "mapping": mapping, "current_node": parent if current is None else current,
            "default_model_slug": model}


def around(body: object) -> Case:
    """A hidden-or-not system node before a normal exchange (for metadata truthiness)."""
    return chatgpt(msg("user", text("visible user text"), metadata={"is_visually_hidden_from_conversation": body}),
                   msg("assistant", text("answer")))


def whitespace_cases() -> dict[str, Case]:
    cases: dict[str, Case] = {}
    for cp in PYTHON_WHITESPACE + OTHER_BLANKS:
        ch = chr(cp)
        cases[f"ws-{cp:04x}-around"] = chat(f"{ch}{ch}hello{ch}", f"{ch}ok")
        cases[f"ws-{cp:04x}-inside"] = chat(f"a{ch}b")
        cases[f"ws-{cp:04x}-only-assistant"] = chat("hello", ch * 3)
        cases[f"ws-{cp:04x}-model"] = chat("hello", model=f"{ch}gpt-4{ch}")
        cases[f"ws-{cp:04x}-model-only"] = chat("hello", model=ch)
        cases[f"ws-{cp:04x}-system-skip"] = chatgpt(msg("system", text(ch)), msg("user", text("q")),
                                                    msg("assistant", text("a")))
    return cases


def control_cases() -> dict[str, Case]:
    cases = {f"ctl-{cp:04x}": chat(f"a{chr(cp)}b", f"{chr(cp)}x") for cp in [*range(0x20), *range(0x7F, 0xA0)]}
    newlines = {"crlf": "a\r\nb", "cr": "a\rb", "cr-crlf": "a\r\r\nb", "lfcr": "a\n\rb", "crcr": "a\r\rb",
                "only-crlf": "\r\n", "trailing-cr": "a\r", "mixed": "\r\n\r\nx\r\ny\r", "u2028": "a\u2028b",
                "u2029-ends": "\u2029a\u2029", "u2028-only": "\u2028", "nel": "a\x85b\x85",
                "quote-backslash": 'say "hi" \\ back\\slash /'}
    cases.update({f"nl-{k}": chat(v) for k, v in newlines.items()})
    return cases


def nfc_cases() -> dict[str, Case]:
    samples = {
        "e-acute": "e\u0301", "angstrom": "\u212b", "ohm": "\u2126", "long-s-dot": "\u1e9b\u0323",
        "hangul-jamo": "\u1100\u1161\u11a8", "hangul-lv-t": "\uac00\u11a8", "cjk-compat": "\uf900",
        "reorder": "a\u0301\u0323", "exclusion": "\u0958", "hebrew": "\ufb2c", "greek": "\u0344",
        "leading-mark": "\u0301a", "compat-not-nfkc": "\ufb01 \u2460 \uff21", "emoji": "\U0001f469\u200d\U0001f4bb",
        # Assigned after Unicode 14: the reference leaves them alone, a newer engine would not.
        "u15-arabic-pepet": "a\u0897\u0301", "u16-mark": "a\u0345\u1ae0", "u16-marks-2": "x\u1acf\u0300\u1aeb",
        "u16-vithkuqi": "\U000105c9", "u16-tulu-pair": "\U00011382\U000113c9",
        "u16-gurung-pair": "\U0001611e\U0001611e", "u16-kirat-pair": "\U00016d63\U00016d67",
        "u16-with-old": "e\u0301\U00011382\U000113c9e\u0301", "u16-new-composite": "\U00011383",
        "u17-mark": "a\U0001e4ec\u0301",
    }
    cases = {f"nfc-{k}": chat(f"q {v} q", v) for k, v in samples.items()}
    for name, value in [("decomposed", "e\u0301"), ("new", "\U0001611e\U0001611e")]:
        nfd = unicodedata.normalize("NFD", value)
        cases[f"nfc-model-{name}"] = chat("hello", model=nfd)
        cases[f"nfc-role-{name}"] = plain(("us" + nfd, "x"), ("assistant", "y"))
    return cases


def surrogate_cases() -> dict[str, Case]:
    return {
        "sur-lone-high": chat("\ud800"),
        "sur-lone-low": chat("a\udc00b"),
        "sur-high-at-end": chat("text \ud83d"),
        "sur-reversed": chat("\ude00\ud83d"),
        "sur-pair-ok": chat("\ud83d\ude00"),
        "sur-in-model": chat("hello", model="gpt\ud800"),
        "sur-in-role": plain(("\ud800", "x"), ("assistant", "y")),
        "sur-then-bad-role": plain(("user", "\ud800"), ("robot", "y")),
        "sur-and-incomplete": plain(("user", "\ud800")),
        "sur-in-skipped-node": chatgpt(msg("user", {"parts": "\ud800"}), msg("user", text("q")),
                                       msg("assistant", text("a"))),
        "sur-in-metadata": chatgpt(msg("user", text("q"), metadata={"note": "\ud800"}), msg("assistant", text("a"))),
        "sur-across-parts": chatgpt(msg("user", text("\ud83d", "\ude00")), msg("assistant", text("a"))),
        "sur-model-before-text": plain(("user", "\ud800"), ("assistant", "y"), model=5),
    }


def role_cases() -> dict[str, Case]:
    names: list[object] = ["USER", "Human", "GPT", "ChatGPT", "Bard", "BING", "Model", "SYSTEM", "Tool",
                           "constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "", " user",
                           "user ", "\uff35\uff33\uff25\uff32", "u\u017fer", "\u0130", "ASSİSTANT", None, 1, True,
                           ["user"], {"role": "user"}]
    cases = {f"role-{json.dumps(n, ensure_ascii=True)}": plain((n, "x"), ("user", "q"), ("assistant", "a"))
             for n in names}
    cases["role-missing"] = {"messages": [{"content": "x"}, {"role": "assistant", "content": "y"}]}
    cases["role-sharegpt-missing"] = {"conversations": [{"value": "x"}, {"from": "gpt", "value": "y"}]}
    cases["role-chatgpt-no-author"] = chatgpt({"content": text("x")}, msg("assistant", text("a")))
    cases["role-chatgpt-author-list"] = chatgpt({"author": ["user"], "content": text("x")}, msg("assistant", text("a")))
    cases["role-chatgpt-unknown-without-text"] = chatgpt(msg("robot", {"content_type": "x"}), msg("user", text("q")),
                                                         msg("assistant", text("a")))
    cases["role-first-error-wins"] = plain(("robot", "x"), ("user", 5))
    cases["role-shape-error-first"] = plain(("user", 5), ("robot", "x"))
    cases["role-model-error-after-roles"] = plain(("robot", "x"), ("assistant", "y"), model=5)
    return cases


def format_cases() -> dict[str, Any]:
    ok = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    return {
        "fmt-list": ok, "fmt-string": "hello", "fmt-null": None, "fmt-number": 1, "fmt-true": True,
        "fmt-empty": {}, "fmt-other-keys": {"foo": ok},
        "fmt-proto-key": json.loads('{"__proto__": {"messages": [{"role": "user", "content": "q"}]}}'),
        "fmt-mapping-wins": {"mapping": {}, "messages": ok},
        "fmt-sharegpt-wins": {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}],
                              "messages": 5},
        "fmt-messages-object": {"messages": {"0": ok[0]}}, "fmt-messages-null": {"messages": None},
        "fmt-message-list": {"messages": [["user", "q"], ok[1]]}, "fmt-message-string": {"messages": ["q"]},
        "fmt-content-null": plain(("user", None), ("assistant", "a")),
        "fmt-content-number": plain(("user", 5), ("assistant", "a")),
        "fmt-content-list": plain(("user", ["q"]), ("assistant", "a")),
        "fmt-content-missing": {"messages": [{"role": "user"}, ok[1]]},
        "fmt-model-number": chat("q", model=5), "fmt-model-list": chat("q", model=[]),
        "fmt-model-object": chat("q", model={}), "fmt-model-true": chat("q", model=True),
        "fmt-model-empty": chat("q", model=""), "fmt-model-missing": {"messages": ok},
        # The limit counts code points: 200 astral characters are 400 UTF-16 units and still fit.
        "fmt-model-at-limit": chat("q", model="m" * MAX_MODEL_LENGTH),
        "fmt-model-over-limit": chat("q", model="m" * (MAX_MODEL_LENGTH + 1)),
        "fmt-model-astral-at-limit": chat("q", model="\U0001f600" * MAX_MODEL_LENGTH),
        "fmt-model-astral-over-limit": chat("q", model="\U0001f600" * (MAX_MODEL_LENGTH + 1)),
        "fmt-model-over-limit-before-strip": chat("q", model=" " + "m" * MAX_MODEL_LENGTH + " "),
        "fmt-model-nfc-shortens": chat("q", model="e\u0301" * MAX_MODEL_LENGTH),
        "fmt-model-nul": chat("q", model="gpt\x00-4"),
        "fmt-extra-keys": {"messages": [{**ok[0], "name": "x"}, ok[1]], "v": 2, "id": "abc"},
        "fmt-canonical-again": {"v": 1, "model": "m", "messages": ok},
        "fmt-sharegpt-dict": {"conversations": {"a": 1}},
        "fmt-sharegpt-value-null": {"conversations": [{"from": "human", "value": None}]},
        "fmt-sharegpt-model-ignored": {"conversations": [{"from": "human", "value": "q"},
                                                         {"from": "gpt", "value": "a"}], "model": "gpt-4"},
        "fmt-sharegpt-turn-string": {"conversations": ["q"]},
        "inc-only-user": plain(("user", "q")), "inc-only-assistant": plain(("assistant", "a")),
        "inc-system-tool": plain(("system", "s"), ("tool", "t")),
        "inc-empty-user": plain(("user", " \n "), ("assistant", "a")),
        "inc-empty-list": {"messages": []},
        "inc-sharegpt-empty": {"conversations": []},
    }


def chatgpt_cases() -> dict[str, Any]:
    fixture = json.loads((FIXTURES / "chatgpt_regenerated.json").read_text())
    cases: dict[str, Any] = {f"gpt-fixture-at-{n}": {**fixture, "current_node": n} for n in fixture["mapping"]}
    # Without current_node the latest leaf ends the branch; without default_model_slug the last
    # assistant message's model_slug is the model.
    cases["gpt-fixture-no-current"] = {k: v for k, v in fixture.items() if k != "current_node"}
    cases["gpt-fixture-no-model"] = {**fixture, "default_model_slug": None}
    for n in fixture["mapping"]:
        cases[f"gpt-fixture-no-model-at-{n}"] = {**fixture, "current_node": n, "default_model_slug": None}
    ua = (msg("user", text("q")), msg("assistant", text("a")))
    cycle = chatgpt(*ua)
    cycle["mapping"]["root"]["parent"] = "m1"
    self_parent = chatgpt(*ua)
    self_parent["mapping"]["m0"]["parent"] = "m0"
    proto_ids = {"title": "p", "current_node": "__proto__", "mapping": json.loads(
        '{"constructor": {"message": {"author": {"role": "user"}, "content": {"parts": ["q"]}}, "parent": null},'
        ' "__proto__": {"message": {"author": {"role": "assistant"}, "content": {"parts": ["a"]}},'
        ' "parent": "constructor"}}')}
    cases |= {
        "gpt-mapping-list": {"mapping": [], "current_node": "a"},
        "gpt-mapping-null": {"mapping": None, "current_node": "a"},
        "gpt-current-missing": {"mapping": {"a": node(None, None)}},
        "gpt-current-null": {**chatgpt(*ua), "current_node": None},
        "gpt-current-number": {**chatgpt(*ua), "current_node": 5},
        "gpt-current-unknown": chatgpt(*ua, current="nope"),
        "gpt-current-inherited": chatgpt(*ua, current="toString"),
        "gpt-cycle": cycle, "gpt-self-parent": self_parent,
        "gpt-parent-dangling": {**chatgpt(*ua), "mapping": {**chatgpt(*ua)["mapping"], "root": node(None, "gone")}},
        "gpt-parent-inherited": {**chatgpt(*ua), "mapping": {**chatgpt(*ua)["mapping"], "root": node(None, "valueOf")}},
        "gpt-parent-number": {**chatgpt(*ua), "mapping": {**chatgpt(*ua)["mapping"], "root": node(None, 0)}},
        "gpt-parent-list": {**chatgpt(*ua), "mapping": {**chatgpt(*ua)["mapping"], "root": node(None, [])}},
        "gpt-parent-empty-string": {**chatgpt(*ua), "mapping": {**chatgpt(*ua)["mapping"], "root": node(None, "")}},
        "gpt-parent-missing-key": {**chatgpt(*ua), "mapping": {**chatgpt(*ua)["mapping"], "root": {"message": None}}},
        "gpt-node-null": {**chatgpt(*ua), "mapping": {**chatgpt(*ua)["mapping"], "root": None}},
        "gpt-node-list": {**chatgpt(*ua), "mapping": {**chatgpt(*ua)["mapping"], "root": []}},
        "gpt-proto-node-ids": proto_ids,
        "gpt-message-list": chatgpt(["user", "q"], *ua), "gpt-message-string": chatgpt("q", *ua),
        "gpt-message-false": chatgpt(False, *ua), "gpt-message-zero": chatgpt(0, *ua),
        "gpt-message-empty": chatgpt({}, *ua),
        "gpt-parts-empty": chatgpt(msg("user", text()), *ua),
        "gpt-parts-blank": chatgpt(msg("user", text("")), *ua),
        "gpt-parts-mixed": chatgpt(msg("user", text("a", {"content_type": "image_asset_pointer"}, None, 5, True,
                                                     ["x"], "b")), msg("assistant", text("a"))),
        "gpt-parts-only-image": chatgpt(msg("user", text({"asset_pointer": "file-service://x"})),
                                        msg("assistant", text("a"))),
        "gpt-parts-string": chatgpt(msg("user", {"parts": "not a list", "text": "the text"}), *ua),
        "gpt-parts-null-text": chatgpt(msg("user", {"parts": None, "text": "code"}), *ua),
        "gpt-text-number": chatgpt(msg("user", {"text": 5}), *ua),
        "gpt-content-string": chatgpt(msg("user", "q"), *ua),
        "gpt-content-null": chatgpt(msg("user", None), *ua),
        "gpt-content-missing": chatgpt({"author": {"role": "user"}}, *ua),
        "gpt-system-empty": chatgpt(msg("system", text("")), *ua),
        "gpt-system-blank": chatgpt(msg("system", text(" \x1c\x1d\x1e\x1f\x85 ")), *ua),
        "gpt-system-bom": chatgpt(msg("system", text("\ufeff")), *ua),
        "gpt-system-text": chatgpt(msg("system", text("You are helpful.")), *ua),
        "gpt-system-capital-empty": chatgpt(msg("System", text("")), *ua),
        "gpt-system-capital-blank": chatgpt(msg("SYSTEM", text(" \x1f ")), *ua),
        "gpt-system-lone-surrogate": chatgpt(msg("system", text("\ud800")), *ua),
        "gpt-tool-code": chatgpt(msg("user", text("q")), msg("assistant", {"content_type": "code", "text": "x = 1"}),
                                 msg("tool", {"content_type": "execution_output", "text": "1\n"})),
        "gpt-model-number": chatgpt(*ua, model=4), "gpt-model-blank": chatgpt(*ua, model=" \x1f"),
        "gpt-model-missing": {k: v for k, v in chatgpt(*ua).items() if k != "default_model_slug"},
        "gpt-only-root": {"mapping": {"r": node(None, None)}, "current_node": "r"},
        "gpt-metadata-list": chatgpt(msg("user", text("q"), metadata=[1]), msg("assistant", text("a"))),
        "gpt-metadata-string": chatgpt(msg("user", text("q"), metadata="hidden"), msg("assistant", text("a"))),
        "gpt-metadata-null": chatgpt(msg("user", text("q"), metadata=None), msg("assistant", text("a"))),
        "gpt-audio": chatgpt(msg("user", text({"content_type": "audio_transcription", "text": " said\r\n"})),
                             msg("assistant", text({"content_type": "audio_transcription", "text": "heard"},
                                                   {"content_type": "audio_asset_pointer"}))),
        "gpt-audio-odd-text": chatgpt(msg("user", text(*({"content_type": "audio_transcription", "text": t}
                                                          for t in ("", None, 5, ["x"], {}, "kept")))),
                                      msg("assistant", text("a"))),
        "gpt-audio-case": chatgpt(msg("user", text({"content_type": "Audio_Transcription", "text": "not it"})),
                                  msg("assistant", text("a"))),
        "gpt-audio-proto": chatgpt(msg("user", text(json.loads('{"__proto__": {"content_type": '
                                                               '"audio_transcription"}, "text": "t"}'))),
                                   msg("assistant", text("a"))),
        "gpt-audio-surrogate": chatgpt(msg("user", text({"content_type": "audio_transcription", "text": "\ud800"})),
                                       msg("assistant", text("a"))),
        "gpt-slug-blank": chatgpt(msg("user", text("q")), msg("assistant", text("a"), metadata={"model_slug": " "}),
                                  model=None),
        "gpt-slug-surrogate": chatgpt(msg("user", text("q")),
                                      msg("assistant", text("a"), metadata={"model_slug": "\ud800"}), model=None),
        "gpt-slug-and-text-faults": chatgpt(msg("user", text("\ud800")),
                                            msg("assistant", text("a"), metadata={"model_slug": 5}), model=None),
        "gpt-slug-and-incomplete": chatgpt(msg("assistant", text("a"), metadata={"model_slug": 5}), model=None),
        "gpt-slug-inherited": chatgpt(msg("user", text("q")), msg("assistant", text("a"), metadata=json.loads(
            '{"__proto__": {"model_slug": "x"}}')), model=None),
        "gpt-slug-on-alias-role": chatgpt(msg("user", text("q")), msg("GPT", text("a"), metadata={"model_slug": "m"}),
                                          model=None),
        "gpt-no-current-proto-ids": {k: v for k, v in proto_ids.items() if k != "current_node"},
        # A key of more digits than Python's int() reads is no array index, and no crash.
        "gpt-no-current-long-digit-key": {"mapping": {"u": node(msg("user", text("q")), None),
                                                      "9" * 5000: node(msg("assistant", text("a")), "u")}},
        # Every node a leaf and none timed: the last key in JavaScript's order ends the branch.
        "gpt-no-current-index-keys": {"mapping": {"4294967295": node(msg("user", text("q")), None)} | {
            k: node(msg("assistant", text(k)), "4294967295") for k in ("b", "4294967294", "01", "10", "9", "0", "-1")}},
    }
    for name, value in [("true", True), ("false", False), ("one", 1), ("zero", 0), ("zero-float", 0.0),
                        ("half", 0.5), ("string", "no"), ("empty-string", ""), ("empty-list", []),
                        ("list-zero", [0]), ("empty-object", {}), ("object", {"a": 0}), ("null", None),
                        ("huge", 10**400), ("string-false", "false"), ("string-zero", "0")]:
        cases[f"gpt-hidden-{name}"] = around(value)
    return cases


def depth_cases() -> dict[str, Case]:
    """A chain exactly as deep as the reference walks, and one node deeper."""
    def chain(length: int) -> Case:
        mapping: dict[str, Any] = {"n0": node(msg("user", text("first")), None)}
        for i in range(1, length - 1):
            mapping[f"n{i}"] = {"parent": f"n{i - 1}", "message": None}
        mapping[f"n{length - 1}"] = node(msg("assistant", text("last")), f"n{length - 2}")
        return {"mapping": mapping, "current_node": f"n{length - 1}"}
    return {"depth-at-limit": chain(MAX_CHATGPT_DEPTH), "depth-over-limit": chain(MAX_CHATGPT_DEPTH + 1)}


def adversarial_cases() -> dict[str, Any]:
    cases: dict[str, Any] = {}
    for group in (whitespace_cases, control_cases, nfc_cases, surrogate_cases, role_cases, format_cases,
                  chatgpt_cases):
        cases |= group()
    return cases


# JSON values for the general JCS encoder: numbers in every ES6 notation, keys whose UTF-16 order
# differs from their code point order, escapes.
JCS_VALUES: list[Any] = [
    None, True, False, 0, -0.0, 1, -1, 2**53 - 1, -(2**53 - 1), 0.1, 1.5, -2.5e-8, 1e21, 1e20, 123456789012345680000.0,
    1e-6, 1e-7, 5e-324, 1.7976931348623157e308, 333333333.3333333, 4.35, 0.000001, 9007199254740993.0,
    "", "\u20ac$\u000f\nA'B\"\\\\\"/", "\x00\x1f\x7f\x80\u2028\u2029\ufeff", "\U0001f600", [], {}, [[[]]],
    {"\u20ac": 1, "\r": 2, "\ufb33": 3, "\U0001f600": 4, "1": 5, "a": 6, "A": 7, "": 8, "\x80": 9, "\u00f6": 10},
    {"numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
     "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"/", "literals": [None, True, False]},
    {"b": {"d": [1, {"f": None, "e": "x"}], "c": 2}, "a": []},
]
