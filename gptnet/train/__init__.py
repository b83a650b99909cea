"""Training a design: the article recipe, real data, checkpoints, torchrun, and the comparison with ResNet-18."""
