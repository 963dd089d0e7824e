"""Training and evaluating a small network, and its untrained control."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..models import CircuitModel
from .data import LabelledImages
from .networks import Head, SmallConvNet, wrap_small_net


@dataclass
class TrainingResult:
    """A trained network (wrapped), its per-epoch and per-step history, the settings that made it, and its
    weights at the end of each epoch (``checkpoints[e - 1]``: a state dict after epoch ``e``)."""

    model: CircuitModel
    history: dict[str, list[float]]
    settings: dict[str, object] = field(default_factory=dict)
    checkpoints: list[dict[str, torch.Tensor]] = field(default_factory=list)

    @property
    def test_accuracy(self) -> float:
        """Accuracy on the held-out images after the last epoch."""
        return self.history["test_accuracy"][-1]

    def after_epoch(self, epoch: int) -> CircuitModel:
        """The network as it was at the end of ``epoch`` (1 to the number of epochs trained), to watch it learn."""
        if not 1 <= epoch <= len(self.checkpoints):
            raise ValueError(f"epoch must be between 1 and {len(self.checkpoints)} (the epochs with a checkpoint), got {epoch}.")
        width = int(self.checkpoints[epoch - 1]["conv1.weight"].shape[0])
        net = SmallConvNet(len(self.model.labels), width, head=self.settings.get("head", "average"), size=self.model.input_size)  # type: ignore[arg-type]
        net.load_state_dict(self.checkpoints[epoch - 1])
        return wrap_small_net(net, self.model.labels, self.model.input_size, f"{self.model.name}_epoch{epoch}")


def evaluate(net: nn.Module, data: LabelledImages, batch_size: int = 256) -> tuple[float, float]:
    """The mean cross-entropy and the accuracy of ``net`` (a plain module) on ``data``, in evaluation mode and batches of
    ``batch_size`` images (normalized as in training): the held-out numbers of every epoch."""
    net.eval()
    total_loss, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            images = data.images[start : start + batch_size]
            labels = data.labels[start : start + batch_size]
            logits = net((images - 0.5) / 0.5)
            total_loss += float(F.cross_entropy(logits, labels, reduction="sum"))
            correct += int((logits.argmax(1) == labels).sum())
    return total_loss / len(data), correct / len(data)


_evaluate = evaluate


def train_epoch(net: nn.Module, train: LabelledImages, optimizer: torch.optim.Optimizer,
                schedule: torch.optim.lr_scheduler.LRScheduler, batch_size: int, generator: torch.Generator, *,
                on_step: Callable[[float], None] | None = None) -> list[float]:
    """One epoch of :func:`train_classifier`: ``net`` in training mode, the images in one random order
    (``torch.randperm`` with ``generator``), in batches of ``batch_size`` (the last may be smaller), each normalized to
    [-1, 1] and given one gradient step on the cross-entropy, the ``schedule`` stepped after each. Returns each step's
    loss (before its step); ``on_step`` is called with it. Lesson 09's exercise 12 asks for it, with :func:`evaluate`."""
    net.train()
    order = torch.randperm(len(train), generator=generator)
    losses = []
    for start in range(0, len(train), batch_size):
        chosen = order[start : start + batch_size]
        logits = net((train.images[chosen] - 0.5) / 0.5)
        loss = F.cross_entropy(logits, train.labels[chosen])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        if on_step is not None:
            on_step(losses[-1])
    return losses


