"""RFC 9162 proofs: transparency-dev's test vectors, every proof of sizes 1–8, and what a verifier must refuse."""

import hashlib

import pytest

from registry import merkle

# transparency-dev/merkle's test tree (proof/verify_test.go): inputs, the root of every size 1–8,
# and some of their published proofs (leaf numbers there are 1-based)
INPUTS = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = {  # (leaf index, tree size): path
    (0, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (5, 8): ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    (2, 3): ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    (1, 5): ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
}  # fmt: skip
CONSISTENCY = {  # (size 1, size 2): path
    (1, 8): INCLUSION[(0, 8)],
    (6, 8): ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    (2, 5): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
    (6, 7): ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    (1, 1): [],
}  # fmt: skip
LEAVES = [merkle.leaf_hash(bytes.fromhex(x)) for x in INPUTS]
SOME = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def _h(hexes):
    return [bytes.fromhex(x) for x in hexes]


def test_merkle_roots_match_the_vectors_for_every_size():
    assert merkle.root([]) == hashlib.sha256(b"").digest() == merkle.EMPTY_ROOT
    for n in range(1, 9):
        assert merkle.root(LEAVES[:n]).hex() == ROOTS[n - 1]
    assert merkle.root(LEAVES).hex() == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"


def test_merkle_proofs_equal_the_published_ones():
    for (m, n), path in INCLUSION.items():
        assert merkle.inclusion_proof(m, LEAVES[:n]) == _h(path)
        assert merkle.verify_inclusion(m, n, LEAVES[m], _h(path), bytes.fromhex(ROOTS[n - 1]))
    for (m, n), path in CONSISTENCY.items():
        assert merkle.consistency_proof(m, LEAVES[:n]) == _h(path)
        roots = bytes.fromhex(ROOTS[m - 1]), bytes.fromhex(ROOTS[n - 1])
        assert merkle.verify_consistency(m, n, *roots, _h(path))


def _inclusion_probes(m, n, path, root, leaf):
    yield m - 1, n, leaf, path, root
    yield m + 1, n, leaf, path, root
    yield m ^ 2, n, leaf, path, root
    yield m, n * 2, leaf, path, root
    yield m, n // 2, leaf, path, root
    yield m, n, b"WrongLeaf", path, root
    yield m, n, leaf, path, merkle.EMPTY_ROOT
    yield m, n, leaf, path, SOME
    yield m, n, leaf, [*path, b""], root
    yield m, n, leaf, [*path, root], root
    yield m, n, leaf, [b"", *path], root
    yield m, n, leaf, [root, *path], root
    for i in range(len(path)):
        flipped = list(path)
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        yield m, n, leaf, flipped, root
    if path:
        yield m, n, leaf, path[:-1], root
    if len(path) > 1:
        yield m, n, leaf, [path[0], SOME, *path[1:]], root


def _consistency_probes(m, n, first, second, path):
    yield m - 1, n, first, second, path
    yield m + 1, n, first, second, path
    yield m ^ 2, n, first, second, path
    yield m, n * 2, first, second, path
    yield m, n // 2, first, second, path
    yield m, n, b"WrongRoot", second, path
    yield m, n, first, b"WrongRoot", path
    yield m, n, second, first, path
    yield m, n, first, second, []
    yield m, n, first, second, [*path, b""]
    yield m, n, first, second, [*path, first]
    yield m, n, first, second, [*path, second]
    yield m, n, first, second, [b"", *path]
    yield m, n, first, second, [first, *path]
    yield m, n, first, second, [second, *path]
    yield m, n, first, second, [path[0], *path]
    yield m, n, first, second, path[:-1]
    for i in range(len(path)):
        flipped = list(path)
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        yield m, n, first, second, flipped


@pytest.mark.parametrize("n", range(1, 9))
def test_merkle_every_inclusion_proof_of_sizes_1_to_8_verifies_and_no_corruption_does(n):
    root = bytes.fromhex(ROOTS[n - 1])
    for m in range(n):
        path = merkle.inclusion_proof(m, LEAVES[:n])
        assert merkle.verify_inclusion(m, n, LEAVES[m], path, root)
        for probe in _inclusion_probes(m, n, path, root, LEAVES[m]):
            assert not merkle.verify_inclusion(*probe), (m, n, probe[:2])


@pytest.mark.parametrize("n", range(1, 9))
def test_merkle_every_consistency_proof_of_sizes_1_to_8_verifies_and_no_corruption_does(n):
    second = bytes.fromhex(ROOTS[n - 1])
    for m in range(0, n + 1):
        first = bytes.fromhex(ROOTS[m - 1]) if m else merkle.EMPTY_ROOT
        path = merkle.consistency_proof(m, LEAVES[:n])
        assert merkle.verify_consistency(m, n, first, second, path), (m, n)
        if path:  # as transparency-dev: the trivial proofs (m = 0, m = n) have nothing to corrupt
            for probe in _consistency_probes(m, n, first, second, path):
                assert not merkle.verify_consistency(*probe), (m, n, probe[:2])


def test_merkle_trivial_consistency_cases_follow_the_rfc():
    root1, root2 = b"don't care 1", b"don't care 2"
    assert merkle.verify_consistency(0, 0, root1, root1, [])
    assert merkle.verify_consistency(0, 1, root1, root2, [])  # every tree extends the empty one
    assert merkle.verify_consistency(1, 1, root2, root2, [])
    assert not merkle.verify_consistency(1, 1, root1, root2, [])  # same size, other root: a fork
    assert not merkle.verify_consistency(1, 0, root1, root2, [])  # time travel
    assert not merkle.verify_consistency(2, 1, root1, root2, [])
    assert not merkle.verify_consistency(1, 2, root1, root2, [])  # a proof is needed
    assert not merkle.verify_consistency(1, 1, merkle.EMPTY_ROOT, merkle.EMPTY_ROOT, [merkle.EMPTY_ROOT])
    assert not merkle.verify_inclusion(0, 0, SOME, [], merkle.EMPTY_ROOT)
    assert merkle.verify_inclusion(0, 1, LEAVES[0], [], LEAVES[0])  # one leaf: root = leaf, empty path


def test_merkle_every_range_a_proof_needs_is_made_of_aligned_subtrees():
    for n in range(1, 130):
        ranges = [r for m in range(n) for r in merkle.inclusion_ranges(m, n)]
        ranges += [r for m in range(n + 1) for r in merkle.consistency_ranges(m, n)]
        for lo, hi in ranges:
            nodes = merkle.aligned_nodes(lo, hi)
            assert sum(1 << level for level, _ in nodes) == hi - lo
            assert len(nodes) <= n.bit_length()
    with pytest.raises(ValueError):
        merkle.aligned_nodes(1, 3)
