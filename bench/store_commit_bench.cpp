// Group-commit throughput of a store: how many write batches (and rows) per
// second commit() sustains for the batch shapes the writer produces.
//
//   store_commit_bench <store-url> [commits-per-shape]
//
// Shapes: "hot"    = 1 user, 1 balance write + 64 ledger + 64 idempotency rows
//         "spread" = 64 users x (1 balance write + 1 ledger + 1 idempotency row)
//         "single" = 1 balance write + 1 ledger + 1 idempotency row (latency floor)
// Not registered in bench/CMakeLists.txt; build it against tally_persistence.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "persistence/store.hpp"

namespace {

using namespace tally;
using clock_type = std::chrono::steady_clock;

/// Concurrent clients per batch in the shapes above (the writer's typical fan-in).
constexpr int clients_per_batch = 64;
/// Commits per shape unless given on the command line.
constexpr int commits_default = 300;

struct user_state {
  uuid id{};
  int64_t epoch = 0;
  balance bal;
  int64_t seq = 0;
};

user_state new_user(store& db) {
  user_state user;
  user.id = random_uuid();
  db.create_user(user_row{user.id, {}, {}, now_us()});
  user.epoch = db.activate_user(user.id, 0, 0)->owner_epoch;
  return user;
}

/// Appends one topup by `user` (ledger + idempotency row) to `batch`.
void add_topup(write_batch& batch, user_state& user, int64_t& key_counter) {
  auto now = now_us();
  user.bal.available += 1;
  user.seq += 1;
  ledger_write ledger;
  ledger.user_id = user.id;
  ledger.entry = ledger_entry{random_uuid(), user.seq, ledger_type::topup, 1, user.bal.available,
                              user.bal.reserved, "pay_" + std::to_string(key_counter), now};
  batch.ledger.push_back(std::move(ledger));
  batch.idempotency.push_back(idempotency_record{user.id, "key-" + std::to_string(key_counter++),
                                                 "sha256:0123456789abcdef0123456789abcdef", 200,
                                                 std::string(48, '\x5a'), now});
}

void add_balance(write_batch& batch, const user_state& user) {
  batch.balances.push_back(balance_write{user.id, user.epoch, user.bal, user.seq, now_us()});
}

void report(const char* shape, const std::vector<double>& latencies_ms, size_t rows_per_commit) {
  std::vector<double> sorted = latencies_ms;
  std::sort(sorted.begin(), sorted.end());
  double total_s = 0;
  for (double ms : sorted) total_s += ms / 1000.0;
  double commits_per_s = static_cast<double>(sorted.size()) / total_s;
  std::printf("%-7s commits=%zu rows/commit=%zu  %8.0f commits/s  %9.0f rows/s  p50=%.2f ms  p99=%.2f ms\n",
              shape, sorted.size(), rows_per_commit, commits_per_s, commits_per_s * rows_per_commit,
              sorted[sorted.size() / 2], sorted[std::min(sorted.size() - 1, sorted.size() * 99 / 100)]);
}

template <class MakeBatch>
void run_shape(store& db, const char* shape, int commits, MakeBatch&& make_batch) {
  std::vector<double> latencies_ms;
  latencies_ms.reserve(commits);
  size_t rows = 0;
  for (int i = 0; i < commits; ++i) {
    write_batch batch = make_batch();  // built outside the timed region
    rows = batch.record_count();
    auto start = clock_type::now();
    db.commit(batch);
    latencies_ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - start).count());
  }
  report(shape, latencies_ms, rows);
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <store-url> [commits-per-shape]\n", argv[0]);
    return 2;
  }
  int commits = argc > 2 ? std::atoi(argv[2]) : commits_default;
  try {
    auto db = open_store(argv[1]);
    db->migrate();
    int64_t key_counter = now_us();  // unique keys across runs on the same database

    auto hot = new_user(*db);
    run_shape(*db, "hot", commits, [&] {
      write_batch batch;
      for (int c = 0; c < clients_per_batch; ++c) add_topup(batch, hot, key_counter);
      add_balance(batch, hot);
      return batch;
    });

    std::vector<user_state> users;
    for (int c = 0; c < clients_per_batch; ++c) users.push_back(new_user(*db));
    run_shape(*db, "spread", commits, [&] {
      write_batch batch;
      for (auto& user : users) {
        add_topup(batch, user, key_counter);
        add_balance(batch, user);
      }
      return batch;
    });

    auto single = new_user(*db);
    run_shape(*db, "single", commits, [&] {
      write_batch batch;
      add_topup(batch, single, key_counter);
      add_balance(batch, single);
      return batch;
    });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "store_commit_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
