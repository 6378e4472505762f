"""The territory profile as an A4 PDF (reportlab only: no browser, no kaleido).

Input: the `Profile` of `layers.profile.profile`. Tables carry the texts already formatted there
(French numbers, « secret » for a hidden cell): nothing here can print a hidden value, the
profile holds none. The neighbours chart is drawn with reportlab graphics from the same rows.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from reportlab.graphics.shapes import Drawing, Line, Rect, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.doctemplate import BaseDocTemplate
from reportlab.platypus.paragraph import _FUZZ

from layers.classify import format_fr
from layers.model import level_name
from layers.periods import MONTHS_FR
from layers.profile import (
    SOURCE_LINE,
    Cell,
    Evolution,
    IndicatorRow,
    Neighbours,
    ParentRef,
    Profile,
)
from layers.profile_figures import OKABE_ITO
from layers.views import STATUS_FR

FONT, FONT_BOLD = "Helvetica", "Helvetica-Bold"
TERRITORY = colors.HexColor(OKABE_ITO["vermillon"])
OTHER = colors.HexColor(OKABE_ITO["bleu"])
HEADER_BG = colors.HexColor("#e8eef5")
OWN_BG = colors.HexColor("#fde9dd")
GRID = colors.HexColor("#b0b7c0")
MARGIN = 1.5 * cm
# The standard PDF fonts are WinAnsi-encoded: map the few characters they lack to their
# nearest equivalent (U+202F narrow no-break space, the French thousands separator, becomes
# a no-break space: same meaning, a little wider).
_WINANSI = str.maketrans({"\u202f": "\u00a0", "\u2212": "-", "\u25b6": ">", "\u2009": " "})


def pdf_text(text: Any) -> str:
    """Text safe for a Helvetica paragraph: escaped markup, WinAnsi characters only."""
    raw = "" if text is None else str(text)
    raw = raw.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return raw.translate(_WINANSI)


def date_fr(day: dt.date) -> str:
    return f"{day.day} {MONTHS_FR[f'{day.month:02d}']} {day.year}"


@lru_cache(maxsize=1)
def _styles() -> dict[str, ParagraphStyle]:
    """The PDF's paragraph styles, made once per process (shared, never changed: reportlab
    copies a style before changing it)."""
    base = getSampleStyleSheet()
    body = ParagraphStyle("corps", parent=base["BodyText"], fontName=FONT, fontSize=9, leading=11)
    return {
        "titre": ParagraphStyle(
            "titre",
            parent=base["Title"],
            fontName=FONT_BOLD,
            fontSize=17,
            leading=21,
            alignment=0,
            spaceAfter=4,
        ),
        "h2": ParagraphStyle(
            "h2",
            parent=base["Heading2"],
            fontName=FONT_BOLD,
            fontSize=12.5,
            leading=15,
            spaceBefore=10,
            spaceAfter=4,
            textColor=colors.HexColor("#1b3b5f"),
        ),
        "h3": ParagraphStyle(
            "h3",
            parent=base["Heading3"],
            fontName=FONT_BOLD,
            fontSize=10.5,
            leading=13,
            spaceBefore=8,
            spaceAfter=3,
        ),
        "corps": body,
        "petit": ParagraphStyle("petit", parent=body, fontSize=7.5, leading=9),
        "cell": ParagraphStyle("cell", parent=body, fontSize=7.5, leading=9),
        "cell_b": ParagraphStyle(
            "cell_b", parent=body, fontName=FONT_BOLD, fontSize=7.5, leading=9
        ),
        "num": ParagraphStyle("num", parent=body, fontSize=7.5, leading=9, alignment=TA_RIGHT),
        "num_b": ParagraphStyle(
            "num_b", parent=body, fontName=FONT_BOLD, fontSize=7.5, leading=9, alignment=TA_RIGHT
        ),
        "avert": ParagraphStyle(
            "avert",
            parent=body,
            fontName=FONT_BOLD,
            fontSize=8.5,
            leading=10.5,
            textColor=colors.HexColor("#7a2e00"),
            backColor=colors.HexColor("#fff3cd"),
            borderPadding=4,
            spaceBefore=4,
            spaceAfter=6,
        ),
    }


def _table(rows: list[list[Any]], widths: Sequence[float], own_rows: Sequence[int] = ()) -> Table:
    table = Table(rows, colWidths=list(widths), repeatRows=1, hAlign="LEFT")
    style = [
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_BG),
        ("GRID", (0, 0), (-1, -1), 0.4, GRID),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    for i in own_rows:
        style.append(("BACKGROUND", (0, i), (-1, i), OWN_BG))
    table.setStyle(TableStyle(style))
    return table


@lru_cache(maxsize=4096)
def _parsed(text: str, style: ParagraphStyle) -> Paragraph:
    """A text parsed once per process and style (labels, headings and many values recur from
    one profile to the next): parsing was about a quarter of a profile's PDF."""
    return Paragraph(text, style)


