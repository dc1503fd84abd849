// util/random: tokens unique and from the right alphabet; the per-thread block of random bytes
// is never handed out twice, also not across fork() (parent and child draw different bytes).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <thread>

#include "util/random.hpp"

namespace starling::util {
namespace {

TEST(random, TokensAreUniqueAndAlphanumeric) {
  std::set<std::string> seen;
  for (size_t len : {1u, 12u, 21u, 63u, 64u, 65u, 200u}) {
    for (int i = 0; i < 300; ++i) {
      std::string t = random_token(len);
      ASSERT_EQ(t.size(), len);
      for (char c : t) ASSERT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << t;
      if (len >= 12) EXPECT_TRUE(seen.insert(t).second) << t;
    }
  }
  EXPECT_TRUE(random_bytes(0).empty());
  EXPECT_EQ(random_bytes(1000).size(), 1000u);
  EXPECT_NE(random_bytes(16), random_bytes(16));
}

TEST(random, ThreadsDrawDifferentBytes) {
  std::string a, b;
  std::thread t1([&] { a = random_bytes(32); });
  std::thread t2([&] { b = random_bytes(32); });
  t1.join();
  t2.join();
  EXPECT_NE(a, b);
}

TEST(random, ForkedChildDoesNotRepeatTheParentsBytes) {
  (void)random_bytes(16);  // the parent's block now holds unused bytes
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::string c = random_bytes(32);
    ssize_t w = write(fds[1], c.data(), c.size());
    _exit(w == 32 ? 0 : 1);
  }
  close(fds[1]);
  std::string parent = random_bytes(32);
  std::string child(32, '\0');
  size_t got = 0;
  while (got < child.size()) {
    ssize_t r = read(fds[0], child.data() + got, child.size() - got);
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_EQ(got, 32u);
  EXPECT_NE(parent, child);
}

}  // namespace
}  // namespace starling::util
