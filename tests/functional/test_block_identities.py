"""The two identities the fused block's backward rests on (bandts/functional/conv_bn_relu.py),
for every plan, against the transforms themselves: the kept spectrum of a synthesised output
(``project``) and <g, S(Y)> from the kept spectrum of g (``output_inner``)."""

import pytest
import torch

from bandts.functional import conv1d_cpu, conv1d_dense, conv2d_plan
from bandts.functional.conv2d_plan import KeptCells
from bandts.functional.geometry import resolve_geometry

# (plan module, spectrum shape per kept bin, geometry): strided and cropped outputs included.
GEOMETRY_1D = [resolve_geometry((21,), (4,), 1, "same", "minimal")[0],
               resolve_geometry((21,), (3,), 2, 1, "minimal")[0]]
GEOMETRIES_2D = [resolve_geometry((9, 11), (3, 3), 1, "same", "minimal"),
                 resolve_geometry((9, 11), (3, 2), 2, 1, "minimal")]


def _cases():
    for geo in GEOMETRY_1D:
        keep = geo.n_bins // 2
        yield pytest.param(conv1d_cpu, geo, (keep, 2), (geo.out_len,), id=f"cpu-s{geo.stride}")
        yield pytest.param(conv1d_dense, geo, (keep,), (geo.out_len,), id=f"dense-s{geo.stride}")
    for geos in GEOMETRIES_2D:
        count = KeptCells.count_at(*geos, 3)
        yield pytest.param(conv2d_plan, geos, (count,), tuple(g.out_len for g in geos),
                           id=f"2d-s{geos[0].stride}")


def _random_spectrum(lead, n, f):
    if len(lead) == 2:  # split-complex (keep, 2, N, F)
        return torch.randn(*lead, n, f, dtype=torch.float64)
    return torch.randn(*lead, n, f, dtype=torch.complex128)


@pytest.mark.parametrize("plan, geo, lead, out_size", list(_cases()))
def test_project_is_the_spectrum_of_the_synthesised_output(plan, geo, lead, out_size):
    torch.manual_seed(0)
    spectrum = _random_spectrum(lead, 3, 4)
    expected = plan.output_grad_spectrum(plan.output_of_spectrum(spectrum, geo), lead[0], geo)
    torch.testing.assert_close(plan.project(spectrum, geo), expected)


@pytest.mark.parametrize("plan, geo, lead, out_size", list(_cases()))
def test_output_inner_is_the_inner_product_with_the_synthesised_output(plan, geo, lead, out_size):
    torch.manual_seed(1)
    spectrum = _random_spectrum(lead, 3, 4)
    g = torch.randn(3, 4, *out_size, dtype=torch.float64)
    y = plan.output_of_spectrum(spectrum, geo)
    expected = (g * y).sum([0, *range(2, g.dim())])
    got = plan.output_inner(plan.output_grad_spectrum(g, lead[0], geo), spectrum, geo)
    torch.testing.assert_close(got, expected)


@pytest.mark.parametrize("plan, geo, lead, out_size", list(_cases()))
def test_add_constant_adds_to_every_output_value(plan, geo, lead, out_size):
    spectrum = _random_spectrum(lead, 2, 3)
    before = plan.output_of_spectrum(spectrum, geo)
    plan.add_constant(spectrum, torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64), geo)
    shift = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64).view(1, 3, *[1] * len(out_size))
    torch.testing.assert_close(plan.output_of_spectrum(spectrum, geo), before + shift)
