// UTF-8 text checks. Everything exed reads from a client or a plugin is
// text that ends up in JSON (job records, events, frames to the plugin
// host, answers), and Poco's JSON parser refuses invalid UTF-8 while its
// writer copies it through unchanged: one bad byte made JSON that exed
// itself could not read back (issue 23). Faces refuse such input (400);
// what a plugin hands back is repaired instead (its output is data).
// Legality is Poco's (UTF8Encoding::isLegal: no overlong forms, no
// surrogates, nothing past U+10FFFF), the rule its JSON parser applies.
#pragma once

#include <string>
#include <string_view>

namespace exed {

bool valid_utf8(std::string_view text);

// `text` with each byte that does not start a legal sequence replaced by
// U+FFFD. ASCII bytes are never touched, so JSON text keeps its structure
// (its quotes, brackets and escapes are all ASCII). Linear, and a copy
// only when something is replaced.
std::string repaired_utf8(std::string text);

}  // namespace exed
