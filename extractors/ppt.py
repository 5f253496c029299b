"""PowerPoint 97-2003 (.ppt .pps .pot): embedded OLE objects as children, and slide actions.

The "PowerPoint Document" stream is a tree of records ([MS-PPT] 2.3.1: a 2-byte version/instance,
2-byte type, 4-byte length; version 0xF marks a container). Embedded objects and the VBA project
are ExOleObjStg records (0x1011), zlib-compressed when their instance is 1 (a 4-byte inflated size
first); each is an OLE compound file that is handed on as a child, so the VBA project (a storage
with `VBA` and `PROJECT`) reaches the VBA extractor and an embedded document or package reaches the
OLE one. Action settings are InteractiveInfoAtoms (0x0FF3) inside InteractiveInfo containers
(0x0FF2, instance 1 for mouse-over); their action byte says run a program (2) or a macro (1); the
program or macro name is the CString (0x0FBA) beside it.
"""

from __future__ import annotations

import zlib

from maldoc.extractor import Context, Extractor
from maldoc.extractors._office_common import ole_error_flag, open_ole
from maldoc.filetype import OLE_MAGIC
from maldoc.types import ExtractorResult, FileType, Flag, Sample

STREAM = "PowerPoint Document"
RT_EX_OLE_OBJ_STG = 0x1011
RT_INTERACTIVE_INFO = 0x0FF2
RT_INTERACTIVE_INFO_ATOM = 0x0FF3
RT_CSTRING = 0x0FBA
RT_VBA_INFO = 0x03FF
ACTION_MACRO, ACTION_PROGRAM = 1, 2
MAX_RECORDS = 200_000
MAX_DEPTH = 32
MAX_FINDINGS = 10  # distinct findings per rule kind reported; the counts keep the rest


def walk(stream: bytes, ctx: Context):
    """(depth, instance, type, payload offset, length, parent type) for every record, bounded."""
    stack = [(0, len(stream), 0, -1)]
    seen = 0
    while stack:
        pos, end, depth, parent = stack.pop()
        while pos + 8 <= end:
            seen += 1
            if seen % 4096 == 0:
                ctx.check()
            if seen > MAX_RECORDS:
                raise OverflowError("too many records")
            verinst = int.from_bytes(stream[pos:pos + 2], "little")
            rtype = int.from_bytes(stream[pos + 2:pos + 4], "little")
            length = int.from_bytes(stream[pos + 4:pos + 8], "little")
            body = pos + 8
            stop = min(body + length, end)
            yield depth, verinst >> 4, rtype, body, stop - body, parent
            if verinst & 0xF == 0xF and depth + 1 < MAX_DEPTH:
                stack.append((stop, end, depth, parent))  # the siblings after this container
                pos, end, depth, parent = body, stop, depth + 1, rtype
                continue
            pos = stop


