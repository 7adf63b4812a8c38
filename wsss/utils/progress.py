"""Progress on the console: a bar with rate and remaining time, in the job's own units."""
import sys
import time
from typing import IO, Optional

from tqdm import tqdm

LINE_FORMAT = '{desc}: {n_fmt}/{total_fmt} {unit} [{elapsed}<{remaining}, {rate_fmt}]'
BAR_FORMAT = LINE_FORMAT.replace(': ', ': {percentage:3.0f}%|{bar}| ', 1)


class Progress:
    """Counts ``total`` units of work (images, iterations), ``done`` of them finished before
    (a resumed job: said once, at the start, and left out of the rate).

    On a terminal the bar is redrawn in place (tqdm); anywhere else (a log file, a pipe) it is a
    plain line at most every ``interval`` seconds and at the end, so logs hold no carriage
    returns. ``enabled=False`` (ranks other than 0) prints nothing.
    """

    def __init__(self, total: int, desc: str, unit: str = 'images', done: int = 0,
                 stream: Optional[IO] = None, interval: float = 60.0,
                 enabled: bool = True) -> None:
        self.total, self.desc, self.unit, self.initial = total, desc, unit, done
        self.n = done
        self.stream = stream or sys.stdout
        self.enabled, self.interval = enabled, interval
        self.start = self.last = time.monotonic()
        self.bar = None
        self.printed = None  # the count of the last plain line
        if not enabled:
            return
        if done:
            self.write(f'{desc}: {done} of {total} {unit} already done, {total - done} to go')
        if self.stream.isatty():
            self.bar = tqdm(total=total, initial=done, desc=desc, unit=unit, file=self.stream,
                            bar_format=BAR_FORMAT, dynamic_ncols=True, leave=True)

    def update(self, n: int = 1) -> None:
        n = min(n, self.total - self.n)  # distributed counts are estimates: never past the end
        self.n += n
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(n)
        elif time.monotonic() - self.last >= self.interval:
            self._line()

    def write(self, line: str) -> None:
        """A line of text that leaves the bar intact."""
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        """The final count (once; a bar that was never drawn prints nothing)."""
        if not self.enabled or self.n == self.initial == self.total:
            self.enabled = False
            return
        if self.bar is not None:
            self.bar.close()
        elif self.printed != self.n:
            self._line()
        self.enabled = False

    def _line(self) -> None:
        self.last, self.printed = time.monotonic(), self.n
        print(tqdm.format_meter(self.n, self.total, self.last - self.start, prefix=self.desc,
                                unit=self.unit, initial=self.initial, bar_format=LINE_FORMAT),
              file=self.stream, flush=True)
