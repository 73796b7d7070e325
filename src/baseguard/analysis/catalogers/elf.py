"""A minimal, bounds-checked ELF reader over bytes: header, sections and segments.

Only what the Go build-info reader needs: find a section by name, map a virtual address
to file bytes through the ``PT_LOAD`` segments, and find the first writable segment.
Every offset read from the file is checked against its length, so a truncated or hostile
file raises :class:`ElfError`, never ``IndexError`` or a huge allocation.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

ELF_MAGIC = b"\x7fELF"

PT_LOAD = 1
PF_X = 1
PF_W = 2
SHT_NOBITS = 8
SHN_XINDEX = 0xFFFF
#: More sections than any real binary has; a bigger count is a corrupt header.
MAX_SECTIONS = 1 << 16
MAX_SEGMENTS = 1 << 12

#: e_machine -> GOARCH-style architecture names.
MACHINES = {
    3: "386",
    8: "mips",
    20: "ppc",
    21: "ppc64",
    22: "s390x",
    40: "arm",
    62: "amd64",
    183: "arm64",
    243: "riscv64",
    258: "loong64",
}


class ElfError(ValueError):
    """The bytes are not a well-formed ELF file."""


@dataclass(frozen=True, slots=True)
class Section:
    name: str
    type: int
    addr: int
    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class Segment:
    type: int
    flags: int
    offset: int
    vaddr: int
    filesz: int
    memsz: int


@dataclass
class ElfFile:
    """A parsed ELF header with its section and program header tables."""

    data: bytes
    is64: bool
    little: bool
    machine: int
    sections: list[Section] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)

    @property
    def endian(self) -> str:
        return "<" if self.little else ">"

    @property
    def architecture(self) -> str | None:
        arch = MACHINES.get(self.machine)
        if arch in ("mips", "ppc64") and self.little:
            return f"{arch}le"
        if arch == "mips" and self.is64:
            return "mips64" + ("le" if self.little else "")
        return arch

    def section(self, name: str) -> Section | None:
        for sec in self.sections:
            if sec.name == name:
                return sec
        return None

    def section_data(self, sec: Section, limit: int | None = None) -> bytes:
        if sec.type == SHT_NOBITS:
            return b""
        size = sec.size if limit is None else min(sec.size, limit)
        return self._slice(sec.offset, size, f"section {sec.name}")

    def read_at(self, addr: int, size: int) -> bytes:
        """``size`` bytes at virtual address ``addr``, through the PT_LOAD segments."""
        for seg in self.segments:
            if seg.type != PT_LOAD:
                continue
            if seg.vaddr <= addr and addr + size <= seg.vaddr + seg.filesz:
                return self._slice(seg.offset + (addr - seg.vaddr), size, f"address {addr:#x}")
        raise ElfError(f"address {addr:#x} (+{size}) is outside every loaded segment")

    def first_writable_segment(self) -> Segment | None:
        """The first PT_LOAD segment that is writable and not executable (Go's data)."""
        for seg in self.segments:
            if seg.type == PT_LOAD and seg.flags & (PF_X | PF_W) == PF_W:
                return seg
        return None

    def _slice(self, offset: int, size: int, what: str) -> bytes:
        if offset < 0 or size < 0 or offset + size > len(self.data):
            raise ElfError(f"{what} lies outside the file ({offset:#x}+{size:#x})")
        return self.data[offset : offset + size]


def is_elf(data: bytes) -> bool:
    return data[:4] == ELF_MAGIC


def parse_elf(data: bytes) -> ElfFile:
    """Parse the header, the section headers (with names) and the program headers."""
    if len(data) < 52 or not is_elf(data):
        raise ElfError("not an ELF file")
    cls, enc = data[4], data[5]
    if cls not in (1, 2) or enc not in (1, 2):
        raise ElfError(f"unknown ELF class {cls} or data encoding {enc}")
    is64, little = cls == 2, enc == 1
    e = "<" if little else ">"
    if is64:
        if len(data) < 64:
            raise ElfError("truncated ELF header")
        (machine,) = struct.unpack_from(e + "H", data, 18)
        phoff, shoff = struct.unpack_from(e + "QQ", data, 32)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(e + "5H", data, 54)
    else:
        (machine,) = struct.unpack_from(e + "H", data, 18)
        phoff, shoff = struct.unpack_from(e + "II", data, 28)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(e + "5H", data, 42)
    elf = ElfFile(data, is64, little, machine)
    elf.segments = _segments(data, elf, phoff, phentsize, phnum)
    elf.sections = _sections(data, elf, shoff, shentsize, shnum, shstrndx)
    return elf


def _segments(data: bytes, elf: ElfFile, phoff: int, entsize: int, num: int) -> list[Segment]:
    if not phoff or not num:
        return []
    e = elf.endian
    need = 56 if elf.is64 else 32
    if entsize < need or num > MAX_SEGMENTS or phoff + entsize * num > len(data):
        raise ElfError("program header table lies outside the file or is malformed")
    out = []
    for i in range(num):
        at = phoff + i * entsize
        if elf.is64:
            ptype, flags, offset, vaddr, _paddr, filesz, memsz = struct.unpack_from(
                e + "IIQQQQQ", data, at
            )
        else:
            ptype, offset, vaddr, _paddr, filesz, memsz, flags = struct.unpack_from(
                e + "7I", data, at
            )
        out.append(Segment(ptype, flags, offset, vaddr, filesz, memsz))
    return out


def _sections(
    data: bytes, elf: ElfFile, shoff: int, entsize: int, num: int, shstrndx: int
) -> list[Section]:
    if not shoff:
        return []
    need = 64 if elf.is64 else 40
    if entsize < need or shoff + need > len(data):
        raise ElfError("section header table lies outside the file or is malformed")
    raw = [_section_header(data, elf, shoff)]
    if num == 0:  # extended numbering: the count is in section 0's sh_size
        num = raw[0][4]
    if shstrndx == SHN_XINDEX:
        shstrndx = raw[0][5]
    if num > MAX_SECTIONS or shoff + entsize * num > len(data):
        raise ElfError("section header table lies outside the file or is malformed")
    raw.extend(_section_header(data, elf, shoff + i * entsize) for i in range(1, num))
    names = b""
    if 0 < shstrndx < num:
        _n, stype, _a, offset, size, _l = raw[shstrndx]
        if stype != SHT_NOBITS and offset + size <= len(data):
            names = data[offset : offset + size]
    out = []
    for name_off, stype, addr, offset, size, _link in raw:
        name = ""
        if 0 <= name_off < len(names):
            end = names.find(b"\x00", name_off)
            name = names[name_off : end if end >= 0 else len(names)].decode("latin-1")
        out.append(Section(name, stype, addr, offset, size))
    return out


def _section_header(data: bytes, elf: ElfFile, at: int) -> tuple[int, int, int, int, int, int]:
    e = elf.endian
    if elf.is64:
        name, stype, _flags, addr, offset, size, link = struct.unpack_from(e + "IIQQQQI", data, at)
    else:
        name, stype, _flags, addr, offset, size, link = struct.unpack_from(e + "7I", data, at)
    return name, stype, addr, offset, size, link
