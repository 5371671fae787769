"""Round-robin segment sharing (EcoLoRA §3.3, Eq. 2)."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fl_core.codec.segments import check_segments, segment_bounds, segment_of
from fl_core.transports.messages import Upload
from fl_core.methods.aggregate import masked_weighted_average
from fl_core.errors import ConfigError

torch.set_num_threads(1)


@given(st.integers(0, 10**7), st.integers(1, 64))
def test_bounds_partition_the_vector(length, n_segments):
    bounds = segment_bounds(length, n_segments)
    assert len(bounds) == n_segments
    assert bounds[0][0] == 0 and bounds[-1][1] == length
    assert all(stop == next_start for (_, stop), (next_start, _) in zip(bounds, bounds[1:]))
    sizes = [stop - start for start, stop in bounds]
    assert sizes == [length // n_segments + (i < length % n_segments) for i in range(n_segments)]


def test_bounds_match_array_split():
    sizes = [stop - start for start, stop in segment_bounds(17, 5)]
    assert sizes == [len(part) for part in np.array_split(np.arange(17), 5)] == [4, 4, 3, 3, 3]


def test_paper_example():
    """§3.3: N_t = 5, N_s = 3, round 0: clients upload segments 0, 1, 2, 0, 1."""
    assert [segment_of(i, 0, 3) for i in range(5)] == [0, 1, 2, 0, 1]
    assert [segment_of(i, 1, 3) for i in range(5)] == [1, 2, 0, 1, 2]


@given(st.integers(1, 32), st.data())
def test_every_segment_is_uploaded_every_round_when_n_s_le_n_t(n_participants, data):
    n_segments = data.draw(st.integers(1, n_participants))
    check_segments(n_segments, n_participants)
    for round_idx in range(2 * n_segments + 1):
        covered = {segment_of(i, round_idx, n_segments) for i in range(n_participants)}
        assert covered == set(range(n_segments))


def test_each_position_cycles_through_all_segments():
    assert sorted(segment_of(2, t, 5) for t in range(5)) == [0, 1, 2, 3, 4]


def test_too_many_segments_is_refused():
    with pytest.raises(ConfigError, match=r"N_s \(=7\) must not exceed the participants per round N_t \(=5\)"):
        check_segments(7, 5)


@pytest.mark.parametrize("call", [lambda: check_segments(0, 5), lambda: segment_bounds(10, 0),
                                  lambda: segment_of(0, 0, 0)])
def test_fewer_than_one_segment_is_refused(call):
    with pytest.raises(ConfigError, match=r"N_s \(=0\) must be at least 1"):
        call()


def test_negative_position_or_round_is_refused():
    with pytest.raises(ConfigError, match="position"):
        segment_of(-1, 0, 3)


# -- Eq. 2 (the server's masked weighted average, as EcoLoRA feeds it) -----------------------


def aggregate_segments(previous, uploads, bounds):
    """Eq. 2 through ``masked_weighted_average``: each decoded segment update added to the global."""
    decoded = []
    for i, (segment, update, n) in enumerate(uploads):
        start, stop = bounds[segment]
        vector = previous.clone()
        vector[start:stop] += update
        covered = torch.zeros(previous.numel(), dtype=torch.bool)
        covered[start:stop] = True
        decoded.append(Upload(i, vector, n, covered))
    return masked_weighted_average(previous, decoded)




def test_paper_example_aggregation():
    """Clients 0 and 3 share segment 0, 1 and 4 share segment 1, client 2 alone has segment 2."""
    previous = torch.arange(9, dtype=torch.float32)
    bounds = segment_bounds(9, 3)
    uploads = [
        (0, torch.full((3,), 1.0), 10.0),
        (1, torch.full((3,), 2.0), 1.0),
        (2, torch.full((3,), 3.0), 5.0),
        (0, torch.full((3,), 4.0), 30.0),
        (1, torch.full((3,), 6.0), 3.0),
    ]
    new = aggregate_segments(previous, uploads, bounds)
    expected = previous + torch.tensor([3.25] * 3 + [5.0] * 3 + [3.0] * 3)
    assert torch.allclose(new, expected)


def test_segments_nobody_uploaded_keep_previous():
    previous = torch.randn(10)
    bounds = segment_bounds(10, 3)
    new = aggregate_segments(previous, [(1, torch.ones(3), 2.0)], bounds)
    assert torch.equal(new[:4], previous[:4]) and torch.equal(new[7:], previous[7:])
    assert torch.allclose(new[4:7], previous[4:7] + 1)
    assert torch.equal(aggregate_segments(previous, [], bounds), previous)


@given(st.integers(1, 500), st.integers(1, 6), st.integers(1, 12), st.integers(0, 2**31))
@settings(max_examples=100, deadline=None)
def test_matches_per_segment_weighted_mean(length, n_segments, n_clients, seed):
    g = torch.Generator().manual_seed(seed)
    bounds = segment_bounds(length, n_segments)
    previous = torch.randn(length, generator=g)
    uploads = []
    for position in range(n_clients):
        segment = segment_of(position, seed % 7, n_segments)
        start, stop = bounds[segment]
        uploads.append((segment, torch.randn(stop - start, generator=g), float(1 + position)))
    new = aggregate_segments(previous, uploads, bounds)
    for segment, (start, stop) in enumerate(bounds):
        mine = [(u, n) for s, u, n in uploads if s == segment]
        if mine:
            mean = sum(n * u for u, n in mine) / sum(n for _, n in mine)
            assert torch.allclose(new[start:stop], previous[start:stop] + mean, atol=1e-5)
        else:
            assert torch.equal(new[start:stop], previous[start:stop])
