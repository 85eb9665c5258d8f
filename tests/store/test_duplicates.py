"""Near-duplicate pictures: the multi-index finds every close pair, and a store indexed by the demo
model groups resized, recompressed, re-encoded, EXIF-rotated, cropped and byte-identical copies."""

from __future__ import annotations

import io
import itertools
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siglip_retriever.errors import ConfigurationError
from siglip_retriever.store import MultimodalStore
from siglip_retriever.store.duplicates import DuplicateGroup, DuplicateGroups
from siglip_retriever.store.hash_index import MAX_BITS, block_radii, group_hashes, join_pairs, near_pairs
from tests.helpers import photo_like, save_photo

# -- the multi-index --------------------------------------------------------------------------------


def _planted(count: int, copies: int, bits: int, seed: int) -> np.ndarray:
    """``count`` random 64-bit hashes and ``copies`` copies of the first ones with up to ``bits``
    bits flipped."""
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2**64 - 1, count, dtype=np.uint64, endpoint=True)
    planted = hashes[:copies].copy()
    for n in range(copies):
        for bit in rng.choice(64, int(rng.integers(0, bits + 1)), replace=False):
            planted[n] ^= np.uint64(1) << np.uint64(bit)
    return np.concatenate([hashes, planted])


def _all_pairs(hashes: np.ndarray, max_bits: int) -> list[list[int]]:
    xor = np.ascontiguousarray(hashes[:, None] ^ hashes[None, :])  # an independent count: unpacked bits
    distance = np.unpackbits(xor.view(np.uint8).reshape(*xor.shape, 8), axis=-1).sum(axis=-1)
    first, second = np.nonzero(np.triu(distance <= max_bits, 1))
    return np.stack([first, second], axis=1).tolist()


@pytest.mark.parametrize("max_bits", [0, 1, 2, 3, 4, 7, 10, 12, 13, 16, 20])
def test_near_pairs_are_exactly_the_pairs_within_the_threshold(max_bits: int) -> None:
    hashes = _planted(1500, 400, max_bits + 2, seed=max_bits)
    # hashes that differ only inside one block, and in every block a little
    hashes[:4] = [0, (1 << max_bits) - 1 if max_bits else 0, 0xFFFF << 48, 0x0001000100010001]
    assert near_pairs(hashes, max_bits).tolist() == _all_pairs(hashes, max_bits)


def test_block_radii_cover_every_split_of_the_bits() -> None:
    for max_bits in range(MAX_BITS + 1):
        radii = block_radii(max_bits)
        for split in itertools.product(range(max_bits + 1), repeat=4):
            if sum(split) <= max_bits:  # some block is within its radius: the pair is found
                assert any(bits <= radius for bits, radius in zip(split, radii, strict=True)), split
            if sum(split) > max_bits + 3:
                break


def test_groups_join_chains_and_leave_singles_out() -> None:
    assert join_pairs(5, [(0, 1), (1, 2)]) == [[0, 1, 2]]
    assert join_pairs(3, np.empty((0, 2), dtype=np.int64)) == []
    chain = ["0000000000000000", "00000000000000ff", "000000000000ffff", "ffffffffffffffff"]
    assert group_hashes(chain, max_bits=8) == [[0, 1, 2]]
    assert group_hashes([], max_bits=8) == []


@pytest.mark.parametrize("bad", [-1, MAX_BITS + 1, 2.5, True])
def test_max_bits_out_of_range_is_a_clear_error(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="max_bits must be a whole number from 0 to 20"):
        near_pairs(np.zeros(3, dtype=np.uint64), bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="not a 64-bit hash"):
        group_hashes(["xyz"], max_bits=3)


# -- a corpus of photo-like pictures and their copies ---------------------------------------------


COPIES = ("resized", "recompressed", "png", "rotated", "cropped", "identical")


