import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.weights import RI_CN, RI_SAATY, InvalidMatrix, ahp, entropy_weights, group_ahp

# Saaty, T. L. (2008) "Decision making with the analytic hierarchy process", Int. J. Services
# Sciences 1(1), 83–98: relative consumption of drinks in the USA. Published derived priorities
# .177 .019 .042 .116 .190 .129 .327 (coffee, wine, tea, beer, sodas, milk, water); CR 0.022.
DRINKS = ["coffee", "wine", "tea", "beer", "sodas", "milk", "water"]
DRINKS_MATRIX = [
    [1, 9, 5, 2, 1, 1, 1 / 2],
    [1 / 9, 1, 1 / 3, 1 / 9, 1 / 9, 1 / 9, 1 / 9],
    [1 / 5, 3, 1, 1 / 3, 1 / 4, 1 / 3, 1 / 9],
    [1 / 2, 9, 3, 1, 1 / 2, 1, 1 / 3],
    [1, 9, 4, 2, 1, 2, 1 / 2],
    [1, 9, 3, 1, 1 / 2, 1, 1 / 3],
    [2, 9, 9, 3, 2, 3, 1],
]
DRINKS_PUBLISHED = [0.177, 0.019, 0.042, 0.116, 0.190, 0.129, 0.327]


def test_saaty_drinks_example_to_three_decimals():
    result = ahp(pd.DataFrame(DRINKS_MATRIX, index=DRINKS, columns=DRINKS))
    assert [round(w, 3) for w in result.weights] == DRINKS_PUBLISHED
    assert list(result.weights.index) == DRINKS
    assert round(result.cr, 3) == 0.022
    assert result.consistent
    assert result.ri == 1.32 and result.ri_table == "saaty"


def test_geometric_mean_method_is_close_to_the_eigenvector():
    eigen = ahp(DRINKS_MATRIX)
    geometric = ahp(DRINKS_MATRIX, method="geometric")
    assert geometric.method == "geometric"
    assert np.allclose(eigen.weights, geometric.weights, atol=0.005)


@pytest.mark.parametrize(
    ("n", "saaty", "cn"), [(3, 0.58, 0.52), (4, 0.90, 0.89), (9, 1.45, 1.46), (15, 1.59, 1.59)]
)
def test_random_index_is_indexed_by_n_not_n_minus_one(n, saaty, cn):
    identity = np.ones((n, n))
    assert ahp(identity).ri == saaty
    assert ahp(identity, ri="cn").ri == cn
    assert RI_SAATY[n - 1] == saaty and RI_CN[n - 1] == cn


def test_inconsistent_matrix_is_flagged_with_the_worst_pair():
    # a > b (3), b > c (3) but c > a (3): circular
    result = ahp([[1, 3, 1 / 3], [1 / 3, 1, 3], [3, 1 / 3, 1]])
    assert result.cr > 0.10
    assert not result.consistent
    assert result.most_inconsistent is not None


def test_two_items_are_always_consistent():
    result = ahp([[1, 7], [1 / 7, 1]])
    assert result.consistent and result.cr == 0.0
    assert result.weights.tolist() == pytest.approx([7 / 8, 1 / 8])


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        ([[1, 2], [2, 1]], "not reciprocal"),
        ([[1, -2], [-0.5, 1]], "positive"),
        ([[1, 0], [0, 1]], "positive"),
        ([[1, 2, 3], [0.5, 1, 2]], "square"),
        ([[2, 1], [1, 2]], "diagonal"),
        ([[1, float("nan")], [1, 1]], "positive finite"),
    ],
)
def test_bad_matrices_are_rejected_with_a_clear_message(matrix, message):
    with pytest.raises(InvalidMatrix, match=message):
        ahp(matrix)


def test_unknown_options_and_oversized_matrices_are_rejected():
    with pytest.raises(ValueError, match="random-index"):
        ahp([[1]], ri="mine")
    with pytest.raises(ValueError, match="method"):
        ahp([[1]], method="mean")
    with pytest.raises(ValueError, match="n ≤ 15"):
        ahp(np.ones((16, 16)))


def test_group_ahp_uses_the_weighted_geometric_mean():
    a = [[1, 2], [1 / 2, 1]]
    b = [[1, 8], [1 / 8, 1]]
    equal = group_ahp([a, b])
    assert equal.weights[0] / equal.weights[1] == pytest.approx(4)  # sqrt(2 * 8)
    skewed = group_ahp([a, b], expert_weights=[3, 1])
    assert skewed.weights[0] / skewed.weights[1] == pytest.approx(2**0.75 * 8**0.25)
    with pytest.raises(InvalidMatrix, match="same size"):
        group_ahp([a, np.ones((3, 3))])


def test_entropy_handles_zero_cells_and_constant_columns():
    df = pd.DataFrame(
        {"coverage": [0.0, 0.5, 1.0, 0.8], "cost": [10, 10, 10, 10], "complaints": [0, 3, 0, 1]}
    )
    w = entropy_weights(df, directions={"complaints": -1})
    assert w.sum() == pytest.approx(1)
    assert w["cost"] == 0.0
    assert (w >= 0).all()


def test_entropy_direction_flips_the_normalisation_not_the_weight_of_a_mirror_column():
    df = pd.DataFrame({"a": [1, 2, 3, 10], "b": [10, 9, 8, 1]})  # b = 11 - a
    w = entropy_weights(df, directions={"a": 1, "b": -1})
    assert w["a"] == pytest.approx(w["b"])


def test_entropy_needs_two_objects_and_numbers():
    with pytest.raises(ValueError, match="at least 2"):
        entropy_weights(pd.DataFrame({"a": [1]}))
    with pytest.raises(ValueError, match="unknown columns"):
        entropy_weights(pd.DataFrame({"a": [1, 2]}), directions={"z": 1})


consistent_vectors = st.lists(st.floats(min_value=0.1, max_value=9), min_size=2, max_size=9)


@settings(max_examples=60, deadline=None)
@given(consistent_vectors)
def test_weights_of_a_consistent_matrix_recover_the_vector(values):
    v = np.array(values)
    matrix = np.outer(v, 1 / v)  # a_ij = v_i / v_j: perfectly consistent
    result = ahp(matrix)
    assert result.weights.sum() == pytest.approx(1)
    assert result.weights.to_numpy() == pytest.approx(v / v.sum(), rel=1e-6)
    assert result.cr == pytest.approx(0, abs=1e-9)
    # invariant to scaling the underlying vector
    scaled = ahp(np.outer(v * 7.5, 1 / (v * 7.5)))
    assert scaled.weights.to_numpy() == pytest.approx(result.weights.to_numpy(), rel=1e-6)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=2, max_value=6).flatmap(
        lambda n: st.lists(
            st.sampled_from([1 / 9, 1 / 5, 1 / 3, 1, 3, 5, 9]),
            min_size=n * (n - 1) // 2,
            max_size=n * (n - 1) // 2,
        ).map(lambda upper: (n, upper))
    )
)
def test_any_reciprocal_matrix_gives_weights_summing_to_one(case):
    n, upper = case
    matrix = np.ones((n, n))
    k = 0
    for i in range(n):
        for j in range(i + 1, n):
            matrix[i, j], matrix[j, i] = upper[k], 1 / upper[k]
            k += 1
    for method in ("eigen", "geometric"):
        result = ahp(matrix, method=method)
        assert result.weights.sum() == pytest.approx(1)
        assert (result.weights > 0).all()
        assert result.cr >= 0
