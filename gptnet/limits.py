"""The bounds gptnet holds every untrusted input to (LLM answers, cassettes, review edits, spec.json), in one place.

Each is far above what a real design needs, and low enough that no reader, shape walk or cost rule can run long
or grow without bound on a hostile input. Past any of them the input is refused with a line naming the limit."""

from __future__ import annotations

MAX_ANSWER_CHARS = 200_000  # one LLM answer (real ones are under 20,000)
MAX_CASSETTE_BYTES = 20_000_000  # a whole cassette file
MAX_JSON_DEPTH = 64  # nesting of any JSON gptnet reads (answers, cassettes, edits)
MAX_SOURCE_DEPTH = 64  # the syntax tree of PyTorch source in an answer (real code is under 20 deep)

MAX_LAYERS = 1_000  # nodes in one chain (a model's layers, a module's body, a branch)
MAX_MODULES = 100  # composite modules in one model
MAX_EXPANDED = 20_000  # layers once every module call is expanded
MAX_NESTING = 8  # modules calling modules, and residuals/concats inside each other
MAX_BRANCHES = 16  # branches of one concat
# what a model.py describes (verify.py counts it through its classes, with multiplicity), so it is bounded before
# torch runs it; a rendered model stays under MAX_EXPANDED layers plus a call of each module and nn.Sequential
MAX_CALLS_PER_FORWARD = 100_000  # module calls of one forward pass
MAX_MODULES_BUILT = 100_000  # modules built by build_model

MAX_EXPR_CHARS = 200  # a size expression's source
MAX_EXPR_NODES = 64  # its syntax tree
MAX_EXPR_DEPTH = 12

MAX_NAME = 64  # identifiers: class, parameter and attribute names
MAX_DOC = 300  # a module's docstring, after quoting
MAX_MODEL_NAME = 80

MAX_SIZE = 1 << 20  # any integer a layer takes, and any size an expression evaluates to
MAX_CHANNELS = 1 << 16  # channels and features
MAX_KERNEL = 64  # kernel size, stride, dilation
MAX_PADDING = 64
MAX_SPATIAL = 8_192  # input height and width, output size of an adaptive pool
MAX_SCALE = 16  # Upsample's scale factor
MAX_INPUT_CHANNELS = 64

SHOWN_LINE = 1000  # characters of one line of untrusted text printed or written in a report (one_line's cut)

# the evaluator of whole programs (parse/pyeval): each step is one statement or expression followed
MAX_EVAL_STEPS = 300_000  # steps to build one answer's model (a ResNet-152 takes about 20,000)
MAX_CALL_DEPTH = 16  # functions, constructors and methods calling one another
MAX_EVAL_NESTING = 160  # statements and expressions being followed inside one another, across calls
MAX_COLLECTION = 100_000  # items in one list, tuple, dict, range walked or string
MAX_NUMBER = 1 << 62  # magnitude of any number the evaluator computes
MAX_SPECIALISATIONS = 400  # distinct instances of the answer's classes, before they are folded (MAX_MODULES after)
MAX_FOLD_PARAMS = 16  # numeric constructor arguments a fold tries to explain sizes by (it tries their pairs)
