// What salt-api and Salt say when something goes wrong, cut down to what an
// exed user needs: the reason, without HTML or the minion's environment.
#pragma once

#include <string>

namespace exed::salt {

// The reason in an error body of salt-api. rest_cherrypy renders errors as
// cherrypy HTML pages ("<h2>400 Bad Request</h2><p>Client disabled: …</p>"):
// the text of the first <p>, entities decoded. A JSON {"return": "…"} gives
// its string; anything else its first 200 characters on one line.
std::string error_body_reason(const std::string& body);

// Salt's "Unable to run command '[…]' with the context '{…}', reason: …" carries
// the minion's whole execution context, its environment variables included
// (≈ 4 KB, possibly secrets). Keeps the command and the reason, drops the
// context; any other text is returned unchanged.
std::string without_command_context(const std::string& text);

}  // namespace exed::salt
