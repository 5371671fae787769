"""The ns-3 worker's process handling, exercised with plain Python children (no ns-3 import).

A real ns-3 abort inside a sweep cell is tested in test_replay.py.
"""
from __future__ import annotations

import functools
import os
import sys
import time

import pytest

from ns3_scenarios.errors import ScenarioError
from ns3_scenarios.worker import NsWorker, RemoteTraceback, WorkerPool, ns3_message


def _pid() -> int:
    return os.getpid()


def _refuse(value: int) -> None:
    raise ScenarioError(f"invalid value {value}")


def _die_like_ns3() -> None:
    sys.stderr.write('msg="Could not set default value for ns3::Nope::Nothing", file=config.cc, line=888\n'
                     "NS_FATAL, terminating\n")
    sys.stderr.flush()
    os._exit(133)


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


@pytest.fixture(scope="module")
def worker():
    with NsWorker() as w:
        yield w


def test_calls_run_in_one_child_and_errors_come_back(worker):
    pid = worker.call(_pid)
    assert pid != os.getpid() and worker.call(_pid) == pid
    with pytest.raises(ScenarioError, match="invalid value 7") as info:
        worker.call(_refuse, 7)
    assert isinstance(info.value.__cause__, RemoteTraceback) and "_refuse" in str(info.value.__cause__)
    assert worker.call(_pid) == pid


def test_a_dying_child_is_an_error_with_ns3s_message_and_is_replaced(worker):
    before = worker.starts
    with pytest.raises(ScenarioError) as info:
        worker.call(_die_like_ns3)
    text = str(info.value)
    assert "exit code 133" in text and "Could not set default value for ns3::Nope::Nothing" in text
    assert "\n" not in text
    assert worker.call(_pid) != os.getpid() and worker.starts == before + 1


def test_a_call_past_its_timeout_is_stopped(worker):
    with pytest.raises(ScenarioError, match="no answer to _sleep within 0.5 s"):
        worker.call(_sleep, 30, timeout_s=0.5)
    assert worker.call(_pid) > 0


def test_ns3_message_falls_back_to_the_last_line():
    assert ns3_message('x\nmsg="Address Collision", file=a.cc, line=3\nNS_FATAL\n') == "Address Collision"
    assert ns3_message("one\ntwo\n\n") == "two"
    assert ns3_message("") == "no message"


def _slow_pid(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def test_a_pool_lends_each_worker_to_one_call_at_a_time(worker):
    with NsWorker() as second:
        pool = WorkerPool([worker, second])
        jobs = [(k, functools.partial(pool.call, _slow_pid, 0.3)) for k in range(4)]
        results = dict(pool.run(jobs))
        assert sorted(results) == [0, 1, 2, 3]
        assert set(results.values()) == {worker.call(_pid), second.call(_pid)}  # both workers, nobody else
        with pytest.raises(ScenarioError, match="invalid value 3"):
            dict(pool.run([(0, functools.partial(pool.call, _refuse, 3))]))
        assert pool.call(_pid) in set(results.values())  # a failed call gave its worker back
