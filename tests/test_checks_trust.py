"""Lesson 11's exercise checks: the course's answer earns full marks, neighbouring methods lose points,
the placeholder is 'not attempted'."""
from __future__ import annotations

import pytest
import torch

from helpers.checks.trust import check_accentuation_step, check_natural_image, check_redirected_gradient
from helpers.featurevis.objectives import BatchedObjectives
from helpers.featurevis.param import natural_image_from_phases

from test_featurevis import tiny_model


@pytest.fixture(scope="module")
def tiny():
    return tiny_model()


def no_answer(*_args):
    """The student edition's placeholder body."""


def test_natural_image_check_grades_the_answer_and_its_near_misses():
    assert check_natural_image(natural_image_from_phases) == 3
    unscaled = lambda m, p, s: torch.fft.irfft2(torch.polar(m.expand_as(p), p), s=(s, s))  # noqa: E731 (no ortho)
    assert check_natural_image(unscaled) == 0
    no_size = lambda m, p, s: torch.fft.irfft2(torch.polar(m.expand_as(p), p), norm="ortho")  # noqa: E731 (odd sizes)
    assert 0 < check_natural_image(no_size) < 3
    real_part = lambda m, p, s: torch.fft.ifft2(  # noqa: E731 (a full complex FFT of half a spectrum)
        torch.nn.functional.pad(torch.polar(m.expand_as(p), p), (0, s - p.shape[-1])), norm="ortho").real
    assert check_natural_image(real_part) == 0
    assert check_natural_image(no_answer) == 0


def right_step(model, objective, images, photos, closeness, lr):
    images = images.detach().requires_grad_(True)
    value = BatchedObjectives(model, [objective] * images.shape[0])(images)
    cost = closeness * (images - photos).pow(2).mean(dim=(1, 2, 3))
    (gradient,) = torch.autograd.grad((value - cost).sum(), images)
    return (images + lr * gradient).clamp(0, 1).detach()


def test_accentuation_step_check_grades_the_answer_and_its_near_misses(tiny):
    assert check_accentuation_step(right_step, tiny, "conv2") == 3

    def no_penalty(model, objective, images, photos, closeness, lr):
        return right_step(model, objective, images, photos, 0.0, lr)

    def no_clip(model, objective, images, photos, closeness, lr):
        images = images.detach().requires_grad_(True)
        value = BatchedObjectives(model, [objective] * images.shape[0])(images)
        cost = closeness * (images - photos).pow(2).mean(dim=(1, 2, 3))
        (gradient,) = torch.autograd.grad((value - cost).sum(), images)
        return (images + lr * gradient).detach()

    def descent(model, objective, images, photos, closeness, lr):
        return right_step(model, objective, images, photos, closeness, -lr)

    assert check_accentuation_step(no_penalty, tiny, "conv2") < 3
    assert check_accentuation_step(no_clip, tiny, "conv2") < 3
    assert check_accentuation_step(descent, tiny, "conv2") == 0
    assert check_accentuation_step(no_answer, tiny, "conv2") == 0


def redirect_with(x, grad, high, *, back_if, blocked_per):
    """A redirected ReLU gradient: ``back_if`` says where outside the range it passes, ``blocked_per`` what is blocked."""
    inside = (x >= 0) & (x <= high)
    ordinary = grad * inside
    redirected = grad * (inside | back_if(x, grad, high))
    blocked = blocked_per(ordinary)
    return torch.where(blocked, redirected, ordinary)


def pushes_back(x, grad, high):
    return ((x < 0) & (grad < 0)) | ((x > high) & (grad > 0))


def per_image(ordinary):
    return (ordinary.flatten(1).abs().amax(1) == 0).view(-1, *[1] * (ordinary.dim() - 1))


