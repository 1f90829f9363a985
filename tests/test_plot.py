"""plot_model / model_to_dot / plot_history: drawn with matplotlib, no Graphviz needed."""

import os
import shutil
import struct

import numpy as np
import pytest

import jnet
from jnet import layers
from jnet.callbacks import History


def _triage_model(nested=False):
    """The seed's multi-input, multi-output issue-triage model (small sizes)."""
    num_tags, num_words, num_departments = 12, 100, 4
    title_input = jnet.Input(shape=(None,), name="title", dtype="int32")
    body_input = jnet.Input(shape=(None,), name="body", dtype="int32")
    tags_input = jnet.Input(shape=(num_tags,), name="tags")
    title_features = layers.LSTM(8)(layers.Embedding(num_words, 4)(title_input))
    body_features = layers.LSTM(4)(layers.Embedding(num_words, 4)(body_input))
    tags = tags_input
    if nested:
        tags = jnet.Sequential([layers.Dense(6), layers.Dense(5)], name="tag_net")(tags_input)
    x = layers.concatenate([title_features, body_features, tags])
    priority_pred = layers.Dense(1, name="priority")(x)
    department_pred = layers.Dense(num_departments, name="department")(x)
    return jnet.Model(inputs=[title_input, body_input, tags_input], outputs=[priority_pred, department_pred])


def _png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    return struct.unpack(">II", head[16:24])


def test_plot_model_png_for_multi_input_model_without_dot(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no Graphviz `dot` anywhere on PATH
    assert shutil.which("dot") is None
    model = _triage_model()
    out = tmp_path / "multi_input_and_output_model.png"
    jnet.utils.plot_model(model, str(out), show_shapes=True)
    width, height = _png_size(out)
    # 3 inputs side by side and 5+ ranks of boxes at dpi 200: a large, readable picture.
    assert width > 1000 and height > 1000
    assert os.path.getsize(out) > 20_000


def test_plot_model_svg_lr_nested_expanded(tmp_path):
    model = _triage_model(nested=True)
    out = tmp_path / "model.svg"
    jnet.utils.plot_model(model, out, rankdir="LR", expand_nested=True, show_dtype=True)
    svg = out.read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    png = tmp_path / "sequential.png"
    seq = jnet.Sequential([layers.Dense(32, input_shape=(784,)), layers.Dense(10), layers.Dense(20)])
    jnet.utils.plot_model(seq, png)  # the seed's call: plot_model(model, 'sequential.png')
    width, height = _png_size(png)
    assert height > width  # top-to-bottom chain


def test_model_to_dot_edges_and_clusters():
    model = _triage_model(nested=True)
    dot = jnet.utils.model_to_dot(model, show_shapes=True, expand_nested=True)
    assert dot.startswith('digraph "model"') and dot.rstrip().endswith("}")
    assert '"priority"' in dot and '"department"' in dot
    assert 'subgraph "cluster_tag_net"' in dot
    # The outer input feeds the nested model's input box; its last layer feeds the merge.
    assert '"tags" -> "tag_net/input_layer";' in dot
    assert '"tag_net/dense_1" -> "concatenate";' in dot
    assert "out: (None, 17)" in dot
    flat = jnet.utils.model_to_dot(model)
    assert '"tags" -> "tag_net";' in flat and "cluster" not in flat
    with pytest.raises(ValueError, match="rankdir"):
        jnet.utils.model_to_dot(model, rankdir="XY")


def test_layout_ranks_follow_longest_path():
    from jnet.utils.plot import _build, _layout

    model = _triage_model(nested=True)
    boxes, edges = _build(model, False, False, True, True)
    routes = _layout(boxes, edges, "TB")
    for a, b in edges:  # every edge points down, one rank per dummy bend
        assert boxes[b].rank > boxes[a].rank
        assert len(routes[(a, b)]) == boxes[b].rank - boxes[a].rank - 1
        assert boxes[b].y < boxes[a].y
    real = [b for b in boxes.values() if not b.dummy]
    for r in {b.rank for b in real}:  # boxes of one rank do not overlap
        row = sorted((b for b in real if b.rank == r), key=lambda b: b.x)
        for left, right in zip(row, row[1:]):
            assert left.x + left.w / 2 < right.x - right.w / 2


def test_history_plot_and_plot_history(tmp_path):
    history = History()
    history.on_train_begin()
    for epoch, (loss, acc) in enumerate([(1.0, 0.5), (0.6, 0.7), (0.4, 0.8)]):
        history.on_epoch_end(epoch, {"loss": loss, "accuracy": acc, "val_loss": loss + 0.1, "val_accuracy": acc - 0.1})
    fig = history.plot(to_file=tmp_path / "history.png")
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    lines = fig.axes[0].get_lines()
    assert [l.get_label() for l in lines] == ["train", "validation"]
    np.testing.assert_allclose(lines[1].get_ydata(), [1.1, 0.7, 0.5])
    _png_size(tmp_path / "history.png")
    with pytest.raises(ValueError, match="not in the history"):
        jnet.utils.plot_history(history, metrics=["auc"])
