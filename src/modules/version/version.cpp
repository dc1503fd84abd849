// XEP-0092: Software Version of the server. The <os/> element is left out unless the operator
// enables it (XEP-0092 §5: the OS helps attackers; config modules.version_show_os).
#include <sys/utsname.h>

#include "core/server.hpp"

namespace starling::modules {

constexpr std::string_view ns_version = "jabber:iq:version";

class version_module : public module {
 public:
  void start(server& srv) override {
    srv.disco().add_feature(std::string(ns_version));
    srv.iq().add(iq_target::host, std::string(ns_version), [](iq_request& req) -> boost::asio::awaitable<void> {
      if (!req.is_get() || req.payload().name() != "query") {
        req.srv.reply(req, make_error_reply(req.stanza, stanza_condition::bad_request));
        co_return;
      }
      auto r = make_result(req.stanza);
      auto& q = r.add("query", std::string(ns_version));
      q.add("name", std::string(ns_version)).add_text("Starling");
      q.add("version", std::string(ns_version)).add_text(STARLING_VERSION);
      if (req.srv.cfg().modules.version_show_os) {
        utsname u{};
        if (uname(&u) == 0) q.add("os", std::string(ns_version)).add_text(std::string(u.sysname) + " " + u.release);
      }
      req.srv.reply(req, r);
    });
  }
};

}  // namespace starling::modules

using starling::modules::version_module;
STARLING_MODULE(version_module, "version")
