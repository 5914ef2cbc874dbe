#!/usr/bin/env python3
"""Writes small data sets in every format dataset reads, with the formats' own writers, and a manifest of
what each holds, for dataset's reader tests and cmd/tfsweep's training tests (through internal/datafixtures).

  make_data_fixtures.py OUTDIR [--mnist DIR]
  make_data_fixtures.py OUTDIR --mnist DIR --full     (scripts/bench_data: all of MNIST in every format)

numpy writes .npy/.npz, PIL the PNG and JPEG files, TensorFlow the TFRecord files of tf.train.Example and the
resized and JPEG-decoded pixels Keras's image_dataset_from_directory would give; CIFAR and IDX files follow
their documented byte layouts. OUTDIR/manifest.json lists, per case, the source spec and the arrays a reader
must return; OUTDIR/bad/ holds files a reader must refuse that only these writers make (the Go test makes the
rest by truncating and corrupting good files). With --mnist, the first MNIST images are written, class after
class, as IDX, .npz and a PNG folder. Runs with the Python of scripts/setup-python.sh data.
"""
import argparse
import csv
import gzip
import json
import os
import struct

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

rng = np.random.default_rng(24)


def split(x, y):
    return {"shape": list(x.shape[1:]), "values": np.asarray(x, np.float64).ravel().tolist(),
            "labels": np.asarray(y).ravel().astype(int).tolist()}


def case(cases, name, spec, train, test, classes, names=None, tolerance=0.0, standardized=None):
    cases.append({"name": name, "spec": spec, "train": train, "test": test, "classes": classes,
                  "names": names, "tolerance": tolerance, "standardized": standardized})


def standardize(x_train, x_test, axis=-1):
    """What Keras's Normalization, adapted on the training split, makes of both splits. dataset standardises
    the last axis of [rows cols channels] and [features] examples (axis=-1), and a [rows cols] example as one
    grey channel (axis=None)."""
    import keras
    norm = keras.layers.Normalization(axis=axis)
    norm.adapt(x_train)
    return {"train": np.asarray(norm(x_train), np.float64).ravel().tolist(),
            "test": np.asarray(norm(x_test), np.float64).ravel().tolist()}


def write_idx(path, arr, code):
    """IDX: two zero bytes, the element type, the rank, big-endian uint32 dimensions, big-endian data."""
    dtype = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    data = struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    data += np.ascontiguousarray(arr, dtype=dtype).tobytes()
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(data)


def numpy_cases(out, cases):
    d = os.path.join(out, "npz")
    os.makedirs(d)
    xtr, ytr = rng.integers(0, 256, (7, 5, 4), dtype=np.uint8), rng.integers(0, 4, 7, dtype=np.uint8)
    xte, yte = rng.integers(0, 256, (3, 5, 4), dtype=np.uint8), rng.integers(0, 4, 3, dtype=np.uint8)
    np.savez(os.path.join(d, "keras.npz"), x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)
    case(cases, "npz keras layout", f"npz:{d}/keras.npz", split(xtr, ytr), split(xte, yte), int(max(ytr.max(), yte.max())) + 1)

    x = rng.standard_normal((10, 3)).astype(np.float32)
    y = rng.integers(0, 3, (10, 1)).astype(np.int64)
    np.savez_compressed(os.path.join(d, "deflated.npz"), feats=x, target=y, tf=x[:2], tl=y[:2])
    case(cases, "npz deflated, named, holdout", f"npz:{d}/deflated.npz:arrays=feats,target,tf,tl:holdout=0.3:classes=3",
         split(x[:7], y[:7]), split(x[7:], y[7:]), 3)

    for version, dtype in [((1, 0), ">i2"), ((2, 0), "<f8"), ((3, 0), ">f4")]:
        nd = os.path.join(out, f"npy-v{version[0]}")
        os.makedirs(nd)
        arrays = {
            "x_train": (rng.standard_normal((6, 2, 3)) * 100).astype(dtype),
            "y_train": rng.integers(0, 5, 6).astype("<i4" if version[0] != 3 else ">u2"),
            "x_test": (rng.standard_normal((2, 2, 3)) * 100).astype(dtype),
            "y_test": rng.integers(0, 5, 2).astype("<i8"),
        }
        for name, arr in arrays.items():
            with open(os.path.join(nd, name + ".npy"), "wb") as f:
                np.lib.format.write_array(f, arr, version=version)
        as32 = {k: v.astype(np.float32) for k, v in arrays.items()}
        case(cases, f"npy v{version[0]} {dtype}", f"npy:{nd}:classes=5", split(as32["x_train"], arrays["y_train"]),
             split(as32["x_test"], arrays["y_test"]), 5, standardized=standardize(as32["x_train"], as32["x_test"], axis=None))


