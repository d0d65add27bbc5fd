// What Poco's HTTPServerConnection::run does, for the one request the
// Acceptor received whole rather than for the socket's whole life: Poco
// parses the request and frames the response; the Acceptor keeps the socket
// between requests.
#pragma once

#include "http/acceptor.hpp"

#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/StreamSocket.h>

#include <string>

namespace exed::http {

// Runs `request` (its header and whole body, as the Acceptor received them)
// and answers on `socket`. A body the handler did not read is dropped, never
// taken for the next request. detached: a handler took the socket
// (HTTPServerRequestImpl::detachSocket, e.g. a follow stream).
Served serve_request(Poco::Net::StreamSocket& socket, std::string request,
                     Poco::Net::HTTPServerParams::Ptr params, Poco::Net::HTTPRequestHandlerFactory& factory);

}  // namespace exed::http