# Per process, across documents: how a text breaks at a width, and the PDF operators that draw
# it from a given graphics state. About 80 % of a profile's paragraphs (labels, headings,
# « secret », small numbers) recur from one PDF to the next; breaking and drawing them was
# about half of its CPU. Values are never changed once stored; a full store starts afresh.
_BROKEN: dict[tuple, tuple[float, float, Any, list[float]]] = {}
_DRAWN: dict[tuple, tuple[list[str], tuple[tuple[str, str], ...]]] = {}
_KEPT = 8_000  # per store: a few MB
# The canvas's graphics state the operators of a paragraph may depend on (reportlab saves
# and restores this list around each flowable). Not its position nor its matrices: drawOn
# translates to the paragraph first, and its operators are relative to that origin.
_PLACE = {"_x", "_y", "_currentMatrix", "_textLineMatrix", "_textMatrix", "_extgstate"}
_STATE = tuple(a for a in Canvas.STATE_ATTRIBUTES if a not in _PLACE)


def _keep(store: dict, key: tuple, value: Any) -> None:
    if len(store) >= _KEPT:
        store.clear()
    store[key] = value


class _Text(Paragraph):
    """A paragraph of a parsed text's fragments (copied: each document owns its own) whose
    line breaking and drawing are reused (`_BROKEN`, `_DRAWN`): within a document (a table
    measures each cell's height, draws it, and a KeepTogether measures the table again) and
    across documents. The bytes are reportlab's own Paragraph's (tested)."""

    _source: tuple[str, str] | None = None  # (text, style name); None: a split piece

    def __init__(self, text: str | None, style: ParagraphStyle, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:  # a piece of a paragraph split across pages (Paragraph.split)
            super().__init__(text, style, *args, **kwargs)
            return
        proto = _parsed(text, style)
        frags = [f.clone() for f in proto.frags]
        super().__init__(proto.text, proto.style, proto.bulletText, frags=frags)
        self._source = (text, style.name)

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        if self._source is None or availWidth < _FUZZ:  # a split piece; too narrow: no lines
            return super().wrap(availWidth, availHeight)
        key = (*self._source, availWidth)
        known = _BROKEN.get(key)
        if known is None:
            super().wrap(availWidth, availHeight)
            known = (self.width, self.height, self.blPara, self._wrapWidths)
            _keep(_BROKEN, key, known)
        # Set again on every call: split() may have dropped the broken lines (blPara).
        self.width, self.height, self.blPara, self._wrapWidths = known
        return self.width, self.height

    def draw(self) -> None:
        if self._source is None:
            super().draw()
            return
        canv = self.canv
        state = tuple(canv.__dict__[a] for a in _STATE)
        key = (*self._source, self.width, self.height, state, *sorted(canv._extgstate._d.items()))
        fonts = canv._doc.fontMapping
        try:
            known = _DRAWN.get(key)
        except TypeError:  # a state value that cannot be a key (a dash list): drawn anew
            super().draw()
            return
        if known is not None and all(fonts.get(f) == n for f, n in known[1]):
            canv._code.extend(known[0])
            return
        before, start = dict(fonts), len(canv._code)
        super().draw()
        if fonts == before:  # a draw that registers a font is not replayed elsewhere
            _keep(_DRAWN, key, (canv._code[start:], tuple(fonts.items())))


def _p(text: Any, style: ParagraphStyle) -> Paragraph:
    return _Text(pdf_text(text), style)


def _identity_block(prof: Profile, st: dict) -> list:
    ident = prof.identity
    parents = [p for p in ident.parents if p.level != "france"]
    lines = [f"{ident.level_label.capitalize()} {ident.code}"]
    lines += [f"{p.level_label.capitalize()} : {p.name} ({p.code})" for p in parents]
    facts = []
    if ident.population_text:
        facts.append(("Population municipale", f"{ident.population_text} habitants"))
    if ident.area_text:
        facts.append(("Superficie", ident.area_text))
    if ident.density_text:
        facts.append(("Densité", ident.density_text))
    if ident.postal_codes:
        facts.append(("Codes postaux", ", ".join(ident.postal_codes)))
    out: list = [_p(" · ".join(lines), st["corps"]), Spacer(1, 4)]
    if facts:
        rows = [[_p(k, st["cell_b"]), _p(v, st["cell"])] for k, v in facts]
        t = Table(rows, colWidths=[4 * cm, 14 * cm], hAlign="LEFT")
        t.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.4, GRID),
                    ("BACKGROUND", (0, 0), (0, -1), HEADER_BG),
                    ("TOPPADDING", (0, 0), (-1, -1), 2),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                ]
            )
        )
        out.append(t)
    return out


