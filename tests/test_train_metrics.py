"""Mesh metrics on hand-computed cases, and the losses' building blocks."""
import math

import numpy as np
import pytest
import torch

from bidrn_hw.train.metrics import MeshMetrics, MetricAccumulator, mean_distance, rigid_align, root_aligned_error
from bidrn_hw.train.rotation import axis_angle_to_matrix
from bidrn_hw.train.skeleton import VertexSets


@pytest.fixture(scope="module")
def body():
    from bidrn_hw.body.smplx_layer import BodyModel

    return BodyModel()


@pytest.fixture(scope="module")
def mesh(body):
    g = torch.Generator().manual_seed(0)
    params = {"root_pose": torch.tensor([[math.pi, 0.0, 0.0]]), "body_pose": 0.2 * torch.randn(1, 63, generator=g),
              "lhand_pose": torch.zeros(1, 45), "rhand_pose": torch.zeros(1, 45), "jaw_pose": torch.zeros(1, 3),
              "shape": torch.randn(1, 10, generator=g), "expr": torch.zeros(1, 10),
              "cam_trans": torch.tensor([[0.1, 0.2, 20.0]])}
    with torch.no_grad():
        return body(**params).vertices.double()


def test_identity_is_zero(body, mesh):
    m = MeshMetrics.for_body_model(body)(mesh, mesh)
    assert set(m) == {"mpvpe_mm", "pa_mpvpe_mm", "pa_mpjpe_mm", "mpvpe_hands_mm", "mpvpe_face_mm"}
    for k, v in m.items():
        assert float(v) == pytest.approx(0.0, abs=1e-3), k


def test_pure_translation_is_zero_after_root_alignment(body, mesh):
    m = MeshMetrics.for_body_model(body)(mesh + torch.tensor([0.3, -1.0, 2.0], dtype=torch.float64), mesh)
    for k, v in m.items():
        assert float(v) == pytest.approx(0.0, abs=1e-3), k


def test_rotation_and_scale_vanish_only_after_procrustes(body, mesh):
    r = axis_angle_to_matrix(torch.tensor([0.2, -0.4, 0.1], dtype=torch.float64))
    centre = mesh.mean(1, keepdim=True)
    moved = 1.3 * (mesh - centre) @ r.T + centre + torch.tensor([0.5, 0.0, -0.2], dtype=torch.float64)
    m = MeshMetrics.for_body_model(body)(moved, mesh)
    assert float(m["pa_mpvpe_mm"]) == pytest.approx(0.0, abs=1e-3)
    assert float(m["pa_mpjpe_mm"]) == pytest.approx(0.0, abs=1e-3)
    assert float(m["mpvpe_mm"]) > 50   # a 23-degree turn and 30% growth of a 1.7 m body
    assert float(m["mpvpe_hands_mm"]) > 1 and float(m["mpvpe_face_mm"]) > 1


def test_hand_computed_values():
    # three vertices; the "pelvis" regressor row is vertex 0; hands = {1}, {2}; face = {1, 2}
    reg = torch.zeros(55, 3, dtype=torch.float64)
    reg[0, 0] = reg[20, 1] = reg[21, 2] = reg[12, 0] = 1.0
    reg[1:12, 0] = reg[13:20, 0] = 1.0       # other body joints at vertex 0
    sets = VertexSets(lhand=np.array([1]), rhand=np.array([2]), face=np.array([1, 2]), part=np.zeros(3, int))
    metrics = MeshMetrics(reg, sets)
    gt = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [0, 1, 0]]], dtype=torch.float64)
    pred = gt.clone()
    pred[0, 2] += torch.tensor([0.0, 0.0, 0.003])     # vertex 2 off by 3 mm
    m = metrics(pred, gt)
    assert float(m["mpvpe_mm"]) == pytest.approx(1.0)          # (0 + 0 + 3) / 3
    assert float(m["mpvpe_hands_mm"]) == pytest.approx(0.0)    # each hand is its own wrist here
    assert float(m["mpvpe_face_mm"]) == pytest.approx(1.5)     # neck = vertex 0: (0 + 3) / 2


def test_rigid_align_on_points():
    a = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [0, 2, 0], [0, 0, 3]]], dtype=torch.float64)
    r = axis_angle_to_matrix(torch.tensor([0.0, 0.0, math.pi / 2], dtype=torch.float64))
    b = 2 * a @ r.T + 1
    assert torch.allclose(rigid_align(a, b), b, atol=1e-9)
    # a reflection is not a rotation: the mirrored set cannot be aligned exactly
    mirrored = a * torch.tensor([-1.0, 1, 1], dtype=torch.float64)
    assert float(mean_distance(rigid_align(mirrored, a), a)) > 0.1


def test_root_alignment_and_accumulator():
    gt = torch.zeros(2, 4, 3, dtype=torch.float64)
    pred = gt + torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    assert torch.allclose(root_aligned_error(pred, gt, pred[:, 0], gt[:, 0]), torch.zeros(2, dtype=torch.float64))
    acc = MetricAccumulator()
    acc.update({"x": torch.tensor([1.0, 3.0])})
    acc.update({"x": torch.tensor([5.0])})
    assert acc.result() == {"x": pytest.approx(3.0)}
