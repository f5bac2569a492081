#pragma once

#include "plugins/cpu/graph.h"

namespace mg::cpu {

// Whether dimension 0 of the graph's inputs and outputs is a batch: every input and output
// has a dynamic dimension 0, and every node keeps the rows along it apart — what row r of
// an output holds depends on row r of the inputs alone. Requests may then be joined along
// it and split back. Conservative: a node this does not know, or one that mixes, reads
// or reshapes dimension 0 (a recurrent op, Shape, a reduction or softmax over axis 0, a
// Reshape that does not keep it), makes it false. A sequence laid out time-major has a
// dynamic dimension 0 too, and is exactly what this must not call a batch.
bool rows_are_independent(const Graph& graph);

}  // namespace mg::cpu
