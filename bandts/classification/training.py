"""Training recipes and the training loop of the FCN estimators (docs/design.md, "The FCN and its
training")."""

import copy
import time
import types
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from bandts.nn import bandlimited_layers
from bandts.nn.memory import record_saved_bytes


@dataclass(frozen=True)
class Recipe:
    """A training recipe: Adam, ReduceLROnPlateau on the training loss, best-loss weights kept.

    Attributes:
        name: recipe name.
        full_epochs: the recipe's published training length.
        learning_rate: Adam's initial learning rate.
        lr_factor, lr_patience, min_lr: ReduceLROnPlateau settings (monitoring the epoch loss).
        fixed_batch_size: batch size, or None for the original FCN's ``min(n // 10, 16)``.
    """

    name: str
    full_epochs: int
    learning_rate: float
    lr_factor: float
    lr_patience: int
    min_lr: float
    fixed_batch_size: int | None

    def batch_size(self, n_samples: int) -> int:
        """Batch size for ``n_samples`` training samples (at least 1)."""
        if self.fixed_batch_size is not None:
            return self.fixed_batch_size
        return max(1, min(n_samples // 10, 16))


RECIPES = {
    # Dziedzic et al. 2019 (band-limited training of the FCN).
    "paper": Recipe("paper", full_epochs=300, learning_rate=1e-3, lr_factor=0.1, lr_patience=10,
                    min_lr=0.0, fixed_batch_size=16),
    # Wang, Yan and Oates 2017, as in their published code.
    "fcn": Recipe("fcn", full_epochs=2000, learning_rate=1e-3, lr_factor=0.5, lr_patience=50,
                  min_lr=1e-4, fixed_batch_size=None),
}

# torch.compile's modes, accepted by the estimators' ``compile_mode`` (None: eager).
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def make_batches(n_samples: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """Shuffled index batches for one epoch; a trailing batch of a single sample is merged into
    the previous one (BatchNorm in training mode needs more than one value per channel)."""
    order = torch.randperm(n_samples, generator=generator)
    batches = list(order.split(batch_size))
    if len(batches) > 1 and len(batches[-1]) == 1:
        single = batches.pop()
        batches[-1] = torch.cat([batches[-1], single])
    return batches


def mean_loss(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int) -> float:
    """Mean cross-entropy of ``model`` in eval mode over (X, y), computed in batches."""
    model.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            logits = model(X[start:start + batch_size])
            total += nn.functional.cross_entropy(logits, y[start:start + batch_size],
                                                 reduction="sum").item()
    return total / len(X)


def step_loss(model: nn.Module, compile_mode: str | None):
    """The training loss function ``(xb, yb) -> mean cross-entropy of model(xb)``, eager for
    ``compile_mode=None``, else compiled with that torch.compile mode.

    Compiled with ``dynamic=False``: every batch size gets its own graph (at most two per fit,
    the batch size and the last batch's), as CUDA graphs need static shapes. The plain function
    is compiled, not the module, so no compiled wrapper ever reaches the fitted model.
    """
    def loss(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(model(xb), yb)

    if compile_mode is None:
        return loss
    compiled = torch.compile(own_code(loss), mode=compile_mode, dynamic=False)
    # An energy cut keeps a data-dependent number of bins; without this flag each fused block
    # would run eagerly between graphs. Patched around each call (tracing happens there), so no
    # global dynamo setting changes.
    return torch._dynamo.config.patch(capture_dynamic_output_shape_ops=True)(compiled)


def own_code(function: types.FunctionType) -> types.FunctionType:
    """``function`` with a code object of its own.

    Dynamo keeps the graphs it compiles per code object, at most ``recompile_limit`` of them
    (8 by default), then runs that code eagerly with only a logged warning. Shared by every
    fit, the loss function would reach it within a grid search (graphs per network, mode and
    batch size); with its own code object each fit compiles its own graphs (helped by
    inductor's caches) and frees them with the function.
    """
    return types.FunctionType(function.__code__.replace(), function.__globals__,
                              function.__name__, function.__defaults__, function.__closure__)


def reported_layers(model: nn.Module, compiled: bool) -> list:
    """(name, layer) of the band-limited layers whose ``kept_bins`` the history records.

    Compiled code does not update ``kept_bins``: only the first step of a fit runs eagerly (it
    measures the memory). A static band keeps the same bins for every batch (one length), so
    that step's value holds throughout; an energy cut's changes with the data, and is left out.
    """
    return [(name, layer) for name, layer in bandlimited_layers(model)
            if not compiled or layer.band.is_static]


@dataclass
class TrainingResult:
    """What :func:`train` returns: per-epoch history, epochs run and the memory measurement."""

    history: list[dict]
    n_epochs: int
    saved_bytes: dict[str, int]


def train(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, recipe: Recipe, n_epochs: int,
          batch_size: int, learning_rate: float, generator: torch.Generator,
          validation: tuple | None = None, n_iter_no_change: int | None = None,
          compile_mode: str | None = None, verbose: bool = False) -> TrainingResult:
    """Train ``model`` in place and leave it holding the weights of the lowest monitored loss.

    Args:
        model: network mapping (N, C, *S) to logits (N, n_classes), on X's device.
        X: training inputs (n, C, *S) float32; y: class indices (n,) int64, same device.
        recipe: learning-rate schedule (see :data:`RECIPES`).
        n_epochs, batch_size, learning_rate: resolved training length, batch size and Adam lr.
        generator: CPU torch generator driving the shuffling (determinism).
        validation: optional (X_val, y_val); then the validation loss is monitored (best weights
            and early stopping), otherwise the training loss is.
        n_iter_no_change: stop after this many epochs without improvement of the monitored loss;
            None trains all ``n_epochs``.
        compile_mode: None trains eagerly; else the torch.compile mode of the training steps'
            forward and backward (:func:`step_loss`). The first step runs eagerly, as it
            measures the memory; the validation loss is computed eagerly.
        verbose: tqdm progress bar over epochs.

    Returns:
        :class:`TrainingResult`; history entries hold epoch, loss (mean training loss of the
        epoch), learning_rate, seconds (training time of the epoch), kept_bins {layer: max kept
        bins over the epoch's batches; with ``compile_mode``, static bands only, see
        :func:`reported_layers`) and val_loss when validating.
    """
    band_layers = reported_layers(model, compiled=compile_mode is not None)
    loss_of = step_loss(model, compile_mode)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=recipe.lr_factor, patience=recipe.lr_patience,
        min_lr=recipe.min_lr)
    history, saved_bytes, measured = [], {}, False
    best_loss, best_state, stale = np.inf, None, 0
    progress = tqdm(range(n_epochs), desc="training", unit="epoch", disable=not verbose)
    for epoch in progress:
        model.train()
        learning_rate_now = optimizer.param_groups[0]["lr"]
        kept = {}
        loss_sum = 0.0
        start = time.perf_counter()
        for index in make_batches(len(X), batch_size, generator):
            index = index.to(X.device)
            xb, yb = X[index], y[index]
            if not measured:
                with record_saved_bytes(model) as saved_bytes:
                    logits = model(xb)
                loss = nn.functional.cross_entropy(logits, yb)
                measured = True
            else:
                loss = loss_of(xb, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(index)
            for name, layer in band_layers:
                kept[name] = max(kept.get(name, 0), int(layer.kept_bins))
        seconds = time.perf_counter() - start
        epoch_loss = loss_sum / len(X)
        record = {"epoch": epoch + 1, "loss": epoch_loss, "learning_rate": learning_rate_now,
                  "seconds": seconds, "kept_bins": kept}
        monitored = epoch_loss
        if validation is not None:
            record["val_loss"] = monitored = mean_loss(model, *validation, batch_size)
        history.append(record)
        scheduler.step(epoch_loss)
        progress.set_postfix(loss=f"{epoch_loss:.4f}")
        if monitored < best_loss:
            best_loss, stale = monitored, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            stale += 1
            if n_iter_no_change is not None and stale >= n_iter_no_change:
                break
    progress.close()
    if best_state is None:
        # NaN never compares below the best loss: every epoch diverged, and the network would
        # predict one class for everything.
        raise ValueError(
            f"training failed: the loss was not finite in any epoch (epoch 1: "
            f"{history[0]['loss']}); the largest input magnitude is "
            f"{float(X.abs().max()):.3g}, and float32 overflows on large inputs: rescale X "
            "(e.g. z-normalise each series) or lower learning_rate")
    model.load_state_dict(best_state)
    return TrainingResult(history=history, n_epochs=len(history), saved_bytes=dict(saved_bytes))
