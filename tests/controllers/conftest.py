"""Fixtures for controller tests."""

import pytest

from tests.controllers.fakeapi import FakeAPI


@pytest.fixture
def api() -> FakeAPI:
    return FakeAPI()
