#pragma once
// The module API. A feature lives in src/modules/<feature>/ and registers itself with
// STARLING_MODULE; at start-up the server creates every registered module and calls start(),
// where it adds IQ handlers, hooks, stream features and disco entries. The core holds no
// feature logic and no central list of modules.
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace starling {

class server;

class module {
 public:
  virtual ~module() = default;
  virtual void start(server& srv) = 0;
  // Called on shutdown, before storage closes.
  virtual void stop() {}
};

using module_factory = std::function<std::unique_ptr<module>()>;

struct module_entry {
  std::string name;
  module_factory factory;
};

// All modules linked into the binary, in registration order.
std::vector<module_entry>& module_registry();

struct module_registrar {
  module_registrar(std::string_view name, module_factory f) {
    module_registry().push_back({std::string(name), std::move(f)});
  }
};

}  // namespace starling

#define STARLING_MODULE(type, name)                                         \
  namespace {                                                               \
  const ::starling::module_registrar starling_registrar_##type{             \
      name, [] { return std::unique_ptr<::starling::module>(new type()); }}; \
  }