def test_redirected_gradient_check_grades_the_answer_and_its_near_misses():
    right = lambda x, g, h: redirect_with(x, g, h, back_if=pushes_back, blocked_per=per_image)  # noqa: E731
    assert check_redirected_gradient(right) == 3
    every_image = lambda x, g, h: redirect_with(  # noqa: E731 (the old rule: redirect images that get a gradient too)
        x, g, h, back_if=pushes_back, blocked_per=lambda o: torch.ones_like(o, dtype=torch.bool))
    assert check_redirected_gradient(every_image) == 0
    never = lambda x, g, h: g * ((x >= 0) & (x <= h))  # noqa: E731 (the plain ReLU gradient)
    whole_batch = lambda x, g, h: redirect_with(  # noqa: E731 (blocked only when the whole batch is)
        x, g, h, back_if=pushes_back, blocked_per=lambda o: (o.abs().amax() == 0).expand_as(o))
    wrong_way = lambda x, g, h: redirect_with(  # noqa: E731 (passes the gradient that pushes units further out)
        x, g, h, back_if=lambda x, g, h: ((x < 0) & (g > 0)) | ((x > h) & (g < 0)), blocked_per=per_image)
    for near_miss in (never, whole_batch, wrong_way):
        assert 0 < check_redirected_gradient(near_miss) < 3  # only the case with no blocked image
    assert check_redirected_gradient(no_answer) == 0


def test_redirected_gradient_check_refuses_the_course_module():
    from helpers.featurevis import RedirectedReLU

    def through_the_course(x, grad, high):
        x = x.clone().requires_grad_(True)
        RedirectedReLU(high)(x).backward(grad)
        return x.grad

    assert check_redirected_gradient(through_the_course) == 0


def student_fooling_boost(images, picture, limit, latch, weight, *, pooled=True, centred=True, larger=True,
                          times_likeness=True):
    """The fooled unit's boost as a student writes it; the keywords make its near misses."""
    def coarse(batch):
        small = (torch.nn.functional.adaptive_avg_pool2d(batch, 16) if pooled else
                 torch.nn.functional.interpolate(batch, size=images.shape[-1])).flatten(1)
        return small - small.mean(dim=1, keepdim=True) if centred else small

    shapes, target = coarse(images), coarse(picture[None].to(images))
    likeness = torch.nn.functional.cosine_similarity(shapes, target, dim=1)
    faint = torch.sigmoid((limit - shapes.std(dim=1)) / (0.1 * limit))
    alike = torch.sigmoid((likeness - latch) / 0.01)
    gate = torch.maximum(faint, alike) if larger else torch.minimum(faint, alike)
    return weight * gate * (likeness if times_likeness else 1.0)


def test_fooling_boost_check_grades_the_answer_and_its_near_misses(exercise_probe):
    from helpers.checks.trust import check_fooling_boost

    assert check_fooling_boost(student_fooling_boost) == 3

    def course(*args):  # the course's boost, reached through its module while the student's function runs
        import helpers.featurevis.trust

        return helpers.featurevis.trust.fooling_boost(*args)

    wrong = [lambda *a: student_fooling_boost(*a, pooled=False),  # likeness and contrast at full resolution
             lambda *a: student_fooling_boost(*a, centred=False),  # brightness counted as likeness
             lambda *a: student_fooling_boost(*a, larger=False),  # the latch never holds the gate open alone
             lambda *a: student_fooling_boost(*a, times_likeness=False),  # nothing pulls toward the picture
             course]
    for answer in wrong:
        exercise_probe.rejected(check_fooling_boost, answer)
    for constant in (0.0, 1.0):
        assert check_fooling_boost.__wrapped__(lambda images, *a, c=constant: torch.full((len(images),), c)).fraction == 0
    exercise_probe.not_attempted(lambda: check_fooling_boost(...), lambda: check_fooling_boost(lambda *a: None))


def student_natural_agreement(before, after, k, *, ranks=False, by_size=False, in_order=False):
    """The edit audit's two numbers as a student writes them; the keywords make its near misses."""
    if ranks:  # Spearman: the correlation of ranks
        before, after = before.argsort().argsort().float(), after.argsort().argsort().float()
    correlation = float(torch.corrcoef(torch.stack([before, after]))[0, 1])
    top = [torch.topk(v.abs() if by_size else v, k).indices for v in (before, after)]
    shared = int((top[0] == top[1]).sum()) if in_order else len(set(top[0].tolist()) & set(top[1].tolist()))
    return correlation, shared


