"""Specs: pydantic models of layers, composite modules and models, and the shape walk over them."""

from .graph import Call, Concat, ModelSpec, ModuleSpec, Node, Residual
from .layers import LAYER_KINDS, Layer, SpecError
from .registry import get_layer, lookup
from .walk import Step, totals, walk

__all__ = ["Call", "Concat", "LAYER_KINDS", "Layer", "ModelSpec", "ModuleSpec", "Node", "Residual", "SpecError",
           "Step", "get_layer", "lookup", "totals", "walk"]
