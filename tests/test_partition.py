"""Client partitioners: exactness, seeding, measured heterogeneity, the registry."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fl_core.data.partition import (
    PARTITIONERS,
    by_domain,
    category_histograms,
    dirichlet,
    get_partitioner,
    iid,
    kmeans_categories,
    skew,
)
from fl_core.data.records import Example
from fl_core.errors import ConfigError, DataError

# 8 categories of unequal size, 2,000 samples, in a scrambled order.
SIZES = [500, 400, 300, 250, 200, 150, 120, 80]
CATEGORIES = list(np.random.default_rng(0).permutation(
    np.repeat([f"cat{i}" for i in range(len(SIZES))], SIZES)
))


def assert_exact_partition(parts: list[np.ndarray], n: int) -> None:
    joined = np.concatenate(parts)
    assert joined.dtype == np.int64
    assert np.array_equal(np.sort(joined), np.arange(n))
    assert all(np.array_equal(p, np.sort(p)) for p in parts)


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 60), min_size=1, max_size=6),
    n_clients=st.integers(1, 12),
    alpha=st.floats(0.01, 100),
    seed=st.integers(0, 2**32 - 1),
    min_size=st.integers(1, 3),
)
def test_dirichlet_is_an_exact_partition_with_min_size(
    sizes: list[int], n_clients: int, alpha: float, seed: int, min_size: int
) -> None:
    categories = np.repeat([f"c{i}" for i in range(len(sizes))], sizes).tolist()
    if len(categories) < n_clients * min_size:
        with pytest.raises(ConfigError):
            dirichlet(categories, n_clients, alpha, seed, min_size)
        return
    parts = dirichlet(categories, n_clients, alpha, seed, min_size)
    assert len(parts) == n_clients
    assert_exact_partition(parts, len(categories))
    assert min(len(p) for p in parts) >= min_size


def test_dirichlet_is_seeded() -> None:
    same = [dirichlet(CATEGORIES, 20, 0.5, seed=7) for _ in range(2)]
    other = dirichlet(CATEGORIES, 20, 0.5, seed=8)
    assert all(np.array_equal(a, b) for a, b in zip(*same))
    assert not all(np.array_equal(a, b) for a, b in zip(same[0], other))


def test_dirichlet_min_size_is_repaired_for_many_small_clients() -> None:
    parts = dirichlet(CATEGORIES[:300], 100, 0.05, seed=1, min_size=2)
    assert_exact_partition(parts, 300)
    assert min(len(p) for p in parts) >= 2


def test_non_iid_is_measurable() -> None:
    skewed = skew(dirichlet(CATEGORIES, 20, 0.5, seed=0), CATEGORIES)
    near_iid = skew(dirichlet(CATEGORIES, 20, 100.0, seed=0), CATEGORIES)
    uniform = skew(iid(len(CATEGORIES), 20, seed=0), CATEGORIES)
    assert skewed > 0.3
    assert skewed > 3 * max(near_iid, uniform)
    assert near_iid < 0.1 and uniform < 0.1


def test_by_domain_gives_one_category_per_client_and_near_max_skew() -> None:
    parts = by_domain(CATEGORIES, 20, seed=0)
    assert_exact_partition(parts, len(CATEGORIES))
    hist = category_histograms(parts, CATEGORIES)
    assert ((hist > 0).sum(axis=1) == 1).all()
    assert ((hist > 0).sum(axis=0) >= 2).all()  # 20 clients over 8 categories
    shares = hist.sum(axis=0) / len(CATEGORIES)
    own = hist.idxmax(axis=1)
    expected = float(np.mean([1 - shares[c] for c in own]))
    assert skew(parts, CATEGORIES) == pytest.approx(expected)
    assert skew(parts, CATEGORIES) > 0.8


def test_by_domain_gives_extra_clients_to_the_largest_categories() -> None:
    hist = category_histograms(by_domain(CATEGORIES, 10, seed=0), CATEGORIES)
    clients_per_category = (hist > 0).sum(axis=0)
    assert clients_per_category["cat0"] == 2 and clients_per_category["cat1"] == 2
    assert clients_per_category["cat7"] == 1


def test_by_domain_refusals() -> None:
    with pytest.raises(ConfigError, match="at least one client per category: 8 categories, 5 clients"):
        by_domain(CATEGORIES, 5, seed=0)
    with pytest.raises(ConfigError, match="category 'b' has 2 samples for 3 clients"):
        by_domain(["a"] * 10 + ["b"] * 2, 6, seed=0)


def test_iid_sizes_differ_by_at_most_one() -> None:
    parts = iid(103, 10, seed=0)
    assert_exact_partition(parts, 103)
    assert {len(p) for p in parts} == {10, 11}


@pytest.mark.parametrize("alpha", [0, -1.0, float("nan"), float("inf"), True])
def test_dirichlet_refuses_bad_alpha(alpha: float) -> None:
    with pytest.raises(ConfigError, match="alpha"):
        dirichlet(CATEGORIES, 4, alpha, seed=0)


@pytest.mark.parametrize("n_clients", [0, -3, 2.5])
def test_bad_client_counts_are_refused(n_clients: int) -> None:
    with pytest.raises(ConfigError, match="number of clients"):
        dirichlet(CATEGORIES, n_clients, 0.5, seed=0)
    with pytest.raises(ConfigError, match="number of clients"):
        iid(10, n_clients, seed=0)


def test_kmeans_separates_two_topics() -> None:
    cooking = [f"Bake the bread dough in the oven, add butter and flour, recipe {i}." for i in range(12)]
    football = [f"The striker scored a goal, the football team won league match {i}." for i in range(12)]
    labels = kmeans_categories(cooking + football, n_clusters=2, seed=0)
    assert len(set(labels[:12])) == 1 and len(set(labels[12:])) == 1
    assert labels[0] != labels[12]
    assert set(labels) <= {"cluster-0", "cluster-1"}


def test_kmeans_refusals() -> None:
    with pytest.raises(ConfigError, match="n_clusters"):
        kmeans_categories(["a b", "c d"], n_clusters=3, seed=0)
    with pytest.raises(DataError, match="TF-IDF"):
        kmeans_categories(["the and of", "it is the"], n_clusters=1, seed=0)


def test_category_histograms_count_every_sample() -> None:
    parts = dirichlet(CATEGORIES, 6, 0.5, seed=2)
    hist = category_histograms(parts, CATEGORIES)
    assert hist.shape == (6, 8) and hist.index.name == "client"
    assert hist.to_numpy().sum() == len(CATEGORIES)
    assert hist.sum(axis=0).tolist() == SIZES


def examples() -> list[Example]:
    topics = {
        "cooking": "Bake the bread dough in the oven with butter and flour",
        "football": "The striker scored a goal and the team won the league match",
    }
    return [
        Example(f"{text} number {i}.", "", "ok", category)
        for category, text in topics.items()
        for i in range(30)
    ]


@pytest.mark.parametrize("name", sorted(PARTITIONERS))
def test_registry_partitioners_share_one_signature(name: str) -> None:
    records = examples()
    parts = get_partitioner(name)(records, 4, 0.5, 0)
    assert len(parts) == 4
    assert_exact_partition(parts, len(records))


def test_registry_names_and_unknown_name() -> None:
    assert set(PARTITIONERS) == {"dirichlet", "domain", "iid", "kmeans-dirichlet"}
    with pytest.raises(ConfigError, match="choose one of dirichlet, domain, iid, kmeans-dirichlet"):
        get_partitioner("label-skew")