def _key_figures_block(prof: Profile, st: dict) -> list:
    key = prof.key_figures
    out: list = [_p(f"Chiffres clés ({key.period_label})", st["h2"])]
    rows = [[_p("Indicateur", st["cell_b"]), _p("Valeur", st["num_b"])]]
    for c in key.headline:
        rows.append([_p(c.title, st["cell"]), _p(c.text, st["num"])])
    out.append(_table(rows, [9 * cm, 4 * cm]))

    out.append(_p("Composition familiale des foyers allocataires", st["h3"]))
    rows = [
        [
            _p("Type de foyer", st["cell_b"]),
            _p("Foyers", st["num_b"]),
            _p("Part des allocataires", st["num_b"]),
        ]
    ]
    for c in key.composition:
        rows.append(
            [
                _p(c.label, st["cell"]),
                _p(c.cell.text, st["num"]),
                _p(c.share_text, st["num"]),
            ]
        )
    out.append(_table(rows, [9 * cm, 4 * cm, 4 * cm]))

    out.append(_p("Prestations les plus versées", st["h3"]))
    rows = [[_p("Prestation", st["cell_b"]), _p("Foyers bénéficiaires", st["num_b"])]]
    for b in key.benefits:
        rows.append([_p(b.label, st["cell"]), _p(b.cell.text, st["num"])])
    if len(rows) == 1:
        rows.append([_p("Aucune prestation publiée", st["cell"]), _p("", st["num"])])
    out.append(_table(rows, [9 * cm, 4 * cm]))
    return out


_MONTH_ABBR = {"03": "mars", "06": "juin", "09": "sept.", "12": "déc."}
# A reference's column heading is its level's name (`layers.model`), shortened where the
# narrow column needs it.
_REF_ABBR = {"departement": "Départ."}


def _ref_head(level: str) -> str:
    name = _REF_ABBR.get(level) or level_name(level)
    return name[:1].upper() + name[1:]


def _themes_block(prof: Profile, st: dict) -> list:
    refs = prof.references
    has_rank = prof.identity.level == "commune"
    out: list = [CondPageBreak(6 * cm), _p("Indicateurs par thème", st["h2"])]
    ref_line = " ; ".join(f"{_ref_head(r.level)} = {r.name}" for r in refs)
    if ref_line:
        out.append(_p(f"Comparaison avec : {ref_line}.", st["petit"]))
    # Column widths fit 18 cm: indicator, territory, references, rank, change.
    n_ref = len(refs)
    rank_w = 1.5 * cm if has_rank else 0
    evo_w = 3.0 * cm
    val_w = 1.8 * cm
    ind_w = 18 * cm - val_w * (1 + n_ref) - rank_w - evo_w
    widths = [ind_w, val_w, *[val_w] * n_ref, *([rank_w] if has_rank else []), evo_w]
    for theme in prof.themes:
        head = _theme_head(refs, has_rank, st)  # flowables are not shared between tables
        rows = [head, *(_theme_line(row, refs, has_rank, st) for row in theme.rows)]
        title = _p(f"{theme.name} ({theme.category})", st["h3"])
        out.append(KeepTogether([title, _table(rows, widths)]) if len(rows) < 12 else title)
        if len(rows) >= 12:
            out.append(_table(rows, widths))
    out.append(
        _p(
            "Rang : 1 = valeur la plus élevée parmi les communes de l'EPCI dont la "
            "valeur est publiée ; pas de rang pour une valeur non diffusée.",
            st["petit"],
        )
    )
    return out


def _theme_head(refs: Sequence[ParentRef], has_rank: bool, st: dict) -> list[Paragraph]:
    head = [_p("Indicateur", st["cell_b"]), _p("Territoire", st["num_b"])]
    head += [_p(_ref_head(r.level), st["num_b"]) for r in refs]
    if has_rank:
        head.append(_p("Rang dans l'EPCI", st["num_b"]))
    return [*head, _p("Évolution", st["cell_b"])]


