// Poco's JSON parser (1.11) wraps integers past 2^64 around silently:
// 18446744073709551616 reads as 0, so {"state":18446744073709551616} would
// have been "started" (issue 14). Request bodies are checked for such
// literals before they are parsed.
#pragma once

#include <string>

namespace exed::http {

// Throws ApiError 400 when `json` holds an integer literal (outside strings)
// above 18446744073709551615 or below -18446744073709551615. Linear, no
// allocation; the text need not be valid JSON (the parser judges that).
void refuse_integers_past_64_bits(const std::string& json);

}  // namespace exed::http
