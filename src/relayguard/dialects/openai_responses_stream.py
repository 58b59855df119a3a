"""The OpenAI Responses stream codec (see ``openai_responses`` for the events).

The codec holds every event of a tool-call item (keyed by its output index)
until ``output_item.done``, and keeps what the client sees coherent:

* replaced or re-rendered events are numbered from one counter, so the
  sequence stays gap-free (events that need no change pass as their raw bytes);
* the final ``response.completed`` output is rewritten to the items the
  client actually saw, so a router cannot stream a harmless call and put a
  different one in the final object;
* a call whose deltas, ``arguments.done`` and ``output_item.done`` disagree is
  re-rendered from the version that was inspected;
* a call that appears only in ``response.completed`` (never streamed as an
  item) is inspected there: the event is held until it is decided.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable

import orjson

from relayguard.dialects.base import PASS, Op, StreamCodec, block_text
from relayguard.dialects.openai_responses_items import (
    _ARG_DELTAS,
    _ARG_DONES,
    CALL_TYPES,
    _PAYLOAD_FIELD,
    _TERMINAL,
    _TEXT_FIELD,
    _call_events,
    _call_id,
    _encode,
    _finish_reason,
    _message_events,
    _str,
    _usage_of,
    blocked_item,
    output_text_of,
    rewrite_item,
    tool_call_of,
)
from relayguard.errors import StreamError
from relayguard.exchange import ToolCall
from relayguard.sse import SSEEvent, encode


@dataclass(slots=True)
class _Parsed(SSEEvent):
    """An upstream event with its JSON parsed once (by ``feed``)."""

    obj: Any = None


class _Call:
    """One executable item of the stream."""

    __slots__ = ("key", "index", "added", "final", "deltas", "done_text", "call", "item",
                 "consistent", "first_seq", "rerender")

    def __init__(self, key: Hashable, index: int, call: ToolCall, first_seq: Any) -> None:
        self.key = key
        self.index = index
        self.added: dict[str, Any] | None = None  # the item of output_item.added
        self.final: Any = None  # the item of output_item.done (or of response.completed)
        self.deltas: list[str] = []
        self.done_text: str | None = None  # from ...arguments.done / ...input.done
        self.call = call
        self.item: dict[str, Any] | None = None  # the version inspected (set by finish_call)
        self.consistent = False
        self.first_seq = first_seq if type(first_seq) is int else None
        # Set when the held events cannot be released as they are: the call was closed
        # by the final event (no output_item.done), or its events were not the usual ones.
        self.rerender = False


class ResponsesStreamCodec(StreamCodec):
    def __init__(self) -> None:
        super().__init__()
        self.complete = False
        self._open: dict[int, _Call] = {}  # output index -> the call item still streaming there
        self._states: dict[Hashable, _Call] = {}
        self._text: list[str] = []
        self._next: int | None = None  # the next sequence number the client gets
        self._final_event: _Parsed | None = None
        self._final_map: dict[int, _Call] = {}  # index in response.output -> its call
        self._final_hold: Hashable = None  # key the final event is held under, if any
        self._final_dirty = False

    # --- classification ---

    def feed(self, event: SSEEvent) -> list[tuple[SSEEvent, list[Op]]]:
        data = event.data
        if data == "[DONE]":  # not part of this API, but some routers add it
            return [(event, [PASS])]
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise StreamError("upstream sent a Responses stream event that is not JSON") from None
        if not isinstance(obj, dict):
            raise StreamError("upstream sent a Responses stream event that is not a JSON object")
        ev = _Parsed(event.event, data, event.raw, obj)
        kind = obj.get("type")
        if event.event is not None and event.event != kind:
            # Clients dispatch on one or the other: both must name the same event.
            raise StreamError(f"upstream sent an event named {event.event!r} whose type is {kind!r}")
        index = obj.get("output_index")
        if type(index) is int:
            st = self._open.get(index)
            if st is not None:
                return [(ev, self._in_call(st, kind, obj))]
            if kind in _ARG_DELTAS or kind in _ARG_DONES or (
                    kind in ("response.output_item.added", "response.output_item.done")
                    and isinstance(obj.get("item"), dict) and obj["item"].get("type") in CALL_TYPES):
                return [(ev, self._in_call(self._start(index, obj), kind, obj))]
        elif kind in _ARG_DELTAS or kind in _ARG_DONES or (
                kind in ("response.output_item.added", "response.output_item.done")
                and isinstance(obj.get("item"), dict) and obj["item"].get("type") in CALL_TYPES):
            raise StreamError(f"upstream sent {kind} for a tool call without an integer output_index")
        if kind == "response.output_text.delta":
            delta = obj.get("delta")
            if isinstance(delta, str):
                self._text.append(delta)
        elif kind in _TERMINAL:
            return [(ev, self._terminal(ev, obj))]
        elif kind in ("response.created", "response.in_progress"):
            resp = obj.get("response")
            if isinstance(resp, dict) and isinstance(resp.get("model"), str):
                self.response.model = resp["model"]
        elif kind == "error":
            self.complete = True
            self.response.finish_reason = "error"
            self.response.text = "".join(self._text)
        elif _smuggles_calls(obj):
            raise StreamError(f"upstream sent tool calls inside a {kind!r} event, outside the events that define them")
        return [(ev, [PASS])]

    def _start(self, index: int, obj: dict[str, Any]) -> _Call:
        key: Hashable = index if index not in self._states else ("again", index, len(self._states))
        call = ToolCall("", "", "")
        st = _Call(key, index, call, obj.get("sequence_number"))
        self._open[index] = st
        self._states[key] = st
        self.calls[key] = call
        self.response.tool_calls.append(call)
        return st

    def _in_call(self, st: _Call, kind: Any, obj: dict[str, Any]) -> list[Op]:
        if kind in _ARG_DELTAS:
            st.deltas.append(_str(obj.get("delta")))
        elif kind in _ARG_DONES:
            st.done_text = _str(obj.get(_ARG_DONES[kind]))
        elif kind == "response.output_item.added" and st.added is None and isinstance(obj.get("item"), dict):
            item = obj["item"]
            st.added = item
            st.call.id = _call_id(item, st.index)
            st.call.name = _str(item.get("name"))
        elif kind == "response.output_item.done":
            st.final = obj.get("item")
            del self._open[st.index]
            return [("hold", st.key), ("done", st.key)]
        else:
            # A second added, text inside a call, an event type this codec does not
            # know: the client gets the call re-rendered from what was inspected.
            st.rerender = True
        return [("hold", st.key)]

    def _terminal(self, ev: _Parsed, obj: dict[str, Any]) -> list[Op]:
        if self._final_event is not None:
            raise StreamError(f"upstream sent {obj.get('type')} after the response had already ended")
        resp = obj.get("response")
        if not isinstance(resp, dict):
            raise StreamError(f"upstream sent {obj.get('type')} without its response object")
        self.complete = True
        self._final_event = ev
        if isinstance(resp.get("model"), str):
            self.response.model = resp["model"]
        self.response.usage = _usage_of(resp.get("usage"))
        output = resp.get("output")
        output = output if isinstance(output, list) else []
        self.response.text = "".join(self._text) if self._text else output_text_of(output)

        by_call_id: dict[str, _Call] = {}
        by_index: dict[int, _Call] = {}
        for st in self._states.values():
            seen = st.final if isinstance(st.final, dict) else st.added or {}
            cid = seen.get("call_id")
            if isinstance(cid, str) and cid:
                by_call_id.setdefault(cid, st)
            by_index.setdefault(st.index, st)

        ops: list[Op] = []
        unseen: list[_Call] = []
        for i, item in enumerate(output):
            if not isinstance(item, dict) or item.get("type") not in CALL_TYPES:
                continue
            cid = item.get("call_id")
            st = by_call_id.get(cid) if isinstance(cid, str) and cid else by_index.get(i)
            if st is None:
                # Never streamed as an item: inspect it here, holding this event meanwhile.
                key = ("final", i)
                call = ToolCall(_call_id(item, i), "", "")
                st = _Call(key, i, call, None)
                st.final = item
                self._states[key] = st
                self.calls[key] = call
                self.response.tool_calls.append(call)
                unseen.append(st)
                self._final_dirty = True
            elif st.index in self._open and self._open[st.index] is st:
                # Still open: the final object completes it.
                st.final = item
                st.rerender = True
                del self._open[st.index]
                ops.append(("done", st.key))
            elif st.item is not None and item != st.item:
                self._final_dirty = True  # differs from what the client saw
            self._final_map[i] = st
        # Calls left open that the final object does not name are dropped by the
        # assembler at close (held, never done): fail closed.
        self.response.finish_reason = _finish_reason(resp.get("status"), bool(self.response.tool_calls))
        if unseen:
            self._final_hold = unseen[-1].key
            ops.append(("hold", self._final_hold))
            ops += [("done", st.key) for st in unseen]
        else:
            ops.append(PASS)
        return ops

    def finish_call(self, key: Hashable) -> ToolCall:
        st = self._states[key]
        item = self._canonical(st)
        fresh = tool_call_of(item, st.index)
        call = st.call
        call.id, call.name, call.kind = fresh.id, fresh.name, fresh.kind
        call.raw_arguments, call.arguments = fresh.raw_arguments, fresh.arguments
        st.item = item
        st.consistent = not st.rerender and self._consistent(st, item)
        return call

    @staticmethod
    def _canonical(st: _Call) -> dict[str, Any]:
        """The version of the call that is inspected and, if it differs, re-sent."""
        if isinstance(st.final, dict) and st.final.get("type") in CALL_TYPES:
            return st.final
        base = dict(st.added) if st.added and st.added.get("type") in CALL_TYPES else \
            {"type": "function_call", "id": f"fc_rg_{st.index}", "call_id": f"call_{st.index}", "name": ""}
        field = _TEXT_FIELD.get(base["type"])
        if field is not None:
            streamed = st.done_text if st.done_text is not None else \
                _str(base.get(field)) + "".join(st.deltas)
            base[field] = streamed
        base["status"] = "completed"
        return base

    @staticmethod
    def _consistent(st: _Call, item: dict[str, Any]) -> bool:
        """Whether every held event agrees with ``item`` (else the client gets a re-render)."""
        if st.final is not item:
            return False
        kind = item.get("type")
        added = st.added
        if added is not None:
            for field in ("type", "id", "call_id", "name"):
                if added.get(field) != item.get(field):
                    return False
        field = _TEXT_FIELD.get(kind)
        if field is None:
            payload = added.get(_PAYLOAD_FIELD[kind]) if added is not None else None
            return not payload or payload == item.get(_PAYLOAD_FIELD[kind])
        text = item.get(field)
        start = _str(added.get(field)) if added is not None else ""
        if st.deltas or start:
            if start + "".join(st.deltas) != text:
                return False
        return st.done_text is None or st.done_text == text

    # --- output ---

    def _take(self, fallback: int | None = None) -> int:
        if self._next is None:
            self._next = fallback if fallback is not None else 0
        seq = self._next
        self._next += 1
        return seq

    def _emit(self, events: list[dict[str, Any]], fallback: int | None) -> list[bytes]:
        out = []
        for obj in events:
            obj["sequence_number"] = self._take(fallback)
            out.append(_encode(obj))
        return out

    def release(self, key: Hashable, events: list[SSEEvent]) -> list[bytes]:
        st = self._states.get(key)
        if st is None or st.consistent or (isinstance(key, tuple) and key[0] == "final"):
            return [self.outgoing(e) for e in events]
        return self._emit(_call_events(st.item, st.index), st.first_seq)

    def replacement(self, key: Hashable) -> list[bytes]:
        st = self._states[key]
        if isinstance(key, tuple) and key[0] == "final":
            # Decided inside response.completed: the (held) final event carries the result.
            if key == self._final_hold and self._final_event is not None:
                return [self.outgoing(self._final_event)]
            return []
        call = st.call
        if call.blocked_reason:
            events = _message_events(blocked_item(call), st.index, [block_text(call)])
        else:
            item = dict(st.item or {})
            rewrite_item(item, call)
            events = _call_events(item, st.index)
        return self._emit(events, st.first_seq)

    def _client_item(self, st: _Call, original: dict[str, Any]) -> dict[str, Any]:
        call = st.call
        if call.blocked_reason:
            return blocked_item(call)
        item = st.item if st.item is not None else original
        if call.new_raw_arguments is not None:
            item = dict(item)
            rewrite_item(item, call)
        return item

    def _fix_final(self, obj: dict[str, Any]) -> bool:
        if not self._final_dirty and not any(
                st.call.blocked_reason or st.call.new_raw_arguments is not None for st in self._final_map.values()):
            return False
        resp = obj.get("response")
        output = resp.get("output") if isinstance(resp, dict) else None
        if not isinstance(output, list):
            return False
        resp["output"] = [self._client_item(self._final_map[i], item) if i in self._final_map else item
                          for i, item in enumerate(output)]
        if "output_text" in resp:
            resp["output_text"] = output_text_of(resp["output"])
        return True

    def outgoing(self, event: SSEEvent) -> bytes:
        obj = event.obj if isinstance(event, _Parsed) else None
        if obj is None:
            try:
                obj = orjson.loads(event.data)
            except orjson.JSONDecodeError:
                return event.raw
            if not isinstance(obj, dict):
                return event.raw
        rewrite = obj.get("type") in _TERMINAL and self._fix_final(obj)
        seq = obj.get("sequence_number")
        if type(seq) is int:
            if self._next is None:
                self._next = seq
            if seq != self._next:
                obj["sequence_number"] = self._next
                rewrite = True
            self._next += 1
        return encode(orjson.dumps(obj), event.event) if rewrite else event.raw

    def error_event(self, message: str) -> bytes:
        if not self.response.text:
            self.response.text = "".join(self._text)
        obj = {"type": "error", "code": "upstream_error", "message": message, "param": None,
               "sequence_number": self._take()}
        return _encode(obj)


def _smuggles_calls(obj: dict[str, Any]) -> bool:
    """Does an event the codec passes unchanged carry tool-call items anyway?"""
    item = obj.get("item")
    if isinstance(item, dict) and item.get("type") in CALL_TYPES:
        return True
    resp = obj.get("response")
    output = resp.get("output") if isinstance(resp, dict) else None
    return isinstance(output, list) and any(isinstance(i, dict) and i.get("type") in CALL_TYPES for i in output)
