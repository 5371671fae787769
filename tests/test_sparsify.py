"""Adaptive top-k with error feedback (EcoLoRA §3.4, Eq. 4–6)."""
import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from fl_core.codec.sparsify import adaptive_k, keep_count, sparsify_with_residual, topk_mask
from fl_core.errors import CodecError, ConfigError

torch.set_num_threads(1)

_LOSS = st.floats(0.0, 20.0)
_GAMMA = st.floats(0.0, 10.0)


# -- Eq. 4 ---------------------------------------------------------------------------------


@given(_GAMMA, _LOSS)
def test_first_round_sends_k_max(gamma, loss0):
    assert adaptive_k(0.95, 0.5, gamma, loss0, None) == 0.95


@given(_GAMMA, _LOSS)
def test_no_loss_change_gives_k_max(gamma, loss0):
    assert adaptive_k(0.95, 0.5, gamma, loss0, loss0) == pytest.approx(0.95)


@given(_GAMMA, _LOSS, _LOSS, _LOSS)
def test_k_shrinks_as_loss_falls(gamma, loss0, loss_a, loss_b):
    higher, lower = max(loss_a, loss_b), min(loss_a, loss_b)
    k_higher = adaptive_k(0.95, 0.5, gamma, loss0, higher)
    k_lower = adaptive_k(0.95, 0.5, gamma, loss0, lower)
    assert 0.5 <= k_lower <= k_higher <= 0.95


def test_matches_equation_4():
    expected = 0.6 + (0.95 - 0.6) * math.exp(-2.0 * (2.5 - 1.5))
    assert adaptive_k(0.95, 0.6, 2.0, 2.5, 1.5) == pytest.approx(expected)


def test_rising_loss_and_huge_gamma_stay_in_range():
    assert adaptive_k(0.95, 0.5, 1e6, 1.0, 50.0) == 0.95
    assert adaptive_k(0.95, 0.5, 1e6, 50.0, 1.0) == 0.5


@pytest.mark.parametrize(
    "args, word",
    [
        ((0.4, 0.5, 1.0, 1.0, 0.5), "k_min"),
        ((1.5, 0.5, 1.0, 1.0, 0.5), "k_min"),
        ((0.9, 0.0, 1.0, 1.0, 0.5), "k_min"),
        ((0.9, 0.5, -1.0, 1.0, 0.5), "gamma"),
        ((0.9, 0.5, 1.0, 1.0, math.nan), "finite"),
    ],
)
def test_bad_schedule_is_refused(args, word):
    with pytest.raises(ConfigError, match=word):
        adaptive_k(*args)


# -- top-k ---------------------------------------------------------------------------------


@given(st.integers(1, 2000), st.data())
@settings(max_examples=200, deadline=None)
def test_keep_count_is_exact_for_rational_fractions(n, data):
    m = data.draw(st.integers(1, n))
    assert keep_count(m / n, n) == m


@given(st.floats(1e-6, 1.0), st.integers(1, 10**7))
def test_keep_count_is_ceil_of_k_n(k, n):
    exact = Fraction(k) * n
    assume(abs(exact - round(exact)) > 1e-6 * max(1, exact))
    assert keep_count(k, n) == math.ceil(exact)


def test_decimal_k_behaves_as_written():
    assert keep_count(0.7, 10) == 7
    assert keep_count(0.1, 10) == 1
    assert keep_count(1e-9, 10) == 1


@given(st.integers(1, 3000), st.floats(1e-3, 1.0), st.integers(0, 2**31))
@settings(max_examples=200, deadline=None)
def test_topk_keeps_the_largest_magnitudes(n, k, seed):
    x = torch.randn(n, generator=torch.Generator().manual_seed(seed))
    mask = topk_mask(x, k)
    assert int(mask.sum()) == keep_count(k, n)
    if 0 < int(mask.sum()) < n:
        assert x[mask].abs().min() >= x[~mask].abs().max()


def test_k_one_keeps_everything():
    assert bool(topk_mask(torch.randn(37), 1.0).all())


def test_ties_go_to_the_lower_index():
    x = torch.tensor([1.0, -2.0, 2.0, 0.5, -2.0, 2.0])
    assert topk_mask(x, 0.5).tolist() == [False, True, True, False, True, False]
    assert topk_mask(torch.ones(10), 0.3).tolist() == [True] * 3 + [False] * 7


def test_mask_keeps_the_input_shape():
    assert topk_mask(torch.randn(4, 5), 0.5).shape == (4, 5)


@pytest.mark.parametrize("k", [0.0, -0.1, 1.01, math.nan])
def test_k_outside_unit_interval_is_refused(k):
    with pytest.raises(ConfigError, match=r"k \(="):
        topk_mask(torch.randn(10), k)


def test_non_finite_input_is_refused():
    with pytest.raises(CodecError, match="NaN"):
        topk_mask(torch.tensor([1.0, math.nan, 0.0]), 0.5)


