// XEP-0199: XMPP Ping — the server answers pings addressed to it (client-to-server ping).
// Server-initiated pings to idle clients are not implemented here (TCP keepalives and the
// stream management module cover dead-peer detection).
#include "core/server.hpp"

namespace starling::modules {

class ping_module : public module {
 public:
  void start(server& srv) override {
    srv.disco().add_feature("urn:xmpp:ping");
    srv.iq().add(iq_target::host, "urn:xmpp:ping", [](iq_request& req) -> boost::asio::awaitable<void> {
      if (!req.is_get() || req.payload().name() != "ping") {
        req.srv.reply(req, make_error_reply(req.stanza, stanza_condition::bad_request));
        co_return;
      }
      req.srv.reply(req, make_result(req.stanza));  // XEP-0199 §4.2
    });
  }
};

}  // namespace starling::modules

using starling::modules::ping_module;
STARLING_MODULE(ping_module, "ping")