def write_copies(original: Path, picture: Image.Image, copies: Path, backup: Path) -> list[Path]:
    """The copies of one photo: resized to 60 %, JPEG quality 60, PNG, stored rotated with an EXIF
    orientation tag, 3 % trimmed from each dimension, and the same bytes under another name."""
    width, height = picture.size
    stem = original.stem
    written = [copies / f"{stem}-small.jpg", copies / f"{stem}-q60.jpg", copies / f"{stem}.png"]
    picture.resize((width * 3 // 5, height * 3 // 5), Image.Resampling.LANCZOS).save(written[0], quality=90)
    picture.save(written[1], quality=60)
    picture.save(written[2])
    # stored turned a quarter left, shown upright: orientation 6 turns it a quarter right
    written.append(
        save_photo(
            copies / f"{stem}-rotated.jpg", picture.transpose(Image.Transpose.ROTATE_90), orientation=6
        )
    )
    dx, dy = round(width * 0.015), round(height * 0.015)
    written.append(copies / f"{stem}-crop.jpg")
    picture.crop((dx, dy, width - dx, height - dy)).save(written[-1], quality=95)
    written.append(backup / f"IMG_{stem}.jpg")
    shutil.copyfile(original, written[-1])
    return written


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[Path, int]]:
    """60 distinct photos, 30 of them with every kind of copy: ``file -> photo number``."""
    root = tmp_path_factory.mktemp("duplicates")
    photos, copies, backup = root / "photos", root / "photos" / "copies", root / "backup"
    for folder in (copies, backup):
        folder.mkdir(parents=True)
    family: dict[Path, int] = {}
    for number in range(60):
        picture = photo_like(number)
        original = photos / f"p{number:02d}.jpg"
        picture.save(original, quality=95)
        os.utime(original, (1_500_000_000 + number, 1_500_000_000 + number))  # originals oldest
        family[original] = number
        if number < 30:
            for path in write_copies(original, picture, copies, backup):
                family[path] = number
    return root, family


def _pairs(groups: list[list[Path]]) -> set[frozenset[Path]]:
    return {frozenset(pair) for group in groups for pair in itertools.combinations(group, 2)}


@pytest.mark.slow  # indexing 240 pictures with the demo model: about 10 s
def test_copies_of_a_photo_are_grouped_and_distinct_photos_are_not(
    corpus: tuple[Path, dict[Path, int]], tmp_path: Path
) -> None:
    root, family = corpus
    with MultimodalStore(tmp_path / "db", model="demo", device="cpu") as store:
        report = store.index_folder(root)
        assert not report.failed, report.failed
        groups = store.find_duplicates()
    assert isinstance(groups, DuplicateGroups)
    assert groups.unhashed == 0 and groups.message is None
    assert groups.checked == 60 + 30 * 5  # an identical copy is one more path of its entry
    found = _pairs([[Path(f.path) for f in group.files if f.path] for group in groups])
    by_photo: dict[int, list[Path]] = {}
    for path, number in family.items():
        by_photo.setdefault(number, []).append(path)
    truth = _pairs(list(by_photo.values()))
    recall = len(found & truth) / len(truth)
    precision = len(found & truth) / len(found)
    print(f"pair recall {recall:.3f}, precision {precision:.3f}, {len(truth)} true pairs")
    assert recall >= 0.95 and precision >= 0.98, (recall, precision)
    for group in groups:
        originals = [Path(f.path) for f in group.files if Path(f.path or "").parent.name == "photos"]
        assert Path(group.keep.path or "") == originals[0]  # the largest, then the oldest
        assert group.keep.keep and not any(f.keep for f in group.files[1:])
        assert "identical" in group.reasons and "picture" in group.reasons
        assert all(f.bits is not None and f.bits <= 12 for f in group.files)
        assert group.reclaimable_bytes == sum(f.size or 0 for f in group.files[1:]) > 0
    assert len(groups) == 30


def _vector(seed: int, dim: int) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return vector / np.linalg.norm(vector)


def test_similar_widens_and_entries_without_a_fingerprint_are_counted(tiny_siglip_dir: Path) -> None:
    store = MultimodalStore.in_memory(model=tiny_siglip_dir)
    dim = store.encoder.dim
    base = _vector(1, dim)
    burst = base + 0.02 * _vector(2, dim)
    vectors = np.stack([base, burst / np.linalg.norm(burst), _vector(3, dim), _vector(4, dim)])
    metadatas = [
        {"kind": "image", "phash": "0f0f0f0f0f0f0f0f", "width": 40, "height": 30, "uri": "/p/a.jpg"},
        {"kind": "image", "phash": "f0f0f0f0f0f0f0f0", "width": 40, "height": 30, "uri": "/p/b.jpg"},
        {"kind": "image", "width": 40, "height": 30, "uri": "/p/old.jpg"},  # indexed before fingerprints
        {"kind": "image", "phash": "0f0f0f0f0f0f0f0e", "width": 80, "height": 60, "uri": "/p/big.jpg"},
    ]
    store.upsert_vectors(["img-a", "img-b", "img-old", "img-big"], vectors, metadatas)
    store.upsert_vectors(
        ["txt-a"], vectors[:1], [{"kind": "text"}], documents=["a burst shot"]
    )  # not a picture
    plain = store.find_duplicates()
    assert [[f.path for f in g.files] for g in plain] == [["/p/big.jpg", "/p/a.jpg"]]
    assert plain[0].reasons == ("picture",) and plain[0].files[1].bits == 1
    assert plain.unhashed == 1 and plain.checked == 4  # the text is not looked at
    assert "run 'siglip-retriever index' on their folders again" in (plain.message or "")
    widened = store.find_duplicates(similar=0.99)
    assert [sorted(f.path or "" for f in g.files) for g in widened] == [
        ["/p/a.jpg", "/p/b.jpg", "/p/big.jpg"]
    ]
    assert widened[0].reasons == ("picture", "similar")
    assert widened[0].files[0].similarity == pytest.approx(1.0)
    data = widened.to_dict()
    assert sorted(data) == ["checked", "groups", "max_bits", "message", "similar", "unhashed"]
    assert data["similar"] == 0.99 and data["groups"][0]["keep"] == "/p/big.jpg"
    with pytest.raises(ConfigurationError, match="similar is a cosine similarity"):
        store.find_duplicates(similar=1.5)


def test_group_to_dict_follows_the_documented_schema() -> None:
    from siglip_retriever.store.duplicates import DuplicateFile

    kept = DuplicateFile("img-1", "/p/a.jpg", 900, 640, 480, "2019-07-14T16:02:11", "taken", 0, keep=True)
    data = DuplicateGroup((kept,), ("identical",)).to_dict()
    assert sorted(data) == ["files", "keep", "reasons", "reclaimable_bytes"]
    assert sorted(data["files"][0]) == sorted(
        ["id", "path", "size", "width", "height", "date", "date_source", "bits", "similarity", "keep"]
    )


def test_exif_rotated_copy_is_the_same_picture_as_shown(tmp_path: Path) -> None:
    from siglip_retriever.store.fingerprints import fingerprint, hash_distance

    picture = photo_like(7)
    rotated = save_photo(tmp_path / "r.jpg", picture.transpose(Image.Transpose.ROTATE_90), orientation=6)
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=95)
    with Image.open(rotated) as stored, Image.open(buffer) as plain:
        assert stored.size == (240, 320)
        assert hash_distance(fingerprint(stored), fingerprint(plain)) <= 2


def test_bit_counts_without_numpy_bitwise_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """numpy 1.26, the lowest numpy allowed, has no bitwise_count: the byte table counts the same."""
    from siglip_retriever.store.hash_index import bit_counts

    values = _planted(300, 100, 12, seed=5).reshape(20, 20)
    expected = bit_counts(values)
    if hasattr(np, "bitwise_count"):
        monkeypatch.delattr(np, "bitwise_count")
    assert bit_counts(values).tolist() == expected.tolist()
    assert near_pairs(values.ravel(), 12).tolist() == _all_pairs(values.ravel(), 12)