def idx_cases(out, cases):
    for code, name in [(0x08, "uint8"), (0x09, "int8"), (0x0B, "int16"), (0x0C, "int32"), (0x0D, "float32"), (0x0E, "float64")]:
        d = os.path.join(out, "idx-" + name)
        os.makedirs(d)
        if code in (0x0D, 0x0E):
            xtr, xte = rng.standard_normal((5, 2, 2, 3)), rng.standard_normal((2, 2, 2, 3))
        else:
            lo, hi = (0, 256) if code == 0x08 else (-100, 100)
            xtr, xte = rng.integers(lo, hi, (5, 2, 2, 3)), rng.integers(lo, hi, (2, 2, 2, 3))
        ytr, yte = rng.integers(0, 12, 5), rng.integers(0, 12, 2)
        gz = ".gz" if code % 2 else ""
        write_idx(os.path.join(d, "train-images-idx4-" + name + gz), xtr, code)
        write_idx(os.path.join(d, "train-labels-idx1-ubyte" + gz), ytr, 0x08)
        write_idx(os.path.join(d, "t10k-images-idx4-" + name + gz), xte, code)
        write_idx(os.path.join(d, "t10k-labels-idx1-ubyte" + gz), yte, 0x08)
        f32 = ">f4" if code in (0x0D, 0x0E) else None
        xtr32, xte32 = (xtr.astype(f32), xte.astype(f32)) if f32 else (xtr, xte)
        case(cases, "idx " + name, f"idx:{d}", split(xtr32, ytr), split(xte32, yte), int(max(ytr.max(), yte.max())) + 1)


def cifar_cases(out, cases):
    d10 = os.path.join(out, "cifar10")
    os.makedirs(d10)
    xs, ys = [], []
    for name, n in [("data_batch_1.bin", 3), ("data_batch_2.bin", 2), ("data_batch_3.bin", 1),
                    ("data_batch_4.bin", 2), ("data_batch_5.bin", 1), ("test_batch.bin", 2)]:
        x = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
        y = rng.integers(0, 10, n, dtype=np.uint8)
        with open(os.path.join(d10, name), "wb") as f:
            for i in range(n):
                f.write(bytes([y[i]]) + x[i].tobytes())
        xs.append(x.transpose(0, 2, 3, 1))  # channels last, as keras.datasets.cifar10 returns them
        ys.append(y)
    names10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    with open(os.path.join(d10, "batches.meta.txt"), "w") as f:
        f.write("\n".join(names10) + "\n\n")
    case(cases, "cifar10", f"cifar10:{d10}", split(np.concatenate(xs[:5]), np.concatenate(ys[:5])), split(xs[5], ys[5]), 10, names10)

    d100 = os.path.join(out, "cifar100")
    os.makedirs(d100)
    sets = {}
    for name, n in [("train.bin", 4), ("test.bin", 2)]:
        x = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
        coarse, fine = rng.integers(0, 20, n, dtype=np.uint8), rng.integers(0, 100, n, dtype=np.uint8)
        with open(os.path.join(d100, name), "wb") as f:
            for i in range(n):
                f.write(bytes([coarse[i], fine[i]]) + x[i].tobytes())
        sets[name] = (x.transpose(0, 2, 3, 1), coarse, fine)
    coarse_names = [f"superclass{i}" for i in range(20)]
    with open(os.path.join(d100, "coarse_label_names.txt"), "w") as f:
        f.write("\n".join(coarse_names) + "\n")
    tr, te = sets["train.bin"], sets["test.bin"]
    case(cases, "cifar100 fine", f"cifar100:{d100}", split(tr[0], tr[2]), split(te[0], te[2]), 100)
    case(cases, "cifar100 coarse", f"cifar100:{d100}:label=coarse", split(tr[0], tr[1]), split(te[0], te[1]), 20, coarse_names)


