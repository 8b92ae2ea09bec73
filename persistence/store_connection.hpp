#pragma once
// One lazily opened store connection, owned by one detached actor (the
// writer or a reader). Opening can fail like any other store call; the
// connection is then retried on the next use.
#include <functional>
#include <memory>
#include <string>

#include "persistence/store.hpp"

namespace tally {

/// Opens one store connection (app/: open_store(url); tests: a simulation).
using store_factory = std::function<std::unique_ptr<store>()>;

class store_connection {
public:
  store_connection() = default;
  explicit store_connection(store_factory make_store) : make_store_(std::move(make_store)) {}

  /// The open store, opening it first if needed. Throws store_error only:
  /// anything else the factory throws becomes store_error(permanent).
  store& get();

private:
  store_factory make_store_;
  std::unique_ptr<store> store_;
};

/// Stable name of a fault, for logs and the store_errors{kind} label.
const char* to_string(store_fault fault);

} // namespace tally