def train_classifier(
    data: LabelledImages,
    *,
    width: int = 16,
    head: Head = "average",
    seed: int = 0,
    epochs: int = 4,
    batch_size: int = 64,
    learning_rate: float = 3e-3,
    test_fraction: float = 0.2,
    name: str | None = None,
    progress: bool = True,
) -> TrainingResult:
    """Train a :class:`SmallConvNet` (with ``head``, see there) on ``data``: seeded (initial weights, split, batch order), deterministic on CPU.

    Adam with a learning rate that decays linearly to zero; returns the wrapped network and the
    history (``step_loss`` per step; ``train_loss``, ``train_accuracy``, ``test_loss``,
    ``test_accuracy`` per epoch).
    """
    from tqdm.auto import tqdm

    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got epochs={epochs}, batch_size={batch_size}.")
    train, test = data.split(test_fraction, seed=seed)
    torch.manual_seed(seed)
    net = SmallConvNet(len(data.classes), width, head=head, size=data.size)
    optimizer = torch.optim.Adam(net.parameters(), lr=learning_rate)
    steps_per_epoch = -(-len(train) // batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / (epochs * steps_per_epoch))
    shuffle = torch.Generator().manual_seed(seed)
    history: dict[str, list[float]] = {k: [] for k in ("step_loss", "train_loss", "train_accuracy", "test_loss", "test_accuracy")}
    checkpoints: list[dict[str, torch.Tensor]] = []
    bar = tqdm(total=epochs * steps_per_epoch, desc=f"training width {width}, seed {seed}", disable=not progress)
    def on_step(loss: float) -> None:
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.3f}")

    for _epoch in range(epochs):
        history["step_loss"].extend(train_epoch(net, train, optimizer, schedule, batch_size, shuffle, on_step=on_step))
        for split_name, split in (("train", train), ("test", test)):
            split_loss, accuracy = _evaluate(net, split)
            history[f"{split_name}_loss"].append(split_loss)
            history[f"{split_name}_accuracy"].append(accuracy)
        checkpoints.append({name: tensor.detach().clone() for name, tensor in net.state_dict().items()})
    bar.close()
    settings = {"dataset": data.name, "width": width, "head": head, "seed": seed, "epochs": epochs, "batch_size": batch_size,
                "learning_rate": learning_rate, "test_fraction": test_fraction, "size": data.size, "classes": list(data.classes)}
    model = wrap_small_net(net, data.classes, data.size, name or f"small_net_w{width}_seed{seed}")
    return TrainingResult(model, history, settings, checkpoints)


def calibrate_batch_norm(net: nn.Module, images: torch.Tensor, batch_size: int = 256) -> nn.Module:
    """Set the running statistics of every batch norm of ``net`` from ``images`` (already normalized), with no
    gradient step: what makes the untrained twin of :func:`untrained_classifier` a fair control.

    Each batch norm forgets what it held and averages the statistics of the batches of ``batch_size`` images with
    equal weight (a cumulative average, not PyTorch's default exponential one); its momentum is restored afterwards.
    Returns ``net`` (changed in place) in evaluation mode. Lesson 09's exercise 10 asks for it."""
    norms = [module for module in net.modules() if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d))]
    momenta = [module.momentum for module in norms]
    for module in norms:
        module.reset_running_stats()
        module.momentum = None  # a cumulative average over every batch
    net.train()
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            net(images[start : start + batch_size])
    for module, momentum in zip(norms, momenta):
        module.momentum = momentum
    return net.eval()


def untrained_classifier(
    data: LabelledImages, *, width: int = 16, head: Head = "average", seed: int = 0, test_fraction: float = 0.2,
    name: str | None = None,
) -> TrainingResult:
    """The control for :func:`train_classifier`: the same architecture and seeded initial weights, never trained.

    Only the batch-norm statistics are set, as averages over the training split (no gradient step), so
    activations have a sensible scale; its history holds the accuracies of those untrained weights.
    """
    train, test = data.split(test_fraction, seed=seed)
    torch.manual_seed(seed)
    net = SmallConvNet(len(data.classes), width, head=head, size=data.size)
    calibrate_batch_norm(net, (train.images - 0.5) / 0.5, batch_size=256)
    history: dict[str, list[float]] = {"step_loss": []}
    for split_name, split in (("train", train), ("test", test)):
        split_loss, accuracy = _evaluate(net, split)
        history[f"{split_name}_loss"] = [split_loss]
        history[f"{split_name}_accuracy"] = [accuracy]
    settings = {"dataset": data.name, "width": width, "head": head, "seed": seed, "epochs": 0, "test_fraction": test_fraction,
                "size": data.size, "classes": list(data.classes)}
    model = wrap_small_net(net, data.classes, data.size, name or f"untrained_small_net_w{width}_seed{seed}")
    return TrainingResult(model, history, settings)
