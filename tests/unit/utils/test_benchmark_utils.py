"""wsss.utils.benchmark: what the benchmarks measure with (timing, peak memory, child
processes, the library's stage marks). No figure is asserted beyond what the work must take."""
import os
import subprocess
import sys
import time

import pytest
import torch

from wsss.utils.benchmark import (
    ChildFailed,
    PeakMemory,
    ProcessTreePeak,
    Stopwatch,
    preload_for_children,
    run_in_child,
    stage,
    timed,
)

MIB = 2 ** 20
preload_for_children(['wsss.utils.benchmark'])  # the children start with torch imported


def test_timed_runs_warmup_then_repeat_and_returns_the_last_output():
    calls = []
    seconds, out = timed(lambda: calls.append(len(calls)) or len(calls), repeat=3, warmup=2)
    assert calls == [0, 1, 2, 3, 4] and out == 5 and seconds >= 0
    with pytest.raises(ValueError, match='repeat'):
        timed(lambda: None, repeat=0)


def test_stage_marks_count_only_for_a_listening_stopwatch():
    watch, other = Stopwatch(), Stopwatch()
    with stage('caa'):  # nobody listens: nothing recorded, no error
        pass
    with watch.listen():
        with stage('caa'):
            time.sleep(0.01)
        with other.listen():  # the innermost listener takes the marks
            with stage('resize'):
                pass
        with stage('caa'):
            pass
    with stage('caa'):
        pass
    assert set(watch.seconds) == {'caa'} and watch.seconds['caa'] >= 0.01
    assert set(other.seconds) == {'resize'}


def test_wrap_and_forward_hooks_time_each_call_with_its_batch():
    watch, calls = Stopwatch(), []
    double = watch.wrap('double', lambda x: 2 * x)
    assert double(4) == 8 and 'double' in watch.seconds
    layer = torch.nn.Linear(3, 2)
    remove = watch.time_forward('linear', layer, calls)
    layer(torch.zeros(5, 3))
    layer(input=torch.zeros(2, 3))  # a keyword input counts as well
    remove()
    layer(torch.zeros(7, 3))  # hooks removed: not counted
    assert [batch for _, batch in calls] == [5, 2]
    assert watch.seconds['linear'] == pytest.approx(sum(s for s, _ in calls))


def peak_windows() -> tuple:
    """Two CPU windows of :class:`PeakMemory`: one holding a 64 MiB block, one after it."""
    memory = PeakMemory('cpu')
    memory.start()
    block = torch.ones(64 * MIB // 4)  # 64 MiB, touched
    first = memory.rise(), memory.peak() - memory.base
    del block
    memory.start()  # the old peak is gone: the window holds little
    return first, memory.rise()


def test_peak_memory_on_the_cpu_restarts_at_start():
    # in a fresh process: in this one, heap kept from earlier tests may hold the block
    (rise, peak_above_base), after = run_in_child(peak_windows)
    assert rise >= 60 * MIB and peak_above_base >= 60 * MIB
    assert after < 32 * MIB


def allocate_and_report(mib: int) -> int:
    """In a child: the rise of its peak resident set while holding ``mib`` MiB."""
    memory = PeakMemory('cpu')
    memory.start()
    block = torch.ones(mib * MIB // 4)
    return memory.rise() // MIB + 0 * int(block[0])


def fail_loudly() -> None:
    print('the child printed this')
    raise ValueError('bad setting')


def test_run_in_child_returns_the_result_of_the_child_alone():
    memory = PeakMemory('cpu')
    memory.start()
    assert run_in_child(allocate_and_report, 48) >= 44
    assert memory.rise() < 40 * MIB  # the parent did not hold the child's memory


def test_run_in_child_raises_with_the_traceback_and_the_output():
    with pytest.raises(ChildFailed) as error:
        run_in_child(fail_loudly)
    assert 'ValueError: bad setting' in str(error.value)
    assert 'the child printed this' in str(error.value)


def test_process_tree_peak_counts_the_children():
    monitor = ProcessTreePeak(interval=0.02)
    monitor.start()
    time.sleep(0.1)
    alone = monitor.peak_kib * 1024
    code = 'import time; b = b"x" * (200 * 2 ** 20); time.sleep(0.6)'
    subprocess.run([sys.executable, '-c', code], check=True, env={**os.environ, 'PYTHONPATH': ''})
    assert monitor.stop() >= alone + 150 * MIB
