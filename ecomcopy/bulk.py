"""Bulk drafts: a CSV of products (id, keywords, image) + a ZIP of their photos -> one result row each.

Untrusted uploads: the ZIP is checked before anything is extracted (member count, sizes, compression
ratio, paths), photos are read from it in memory and never written out, and a bad row becomes an
error in its own result row; it never stops the job.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Iterator

from .errors import EcomcopyError, InputError
from .channels import channel
from .config import DEFAULT_CHANNEL, SamplingConfig
from .images import MAX_FILE_BYTES
from .keywords import parse_keywords
from .listing import build_listing
from .ranking import review_rank
from .server_log import log_failure
from .spreadsheet import safe_cell


REQUIRED_COLUMNS = ("id", "keywords", "image")  # optional: description (copy the row has: kept), brand
LISTING_FIELDS = ["channel", "title", "bullets", "seo_title", "meta_description", "tags", "machine_written", "passes", "violations"]
RESULT_FIELDS = ["id", "status", "message", "keywords", "reference_id", "best_draft", "best_coverage", "best_flags", "drafts", *LISTING_FIELDS]
INTERNAL_ERROR = "internal error while writing drafts (see the server log)"  # not kept by a job: run again, it is retried
SKIPPED = "skipped"  # a row whose CSV carries a description: never overwritten unless asked


@dataclass(frozen=True)
class BulkLimits:
    max_rows: int = 5000  # one job; split bigger catalogs (or use the Ray runner)
    max_csv_bytes: int = 10_000_000
    max_zip_bytes: int = 500_000_000
    max_members: int = 10_000
    max_member_bytes: int = MAX_FILE_BYTES
    max_total_bytes: int = 2_000_000_000  # uncompressed
    max_ratio: float = 100.0  # uncompressed / compressed per member: photos barely compress, bombs do


@dataclass
class BulkRow:
    line: int  # in the CSV, header = 1
    id: str
    keywords: str
    image: str
    error: str | None = None  # set when the row cannot be processed
    description: str = ""  # the copy the row already has ('' = none)
    brand: str = ""


@dataclass
class BulkResult:
    id: str
    status: str  # "ok" or "error"
    message: str = ""
    keywords: str = ""
    reference_id: str = ""
    best_draft: str = ""
    best_coverage: float | None = None
    drafts: list[str] = field(default_factory=list)
    best_flags: str = ""  # the draft checker's flags on the best draft ('' = clean)
    nearest_id: str = ""  # the most similar catalog product, used or not (what an approval records)
    writer: str = ""
    listing: dict = field(default_factory=dict)  # the best draft's `Listing.to_dict()` for the job's channel
    violations: list[str] = field(default_factory=list)  # the channel's blocking rules it breaks

    @property
    def passes(self) -> bool:
        """Ready to approve: written, the checker found nothing, and the channel takes the listing."""
        return self.status == "ok" and not self.best_flags and not self.violations and bool(self.listing)

    def csv_row(self) -> dict:
        L = self.listing
        row = asdict(self) | {"drafts": " || ".join(self.drafts), "best_coverage": "" if self.best_coverage is None else f"{self.best_coverage:.2f}",
                              "channel": L.get("channel", ""), "title": L.get("title", ""), "bullets": " | ".join(L.get("bullets", [])),
                              "seo_title": L.get("seo_title", ""), "meta_description": L.get("meta_description", ""),
                              "tags": ", ".join(L.get("tags", [])), "machine_written": ", ".join(L.get("machine_written", [])),
                              "passes": "yes" if self.passes else "no", "violations": " ".join(self.violations)}
        return {k: safe_cell(row[k]) for k in RESULT_FIELDS}


def safe_member_name(name: str) -> str | None:
    """The normalised relative path, or None if it is absolute or climbs out of the archive."""
    name = name.replace("\\", "/").strip()
    p = PurePosixPath(name)
    if not name or p.is_absolute() or (p.parts and ":" in p.parts[0]) or ".." in p.parts:
        return None
    return str(p)


def read_rows(csv_path: str | Path, limits: BulkLimits = BulkLimits()) -> list[BulkRow]:
    """Parse the products CSV; rows with problems carry their error instead of raising."""
    path = Path(csv_path)
    if not path.is_file():
        raise InputError("Upload the products CSV (columns: id, keywords, image).")
    if path.stat().st_size > limits.max_csv_bytes:
        raise InputError(f"The CSV is over {limits.max_csv_bytes // 1_000_000} MB; split it into smaller files.")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("The CSV is not UTF-8 text; save it as 'CSV UTF-8' and upload it again.") from None
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InputError(f"The CSV lacks the column(s) {', '.join(missing)}; it needs: {', '.join(REQUIRED_COLUMNS)}.")
    reader.fieldnames = header
    rows: list[BulkRow] = []
    seen: set[str] = set()
    try:
        for r in reader:
            if len(rows) >= limits.max_rows:
                raise InputError(f"The CSV has more than {limits.max_rows:,} products; split it into jobs of at most that many.")
            row = BulkRow(reader.line_num, (r.get("id") or "").strip(), (r.get("keywords") or "").strip(), (r.get("image") or "").strip(),
                          description=(r.get("description") or "").strip(), brand=(r.get("brand") or "").strip())
            if not row.id:
                row.error = "missing id"
            elif row.id in seen:
                row.error = f"duplicate id {row.id!r} (an earlier row has it)"
            elif not row.image:
                row.error = "no image given"
            elif safe_member_name(row.image) is None:
                row.error = "image path points outside the ZIP (absolute or '..'); refused"
            seen.add(row.id)
            rows.append(row)
    except csv.Error as e:
        raise InputError(f"The CSV could not be read near line {reader.line_num}: {e}.") from None
    if not rows:
        raise InputError("The CSV has a header but no products.")
    return rows


class PhotoArchive:
    """The photos ZIP, checked up front; members are read into memory on demand."""

    def __init__(self, zip_path: str | Path, limits: BulkLimits = BulkLimits()) -> None:
        path = Path(zip_path)
        if not path.is_file():
            raise InputError("Upload the ZIP of product photos.")
        if path.stat().st_size > limits.max_zip_bytes:
            raise InputError(f"The ZIP is over {limits.max_zip_bytes // 1_000_000} MB; split it into smaller ones.")
        try:
            self.zip = zipfile.ZipFile(path)
            infos = self.zip.infolist()
        except (zipfile.BadZipFile, OSError, ValueError):
            raise InputError("That file is not a ZIP archive we can read.") from None
        if len(infos) > limits.max_members:
            raise InputError(f"The ZIP holds {len(infos):,} files; at most {limits.max_members:,} are allowed.")
        total = sum(i.file_size for i in infos)
        if total > limits.max_total_bytes:
            raise InputError(f"The ZIP would unpack to {total / 1e9:.1f} GB; at most {limits.max_total_bytes / 1e9:.0f} GB is allowed.")
        self.limits = limits
        self.members: dict[str, zipfile.ZipInfo] = {}
        self.refused: set[str] = set()
        for info in infos:
            if info.is_dir():
                continue
            name = safe_member_name(info.filename)
            if name is None:
                self.refused.add(info.filename)
                continue
            self.members[name] = info

    def read(self, name: str) -> bytes:
        """The bytes of one photo; InputError says why a member cannot be used."""
        key = safe_member_name(name)
        if key is None:
            raise InputError("image path points outside the ZIP (absolute or '..'); refused")
        info = self.members.get(key)
        if info is None:
            raise InputError(f"image {name!r} is not in the ZIP")
        if info.file_size > self.limits.max_member_bytes:
            raise InputError(f"image {name!r} is over {self.limits.max_member_bytes // 2**20} MB")
        if info.compress_size and info.file_size / info.compress_size > self.limits.max_ratio:
            raise InputError(f"image {name!r} is suspiciously compressible (a ZIP bomb?); refused")
        try:
            with self.zip.open(info) as f:
                data = f.read(self.limits.max_member_bytes + 1)
        except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError) as e:
            raise InputError(f"image {name!r} could not be unpacked ({type(e).__name__}); is the ZIP damaged or encrypted?") from None
        if len(data) > self.limits.max_member_bytes:
            raise InputError(f"image {name!r} is over {self.limits.max_member_bytes // 2**20} MB")
        return data

    def close(self) -> None:
        self.zip.close()

    def __enter__(self) -> "PhotoArchive":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass(frozen=True)
class BulkOptions:
    channel: str = DEFAULT_CHANNEL  # the listing each row gets
    overwrite: bool = False  # True: also draft rows whose CSV carries a description

    def settings(self) -> dict:
        return asdict(self)


def process_row(pipeline, row: BulkRow, archive: PhotoArchive, sampling: SamplingConfig,
                options: BulkOptions = BulkOptions(), overlay=None) -> BulkResult:
    """One product: reference + drafts and the listing of the best draft (the first the page would rank best,
    `ranking.review_rank`); a row that has copy is skipped unless `options.overwrite`. `overlay`: a demo
    visitor's own approved products, searched beside the catalog."""
    if row.error:
        return BulkResult(row.id, "error", row.error, row.keywords)
    if row.description and not options.overwrite:
        return BulkResult(row.id, SKIPPED, "has a description already: kept (ask to overwrite to draft it anew)", row.keywords)
    try:
        if not parse_keywords(row.keywords):
            raise InputError("empty keywords (nothing but spaces or punctuation)")
        s = pipeline.suggest(archive.read(row.image), row.keywords, sampling, overlay=overlay)
    except EcomcopyError as e:
        return BulkResult(row.id, "error", str(e), row.keywords)
    except Exception:  # noqa: BLE001 - one bad product never stops the job
        log_failure(f"bulk row {row.line}")  # its line number: the row's id is the user's text
        return BulkResult(row.id, "error", INTERNAL_ERROR, row.keywords)
    if not s.drafts:
        return BulkResult(row.id, "error", "no draft could be written", row.keywords, s.reference.product.id)
    rank = [review_rank(review, sampling.max_words, sampling.ranking) for review in s.reviews]
    best = rank.index(max(rank))  # the first of the best
    ref, note = (s.reference.product.id, "") if s.reference_used else ("", "no similar catalog product: written without a reference")
    listing = build_listing(s.keywords, s.drafts[best], channel(options.channel), row.brand)
    broken = listing.blocking()
    return BulkResult(row.id, "ok", note, ", ".join(s.keywords), ref, s.drafts[best], s.reviews[best].coverage,
                      s.drafts, "; ".join(s.reviews[best].check.flags()), s.reference.product.id, s.writer, listing.to_dict(), broken)


def run_bulk(pipeline, rows: Iterable[BulkRow], archive: PhotoArchive, sampling: SamplingConfig,
             progress: Callable[[int, int], None] | None = None, options: BulkOptions = BulkOptions(), overlay=None) -> Iterator[BulkResult]:
    rows = list(rows)
    for i, row in enumerate(rows):
        yield process_row(pipeline, row, archive, sampling, options, overlay)
        if progress:
            progress(i + 1, len(rows))


def write_results(results: Iterable[BulkResult], path: str | Path) -> Path:
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=RESULT_FIELDS)  # the listing's fields flat; machine_written names what a model wrote
        w.writeheader()
        for r in results:
            w.writerow(r.csv_row())
    return path
