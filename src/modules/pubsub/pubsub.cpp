// The PubSub engine's storage (XEP-0060 persistent items): schema and clean-up when an account
// is removed. The services that use the engine (PEP in modules/pep, later a pubsub.<host>
// component) live in their own modules.
#include "core/server.hpp"
#include "modules/pubsub/pubsub_store.hpp"

namespace starling::modules {

class pubsub_module : public module {
 public:
  void start(server& srv) override {
    srv.add_migrations(pubsub::migrations());
    // The account's own nodes go through the foreign key; its affiliations and subscriptions
    // on other services here.
    srv.sqlite().add_account_removal_hook([](storage::connection& c, const std::string& host, const std::string& user) {
      pubsub::store(c).remove_account(user + "@" + host);
    });
  }
};

}  // namespace starling::modules

using starling::modules::pubsub_module;
STARLING_MODULE(pubsub_module, "pubsub")
