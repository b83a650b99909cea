"""gptnet's own bounded evaluator of the model-building subset of Python (STYLE.md item 12): whole programs as
chat models write them, built with the concrete arguments of each call, never run by Python.

- values.py     the closed domain of values (layers, module instances, containers, classes, functions, sizes)
- builtins.py   the builtins, `math`, `torch.nn` names and imports it allows; everything else refused by name
- evaluator.py  statements and expressions, the step counter and the nesting bounds
- literals.py   lists, tuples, dicts, subscripts, slices, f-strings and str.format, comprehensions
- objects.py    calls, attributes, classes, instances, layer construction
- forward.py    `forward` with a symbolic input: functional ops, tensor methods, modules applied
- tensors.py    the traced tensor graph and the chain of layers it makes (shared with ../pysource.py)
- program.py    the module level, the model's entry points, one spec module per distinct instance
- generalize.py instances of one class folded into parametrised spec modules
- messages.py   the refusals, in one place

`program.read_program` is the entry point; `..pysource.parse_python` decides when to use it."""