def image_folder(root, images, labels, names, ext, mode):
    for i, (img, label) in enumerate(zip(images, labels)):
        d = os.path.join(root, names[label])
        os.makedirs(d, exist_ok=True)
        options = {"quality": 90, "subsampling": 0} if ext == "jpg" else {}  # 4:4:4, no chroma upsampling to differ in
        Image.fromarray(img, mode).save(os.path.join(d, f"{i:05d}.{ext}"), **options)


def class_major(x, y):
    order = np.argsort(y, kind="stable")
    return x[order], y[order]


def image_cases(out, cases, tf):
    names = ["cat", "dog", "eel"]
    # RGB PNGs of mixed sizes, resized to 6x5 as tf.image.resize does; a grey test folder read as RGB.
    root, test = os.path.join(out, "images-rgb", "train"), os.path.join(out, "images-rgb", "test")
    imgs = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in [(8, 7), (6, 5), (3, 9), (12, 4), (6, 5)]]
    labels = [2, 0, 1, 0, 2]
    for i, (img, label) in enumerate(zip(imgs, labels)):
        os.makedirs(os.path.join(root, names[label]), exist_ok=True)
        Image.fromarray(img, "RGB").save(os.path.join(root, names[label], f"{i:02d}.png"))
    order = sorted(range(5), key=lambda i: (labels[i], i))
    resized = np.stack([tf.image.resize(imgs[i], (6, 5), method="bilinear").numpy() for i in order])
    grey = [rng.integers(0, 256, (6, 5), dtype=np.uint8) for _ in range(2)]
    for i, (img, label) in enumerate(zip(grey, [1, 2])):
        os.makedirs(os.path.join(test, names[label]), exist_ok=True)
        Image.fromarray(img, "L").save(os.path.join(test, names[label], f"{i:02d}.png"))
    grey_rgb = np.stack([np.repeat(g[:, :, None], 3, axis=2) for g in grey]).astype(np.float32)
    case(cases, "images rgb resized", f"images:{root}:size=6x5:color=rgb:test={test}",
         split(resized, [labels[i] for i in order]), split(grey_rgb, [1, 2]), 3, names, tolerance=1e-4,
         standardized=standardize(resized, grey_rgb))

    # RGB PNGs read as grayscale (PIL's ITU-R 601-2 luma), no resize, holdout.
    root = os.path.join(out, "images-luma")
    imgs = rng.integers(0, 256, (6, 4, 3, 3), dtype=np.uint8)
    labels = np.array([0, 1, 0, 1, 1, 0])
    image_folder(root, imgs, labels, names[:2], "png", "RGB")
    x, y = class_major(np.stack([np.asarray(Image.fromarray(i, "RGB").convert("L"))[:, :, None] for i in imgs]), labels)
    case(cases, "images rgb as grayscale", f"images:{root}:color=grayscale:holdout=0.5", split(x[:3], y[:3]), split(x[3:], y[3:]), 2, names[:2])

    # PNGs of every colour type PIL writes at 8 bits or fewer (grey, grey+alpha, RGB, RGBA, palette, bilevel),
    # Paeth-, Sub-, Up- and Average-filtered as PIL's encoder picks, read as grey and as RGB: what PIL reads back.
    root = os.path.join(out, "images-modes")
    modes = ["L", "LA", "RGB", "RGBA", "P", "1"] * 2
    labels = np.array([i % 2 for i in range(len(modes))])
    for i, mode in enumerate(modes):
        os.makedirs(os.path.join(root, names[labels[i]]), exist_ok=True)
        img = Image.fromarray(rng.integers(0, 256, (5, 7, 4), dtype=np.uint8), "RGBA").convert(mode)
        img.save(os.path.join(root, names[labels[i]], f"{i:05d}.png"))
    for color, pil, channels in [("grayscale", "L", 1), ("rgb", "RGB", 3)]:
        read = [np.asarray(Image.open(os.path.join(root, names[labels[i]], f"{i:05d}.png")).convert(pil)).reshape(5, 7, channels)
                for i in range(len(modes))]
        x, y = class_major(np.stack(read), labels)
        case(cases, f"images png modes as {color}", f"images:{root}:color={color}:holdout=0.5", split(x[:6], y[:6]), split(x[6:], y[6:]), 2, names[:2])

    # JPEG, decoded by TensorFlow's libjpeg: Go's decoder computes the inverse DCT otherwise, up to 5 levels apart on noise.
    root = os.path.join(out, "images-jpeg")
    imgs = rng.integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    labels = np.array([1, 0, 1, 0])
    image_folder(root, imgs, labels, names[:2], "jpg", "RGB")
    decoded = []
    for i in range(4):
        with open(os.path.join(root, names[labels[i]], f"{i:05d}.jpg"), "rb") as f:
            decoded.append(tf.io.decode_jpeg(f.read(), channels=3).numpy())
    x, y = class_major(np.stack(decoded), labels)
    case(cases, "images jpeg", f"images:{root}:holdout=0.5", split(x[:2], y[:2]), split(x[2:], y[2:]), 2, names[:2], tolerance=8)


