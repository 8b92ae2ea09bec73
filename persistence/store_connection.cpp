#include "persistence/store_connection.hpp"

namespace tally {

store& store_connection::get() {
  if (!store_) {
    try {
      store_ = make_store_();
    } catch (const store_error&) {
      throw;
    } catch (const std::exception& e) {
      // A malformed URL cannot heal by retrying.
      throw store_error(store_fault::permanent, e.what());
    }
    if (!store_) throw store_error(store_fault::permanent, "store factory returned nothing");
  }
  return *store_;
}

const char* to_string(store_fault fault) {
  switch (fault) {
    case store_fault::transient: return "transient";
    case store_fault::permanent: return "permanent";
    case store_fault::fenced: return "fenced";
  }
  return "unknown";
}

} // namespace tally
