"""What layers and models both stand on: variables, the scope that binds arrays to them, and the
symbolic tensors and nodes of graph models. Imports neither layers nor models."""

from jnet.core.symbolic import Node, SymbolicTensor, call_symbolic, is_symbolic, spec_of
from jnet.core.variables import Variable, VariableScope, current_scope, path_key

__all__ = [
    "Node",
    "SymbolicTensor",
    "Variable",
    "VariableScope",
    "call_symbolic",
    "current_scope",
    "is_symbolic",
    "path_key",
    "spec_of",
]