def csv_cases(out, cases):
    path, test = os.path.join(out, "table.csv"), os.path.join(out, "table-test.csv")
    species = ["setosa", "virginica", "versicolor"]
    rows = [(rng.standard_normal(3).astype(np.float32), species[i % 3]) for i in range(8)]
    rows_test = [(rng.standard_normal(3).astype(np.float32), s) for s in ("virginica", "setosa")]
    for p, rs in [(path, rows), (test, rows_test)]:
        with open(p, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["a", "species", "b", "c"])
            for v, s in rs:
                w.writerow([repr(float(v[0])), s, repr(float(v[1])), repr(float(v[2]))])
    order = sorted(species)
    x = np.stack([v for v, _ in rows])
    case(cases, "csv categorical", f"csv:{path}:label=species:test={test}", split(x, [order.index(s) for _, s in rows]),
         split(np.stack([v for v, _ in rows_test]), [order.index(s) for _, s in rows_test]), 3, order)

    path = os.path.join(out, "numeric.csv")
    x = rng.integers(-50, 50, (6, 2)).astype(np.float32)
    y = rng.integers(0, 4, 6)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["x1", "x2", "digit"])
        for xi, yi in zip(x, y):
            w.writerow([int(xi[0]), int(xi[1]), int(yi)])
    case(cases, "csv numeric last column", f"csv:{path}:holdout=0.5:classes=4", split(x[:3], y[:3]), split(x[3:], y[3:]), 4,
         standardized=standardize(x[:3], x[3:]))


def example(tf, image_feature, label):
    return tf.train.Example(features=tf.train.Features(feature={
        "image": image_feature, "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
        "other": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"ignored"]))})).SerializeToString()


