#pragma once
// For GoogleTest targets only: runs one coroutine to completion on an io_context driven by the
// calling thread. An exception from the coroutine is rethrown here (a failed store operation
// fails the test with its message instead of reading an empty result).
#include <gtest/gtest.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <optional>
#include <utility>

namespace starling::test_support {

template <class T>
T run_on(boost::asio::io_context& io, boost::asio::awaitable<T> op) {
  std::optional<T> result;
  std::exception_ptr error;
  boost::asio::co_spawn(io, std::move(op), [&](std::exception_ptr e, T value) {
    error = e;
    if (!e) result = std::move(value);
  });
  io.restart();
  io.run();
  if (error) std::rethrow_exception(error);
  if (!result) throw std::runtime_error("the coroutine did not finish");
  return std::move(*result);
}

inline void run_on(boost::asio::io_context& io, boost::asio::awaitable<void> op) {
  std::exception_ptr error;
  bool done = false;
  boost::asio::co_spawn(io, std::move(op), [&](std::exception_ptr e) {
    error = e;
    done = true;
  });
  io.restart();
  io.run();
  if (error) std::rethrow_exception(error);
  if (!done) throw std::runtime_error("the coroutine did not finish");
}

}  // namespace starling::test_support
