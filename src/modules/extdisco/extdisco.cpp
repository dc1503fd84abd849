// XEP-0215 External Service Discovery (urn:xmpp:extdisco:2): the STUN/TURN (or other) services
// of [[external_service]] in the configuration, for the server's own logged-in users.
// <services/> lists them (optionally of one type), <credentials/> returns credentials for one
// host/type[/port]. Fixed credentials come from the configuration; with a `secret` the server
// mints temporary TURN REST credentials (see extdisco_credentials.hpp). Not implemented: pushes
// of changed services (§3.2 MAY; the list only changes with a restart).
#include "core/c2s_session.hpp"
#include "core/server.hpp"
#include "modules/extdisco/extdisco_credentials.hpp"
#include "proto/data_form.hpp"

namespace starling::modules {
namespace asio = boost::asio;

namespace {
constexpr std::string_view ns_extdisco = "urn:xmpp:extdisco:2";
}

class extdisco_module : public module {
 public:
  void start(server& srv) override {
    // Nothing to discover: neither the feature nor the handler (the router then answers
    // <service-unavailable/>, XEP-0215 §2).
    if (srv.cfg().external_services.empty()) return;
    srv.disco().add_feature(std::string(ns_extdisco));
    srv.iq().add(iq_target::host, std::string(ns_extdisco), [](iq_request& req) { return handle(req); });
  }

 private:
  static void add_service(xml::element& parent, const config::external_service& s, const jid& user, bool with_details) {
    auto& e = parent.add("service", std::string(ns_extdisco));
    e.set_attr("type", s.type).set_attr("host", s.host);
    if (with_details) {
      if (s.port) e.set_attr("port", std::to_string(s.port));
      if (!s.transport.empty()) e.set_attr("transport", s.transport);
      if (!s.name.empty()) e.set_attr("name", s.name);
    } else if (s.port) {
      e.set_attr("port", std::to_string(s.port));
    }
    if (!s.restricted()) return;
    if (with_details) e.set_attr("restricted", "1");
    auto c = credentials_for(s, user.bare_str(), unix_now());
    e.set_attr("username", c.username).set_attr("password", c.password);
    if (c.expires) e.set_attr("expires", proto::format_xep0082_datetime(*c.expires * 1000000));
  }

  static asio::awaitable<void> handle(iq_request& req) {
    const auto& services = req.srv.cfg().external_services;
    const xml::element& q = req.payload();
    // The services and their credentials are for this server's users (XEP-0215 §2 allows
    // <forbidden/> for requesters without permission).
    if (!req.session || !req.session->is_authenticated()) {
      reply_error(req, stanza_condition::forbidden);
      co_return;
    }
    if (!req.is_get()) {
      reply_error(req, stanza_condition::bad_request);
      co_return;
    }
    if (q.name() == "services") {
      // §3.1 all services, §3.2 those of one type.
      std::string_view type = q.attr_or("type");
      auto r = make_result(req.stanza);
      auto& out = r.add("services", std::string(ns_extdisco));
      if (!type.empty()) out.set_attr("type", std::string(type));
      for (const auto& s : services)
        if (type.empty() || s.type == type) add_service(out, s, req.from, true);
      req.srv.reply(req, r);
      co_return;
    }
    if (q.name() == "credentials") {
      // §3.3: <service/> with host and type (and port to pick one of several).
      const xml::element* want = q.child("service", ns_extdisco);
      if (!want || want->attr_or("host").empty() || want->attr_or("type").empty()) {
        reply_error(req, stanza_condition::bad_request, "credentials needs <service host='...' type='...'/>");
        co_return;
      }
      std::string_view port = want->attr_or("port");
      auto r = make_result(req.stanza);
      auto& out = r.add("credentials", std::string(ns_extdisco));
      bool found = false;
      for (const auto& s : services) {
        if (s.host != want->attr_or("host") || s.type != want->attr_or("type") || !s.restricted()) continue;
        if (!port.empty() && std::to_string(s.port) != port) continue;
        add_service(out, s, req.from, false);
        found = true;
      }
      if (!found) {
        reply_error(req, stanza_condition::item_not_found);
        co_return;
      }
      req.srv.reply(req, r);
      co_return;
    }
    reply_error(req, stanza_condition::bad_request);
  }
};

}  // namespace starling::modules

using starling::modules::extdisco_module;
STARLING_MODULE(extdisco_module, "extdisco")
