"""How far this process's dataset job has come, for the line an interrupted run prints."""
from typing import Optional


class JobProgress:
    """Images of the job: ``total`` (the split; None outside a dataset job) and ``done`` (those
    finished before this run, then each one this process writes or lists as failed)."""

    total: Optional[int] = None
    done: int = 0

    @classmethod
    def start(cls, total: int, done: int) -> None:
        cls.total, cls.done = total, done

    @classmethod
    def advance(cls, n: int = 1) -> None:
        cls.done += n


def interrupted_message() -> str:
    """'interrupted after N of M images; rerun the same command to resume' (without the count
    outside a dataset job)."""
    where = '' if JobProgress.total is None else \
        f' after {JobProgress.done} of {JobProgress.total} images'
    return f'interrupted{where}; rerun the same command to resume'