class PptExtractor(Extractor):
    name = "ppt"
    version = 1
    file_types = frozenset({FileType.OLE})
    features = ("records", "ole_objects", "compressed_objects", "vba_storages", "program_actions",
                "macro_actions", "hover_actions", "actions")
    rules = ("PPT_EMBEDDED_OLE", "PPT_ACTION_RUN_PROGRAM", "PPT_ACTION_MACRO", "PPT_HOVER_ACTION")
    order = 55  # after the VBA extractor (30): a project olevba already read is not emitted again

    def extract(self, sample: Sample, ctx: Context, out: ExtractorResult) -> None:
        try:
            ole = open_ole(sample.data, sample)
            if not ole.exists(STREAM):
                return
            size = ole.get_size(STREAM)
            if size > ctx.limits.max_bytes:
                out.flag(Flag.LIMIT_EXCEEDED, "ppt: document stream larger than max_bytes")
                return
            stream = ole.openstream(STREAM).read(size)
        except Exception as exc:  # olefile raises many types on hostile input; the ole extractor reports it
            out.flag(ole_error_flag(exc), "ppt: unreadable PowerPoint Document stream")
            return
        counts = dict.fromkeys(self.features, 0.0)
        where = f"{sample.display_path} > {STREAM}"
        actions: list[dict] = []  # one per InteractiveInfo container: hover?, action byte, name
        try:
            for _depth, instance, rtype, body, length, parent in walk(stream, ctx):
                counts["records"] += 1
                if rtype == RT_INTERACTIVE_INFO:
                    actions.append({"hover": instance == 1, "action": 0, "name": ""})
                    del actions[:-1000]  # bounded: only the last thousand are kept
                elif parent == RT_INTERACTIVE_INFO and actions:
                    if rtype == RT_INTERACTIVE_INFO_ATOM and length >= 9:
                        counts["actions"] += 1
                        actions[-1]["action"] = stream[body + 8]
                    elif rtype == RT_CSTRING and not actions[-1]["name"]:
                        actions[-1]["name"] = stream[body:body + min(length, 1024)].decode("utf-16-le", "replace")
                elif rtype == RT_EX_OLE_OBJ_STG:
                    self._object(sample, stream, instance, body, length, ctx, out, counts)
        except OverflowError:
            out.flag(Flag.LIMIT_EXCEEDED, f"ppt: more than {MAX_RECORDS} records")
        found: dict[tuple[str, str], None] = {}  # distinct (rule, evidence), in order
        for act in actions:
            name = act["name"]
            if act["action"] == ACTION_PROGRAM:
                counts["program_actions"] += 1
                found[("PPT_ACTION_RUN_PROGRAM", name or "run-program action")] = None
            elif act["action"] == ACTION_MACRO:
                counts["macro_actions"] += 1
                found[("PPT_ACTION_MACRO", name or "macro action")] = None
            else:
                continue
            if act["hover"]:
                counts["hover_actions"] += 1
                found[("PPT_HOVER_ACTION", f"mouse-over: {name or 'action'}")] = None
        for rule, evidence in list(found)[:MAX_FINDINGS]:
            out.add(rule, evidence, where)
        out.features.update({f"ppt.{k}": v for k, v in counts.items()})

    @staticmethod
    def _object(sample: Sample, stream: bytes, instance: int, body: int, length: int, ctx: Context,
                out: ExtractorResult, counts: dict) -> None:
        counts["ole_objects"] += 1
        index = int(counts["ole_objects"])
        raw = stream[body:body + length]
        if instance == 1:  # compressed: inflated size, then a zlib stream
            counts["compressed_objects"] += 1
            if len(raw) < 4:
                out.flag(Flag.TRUNCATED, "ppt: compressed object record cut short")
                return
            declared = int.from_bytes(raw[:4], "little")
            cap = min(ctx.limits.max_bytes, ctx.budget.remaining_inflate())
            if declared > cap:
                ctx.overflow(out, sample, f"object-{index}.bin", None, "max_decompressed_bytes")
                return
            try:
                inflater = zlib.decompressobj()
                data = inflater.decompress(raw[4:], cap + 1)
            except zlib.error:
                out.flag(Flag.PARSE_ERROR, "ppt: an embedded object does not inflate")
                return
            if len(data) > cap:
                ctx.overflow(out, sample, f"object-{index}.bin", data[:4096], "max_decompressed_bytes")
                return
        else:
            data = raw
        if not data:
            return
        is_vba = False
        if data.startswith(OLE_MAGIC):
            try:
                import io

                import olefile

                with olefile.OleFileIO(io.BytesIO(data)) as inner:
                    is_vba = inner.exists("VBA") and inner.exists("PROJECT")
            except Exception:  # a broken embedded file is analysed (and reported) as a child
                is_vba = False
        counts["vba_storages"] += is_vba
        if is_vba and out.features.get("vba.modules", 0) > 0:
            return  # olevba already read this project from the whole file (the VBA extractor runs first)
        name = "vbaProject.bin" if is_vba else f"object-{index}.bin"
        if not is_vba:
            out.add("PPT_EMBEDDED_OLE", f"{name}: {len(data)} bytes", f"{sample.display_path} > {name}")
        ctx.emit(out, sample, data, name)
