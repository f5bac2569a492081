#pragma once
// An HTTP/1.1 response's head written straight into a string. Beast's message allocated
// every header field and its serializer walked a sequence of a dozen buffers: a health
// check took 39,500 instructions through them, 32,200 this way (callgrind).
#include <string>

#include "gateway/http/http_types.h"

namespace mg::gateway {

// Appends to `out` the status line and headers of `response`, then the blank line:
// Server (modelgate), Content-Type (response.content_type), the response's own headers,
// Content-Length, and Connection: close when !keep_alive — as Beast's serializer wrote them
// for the same message. A response header repeated takes its last value, and one named
// Server or Content-Type replaces the default. The framing headers (Content-Length,
// Transfer-Encoding, Connection) belong to the listener and are never taken from the
// response, nor is a header whose name or value holds CR, LF or NUL (it could split the
// head). 1xx, 204 and 304 answers have no body and no Content-Length.
void append_response_head(std::string& out, const HttpResponse& response, bool keep_alive);

// Whether an answer with this status carries a body.
bool status_allows_body(int status);

}  // namespace mg::gateway
