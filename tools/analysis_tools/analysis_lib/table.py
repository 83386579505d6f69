"""Render tables of figures as aligned text or markdown."""

from typing import Optional, Sequence

FORMATS = ('text', 'md')


def format_table(
    header: Sequence[str],
    rows: Sequence[Sequence[object]],
    fmt: str = 'text',
    title: Optional[str] = None,
) -> str:
    """Render a table.

    Args:
        header (Sequence[str]): Column names.
        rows (Sequence[Sequence[object]]): Cells, one sequence per row.
        fmt (str): ``'text'`` (columns padded, right-aligned) or ``'md'`` (markdown).
            Defaults to ``'text'``.
        title (str, optional): A line above the table. Defaults to None.

    Returns:
        str: The table, one line per row after the header.
    """
    if fmt not in FORMATS:
        raise ValueError(f'fmt must be one of {FORMATS}, got {fmt!r}')
    cells = [[str(cell) for cell in header]] + [[str(cell) for cell in row] for row in rows]
    if fmt == 'md':
        lines = ['| ' + ' | '.join(line) + ' |' for line in cells]
        lines.insert(1, '|' + ' --- |' * len(header))
    else:
        widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
        lines = [
            '  '.join(cell.rjust(w) for cell, w in zip(line, widths)).rstrip() for line in cells
        ]
        lines.insert(1, '  '.join('-' * w for w in widths))
    return '\n'.join(([title] if title else []) + lines)