def _theme_line(
    row: IndicatorRow, refs: Sequence[ParentRef], has_rank: bool, st: dict
) -> list[Paragraph]:
    """An indicator's line: label (unit, period), territory, references, rank, change."""
    by_level = {r.parent.level: r.cell for r in row.references}
    own = row.cell
    unit = "" if own.unit == "%" else f"{own.unit}, "
    line = [
        _p(f"{own.title} ({unit}{_period_short(own.period)})", st["cell"]),
        _p(_compact(own), st["num_b"]),
    ]
    line += [
        _p(_compact(by_level[r.level]) if r.level in by_level else "", st["num"]) for r in refs
    ]
    if has_rank:
        line.append(_p(row.epci_rank.text if row.epci_rank else "-", st["num"]))
    line.append(_p(_evolution_short(row.evolution), st["cell"]))
    return line


def _compact(c: Cell) -> str:
    """A context cell without its unit (given in the row label): fits narrow columns."""
    if c.value is None:  # hidden: its French text
        return c.text or STATUS_FR.get(c.status, "pas de données")
    text = format_fr(c.value, 1 if c.unit == "%" else 0)
    return f"{text}\u00a0%" if c.unit == "%" else text


def _period_short(period: str | None) -> str:
    if not period or "-" not in period:
        return period or ""
    year, month = period.split("-", 1)
    return f"{_MONTH_ABBR.get(month, MONTHS_FR.get(month, month))} {year}"


def _evolution_short(evo: Evolution | None) -> str:
    if not evo:
        return "-"
    text = evo.text.split(" entre ")[0]
    return f"{text} depuis {(evo.start.period or '')[:4]}"


def neighbours_drawing(near: Neighbours, width: float = 18 * cm) -> Drawing:
    """Horizontal bars, highest first; the territory in vermillion with « (territoire) »,
    a hidden cell as a labelled empty slot (no bar)."""
    rows = near.rows
    bar_h, gap, label_w, text_w = 11, 4, 5.2 * cm, 2.2 * cm
    height = len(rows) * (bar_h + gap) + 8
    d = Drawing(width, height)
    values = [r.cell.value for r in rows if r.cell.value is not None]
    top = max(values) if values else 1.0
    top = top if top > 0 else 1.0
    span = width - label_w - text_w
    d.add(Line(label_w, 2, label_w, height - 2, strokeColor=colors.grey, strokeWidth=0.5))
    for i, r in enumerate(rows):
        y = height - (i + 1) * (bar_h + gap)
        own = r.is_territory
        name = f"{r.name} (territoire)" if own else r.name
        d.add(
            String(
                label_w - 4,
                y + 3,
                pdf_text_plain(name)[:42],
                textAnchor="end",
                fontName=FONT_BOLD if own else FONT,
                fontSize=7.5,
            )
        )
        if r.cell.value is not None:
            length = max(r.cell.value / top * span, 0.5)
            d.add(
                Rect(
                    label_w,
                    y,
                    length,
                    bar_h,
                    fillColor=TERRITORY if own else OTHER,
                    strokeColor=colors.black if own else OTHER,
                    strokeWidth=1.2 if own else 0.3,
                )
            )
            d.add(
                String(
                    label_w + length + 3,
                    y + 3,
                    pdf_text_plain(r.cell.text),
                    fontName=FONT_BOLD if own else FONT,
                    fontSize=7.5,
                )
            )
        else:
            d.add(
                Rect(
                    label_w,
                    y,
                    1.6 * cm,
                    bar_h,
                    fillColor=colors.HexColor("#f2f2f2"),
                    strokeColor=colors.grey,
                    strokeWidth=0.4,
                    strokeDashArray=[2, 2],
                )
            )
            d.add(
                String(
                    label_w + 3,
                    y + 3,
                    pdf_text_plain(r.cell.text),
                    fontName=FONT,
                    fontSize=7.5,
                    fillColor=colors.HexColor("#444444"),
                )
            )
    return d


def pdf_text_plain(text: Any) -> str:
    """Text for a graphics String (no markup to escape)."""
    return ("" if text is None else str(text)).translate(_WINANSI)


