// What Poco's HTTPServerConnection::run does, for the request(s) one socket
// holds now rather than for the socket's whole life: Poco parses the request
// and frames the response; the Acceptor keeps the socket between requests.
#pragma once

#include "http/acceptor.hpp"

#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/StreamSocket.h>

namespace exed::http {

// Runs one request, and the next ones while the client's pipelined bytes
// are already buffered here. detached: a handler took the socket
// (HTTPServerRequestImpl::detachSocket, e.g. a follow stream).
Served serve_requests(Poco::Net::StreamSocket& socket, Poco::Net::HTTPServerParams::Ptr params,
                      Poco::Net::HTTPRequestHandlerFactory& factory);

}  // namespace exed::http
