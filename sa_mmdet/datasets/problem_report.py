"""One error that counts a kind of problem in a data file and quotes a few."""

from typing import List

MAX_EXAMPLES = 3  # quoted per kind of problem


def report_problems(problems: List[str], ann_file: str, what: str, total: int, fix: str) -> None:
    """Raise a ValueError that counts ``problems`` of ``total`` things checked and quotes a few.

    ``what`` says what the problems are (``'annotations with bad boxes'``), ``fix`` how to fix
    them; nothing is raised if ``problems`` is empty.
    """
    if not problems:
        return
    examples = '; '.join(problems[:MAX_EXAMPLES])
    if len(problems) > MAX_EXAMPLES:
        examples += f'; and {len(problems) - MAX_EXAMPLES} more'
    raise ValueError(f'{ann_file!r}: {what} ({len(problems)} of {total}): {examples}. {fix}')