def _neighbours_block(prof: Profile, st: dict) -> list:
    near = prof.neighbours
    if not near:
        return []
    kind = "communes voisines" if prof.identity.level == "commune" else "territoires voisins"
    out: list = [
        CondPageBreak(7 * cm),
        _p(f"Comparaison avec les {kind}", st["h2"]),
        _p(f"{near.title} ({near.period_label})", st["corps"]),
    ]
    rows = [[_p("Rang", st["num_b"]), _p("Territoire", st["cell_b"]), _p("Valeur", st["num_b"])]]
    own_rows = []
    rank = 0
    for r in near.rows:
        published = r.cell.value is not None
        rank += 1 if published else 0
        own = r.is_territory
        name = f"{r.name} ({r.code})" + (" - territoire" if own else "")
        style_c, style_n = (st["cell_b"], st["num_b"]) if own else (st["cell"], st["num"])
        rows.append(
            [
                _p(str(rank) if published else "-", style_n),
                _p(name, style_c),
                _p(r.cell.text, style_n),
            ]
        )
        if own:
            own_rows.append(len(rows) - 1)
    if len(rows) == 2:
        out.append(_p("Aucun territoire voisin dans les données.", st["corps"]))
    out.append(_table(rows, [1.4 * cm, 10 * cm, 4 * cm], own_rows))
    out.append(Spacer(1, 8))
    out.append(neighbours_drawing(near))
    return out


def _document(buf: io.BytesIO, title: str, subject: str, notice: str | None, compress: bool):
    """A4 document and its footer (source line, page number, demonstration notice)."""
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + (1.4 if notice else 0.8) * cm,
        title=pdf_text_plain(title),
        author="Cafdata Carto",
        subject=subject,
        lang="fr-FR",
        pageCompression=1 if compress else 0,
    )

    def footer(canvas: Any, doc_: BaseDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        canvas.setFillColor(colors.HexColor("#333333"))
        y = MARGIN - 0.2 * cm + (0.5 * cm if notice else 0)
        canvas.drawString(MARGIN, y, pdf_text_plain(SOURCE_LINE))
        canvas.drawRightString(A4[0] - MARGIN, y, f"Page {doc_.page}")
        if notice:
            canvas.setFont(FONT_BOLD, 7.5)
            canvas.setFillColor(colors.HexColor("#7a2e00"))
            lines = simpleSplit(pdf_text_plain(notice), FONT_BOLD, 7.5, A4[0] - 2 * MARGIN)
            for i, line in enumerate(lines[:2]):
                canvas.drawString(MARGIN, y - (0.4 + 0.3 * i) * cm, line)
        canvas.restoreState()

    return doc, footer


def _heading(title: str, day: dt.date, notice: str | None, st: dict) -> list:
    out: list = [_p(title, st["titre"]), _p(f"Édité le {date_fr(day)}", st["petit"])]
    return [*out, _p(notice, st["avert"])] if notice else out


def profile_title(prof: Profile) -> str:
    return f"Fiche territoire : {prof.identity.name} ({prof.identity.code})"


def profile_story(prof: Profile, day: dt.date) -> list:
    """The flowables of one profile (title to source line)."""
    st = _styles()
    story = _heading(profile_title(prof), day, prof.notice, st)
    story += _identity_block(prof, st)
    story += _key_figures_block(prof, st)
    story += _themes_block(prof, st)
    story += _neighbours_block(prof, st)
    story += [Spacer(1, 10), _p(prof.source or SOURCE_LINE, st["petit"])]
    story += _provenance_lines(prof, st)
    return story


def _provenance_lines(prof: Profile, st: dict) -> list:
    """One small line per series whose origin the store knows (dataset, update, regime)."""
    return [
        _p(f"{row.cell.title} : {row.source}" + (f" — {row.note}" if row.note else ""), st["petit"])
        for row in prof.indicator_rows()
        if row.source
    ]


def profile_pdf(
    prof: Profile, figures: Any = None, *, today: dt.date | None = None, compress: bool = True
) -> bytes:
    """The profile as PDF bytes (A4). `figures` is accepted for symmetry with the page and
    ignored: Plotly figures would need a browser to render; the PDF draws its own chart."""
    del figures
    buf = io.BytesIO()
    doc, footer = _document(buf, profile_title(prof), "Fiche territoire", prof.notice, compress)
    doc.build(
        profile_story(prof, today or dt.date.today()), onFirstPage=footer, onLaterPages=footer
    )
    return buf.getvalue()


def atlas_pdf(
    title: str, profiles: Iterable[Profile], notice: str | None, *, today: dt.date | None = None
) -> bytes:
    """Several profiles in one PDF (an atlas of the communes of an EPCI), one per page run."""
    day = today or dt.date.today()
    story = _heading(title, day, notice, _styles())
    for prof in profiles:
        story += [PageBreak(), *profile_story(prof, day)]
    buf = io.BytesIO()
    doc, footer = _document(buf, title, "Atlas de fiches territoire", notice, True)
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()
