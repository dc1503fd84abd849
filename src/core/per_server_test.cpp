#include "core/per_server.hpp"

#include <gtest/gtest.h>

#include <functional>

namespace starling {
namespace {

struct fake_server {};
struct fake_module {};

TEST(PerServer, InstanceIsFoundPerServerAndOnlyItsOwnRegistrationIsErased) {
  per_server_instance<fake_module, fake_server> reg;
  fake_server a, b;
  fake_module first, second;
  EXPECT_EQ(reg.find(a), nullptr);
  reg.set(a, &first);
  EXPECT_EQ(reg.find(a), &first);
  EXPECT_EQ(reg.find(b), nullptr);
  // A restart registers the successor before the old instance unregisters: the old one
  // must not remove it.
  reg.set(a, &second);
  reg.erase(&a, &first);
  EXPECT_EQ(reg.find(a), &second);
  reg.erase(&a, &second);
  EXPECT_EQ(reg.find(a), nullptr);
  reg.erase(nullptr, &second);  // a module that never started
}

TEST(PerServer, ListenersArePerServerAndCopiedOut) {
  per_server_listeners<std::function<int()>, fake_server> ls;
  fake_server a, b;
  EXPECT_TRUE(ls.of(&a).empty());
  ls.add(a, [] { return 1; });
  ls.add(a, [] { return 2; });
  ls.add(b, [] { return 3; });
  auto got = ls.of(&a);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0](), 1);
  EXPECT_EQ(got[1](), 2);
  // A listener added while a copy is being called does not change that copy.
  ls.add(a, [] { return 4; });
  EXPECT_EQ(got.size(), 2u);
  EXPECT_EQ(ls.of(&a).size(), 3u);
  ASSERT_EQ(ls.of(&b).size(), 1u);
  EXPECT_EQ(ls.of(&b)[0](), 3);
}

}  // namespace
}  // namespace starling
