"""Splitting a dataset among federated clients (EcoLoRA, Appendix A and C).

Every partitioner returns one sorted ``int64`` index array per client; the
arrays partition ``range(n)`` exactly (each sample belongs to one client).

- ``dirichlet``: per category, client shares ~ Dir(alpha); the paper's non-IID
  split with alpha = 0.5 over Dolly's categories.
- ``kmeans_categories`` + ``dirichlet``: Alpaca has no categories, so the paper
  clusters TF-IDF vectors of instruction + input (<= 1000 features, English stop
  words removed) with K-means and uses the clusters as categories.
- ``by_domain``: each client holds exactly one category (Appendix C, "task
  heterogeneity").
- ``iid``: a uniform random split, for comparison.

``PARTITIONERS`` maps the CLI's ``--partition`` names to one signature,
``(examples, n_clients, alpha, seed) -> list[np.ndarray]``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from fl_core.data.records import Example, PreferencePair
from fl_core.errors import ConfigError, DataError

if TYPE_CHECKING:
    import pandas as pd

# The number of synthetic K-means categories for uncategorised data: the paper
# does not state it; 8 matches the number of Dolly-15k categories.
KMEANS_CLUSTERS = 8

Record = Example | PreferencePair
Partitioner = Callable[[Sequence[Record], int, float, int], list[np.ndarray]]


def _check_clients(n_samples: int, n_clients: int, min_size: int = 1) -> None:
    if isinstance(n_clients, bool) or not isinstance(n_clients, int) or n_clients < 1:
        raise ConfigError(f"the number of clients must be a positive integer, got {n_clients!r}")
    if n_samples < n_clients * min_size:
        raise ConfigError(
            f"{n_samples} samples cannot give {n_clients} clients {min_size} sample(s) each"
        )


def _check_alpha(alpha: float) -> None:
    valid = not isinstance(alpha, bool) and isinstance(alpha, numbers.Real)
    if not (valid and math.isfinite(alpha) and alpha > 0):
        raise ConfigError(f"the Dirichlet alpha must be a positive, finite number, got {alpha!r}")


def _codes(categories: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct category names, each sample's index into them)."""
    names, codes = np.unique(np.asarray(categories, dtype=object).astype(str), return_inverse=True)
    return names, codes.reshape(-1)


def _parts_from_owners(owner: np.ndarray, n_clients: int) -> list[np.ndarray]:
    """Client -> sorted sample indices, from each sample's owning client."""
    order = np.argsort(owner, kind="stable").astype(np.int64)
    sizes = np.bincount(owner, minlength=n_clients)
    return np.split(order, np.cumsum(sizes)[:-1])


def _rebalance(owner: np.ndarray, n_clients: int, min_size: int, rng: np.random.Generator) -> None:
    """Move random samples from the largest client to each client below ``min_size`` (in place)."""
    sizes = np.bincount(owner, minlength=n_clients)
    for client in np.flatnonzero(sizes < min_size):
        while sizes[client] < min_size:
            donor = int(np.argmax(sizes))
            take = min(min_size - sizes[client], sizes[donor] - min_size)
            moved = rng.choice(np.flatnonzero(owner == donor), size=take, replace=False)
            owner[moved] = client
            sizes[donor] -= take
            sizes[client] += take


def dirichlet(
    categories: Sequence[str], n_clients: int, alpha: float, seed: int, min_size: int = 1
) -> list[np.ndarray]:
    """Label-skewed split: each category's samples divided by client shares ~ Dir(alpha).

    Each category's indices are shuffled and cut at the cumulative shares
    (rounded), as in Hsu et al. (2019) and FedIT. A client left with fewer than
    ``min_size`` samples then takes random samples from the currently largest
    client until it has ``min_size``: one draw plus a small, deterministic
    repair, instead of redrawing until the constraint happens to hold (which
    need not end for many clients and a small alpha).
    """
    _check_alpha(alpha)
    _check_clients(len(categories), n_clients, min_size)
    rng = np.random.default_rng(seed)
    names, codes = _codes(categories)
    shares = rng.dirichlet(np.full(n_clients, float(alpha)), size=len(names))
    owner = np.empty(len(codes), dtype=np.int64)
    for c in range(len(names)):
        members = rng.permutation(np.flatnonzero(codes == c))
        cuts = np.rint(np.cumsum(shares[c])[:-1] * len(members)).astype(np.int64)
        counts = np.diff(cuts, prepend=0, append=len(members))
        owner[members] = np.repeat(np.arange(n_clients), counts)
    _rebalance(owner, n_clients, min_size, rng)
    return _parts_from_owners(owner, n_clients)


