// XEP-0202: Entity Time — UTC time and the server's offset, in XEP-0082 format.
#include <ctime>

#include <fmt/format.h>

#include "core/server.hpp"

namespace starling::modules {

constexpr std::string_view ns_time = "urn:xmpp:time";

class time_module : public module {
 public:
  void start(server& srv) override {
    srv.disco().add_feature(std::string(ns_time));
    srv.iq().add(iq_target::host, std::string(ns_time), [](iq_request& req) -> boost::asio::awaitable<void> {
      if (!req.is_get() || req.payload().name() != "time") {
        req.srv.reply(req, make_error_reply(req.stanza, stanza_condition::bad_request));
        co_return;
      }
      std::time_t now = std::time(nullptr);
      std::tm utc{}, local{};
      gmtime_r(&now, &utc);
      localtime_r(&now, &local);
      long off = local.tm_gmtoff;  // seconds east of UTC
      char sign = off < 0 ? '-' : '+';
      off = off < 0 ? -off : off;
      auto r = make_result(req.stanza);
      auto& t = r.add("time", std::string(ns_time));
      // XEP-0082 §3.4 time zone offset and §3.2 DateTime in UTC.
      t.add("tzo", std::string(ns_time)).add_text(fmt::format("{}{:02}:{:02}", sign, off / 3600, (off % 3600) / 60));
      t.add("utc", std::string(ns_time))
          .add_text(fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", utc.tm_year + 1900, utc.tm_mon + 1,
                                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec));
      req.srv.reply(req, r);
    });
  }
};

}  // namespace starling::modules

using starling::modules::time_module;
STARLING_MODULE(time_module, "time")
