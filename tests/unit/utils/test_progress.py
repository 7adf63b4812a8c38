"""The console progress of long jobs: plain lines away from a terminal (no carriage returns in
log files), a resumed job's finished work said once and left out of the rate."""
import io

from wsss.utils.progress import Progress


def test_progress_off_a_terminal_prints_plain_lines():
    out = io.StringIO()  # not a terminal, as a log file or a pipe
    bar = Progress(6, 'seeds', done=4, stream=out, interval=0)
    bar.update()
    bar.update()
    bar.close()
    bar.close()  # once only
    lines = out.getvalue().splitlines()
    assert '\r' not in out.getvalue()
    assert lines[0] == 'seeds: 4 of 6 images already done, 2 to go'
    # a line per update (interval 0); the final count is not repeated
    assert [line.split(' [')[0] for line in lines[1:]] == ['seeds: 5/6 images',
                                                           'seeds: 6/6 images']


def test_progress_counts_never_pass_the_total_and_other_ranks_print_nothing():
    out = io.StringIO()
    bar = Progress(3, 'test', stream=out, interval=3600)
    bar.update(2 * 2)  # two images on each of two ranks: an estimate past the end
    assert bar.n == 3
    bar.close()
    assert len(out.getvalue().splitlines()) == 1  # the interval is long: only the final count
    assert out.getvalue().startswith('test: 3/3 images')
    quiet = io.StringIO()
    other = Progress(3, 'test', done=1, stream=quiet, enabled=False)
    other.update()
    other.write('a line')
    other.close()
    assert quiet.getvalue() == ''
