// exectl: the command-line client of exed (see `exectl --help`).
#include "exectl/args.hpp"
#include "exectl/client.hpp"
#include "exectl/commands.hpp"
#include "exectl/terminal.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/SSLManager.h>

#include <iostream>

namespace {

constexpr int kUsage = 2, kUnreachable = 3;

struct SslScope {
    SslScope() { Poco::Net::initializeSSL(); }
    ~SslScope() { Poco::Net::uninitializeSSL(); }
};

}  // namespace

int main(int argc, char** argv) {
    SslScope ssl;
    std::vector<std::string> raw(argv + 1, argv + argc);
    try {
        auto args = exectl::parse_args(raw);
        if (args.help) {
            std::cout << (args.command ? exectl::command_help(*args.command) : exectl::global_help());
            return 0;
        }
        auto term = exectl::Term::detect(args.has("json"));
        exectl::Client client(
            exectl::resolve_endpoint(args.get("url"), args.get("token"), args.get("cacert")));
        return exectl::run_command(args, client, term);
    } catch (const exectl::UsageError& e) {
        std::cerr << "exectl: " << e.what() << " (see exectl --help)\n";
        return kUsage;
    } catch (const exectl::Unreachable& e) {
        std::cerr << "exectl: " << e.what() << "\n";
        return kUnreachable;
    } catch (const exectl::JobFailed& e) {
        std::cerr << "exectl: " << e.what() << "\n";
        return 1;
    } catch (const Poco::Exception& e) {
        std::cerr << "exectl: " << e.displayText() << "\n";
        return kUnreachable;
    } catch (const std::exception& e) {
        std::cerr << "exectl: " << e.what() << "\n";
        return kUnreachable;
    }
}