def test_natural_agreement_check_grades_the_answer_and_its_near_misses(exercise_probe):
    from helpers.checks.trust import check_natural_agreement

    assert check_natural_agreement(student_natural_agreement) == 3

    def course(*args):  # the course's measure, reached through its module while the student's function runs
        import helpers.featurevis.edit_audit

        return helpers.featurevis.edit_audit.natural_agreement(*args)

    wrong = [lambda *a: student_natural_agreement(*a, ranks=True),  # rank correlation, not Pearson's
             lambda *a: student_natural_agreement(*a, by_size=True),  # the top by absolute value
             lambda *a: student_natural_agreement(*a, in_order=True),  # the same place in the order, not the same set
             course]
    for answer in wrong:
        exercise_probe.rejected(check_natural_agreement, answer)
    for constant in ((1.0, 8), (0.0, 0)):
        assert check_natural_agreement.__wrapped__(lambda *a, c=constant: c).fraction == 0
    exercise_probe.not_attempted(lambda: check_natural_agreement(...), lambda: check_natural_agreement(lambda *a: None))


def test_audit_edit_of_an_unchanged_model_agrees_fully(tiny):
    from helpers.featurevis.edit_audit import audit_edit, natural_agreement

    images = torch.rand(12, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    unit = tiny.unit("conv2", 0)
    audit = audit_edit(tiny, tiny, unit, images[:6], images, count=3)
    assert audit.shared == 3 and audit.scan_after.shape == (12,)
    assert torch.equal(audit.scan_before, audit.scan_after)
    assert natural_agreement(torch.arange(5.0), torch.arange(5.0) * 2, 2) == pytest.approx((1.0, 2))
    with pytest.raises(ValueError):
        natural_agreement(torch.arange(5.0), torch.arange(4.0), 2)


def student_pixel_ascent(model, objective, start, steps, lr, jitter, seed, *, clip=True, clear=True, roll=True,
                         ascend=True):
    """The naive method's loop as a student writes it; the keywords make its near misses."""
    images = start.detach().clone().requires_grad_(True)
    scores = BatchedObjectives(model, [objective] * images.shape[0])
    optimizer = torch.optim.Adam([images], lr=lr)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        dy, dx = torch.randint(-jitter, jitter + 1, (2,), generator=generator).tolist()
        if clear:
            optimizer.zero_grad()
        value = scores(images.roll((dy, dx), dims=(2, 3)) if roll else images).sum()
        (-value if ascend else value).backward()
        optimizer.step()
        if clip:
            with torch.no_grad():
                images.clamp_(0, 1)
    return images.detach()


def test_pixel_ascent_check_grades_the_answer_and_its_near_misses(tiny, exercise_probe):
    from helpers.checks.trust import check_pixel_ascent

    assert check_pixel_ascent(student_pixel_ascent, tiny, "conv2") == 3

    def course(*args):  # the course's loop, reached through its module while the student's function runs
        import helpers.featurevis.ascent

        return helpers.featurevis.ascent.pixel_ascent(*args)

    wrong = [lambda *a: student_pixel_ascent(*a, clip=False),  # pixels leave [0, 1]
             lambda *a: student_pixel_ascent(*a, clear=False),  # gradients pile up from step to step
             lambda *a: student_pixel_ascent(*a, roll=False),  # the jitter is ignored
             lambda *a: student_pixel_ascent(*a, ascend=False),  # descent
             course]
    for answer in wrong:
        exercise_probe.rejected(check_pixel_ascent, answer, tiny, "conv2")
    assert check_pixel_ascent.__wrapped__(lambda model, objective, start, *a: start, tiny, "conv2").fraction == 0
    exercise_probe.not_attempted(lambda: check_pixel_ascent(..., tiny, "conv2"),
                                 lambda: check_pixel_ascent(lambda *a: None, tiny, "conv2"))


def test_pixel_ascent_stays_in_range_and_moves_the_objective(tiny):
    from helpers.featurevis import channel, objective_values
    from helpers.featurevis.ascent import pixel_ascent

    start = torch.full((2, 3, 32, 32), 0.5) + 0.01 * torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    objective = channel(tiny.unit("conv2", 1))
    images = pixel_ascent(tiny, objective, start, 8, 0.05)
    assert images.shape == start.shape and float(images.min()) >= 0 and float(images.max()) <= 1
    assert bool((objective_values(tiny, [objective] * 2, images) > objective_values(tiny, [objective] * 2, start)).all())
    jittered = pixel_ascent(tiny, objective, start, 8, 0.05, jitter=1, seed=3)
    assert torch.equal(jittered, pixel_ascent(tiny, objective, start, 8, 0.05, jitter=1, seed=3))
    assert not torch.equal(jittered, images)
    with pytest.raises(ValueError):
        pixel_ascent(tiny, objective, start[0], 8, 0.05)


def student_photo_spectrum(batches, colour, max_images=None, *, scale=True, clip=True, rms=True, whole=True):
    """The photographs' spectrum as a student writes it; the keywords make its near misses."""
    colour = colour.double() / (colour.double().norm(dim=0).max() if scale else 1.0)
    inverse = torch.linalg.inv(colour)
    total, count = 0.0, 0
    for batch in batches:
        if not whole and max_images is not None:
            batch = batch[: max_images - count]  # exactly max_images, cutting a batch
        pixels = batch.double().clamp(0.005, 0.995) if clip else batch.double()
        spectrum = torch.fft.rfft2(torch.einsum("ij,njhw->nihw", inverse, torch.logit(pixels)), norm="ortho").abs()
        total = total + (spectrum.pow(2) if rms else spectrum).sum(0)
        count += batch.shape[0]
        if max_images is not None and count >= max_images:
            break
    if count == 0:
        raise ValueError("no photographs")
    magnitude = (total / count).sqrt() if rms else total / count
    magnitude[:, 0, 0] = 0.0
    return magnitude.float()


def test_photo_spectrum_check_grades_the_answer_and_its_near_misses(exercise_probe):
    from helpers.checks.trust import check_photo_spectrum

    assert check_photo_spectrum(student_photo_spectrum) == 5

    def course(batches, colour, max_images=None):  # the course's measurement, reached through its module
        import helpers.featurevis.spectrum

        return helpers.featurevis.spectrum.measure_spectrum(batches, colour / colour.norm(dim=0).max(), max_images)

    wrong = [lambda *a: student_photo_spectrum(*a, scale=False),  # the colour matrix as given
             lambda *a: student_photo_spectrum(*a, clip=False),  # the logit of 0 and 1
             lambda *a: student_photo_spectrum(*a, rms=False),  # the mean magnitude, not the root mean power
             lambda *a: student_photo_spectrum(*a, whole=False),  # a batch cut at max_images
             course]
    for answer in wrong:
        exercise_probe.rejected(check_photo_spectrum, answer)
    assert check_photo_spectrum.__wrapped__(lambda batches, *a: torch.zeros(3, 24, 13)).fraction == 0
    exercise_probe.not_attempted(lambda: check_photo_spectrum(...), lambda: check_photo_spectrum(lambda *a: None))


def test_spectrum_falloff_reads_a_one_over_f_spectrum():
    from helpers.featurevis.spectrum import falloff

    size = 32
    fy, fx = torch.fft.fftfreq(size)[:, None] * size, torch.fft.rfftfreq(size)[None, :] * size
    magnitude = (1 / (fy ** 2 + fx ** 2).sqrt().clamp(min=1)).expand(3, size, size // 2 + 1)
    line = falloff(magnitude)
    assert line.startswith("mean magnitude at (cycles per image) 1: ") and ", 16: " in line
    assert 1.8 < float(line.split("by about ")[1].split()[0]) < 2.2  # near 2 (rounded rings mix nearby radii)
    flat = falloff(torch.ones(3, size, size // 2 + 1))
    assert "by about 1.00" in flat


def test_edit_audit_describes_itself():
    from helpers.featurevis.edit_audit import EditAudit

    audit = EditAudit(0.99871, 7, 8, torch.zeros(3), torch.zeros(3))
    lines = audit.describe({"original": 0.123, "edited, Fourier": 0.9}, 0.456).splitlines()
    assert lines == [
        "held-out photographs: correlation of the unit's responses before and after the edit 0.9987",
        "likeness of each visualization to the smiley: {'original': 0.12, 'edited, Fourier': 0.9}",
        "the latch opens above likeness 0.46 (the most smiley-like scanned photograph plus the margin)",
        "top-8 natural examples shared by the original and the edited unit: 7 of 8"]


def test_photo_spectrum_check_refuses_the_course_functions_held_directly(exercise_probe):
    from helpers.checks.trust import check_photo_spectrum
    from helpers.featurevis.spectrum import measure_spectrum

    exercise_probe.rejected(check_photo_spectrum, measure_spectrum)  # a reference taken before the check runs
    assert check_photo_spectrum.__wrapped__(measure_spectrum).fraction == 0