def tfrecord_cases(out, cases, tf):
    d = os.path.join(out, "tfrecord")
    os.makedirs(d)
    # PNG-encoded images over two gzipped shards.
    imgs = rng.integers(0, 256, (5, 4, 3, 3), dtype=np.uint8)
    labels = rng.integers(0, 7, 5)
    for shard, idx in [("png-0.tfrecord.gz", range(0, 3)), ("png-1.tfrecord.gz", range(3, 5))]:
        with tf.io.TFRecordWriter(os.path.join(d, shard), options="GZIP") as w:
            for i in idx:
                png = tf.io.encode_png(imgs[i]).numpy()
                w.write(example(tf, tf.train.Feature(bytes_list=tf.train.BytesList(value=[png])), int(labels[i])))
    case(cases, "tfrecord png gzip", f"tfrecord:{d}/png-*.tfrecord.gz:image=image:label=label:holdout=0.4",
         split(imgs[:3], labels[:3]), split(imgs[3:], labels[3:]), int(labels.max()) + 1)
    # Raw bytes, uncompressed, with a separate test file.
    raw = rng.integers(0, 256, (6, 10), dtype=np.uint8)
    ry = rng.integers(0, 3, 6)
    for name, sl in [("raw.tfrecord", slice(0, 4)), ("raw-test.tfrecord", slice(4, 6))]:
        with tf.io.TFRecordWriter(os.path.join(d, name)) as w:
            for v, l in zip(raw[sl], ry[sl]):
                w.write(example(tf, tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.tobytes()])), int(l)))
    case(cases, "tfrecord raw bytes", f"tfrecord:{d}/raw.tfrecord:image=image:label=label:test={d}/raw-test.tfrecord:classes=3",
         split(raw[:4], ry[:4]), split(raw[4:], ry[4:]), 3)
    # Float lists.
    fl = rng.standard_normal((4, 5)).astype(np.float32)
    fy = np.array([0, 1, 1, 0])
    with tf.io.TFRecordWriter(os.path.join(d, "floats.tfrecord")) as w:
        for v, l in zip(fl, fy):
            w.write(example(tf, tf.train.Feature(float_list=tf.train.FloatList(value=v)), int(l)))
    case(cases, "tfrecord float list", f"tfrecord:{d}/floats.tfrecord:image=image:label=label:holdout=0.5",
         split(fl[:2], fy[:2]), split(fl[2:], fy[2:]), 2)
    # Files only these writers make, that a reader must refuse.
    bad = os.path.join(out, "bad")
    with tf.io.TFRecordWriter(os.path.join(bad, "no-label.tfrecord")) as w:
        w.write(example(tf, tf.train.Feature(float_list=tf.train.FloatList(value=[1.0])), 0))
        w.write(tf.train.Example(features=tf.train.Features(feature={
            "image": tf.train.Feature(float_list=tf.train.FloatList(value=[2.0]))})).SerializeToString())
    with tf.io.TFRecordWriter(os.path.join(bad, "float-label.tfrecord")) as w:
        w.write(tf.train.Example(features=tf.train.Features(feature={
            "image": tf.train.Feature(float_list=tf.train.FloatList(value=[2.0])),
            "label": tf.train.Feature(float_list=tf.train.FloatList(value=[1.0]))})).SerializeToString())
    with tf.io.TFRecordWriter(os.path.join(bad, "mixed-sizes.tfrecord")) as w:
        for shape in [(4, 4, 3), (5, 4, 3)]:
            png = tf.io.encode_png(rng.integers(0, 256, shape, dtype=np.uint8)).numpy()
            w.write(example(tf, tf.train.Feature(bytes_list=tf.train.BytesList(value=[png])), 0))


def bad_numpy_files(out):
    bad = os.path.join(out, "bad")
    np.save(os.path.join(bad, "fortran.npy"), np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
    np.save(os.path.join(bad, "object.npy"), np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.save(os.path.join(bad, "complex.npy"), np.zeros(3, dtype=np.complex64))
    np.save(os.path.join(bad, "float-labels.npy"), np.array([0.5, 1.0]))
    np.save(os.path.join(bad, "negative-labels.npy"), np.array([1, -1], dtype=np.int8))
    np.savez(os.path.join(bad, "count-mismatch.npz"), x_train=np.zeros((3, 2), np.uint8), y_train=np.zeros(2, np.uint8),
             x_test=np.zeros((1, 2), np.uint8), y_test=np.zeros(1, np.uint8))
    np.savez(os.path.join(bad, "no-test.npz"), x_train=np.zeros((3, 2), np.uint8), y_train=np.zeros(3, np.uint8))
    np.savez(os.path.join(bad, "shape-mismatch.npz"), x_train=np.zeros((3, 2), np.uint8), y_train=np.zeros(3, np.uint8),
             x_test=np.zeros((1, 3), np.uint8), y_test=np.zeros(1, np.uint8))
    # Folders: two sizes without size=, a file that is not an image, an empty class tree.
    for name, payloads in [("mixed-sizes", [(4, 4), (5, 4)]), ("undecodable", [(4, 4), None])]:
        d = os.path.join(bad, name, "a")
        os.makedirs(d)
        for i, shape in enumerate(payloads):
            p = os.path.join(d, f"{i}.png")
            if shape is None:
                with open(p, "wb") as f:
                    f.write(b"\x89PNG\r\n\x1a\nnot really")
            else:
                Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), "L").save(p)
    os.makedirs(os.path.join(bad, "no-classes"))
    with open(os.path.join(bad, "ragged.csv"), "w") as f:
        f.write("a,b,label\n1,2,0\n3,4\n")
    with open(os.path.join(bad, "text.csv"), "w") as f:
        f.write("a,b,label\n1,2,0\n3,x,1\n")


