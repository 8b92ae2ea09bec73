// open_store: URL schemes, the sqlite parent directory, and what a bad URL
// or an unreachable server throws.
#include <catch2/catch.hpp>

#include <filesystem>
#include <stdexcept>

#include "persistence/store.hpp"
#include "tests/persistence/store_test_support.hpp"

using namespace tally;
using namespace tally::test;

TEST_CASE("open_store rejects URLs it does not understand with invalid_argument", "[store]") {
  CHECK_THROWS_AS(open_store(""), std::invalid_argument);
  CHECK_THROWS_AS(open_store("sqlite:"), std::invalid_argument);
  CHECK_THROWS_AS(open_store("mysql://user:secret@host/db"), std::invalid_argument);
  CHECK_THROWS_AS(open_store("/var/lib/tally.db"), std::invalid_argument);
  try {
    open_store("mysql://user:secret@host/db");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("secret") == std::string::npos);
  }
}

TEST_CASE("open_store creates the sqlite file's missing parent directories", "[store][sqlite]") {
  temp_dir dir;
  auto file = dir.path / "data" / "nested" / "tally.db";
  auto db = open_store("sqlite:" + file.string());
  db->migrate();
  CHECK(std::filesystem::exists(file));
}

TEST_CASE("open_store reports a sqlite path it cannot use as transient", "[store][sqlite]") {
  temp_dir dir;
  // A directory where the file should be: SQLite cannot open it.
  CHECK(fault_of([&] { open_store("sqlite:" + dir.path.string())->migrate(); }) == store_fault::transient);
}

TEST_CASE("open_store reports an unreachable Postgres as transient", "[store][postgres]") {
  // Port 1 on loopback refuses at once; no server needs to run.
  CHECK(fault_of([] { open_store("postgresql://tally@127.0.0.1:1/tally?connect_timeout=2"); }) ==
        store_fault::transient);
}
