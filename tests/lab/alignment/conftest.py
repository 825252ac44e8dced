"""Shared by the alignment study's lab tests."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """Small models and fits on a shared CPU run faster single-threaded; restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