# -- Eq. 5-6 -------------------------------------------------------------------------------


def _vectors(n: int, seed: int, scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, generator=g) * scale, torch.randn(n, generator=g) * scale * 0.1


@given(st.integers(2, 2000), st.floats(1e-3, 1.0), st.floats(1e-3, 1.0), st.integers(0, 2**31),
       st.sampled_from([1e-7, 1e-3, 1.0, 1e3]))
@settings(max_examples=200, deadline=None)
def test_residual_conserves_mass_exactly(n, k_a, k_b, seed, scale):
    update, residual = _vectors(n, seed, scale)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    cut = n // 2
    out = sparsify_with_residual(update, residual, [(perm[:cut], k_a), (perm[cut:], k_b)])
    assert torch.equal(out.sent + out.residual, update + residual)
    assert torch.equal(out.sent[out.indices], out.values.float())
    assert int(torch.count_nonzero(out.sent[~_mask(out.indices, n)])) == 0
    assert torch.all(out.indices[1:] > out.indices[:-1])
    assert out.indices.numel() == keep_count(k_a, cut) + keep_count(k_b, n - cut)


def _mask(indices: torch.Tensor, n: int) -> torch.Tensor:
    mask = torch.zeros(n, dtype=torch.bool)
    mask[indices] = True
    return mask


def test_groups_get_their_own_k():
    update, residual = _vectors(1000, 0)
    out = sparsify_with_residual(update, residual, [(slice(0, 400), 0.5), (torch.arange(400, 1000), 0.1)])
    assert out.k_used == (0.5, 0.1)
    assert int((out.indices < 400).sum()) == 200
    assert int((out.indices >= 400).sum()) == 60


def test_entries_outside_every_group_stay_in_the_residual():
    update, residual = _vectors(100, 1)
    out = sparsify_with_residual(update, residual, [(slice(0, 50), 1.0)])
    assert torch.equal(out.residual[50:], (update + residual)[50:])
    assert torch.equal(out.residual[:50], (update + residual)[:50] - out.values.float())


def test_residual_is_eventually_sent():
    """Error feedback (Eq. 6): with no new updates, repeated rounds drain the residual into what is sent."""
    update, residual = _vectors(1000, 2)
    target = update + residual
    total = torch.zeros(1000)
    for _ in range(40):
        out = sparsify_with_residual(update, residual, [(slice(None), 0.1)])
        total, residual, update = total + out.sent, out.residual, torch.zeros(1000)
    assert residual.abs().max() < 1e-6
    assert torch.allclose(total, target, atol=1e-6)


def test_k_one_sends_the_fp16_rounding_and_keeps_the_error():
    update = torch.tensor([1.0 + 2**-20, 3.0, -1e-9], dtype=torch.float32)
    out = sparsify_with_residual(update, torch.zeros(3), [(slice(None), 1.0)])
    assert out.values.tolist() == [1.0, 3.0, -0.0]
    assert out.residual.tolist() == [2**-20, 0.0, pytest.approx(-1e-9)]


@pytest.mark.parametrize(
    "groups, error",
    [
        ([(slice(0, 6), 0.5), (slice(5, 10), 0.5)], "overlap"),
        ([(torch.tensor([1, 1, 2]), 0.5)], "repeat"),
        ([(torch.tensor([10]), 0.5)], r"\[0, 10\)"),
        ([(torch.tensor([0.5]), 0.5)], "integer"),
        ([(slice(None, None, -1), 0.5)], "forward"),
        ([(slice(None), 0.0)], r"k \(=0.0\)"),
    ],
)
def test_bad_groups_are_refused(groups, error):
    update, residual = _vectors(10, 3)
    with pytest.raises(ConfigError, match=error):
        sparsify_with_residual(update, residual, groups)


def test_mismatched_inputs_are_refused():
    with pytest.raises(ConfigError, match="float32"):
        sparsify_with_residual(torch.zeros(3, dtype=torch.float64), torch.zeros(3), [])
    with pytest.raises(ConfigError, match="flat"):
        sparsify_with_residual(torch.zeros(3), torch.zeros(4), [])


def test_value_beyond_fp16_is_refused():
    with pytest.raises(CodecError, match="float16"):
        sparsify_with_residual(torch.tensor([1e6, 0.0]), torch.zeros(2), [(slice(None), 0.5)])


def test_values_match_numpy_reference():
    """Cross-check against a sort-based reference (stable, so ties go to the lower index)."""
    update, residual = _vectors(5000, 4)
    out = sparsify_with_residual(update, residual, [(slice(None), 0.25)])
    combined = (update + residual).numpy()
    order = np.argsort(-np.abs(combined), kind="stable")[: keep_count(0.25, 5000)]
    np.testing.assert_array_equal(out.indices.numpy(), np.sort(order))
    np.testing.assert_array_equal(out.values.numpy(), combined[np.sort(order)].astype(np.float16))
