"""One error that counts a kind of problem in a data file and quotes a few."""

from typing import List

#: At most this many examples are quoted per kind of problem.
MAX_EXAMPLES = 3


def report_problems(problems: List[str], ann_file: str, what: str, total: int, fix: str) -> None:
    """Raise a ValueError that counts ``problems`` and quotes a few, if there are any.

    Args:
        problems (List[str]): One description per problem.
        ann_file (str): Annotation file, for the message.
        what (str): What the problems are, e.g. ``'annotations with bad boxes'``.
        total (int): Number of things checked.
        fix (str): How to fix them.
    """
    if not problems:
        return
    examples = '; '.join(problems[:MAX_EXAMPLES])
    if len(problems) > MAX_EXAMPLES:
        examples += f'; and {len(problems) - MAX_EXAMPLES} more'
    raise ValueError(f'{ann_file!r}: {what} ({len(problems)} of {total}): {examples}. {fix}')
