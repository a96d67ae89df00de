import ff_core


def test_x():
    assert ff_core
