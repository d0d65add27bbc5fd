// Shovey's quorum: "N%" of the job's nodes (rounded up) or an absolute
// count, checked when the job starts against the nodes that are up.
#pragma once

#include <Poco/Dynamic/Var.h>

#include <cstddef>

namespace exed::shovey {

// How many of `nodes` must be up. `quorum` is the request's value (a
// "N%" string with 0 <= N <= 100, a count as a number or a string of
// digits, from 0 to nodes; empty: "100%"). Throws DomainError(invalid) otherwise.
size_t required_nodes(const Poco::Dynamic::Var& quorum, size_t nodes);

}  // namespace exed::shovey
