// RFC 3921 §3 session establishment, kept for older clients: RFC 6121 Appendix E makes it
// a no-op, advertised as <optional/> (draft-cridland-xmpp-session) so modern clients skip it.
#include "core/c2s_session.hpp"
#include "core/server.hpp"

namespace starling::modules {

constexpr std::string_view ns_session = "urn:ietf:params:xml:ns:xmpp-session";

class session_module : public module {
 public:
  void start(server& srv) override {
    srv.add_feature([](c2s_session& s, feature_stage stage, xml::element& features) {
      if (stage != feature_stage::after_auth) return;
      features.add("session", std::string(ns_session)).add("optional", std::string(ns_session));
    });
    auto handler = [](iq_request& req) -> boost::asio::awaitable<void> {
      if (req.is_get() || req.payload().name() != "session") {
        req.srv.reply(req, make_error_reply(req.stanza, stanza_condition::bad_request));
        co_return;
      }
      req.srv.reply(req, make_result(req.stanza));
    };
    srv.iq().add(iq_target::self, std::string(ns_session), handler);
    srv.iq().add(iq_target::host, std::string(ns_session), handler);
  }
};

}  // namespace starling::modules

using starling::modules::session_module;
STARLING_MODULE(session_module, "session")
