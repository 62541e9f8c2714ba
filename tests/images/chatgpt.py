"""A ChatGPT conversation with images, shaped as the export's conversations.json holds one: a
user's uploaded photo (``multimodal_text`` with an ``image_asset_pointer`` part) and a DALL-E
generation (a ``tool`` message of ``dalle.text2im`` whose part carries ``metadata.dalle.prompt``).
A stand-in written from the export's documented shape: no real export is available here."""

from __future__ import annotations

from typing import Any

UPLOAD = "file-service://file-Upload1234abcd"
GENERATED = "file-service://file-Dalle5678efgh"
PROMPT = "A watercolour lighthouse on a cliff at dawn, gulls circling, soft pastel light."


def _node(node_id: str, parent: str | None, child: str | None, role: str, content: dict[str, Any],
          **metadata: Any) -> dict[str, Any]:
    message = {"id": node_id, "author": {"role": role, "name": "dalle.text2im" if role == "tool" else None},
               "content": content, "metadata": metadata, "create_time": 1_700_000_000 + len(node_id)}
    return {"id": node_id, "parent": parent, "children": [child] if child else [], "message": message}


def image_part(pointer: str, prompt: str | None = None) -> dict[str, Any]:
    part: dict[str, Any] = {"content_type": "image_asset_pointer", "asset_pointer": pointer,
                            "size_bytes": 1000, "width": 24, "height": 16, "fovea": None}
    part["metadata"] = {"dalle": {"gen_id": "gen1", "prompt": prompt, "seed": 42}} if prompt else None
    return part


def conversation_with_images() -> dict[str, Any]:
    """A photo asked about, a picture asked for and generated, and the answer."""
    return {
        "title": "Lighthouse", "current_node": "n5", "default_model_slug": "gpt-4o",
        "mapping": {
            "n0": {"id": "n0", "parent": None, "children": ["n1"], "message": None},
            "n1": _node("n1", "n0", "n2", "user", {"content_type": "multimodal_text", "parts": [
                image_part(UPLOAD), "What kind of lighthouse is this? Paint me one like it."]}),
            "n2": _node("n2", "n1", "n3", "assistant", {"content_type": "text", "parts": [
                "It looks like a tapered stone tower of the Atlantic coast. I will paint one for you."]}),
            "n3": _node("n3", "n2", "n4", "tool", {"content_type": "multimodal_text", "parts": [
                image_part(GENERATED, PROMPT)]}),
            "n4": _node("n4", "n3", "n5", "assistant", {"content_type": "text", "parts": [
                "Here is your watercolour lighthouse at dawn, with gulls and pastel light."]}),
            "n5": _node("n5", "n4", None, "user", {"content_type": "text", "parts": ["Lovely, thank you!"]}),
        },
    }
