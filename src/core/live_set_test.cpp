#include "core/live_set.hpp"

#include <gtest/gtest.h>

namespace starling {
namespace {

struct tracked : std::enable_shared_from_this<tracked> {
  live_set<tracked>& set;
  explicit tracked(live_set<tracked>& s) : set(s) { set.add(this); }
  ~tracked() { set.remove(this); }
};

TEST(LiveSet, HoldsWhatExistsAndSnapshotsOnlyOwnedObjects) {
  live_set<tracked> set;
  auto a = std::make_shared<tracked>(set);
  auto b = std::make_shared<tracked>(set);
  EXPECT_EQ(set.size(), 2u);
  auto snap = set.snapshot();
  ASSERT_EQ(snap.size(), 2u);
  EXPECT_TRUE((snap[0] == a && snap[1] == b) || (snap[0] == b && snap[1] == a));
  snap.clear();
  b.reset();  // its destructor removes it
  EXPECT_EQ(set.size(), 1u);
  {
    // Registered but owned by no shared_ptr (as an object in the middle of its destruction):
    // counted, but not handed out.
    tracked unowned(set);
    EXPECT_EQ(set.size(), 2u);
    auto only = set.snapshot();
    ASSERT_EQ(only.size(), 1u);
    EXPECT_EQ(only[0], a);
  }
  EXPECT_EQ(set.size(), 1u);
}

}  // namespace
}  // namespace starling