def by_domain(categories: Sequence[str], n_clients: int, seed: int) -> list[np.ndarray]:
    """Task-domain split: every client holds samples of exactly one category.

    Categories, largest first, are dealt to clients round-robin (client k gets
    category k mod C), so every category has a client and the extra clients go
    to the largest categories; a category's shuffled samples are divided
    evenly among its clients. Refused when there are fewer clients than
    categories (some data would have no owner) or a category has fewer samples
    than clients.
    """
    _check_clients(len(categories), n_clients)
    names, codes = _codes(categories)
    sizes = np.bincount(codes, minlength=len(names))
    if n_clients < len(names):
        raise ConfigError(
            f"by-domain partitioning needs at least one client per category: "
            f"{len(names)} categories, {n_clients} clients"
        )
    by_size = np.lexsort((names, -sizes))
    rng = np.random.default_rng(seed)
    owner = np.empty(len(codes), dtype=np.int64)
    for rank, c in enumerate(by_size):
        clients = np.arange(rank, n_clients, len(names))
        if sizes[c] < len(clients):
            raise ConfigError(
                f"category {str(names[c])!r} has {sizes[c]} samples for {len(clients)} clients"
            )
        members = rng.permutation(np.flatnonzero(codes == c))
        for client, chunk in zip(clients, np.array_split(members, len(clients))):
            owner[chunk] = client
    return _parts_from_owners(owner, n_clients)


def iid(n_samples: int, n_clients: int, seed: int) -> list[np.ndarray]:
    """Uniform random split; client sizes differ by at most one."""
    _check_clients(n_samples, n_clients)
    permutation = np.random.default_rng(seed).permutation(n_samples)
    return [np.sort(part).astype(np.int64) for part in np.array_split(permutation, n_clients)]


def kmeans_categories(texts: Sequence[str], n_clusters: int, seed: int) -> list[str]:
    """Synthetic categories ``"cluster-<k>"``: K-means on TF-IDF vectors (EcoLoRA, Appendix A).

    TF-IDF keeps at most 1,000 features and drops English stop words;
    ``KMeans(n_clusters, random_state=seed, n_init="auto")``.
    """
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import TfidfVectorizer

    valid = not isinstance(n_clusters, bool) and isinstance(n_clusters, int)
    if not (valid and 1 <= n_clusters <= len(texts)):
        raise ConfigError(
            f"n_clusters must be between 1 and {len(texts)} (the number of texts), got {n_clusters!r}"
        )
    try:
        vectors = TfidfVectorizer(max_features=1000, stop_words="english").fit_transform(texts)
    except ValueError as exc:  # every text empty or stop words only
        raise DataError(f"cannot build TF-IDF vectors for clustering: {exc}") from exc
    labels = KMeans(n_clusters=n_clusters, random_state=seed, n_init="auto").fit_predict(vectors)
    return [f"cluster-{k}" for k in labels]


def category_histograms(parts: Sequence[np.ndarray], categories: Sequence[str]) -> pd.DataFrame:
    """Sample counts, one row per client (index ``client``), one column per category."""
    import pandas as pd  # only here: checking a --partition name must not import pandas

    names, codes = _codes(categories)
    counts = np.stack([np.bincount(codes[part], minlength=len(names)) for part in parts])
    return pd.DataFrame(counts, index=pd.RangeIndex(len(parts), name="client"), columns=names.tolist())


def skew(parts: Sequence[np.ndarray], categories: Sequence[str]) -> float:
    """Mean total-variation distance between each client's category mix and the global one.

    0 when every client has the global mix (IID in the limit); ``1 - p_c`` for
    a client holding only category ``c`` (near 1 with many categories).
    Clients with no sample are left out.
    """
    counts = category_histograms(parts, categories).to_numpy(dtype=float)
    counts = counts[counts.sum(axis=1) > 0]
    if counts.size == 0:
        return 0.0
    local = counts / counts.sum(axis=1, keepdims=True)
    overall = counts.sum(axis=0) / counts.sum()
    return float(0.5 * np.abs(local - overall).sum(axis=1).mean())


def _clustering_text(record: Record) -> str:
    """What K-means clusters: instruction + input (Example), the prompt (PreferencePair)."""
    if isinstance(record, PreferencePair):
        return record.prompt
    return f"{record.instruction} {record.context}".strip()


def _dirichlet_records(
    records: Sequence[Record], n_clients: int, alpha: float, seed: int
) -> list[np.ndarray]:
    return dirichlet([r.category for r in records], n_clients, alpha, seed)


def _domain_records(
    records: Sequence[Record], n_clients: int, alpha: float, seed: int
) -> list[np.ndarray]:
    return by_domain([r.category for r in records], n_clients, seed)


def _iid_records(
    records: Sequence[Record], n_clients: int, alpha: float, seed: int
) -> list[np.ndarray]:
    return iid(len(records), n_clients, seed)


def _kmeans_dirichlet_records(
    records: Sequence[Record], n_clients: int, alpha: float, seed: int
) -> list[np.ndarray]:
    clusters = kmeans_categories([_clustering_text(r) for r in records], KMEANS_CLUSTERS, seed)
    return dirichlet(clusters, n_clients, alpha, seed)


PARTITIONERS: dict[str, Partitioner] = {
    "dirichlet": _dirichlet_records,
    "domain": _domain_records,
    "iid": _iid_records,
    "kmeans-dirichlet": _kmeans_dirichlet_records,
}


def get_partitioner(name: str) -> Partitioner:
    """The partitioner registered as ``name``; ConfigError listing the valid names otherwise."""
    try:
        return PARTITIONERS[name]
    except KeyError:
        raise ConfigError(
            f"unknown partition {name!r}; choose one of {', '.join(sorted(PARTITIONERS))}"
        ) from None