def read_mnist(mnist, name, n):
    """The first n examples of an MNIST IDX file (gzipped or not), by the documented layout."""
    path = os.path.join(mnist, name)
    opener = open if os.path.exists(path) else gzip.open
    with opener(path if opener is open else path + ".gz", "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = struct.unpack(">" + "I" * dims, raw[4:4 + 4 * dims])
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)[:n]


def read_mnist_splits(mnist, n_train, n_test):
    return (read_mnist(mnist, "train-images-idx3-ubyte", n_train), read_mnist(mnist, "train-labels-idx1-ubyte", n_train),
            read_mnist(mnist, "t10k-images-idx3-ubyte", n_test), read_mnist(mnist, "t10k-labels-idx1-ubyte", n_test))


def mnist_forms(out, mnist, n_train=600, n_test=100):
    """The first MNIST images as IDX, .npz and a PNG folder (train/ and test/), the same pixels in the same
    order in each: class after class, the order a folder tree lists them in."""
    xtr, ytr, xte, yte = read_mnist_splits(mnist, n_train, n_test)
    (xtr, ytr), (xte, yte) = class_major(xtr, ytr), class_major(xte, yte)
    d = os.path.join(out, "mnist-idx")
    os.makedirs(d)
    write_idx(os.path.join(d, "train-images-idx3-ubyte.gz"), xtr, 0x08)
    write_idx(os.path.join(d, "train-labels-idx1-ubyte.gz"), ytr, 0x08)
    write_idx(os.path.join(d, "t10k-images-idx3-ubyte"), xte, 0x08)
    write_idx(os.path.join(d, "t10k-labels-idx1-ubyte"), yte, 0x08)
    np.savez(os.path.join(out, "mnist.npz"), x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)
    digits = [str(i) for i in range(10)]
    image_folder(os.path.join(out, "mnist-png", "train"), xtr, ytr, digits, "png", "L")
    image_folder(os.path.join(out, "mnist-png", "test"), xte, yte, digits, "png", "L")


def mnist_full(out, mnist):
    """All of MNIST as .npz, CSV (label last), TFRecord of PNG-encoded tf.train.Examples and a PNG folder."""
    import io
    import tensorflow as tf
    xtr, ytr, xte, yte = read_mnist_splits(mnist, None, None)
    os.makedirs(out, exist_ok=True)
    np.savez(os.path.join(out, "mnist.npz"), x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)
    for split, x, y in [("train", xtr, ytr), ("test", xte, yte)]:
        with open(os.path.join(out, f"mnist-{split}.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow([f"p{i}" for i in range(784)] + ["label"])
            w.writerows(np.concatenate([x.reshape(len(x), -1), y[:, None]], axis=1).tolist())
        with tf.io.TFRecordWriter(os.path.join(out, f"mnist-{split}.tfrecord")) as w:
            for img, label in zip(x, y):
                buf = io.BytesIO()
                Image.fromarray(img, "L").save(buf, "png")
                w.write(example(tf, tf.train.Feature(bytes_list=tf.train.BytesList(value=[buf.getvalue()])), int(label)))
        image_folder(os.path.join(out, "mnist-png", split), x, y, [str(i) for i in range(10)], "png", "L")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--mnist", help="an MNIST IDX directory (files gzipped or not)")
    ap.add_argument("--full", action="store_true", help="only all of MNIST in every format, for scripts/bench_data")
    args = ap.parse_args()
    if args.full:
        mnist_full(args.out, args.mnist)
        return
    os.makedirs(os.path.join(args.out, "bad"), exist_ok=True)
    import tensorflow as tf
    cases = []
    numpy_cases(args.out, cases)
    idx_cases(args.out, cases)
    cifar_cases(args.out, cases)
    image_cases(args.out, cases, tf)
    csv_cases(args.out, cases)
    tfrecord_cases(args.out, cases, tf)
    bad_numpy_files(args.out)
    if args.mnist:
        mnist_forms(args.out, args.mnist)
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump({"cases": cases}, f)


if __name__ == "__main__":
    main()
