"""pbr.collector.paused(): the cyclic garbage collector is off inside, back as it was after."""

import gc

import pytest

from pbr import collector


@pytest.fixture
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_paused_inside_and_on_again_after(collector_on):
    with collector.paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_on_again_after_an_error(collector_on):
    with pytest.raises(ValueError), collector.paused():
        raise ValueError("boom")
    assert gc.isenabled()


def test_left_off_when_it_was_off(collector_on):
    gc.disable()
    with collector.paused(), collector.paused():
        pass
    assert not gc.isenabled()
    gc.enable()


def test_as_a_decorator_each_call(collector_on):
    seen = []

    @collector.paused()
    def work():
        seen.append(gc.isenabled())

    work()
    work()
    assert seen == [False, False] and gc.isenabled()
