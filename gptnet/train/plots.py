"""curves.png: loss and accuracy, train and test, per epoch."""

from __future__ import annotations

from pathlib import Path

from ..output import atomic_path


def curves_figure(history):
    """The two panels, loss and accuracy, against whole epochs."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = [m.epoch for m in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [m.train_loss for m in history], "o-", label="train")
    ax_loss.plot(epochs, [m.test_loss for m in history], "o-", label="test")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss")
    ax_acc.plot(epochs, [m.train_acc1 for m in history], "o-", label="train acc@1")
    ax_acc.plot(epochs, [m.test_acc1 for m in history], "o-", label="test acc@1")
    ax_acc.plot(epochs, [m.test_acc5 for m in history], "--", label="test acc@5")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole: no tick at epoch 1.5
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def plot_curves(history, path: Path, root: Path | None = None) -> None:
    import matplotlib.pyplot as plt

    fig = curves_figure(history)
    with atomic_path(path, suffix=".tmp.png", root=root) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
